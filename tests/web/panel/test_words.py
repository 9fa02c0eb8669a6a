"""Every word a template or menu names exists in Persian and English (kimia.web.panel.i18n)."""

from __future__ import annotations

import re
from pathlib import Path

from kimia.web.panel.access import PANEL, PORTAL
from kimia.web.panel.i18n import MESSAGES

from .conftest import Panel

TEMPLATES = Path(__file__).resolve().parents[3] / "kimia" / "web" / "templates"
_KEY = re.compile(r"""_\(\s*['"]([a-z0-9_.]+)['"]\s*[,)]""")


def test_every_key_in_a_template_or_menu_has_both_languages(panel: Panel) -> None:
    missing = []
    for path in TEMPLATES.rglob("*.html"):
        for key in _KEY.findall(path.read_text()):
            if key not in MESSAGES:
                missing.append(f"{path.relative_to(TEMPLATES)}: {key}")
    for spec in [*PANEL.pages, *PORTAL.pages]:
        if spec.menu is not None and spec.menu[0] not in MESSAGES:
            missing.append(f"menu of {spec.endpoint}: {spec.menu[0]}")
    assert not missing, "\n".join(missing)
    assert all(fa and en and fa != en or key.startswith("app.") for key, (fa, en) in MESSAGES.items() if key != "app.name")
