"""docs/api.md lists every endpoint the code serves (generated from the registry) and nothing else."""

from __future__ import annotations

from kimia.web.api import load_routes
from kimia.web.api.reference import DOC_PATH, main


def test_the_list_of_endpoints_in_docs_api_md_is_current() -> None:
    assert main(["--check"]) == 0, "run python -m kimia.web.api.reference --write"
    text = DOC_PATH.read_text(encoding="utf-8")
    for ep in load_routes():
        assert f"| `{ep.method}` | `/api/v1{ep.path}` |" in text, ep.key
