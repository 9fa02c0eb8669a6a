"""The API keys page (kimia/web/panel/pages/keys.py): the club's keys, a new key shown once in the
answer to the form that made it, revoking with a reason."""

from __future__ import annotations

import re

from kimia.service import apikeys

from ..conftest import count
from .conftest import Panel, page, post
from .test_structure import audited, persian

_KEY = re.compile(r'<code class="secret-value" dir="ltr">(kimia_[a-z]{2}_[0-9a-f]+_[0-9A-Za-z]+)</code>')


def test_the_club_keys_are_listed_without_secrets(panel: Panel) -> None:
    client = panel.client("admin")
    status, html = page(client, "/panel/keys")
    assert status == 200 and persian(html)
    mine = apikeys.list_keys(panel.service, panel.a.club_id)
    theirs = apikeys.list_keys(panel.service, panel.b.club_id)
    assert all(k.public_id in html for k in mine) and not any(k.public_id in html for k in theirs)
    assert "کافه" in html and "مدیریت" in html and "یکپارچه‌سازی" in html and "هرگز" in html
    assert "kimia_" not in html  # no whole key anywhere
    assert "API keys" in page(client, "/panel/keys?lang=en")[1]
    assert page(panel.client("marketer"), "/panel/keys")[0] == 403


def test_a_new_key_is_shown_once_and_works(panel: Panel) -> None:
    client = panel.client("admin")
    before = count(panel.api, "api_keys")
    r = post(client, "/panel/keys", {"kind": "integration", "label": "cash register 3", "merchant_id": str(panel.a.merchants["cafe"])})
    assert r.status_code == 201 and "Location" not in r.headers
    found = _KEY.search(r.get_data(as_text=True))
    assert found
    key = found.group(1)
    assert count(panel.api, "api_keys") == before + 1
    assert key not in page(client, "/panel/keys")[1]  # never again
    assert panel.api.get("/merchants", key).status_code == 200  # it is a real key, bound to the cafe
    assert [m["id"] for m in panel.api.get("/merchants", key).json["items"]] == [panel.a.merchants["cafe"]]
    assert audited(panel, "api_key_created")[-1] == ("panel:" + panel.login_of("admin"), "cash register 3")


def test_a_bad_key_request_changes_nothing(panel: Panel) -> None:
    client = panel.client("admin")
    before = count(panel.api, "api_keys")
    assert post(client, "/panel/keys", {"kind": "platform"}).status_code == 400  # a club never makes a platform key
    assert post(client, "/panel/keys", {"kind": "integration", "merchant_id": str(panel.b.merchants["cafe"])}).status_code == 400
    assert count(panel.api, "api_keys") == before


def test_revoking_needs_a_reason_and_takes_effect_at_once(panel: Panel) -> None:
    client = panel.client("admin")
    row, key = apikeys.create(panel.service, kind="integration", club_id=panel.a.club_id, actor="test", label="old site")
    assert panel.api.get("/merchants", key).status_code == 200
    r = post(client, f"/panel/keys/{row.public_id}/revoke", {"reason": ""})
    assert r.status_code == 400 and "ذکر دلیل" in r.get_data(as_text=True)
    assert apikeys.lookup(panel.service, row.public_id).revoked_at is None  # type: ignore[union-attr]
    assert post(panel.client("admin", panel.b), f"/panel/keys/{row.public_id}/revoke", {"reason": "x"}).status_code == 404
    r = post(client, f"/panel/keys/{row.public_id}/revoke", {"reason": "the site is gone"})
    assert r.status_code == 302
    assert panel.api.get("/merchants", key).status_code == 401
    assert audited(panel, "api_key_revoked")[-1] == ("panel:" + panel.login_of("admin"), "the site is gone")
    assert "باطل‌شده" in page(client, "/panel/keys")[1]


def test_the_platform_makes_platform_keys_and_a_club_first_key(panel: Panel) -> None:
    client = panel.client("platform")
    html = page(client, "/panel/keys")[1]
    platform_keys = apikeys.list_keys(panel.service, None)
    assert all(k.public_id in html for k in platform_keys)
    r = post(client, "/panel/keys", {"kind": "platform", "label": "ops"})
    assert r.status_code == 201
    key = _KEY.search(r.get_data(as_text=True))
    assert key and key.group(1).startswith("kimia_pk_")
    r = post(client, "/panel/keys", {"kind": "management", "label": "first key", "club_id": str(panel.b.club_id)})
    assert r.status_code == 201
    made = _KEY.search(r.get_data(as_text=True))
    assert made and panel.api.get("/club-tree", made.group(1)).json["club"]["id"] == panel.b.club_id
