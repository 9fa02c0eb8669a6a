"""Every word a template or menu names exists in Persian and English (kimia.web.panel.i18n)."""

from __future__ import annotations

import re
from pathlib import Path

from kimia.web.panel.access import PANEL, PORTAL
from kimia.web.panel.i18n import MESSAGES
from kimia.web.plugins import collected, page_specs

from .conftest import Panel

TEMPLATES = Path(__file__).resolve().parents[3] / "kimia" / "web" / "templates"
_KEY = re.compile(r"""_\(\s*['"]([a-z0-9_.]+)['"]\s*[,)]""")


def test_every_key_in_a_template_or_menu_has_both_languages(panel: Panel) -> None:
    missing = []
    plugins = panel.api.service.plugins
    folders = [TEMPLATES, *(Path(d.path) for _, d in collected(plugins, "kimia_register_templates"))]
    for folder in folders:  # kimia's templates and the built-in plugins' (the extras)
        for path in folder.rglob("*.html"):
            for key in _KEY.findall(path.read_text()):
                if key not in MESSAGES:
                    missing.append(f"{path.relative_to(folder)}: {key}")
    for spec in [*PANEL.pages, *PORTAL.pages, *page_specs(plugins, "panel"), *page_specs(plugins, "portal")]:
        if spec.menu is not None and spec.menu[0] not in MESSAGES:
            missing.append(f"menu of {spec.endpoint}: {spec.menu[0]}")
    assert not missing, "\n".join(missing)
    assert all(fa and en and fa != en or key.startswith("app.") for key, (fa, en) in MESSAGES.items() if key != "app.name")
