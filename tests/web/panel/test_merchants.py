"""The merchants pages (kimia/web/panel/pages/merchants.py): the list with its counts, a
merchant's branches and terminals, and MAC keys shown once then only by their check value."""

from __future__ import annotations

import re

from kimia.service import terminalkeys

from ..conftest import count
from .conftest import Panel, page, post
from .test_structure import audited, persian

_SHOWN_KEY = re.compile(r'<code class="secret-value" dir="ltr">([0-9A-F]{32})</code>')


def test_the_list_shows_type_marketer_branches_and_terminals(panel: Panel) -> None:
    client = panel.client("support")
    status, html = page(client, "/panel/merchants")
    assert status == 200 and persian(html)
    for name in ("کافه", "رستوران", "کتاب‌فروشی"):
        assert name in html
    assert "cafe" in html and "بازاریاب" in html
    assert "<td class=\"num\">۱</td>" in html  # one branch, one terminal, in Persian digits
    assert 'action="/panel/merchants"' not in html  # support: no form
    status, html = page(client, "/panel/merchants?lang=en")
    assert status == 200 and "Bookshop" in html and "Terminals" in html and '<td class="num">1</td>' in html


def test_the_admin_adds_a_merchant_and_bad_input_changes_nothing(panel: Panel) -> None:
    client = panel.client("admin")
    before = count(panel.api, "merchants")
    r = post(client, "/panel/merchants", {"name_fa": "نانوایی", "sheba": "IR12"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and re.search(r'name="sheba" value="IR12" aria-invalid="true"', html), html[-3000:]
    r = post(client, "/panel/merchants", {"name_fa": "نانوایی", "marketer_id": str(panel.b.marketer_id)})  # B's marketer
    assert r.status_code == 400
    assert count(panel.api, "merchants") == before
    r = post(client, "/panel/merchants", {"name_fa": "نانوایی", "name_en": "Bakery", "business_type": "bakery",
                                          "marketer_id": str(panel.a.marketer_id), "club_id": str(panel.a.sub_club_id)})
    assert r.status_code == 302 and count(panel.api, "merchants") == before + 1
    html = page(client, r.headers["Location"])[1]
    assert "نانوایی" in html and "پذیرنده افزوده شد" in html and "زیرباشگاه شمال" in html
    assert audited(panel, "create_merchant")[-1][0] == f"panel:{panel.login_of('admin')}"


def test_a_merchant_page_shows_branches_and_terminals_without_keys(panel: Panel) -> None:
    cafe = panel.a.merchants["cafe"]
    client = panel.client("read_only")
    status, html = page(client, f"/panel/merchants/{cafe}")
    assert status == 200 and "شعبه شمال" in html and "T0010001" in html and "M00100000000001" in html
    assert "secret-value" not in html and "mac-key" not in html  # read-only: no key forms
    assert page(client, f"/panel/merchants/{cafe}?lang=en")[1].count("Card terminal (POS)") == 1
    assert page(panel.client("admin", panel.b), f"/panel/merchants/{cafe}")[0] == 404


def test_branches_are_added(panel: Panel) -> None:
    cafe = panel.a.merchants["cafe"]
    client = panel.client("admin")
    before = count(panel.api, "branches")
    assert post(client, f"/panel/merchants/{cafe}/branches", {"name_fa": ""}).status_code == 400
    assert count(panel.api, "branches") == before
    r = post(client, f"/panel/merchants/{cafe}/branches", {"name_fa": "شعبه جنوب"})
    assert r.status_code == 302 and count(panel.api, "branches") == before + 1
    assert "شعبه جنوب" in page(client, f"/panel/merchants/{cafe}")[1]
    assert post(panel.client("admin", panel.b), f"/panel/merchants/{cafe}/branches", {"name_fa": "x"}).status_code == 404
    assert count(panel.api, "branches") == before + 1


def test_a_terminal_key_made_here_is_shown_once_then_only_its_kcv(panel: Panel) -> None:
    cafe = panel.a.merchants["cafe"]
    client = panel.client("admin")
    before = count(panel.api, "terminals")
    r = post(client, f"/panel/merchants/{cafe}/terminals", {"terminal_code": "T9990001", "merchant_code": "M99900000000001",
                                                             "kind": "pcpos", "key": "generate"})
    assert r.status_code == 200 and count(panel.api, "terminals") == before + 1
    html = r.get_data(as_text=True)
    found = _SHOWN_KEY.search(html)
    assert found, html[-3000:]
    key = found.group(1)
    kcv = terminalkeys.kcv(bytes.fromhex(key))
    with panel.service.reading() as tx:
        row = tx.one("SELECT id, mac_key_kcv, mac_key_version FROM terminals WHERE terminal_code = ?", ("T9990001",))
    assert row[2] == 1 and row[1].upper() == kcv.upper()
    assert row[1] in html
    later = page(client, f"/panel/merchants/{cafe}")[1]
    assert key not in later and row[1] in later  # never again: only its check value
    with panel.service.reading() as tx:
        assert not any(key in str(r[0]) for r in tx.all("SELECT payload FROM audit_log"))
    # Rotation: a new key, version 2, shown once.
    r = post(client, f"/panel/terminals/{row[0]}/mac-key", {"key": "generate"})
    assert r.status_code == 200
    second = _SHOWN_KEY.search(r.get_data(as_text=True))
    assert second and second.group(1) != key
    with panel.service.reading() as tx:
        assert tx.one("SELECT mac_key_version FROM terminals WHERE id = ?", (row[0],))[0] == 2
    assert audited(panel, "set_terminal_key")[-1][0] == f"panel:{panel.login_of('admin')}"


def test_a_typed_key_is_checked_and_never_shown(panel: Panel) -> None:
    terminal = panel.a.terminals["restaurant"]
    restaurant = panel.a.merchants["restaurant"]
    client = panel.client("admin")
    r = post(client, f"/panel/terminals/{terminal}/mac-key", {"key": "given", "key_hex": "12345"})
    assert r.status_code == 400 and "معتبر نیست" in r.get_data(as_text=True)
    with panel.service.reading() as tx:
        version = tx.one("SELECT mac_key_version FROM terminals WHERE id = ?", (terminal,))[0]
    typed = "00112233445566778899AABBCCDDEEFF"
    r = post(client, f"/panel/terminals/{terminal}/mac-key", {"key": "given", "key_hex": typed})
    assert r.status_code == 200 and typed not in r.get_data(as_text=True)
    with panel.service.reading() as tx:
        assert tx.one("SELECT mac_key_version FROM terminals WHERE id = ?", (terminal,))[0] == version + 1
    assert typed not in page(client, f"/panel/merchants/{restaurant}")[1]


def test_a_terminal_already_registered_is_refused(panel: Panel) -> None:
    cafe = panel.a.merchants["cafe"]
    client = panel.client("admin")
    before = count(panel.api, "terminals")
    r = post(client, f"/panel/merchants/{cafe}/terminals", {"terminal_code": "T0010001", "merchant_code": "M00100000000001", "key": "none"})
    assert r.status_code in (400, 409, 422) and "قبلاً ثبت شده است" in r.get_data(as_text=True)
    r = post(client, f"/panel/merchants/{cafe}/terminals", {"terminal_code": "", "merchant_code": "M1", "key": "none"})
    assert r.status_code == 400 and "این فیلد الزامی است" in r.get_data(as_text=True)
    assert count(panel.api, "terminals") == before
    other = panel.client("admin", panel.b)
    assert post(other, f"/panel/terminals/{panel.a.terminals['cafe']}/mac-key", {"key": "generate"}).status_code == 404
