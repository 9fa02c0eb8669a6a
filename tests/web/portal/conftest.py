"""Fixtures of the portal's tests: the panel's (``panel``: clubs A and B, a portal client per
club's first member) and a file notifier the one-time codes are read from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kimia.service.verify import FileNotifier

from ..panel.conftest import Panel, panel  # noqa: F401  (the fixture, for the portal's tests)

_CODE = re.compile(r"code: (\d+)")


class Codes:
    """The one-time codes kimia sent, as a relay would read them from the file sink."""

    def __init__(self, path: Path) -> None:
        self.notifier = FileNotifier(path)

    def sent(self) -> list[dict[str, object]]:
        return self.notifier.messages()

    def last_code(self, mobile: str) -> str:
        mine = [m for m in self.sent() if m["mobile"] == mobile]
        assert mine, f"no code was sent to {mobile}"
        found = _CODE.search(str(mine[-1]["text_en"]))
        assert found, mine[-1]
        return found.group(1)


@pytest.fixture
def codes(panel: Panel, tmp_path: Path) -> Codes:  # noqa: F811
    sink = Codes(tmp_path / "codes.jsonl")
    panel.service.notifier = sink.notifier
    return sink
