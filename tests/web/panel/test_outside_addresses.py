"""Nothing of the panel or the portal comes from, or sends a person to, another host (issue 16:
every asset local, no CDN, nothing fetched at run time).

Every page the role walker knows (tests/web/panel/roles/), opened through the test client as each
role allowed to open it (club A's), is parsed with the standard library's HTML parser; every
address it names (``src``, ``href``, ``action``, ``formaction``, ``srcset``, ``poster``, ``data``,
``<link>``, a ``<meta http-equiv="refresh">``, CSS ``url(...)`` and ``@import`` in ``<style>`` or
``style=``) must be of this site: no scheme, no host, no ``//``. The stylesheets and scripts under
kimia/web/static are held to the same. The browser journey (tests/browser/test_journey.py) checks
the same thing from the other side: every request the browser makes stays on 127.0.0.1.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from kimia.web.panel.access import ANYONE, PANEL, PORTAL, STAFF_ROLES, PageSpec

from .conftest import Panel
from .test_roles import all_cases

STATIC = Path(__file__).resolve().parents[3] / "kimia" / "web" / "static"

#: Attributes that name an address (``srcset`` is a list of them).
ADDRESS_ATTRS = frozenset({"src", "href", "action", "formaction", "srcset", "poster", "data", "background", "cite",
                           "manifest", "ping", "xlink:href"})
#: Schemes that fetch nothing from anywhere, and where each may appear: an inline image (the CSP
#: allows ``img-src data:``), and, on a link a person follows, a phone number or an e-mail address.
NO_FETCH = {"data": frozenset({"img.src", "img.srcset", "source.srcset", "style", "css"}),
            "tel": frozenset({"a.href"}), "mailto": frozenset({"a.href"})}
#: ``<a href>`` links to another host a person may follow, each with its reason. None today.
ALLOWED_LINKS: dict[str, str] = {}
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.I | re.S)
#: Roles in the order a page is tried; every allowed one is.
ROLE_ORDER = ("admin", "marketer", "support", "read_only", "merchant", "platform")


def outside(address: str, where: str) -> bool:
    """True when ``address`` (found at ``where``: ``tag.attr``, ``style`` or ``css``) names another
    host or a scheme that fetches (a path of this site is fine)."""
    text = address.strip()
    if not text:
        return False
    if text.startswith(("//", "\\\\", "/\\", "\\/")):
        return True
    parts = urlsplit(text)
    if parts.netloc:
        return True
    if parts.scheme:
        return where not in NO_FETCH.get(parts.scheme.lower(), frozenset())
    return False


def css_addresses(css: str) -> list[str]:
    return [m.group(2) if m.group(2) is not None else m.group(4) for m in CSS_URL.finditer(css)]


class Addresses(HTMLParser):
    """Every address a page names, with where it was found: ``(tag.attr, address)``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        for name, value in values.items():
            if name in ADDRESS_ATTRS:
                where = f"{tag}.{name}"
                if name == "srcset":
                    for item in value.split(","):
                        if item.strip():
                            self.found.append((where, item.strip().split()[0]))
                else:
                    self.found.append((where, value))
            elif name == "style":
                self.found.extend(("style", url) for url in css_addresses(value))
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            target = values.get("content", "").partition("=")[2] if "=" in values.get("content", "") else ""
            self.found.append(("meta.refresh", target))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found.extend(("style", url) for url in css_addresses(data))


def problems_of(html: str) -> list[str]:
    parser = Addresses()
    parser.feed(html)
    parser.close()
    bad = []
    for where, address in parser.found:
        if not outside(address, where):
            continue
        if where == "a.href" and address in ALLOWED_LINKS:
            continue
        bad.append(f"{where}={address!r}")
    return bad


def test_the_checker_sees_outside_addresses() -> None:
    """The checker itself: what it must catch and what it must let through."""
    html = ('<link rel="stylesheet" href="https://cdn.example/x.css"><script src="//cdn.example/x.js"></script>'
            '<img srcset="/static/a.png 1x, http://x.example/b.png 2x"><form action="http://evil.example/"></form>'
            '<div style="background: url(\'https://x.example/i.png\')"></div><style>@import "https://f.example/f.css";</style>'
            '<video poster="https://x.example/p.png"></video><a href="https://elsewhere.example/">x</a>'
            '<meta http-equiv="refresh" content="0; url=https://x.example/">')
    assert len(problems_of(html)) == 9, problems_of(html)
    fine = ('<link rel="stylesheet" href="/static/kimia.css"><script src="/static/kimia.js" defer></script>'
            '<img src="data:image/png;base64,AAAA" alt=""><a href="?lang=en">en</a><a href="#main">skip</a>'
            '<a href="tel:+989121234567">call</a><form action="/panel/login?next=/panel/"></form><a href="members/3">m</a>')
    assert problems_of(fine) == []
    assert problems_of('<a href="javascript:alert(1)">x</a>') and problems_of('<script src="data:text/javascript,1"></script>')


def allowed_roles(spec: PageSpec) -> list[str]:
    if spec.site == "portal":
        return ["member"] if spec.roles != ANYONE else ["anyone"]
    if spec.roles == ANYONE:
        return ["anyone"]
    return [r for r in ROLE_ORDER if r in spec.roles and r in STAFF_ROLES]


def test_no_page_names_another_host(panel: Panel) -> None:
    cases = all_cases()
    clients: dict[str, FlaskClient] = {}

    def client(role: str) -> FlaskClient:
        if role not in clients:
            if role == "anyone":
                clients[role] = panel.api.app.test_client()
            elif role == "member":
                clients[role] = panel.member_client()
            else:
                clients[role] = panel.client(role)
        return clients[role]

    failures: list[str] = []
    seen = walked = 0
    for spec in [*PANEL.pages, *PORTAL.pages]:
        if "GET" not in spec.methods:
            continue  # a POST-only page answers with a redirect (its form's page is walked)
        case = cases.get(f"{spec.site}.{spec.endpoint}")
        if case is None:
            continue  # the role walker fails on a page without a case
        visit = case(panel)
        walked += 1
        for role in allowed_roles(spec):
            for lang in ("fa", "en"):
                path = visit.path + ("&" if "?" in visit.path else "?") + f"lang={lang}"
                response = client(role).get(path, follow_redirects=True)
                if "html" not in (response.content_type or ""):
                    continue
                seen += 1
                for problem in problems_of(response.get_data(as_text=True)):
                    failures.append(f"{spec.site}.{spec.endpoint} {path} as {role}: {problem}")
        # the language cookie stays with each client: put Persian back for the next page
        for c in clients.values():
            c.get("/panel/login?lang=fa")
    assert walked and seen >= 2 * walked  # every page in both languages at least once
    assert not failures, "\n".join(failures)


def test_the_static_files_name_no_other_host() -> None:
    failures = []
    for path in sorted(STATIC.rglob("*")):
        if path.suffix == ".css":
            css = path.read_text(encoding="utf-8")
            failures += [f"{path.name}: url({u!r})" for u in css_addresses(css) if outside(u, "css")]
        elif path.suffix == ".js":
            js = path.read_text(encoding="utf-8")
            failures += [f"{path.name}: {m.group(0)!r}" for m in re.finditer(r"""['"`](?:https?:)?//[^'"`\s]+""", js)]
    assert not failures, "\n".join(failures)
