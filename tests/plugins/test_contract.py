"""The plugin contract end to end, with a plugin defined here: its own table (a migration run by
the upgrade), a write through ``Services.write`` with an audit row and an outbox event, an API
route with the API's keys and idempotency, and a panel page with the panel's roles and menu."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kimia.plugins import hookimpl, make_plugin_manager
from kimia.plugins.types import (ApiCall, ApiRoute, Db, MenuEntry, Migration, PageCall, PanelPage, PluginSchema, RawAnswer,
                                 Refusal)
from kimia.service import apikeys
from kimia.settings import Settings
from kimia.web import create_app
from service.builders import FakeClock, build_club


def _create(db: Db) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    db.execute(f"CREATE TABLE notes_note (id {key}, club_id BIGINT NOT NULL, body TEXT NOT NULL, idem_key TEXT NOT NULL UNIQUE)")


class NotesPlugin:
    """A plugin adding notes: a table, an API route, a panel page."""

    @hookimpl
    def kimia_register_schema(self) -> PluginSchema:
        return PluginSchema("notes", (Migration("0001", _create),))

    @staticmethod
    def add(call: ApiCall) -> Any:
        body = str(call.body.get("body", ""))
        if not body:
            raise Refusal("field_required", path="body")
        club = call.caller.club_id
        assert club is not None and call.idem_key is not None
        key = call.idem_key

        def work(db: Db) -> int:
            note = db.insert("notes_note", {"club_id": club, "body": body, "idem_key": key})
            db.audit(club_id=club, actor=call.caller.actor, action="notes.add", reason="a note", payload={"note": note})
            db.emit("notes.added", club_id=club, key=str(note), payload={"note": note, "body": body})
            return note

        return {"id": call.services.write(work)}

    @staticmethod
    def listing(call: ApiCall) -> Any:
        rows = call.services.read(lambda db: db.all("SELECT id, body FROM notes_note WHERE club_id = ? ORDER BY id", (call.caller.club_id,)))
        if call.query.get("format") == "csv":
            return RawAnswer("id,body\n" + "".join(f"{i},{b}\n" for i, b in rows), filename="notes.csv")
        return {"items": [{"id": i, "body": b} for i, b in rows]}

    @hookimpl
    def kimia_register_api_routes(self) -> list[ApiRoute]:
        return [ApiRoute("POST", "/notes", self.add, frozenset({"management"}), "Add a note", "notes"),
                ApiRoute("GET", "/notes", self.listing, frozenset({"management"}), "The club's notes", "notes")]

    @staticmethod
    def page(call: PageCall) -> Any:
        rows = call.services.read(lambda db: db.all("SELECT body FROM notes_note WHERE club_id = ?", (call.caller.club_id,)))
        return f"<p>{len(rows)} notes for {call.caller.kind}</p>"

    @hookimpl
    def kimia_register_pages(self) -> list[PanelPage]:
        return [PanelPage("panel", "/notes", "list", self.page, frozenset({"admin"}), menu=MenuEntry("یادداشت‌ها", "Notes", 500))]


@pytest.fixture
def notes_app(db_url: str) -> Any:
    pm = make_plugin_manager([NotesPlugin()], load_entry_points=False)
    clock = FakeClock()
    app = create_app(Settings.from_env(database_url=db_url, migrations="upgrade"), clock=clock, plugins=pm)
    try:
        yield app, build_club(app.extensions["kimia"].service, clock)
    finally:
        app.extensions["kimia"].close()


def test_a_plugin_adds_a_table_an_api_route_and_a_page(notes_app: Any) -> None:
    app, world = notes_app
    svc = app.extensions["kimia"].service
    key = apikeys.create(svc, kind="management", club_id=world.club_id, actor="test")[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "n-1"}
    first = client.post("/api/v1/notes", json={"body": "سلام"}, headers=headers)
    again = client.post("/api/v1/notes", json={"body": "سلام"}, headers=headers)
    assert first.status_code == 200 and again.json == first.json and again.headers.get("Idempotent-Replayed") == "true"
    refused = client.post("/api/v1/notes", json={}, headers={**headers, "Idempotency-Key": "n-2"})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "field_required" and refused.json["error"]["path"] == "body"
    listed = client.get("/api/v1/notes", headers={"Authorization": f"Bearer {key}"})
    assert listed.json == {"items": [{"id": first.json["id"], "body": "سلام"}]}
    csv = client.get("/api/v1/notes?format=csv", headers={"Authorization": f"Bearer {key}"})
    assert csv.headers["Content-Type"].startswith("text/csv") and "سلام" in csv.get_data(as_text=True)
    with svc.reading() as tx:
        events = tx.all("SELECT uid, payload FROM outbox_events WHERE event = 'notes.added'")
        audits = tx.one("SELECT COUNT(*) FROM audit_log WHERE action = 'notes.add'")[0]
    assert [uid for uid, _ in events] == [f"notes.added:{world.club_id}:{first.json['id']}"] and audits == 1
    assert json.loads(events[0][1])["body"] == "سلام"
    assert client.get("/api/v1/notes", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_plugin_page_sits_in_the_panel_behind_its_roles_with_a_menu_entry(notes_app: Any) -> None:
    from kimia.service import staff
    from web.panel.conftest import sign_in

    app, world = notes_app
    svc = app.extensions["kimia"].service
    for role in ("admin", "marketer"):
        staff.create_user(svc, login=f"{role}1", name=role, role=role, password="a long test password 1405", actor="test",
                          club_id=world.club_id)
    admin = app.test_client()
    sign_in(admin, "admin1", "a long test password 1405")
    page = admin.get("/panel/notes?lang=en")
    assert page.status_code == 200 and "0 notes for admin" in page.get_data(as_text=True)
    home = admin.get("/panel/?lang=en", follow_redirects=True).get_data(as_text=True)
    assert 'href="/panel/notes"' in home and "Notes" in home
    marketer = app.test_client()
    sign_in(marketer, "marketer1", "a long test password 1405")
    assert marketer.get("/panel/notes").status_code == 403
    assert 'href="/panel/notes"' not in marketer.get("/panel/", follow_redirects=True).get_data(as_text=True)
    assert app.test_client().get("/panel/notes").status_code == 302  # signed out: to the sign-in page
