"""``kimia plugins`` lists what is loaded, and a plugin's API routes are in the application's
OpenAPI document (with their summary, tag and a free-form body), kimia's own document unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kimia.cli import main
from kimia.plugins import make_plugin_manager
from kimia.plugins.manager import BUILTIN_PLUGINS, describe
from kimia.settings import Settings
from kimia.web import create_app
from kimia.web.api import openapi

from .test_contract import NotesPlugin


def test_kimia_plugins_lists_the_builtins_with_their_hooks_and_registrations(tmp_path: Path) -> None:
    env = {"KIMIA_DATABASE_URL": f"sqlite:///{tmp_path}/none.db", "KIMIA_PLUGINS": "none"}
    result = CliRunner().invoke(main, ["plugins", "--json"], env=env)
    assert result.exit_code == 0, result.output
    found = {p["name"]: p for p in json.loads(result.output)["plugins"]}
    assert list(found)[: len(BUILTIN_PLUGINS)] == list(BUILTIN_PLUGINS)  # kimia's own first, in order
    handlers = found["kimia.terminal.handlers"]
    assert handlers["origin"] == "built-in" and handlers["hooks"] == ["kimia_register_terminal_operations"]
    assert {"name": "purchase", "mtis": ["0200"], "processing_codes": ["00"]} in handlers["terminal_operations"]
    assert found["kimia.terminal.dialect"]["dialects"][0]["name"] == "kimia-v1"
    assert not (tmp_path / "none.db").exists()  # listing needs no database
    text = CliRunner().invoke(main, ["plugins"], env=env).output
    assert "kimia.terminal.handlers  (built-in)" in text and "terminal operation purchase: MTI 0200, processing code 00" in text
    assert "dialect kimia-v1" in text


def test_describe_lists_routes_pages_and_tables_of_a_plugin() -> None:
    pm = make_plugin_manager([NotesPlugin()], load_entry_points=False)
    notes = describe(pm)[-1]
    assert notes["origin"] == "passed in" and notes["distribution"] is None
    assert notes["api_routes"] == [
        {"method": "POST", "path": "/api/v1/notes", "access": ["management"], "summary": "Add a note", "tag": "notes"},
        {"method": "GET", "path": "/api/v1/notes", "access": ["management"], "summary": "The club's notes", "tag": "notes"}]
    assert notes["pages"] == [{"site": "panel", "path": "/panel/notes", "name": "list", "roles": ["admin"], "methods": ["GET"],
                               "menu": {"fa": "یادداشت‌ها", "en": "Notes", "order": 500}}]
    assert notes["schema"] == {"name": "notes", "migrations": ["0001"], "tables": ["notes_note"]}


def document(app: Any) -> dict[str, Any]:
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json
    return doc


def test_a_plugins_routes_are_in_the_apps_openapi_document(db_url: str) -> None:
    pm = make_plugin_manager([NotesPlugin()], load_entry_points=False)
    app = create_app(Settings.from_env({}, database_url=db_url, migrations="upgrade", dev_mode=True), plugins=pm)
    try:
        doc = document(app)
        reference = app.test_client().get("/api/v1/docs").get_data(as_text=True)
    finally:
        app.extensions["kimia"].close()
    post, get = doc["paths"]["/api/v1/notes"]["post"], doc["paths"]["/api/v1/notes"]["get"]
    assert (post["summary"], post["tags"]) == ("Add a note", ["notes"]) and post["x-kimia-plugin"] not in BUILTIN_PLUGINS
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"type": "object", "additionalProperties": True}
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert get["summary"] == "The club's notes" and "requestBody" not in get and "Keys: management." in get["description"]
    assert {"name": "notes", "description": f"Added by the plugin {post['x-kimia-plugin']}"} in doc["tags"]
    assert "/api/v1/notes" in reference
    # kimia's own part is the document docs/api.md describes, unchanged; every other operation is
    # a plugin's (kimia's extras are plugins too) and says so.
    own = openapi.document()
    assert "/api/v1/notes" not in own["paths"] and kimias_part(doc) == own["paths"]
    assert doc["components"] == own["components"]


def kimias_part(doc: dict[str, Any]) -> dict[str, Any]:
    """The operations of ``doc`` no plugin added."""
    paths = {path: {m: op for m, op in ops.items() if "x-kimia-plugin" not in op} for path, ops in doc["paths"].items()}
    return {path: ops for path, ops in paths.items() if ops}


def test_kimias_own_document_has_no_plugin_route(db_url: str) -> None:
    """The document of kimia's own routes (what docs/api.md lists) is the application's without its
    plugins' routes, whatever plugins are loaded."""
    app = create_app(Settings.from_env({}, database_url=db_url, migrations="upgrade", dev_mode=True),
                     plugins=make_plugin_manager(load_entry_points=False))
    try:
        doc = document(app)
    finally:
        app.extensions["kimia"].close()
    own = json.loads(openapi.document_json())
    assert not [op for ops in own["paths"].values() for op in ops.values() if "x-kimia-plugin" in op]
    assert kimias_part(doc) == own["paths"] and doc["components"] == own["components"]
