"""The messages extra's tables (``kimia_register_schema``), portable SQL for SQLite and PostgreSQL.

- ``messages_clubs``: a club's messages language (``fa`` unless it chose ``en``);
- ``messages_templates``: a club's text of one event in one language over the built-in default,
  whether it is sent, who changed it and when;
- ``messages_webhooks``: endpoints a club registered (URL, events, active) with their signing
  secret sealed under the operator's key;
- ``messages_recipients``: e-mail addresses a club has told of chosen events;
- ``messages_actions``: the idempotency keys of the writes a form or an API call made (a repeat
  answers what the first did).
"""

from __future__ import annotations

from kimia.plugins.types import Db, Migration, PluginSchema


def _create(db: Db) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    db.execute("CREATE TABLE messages_clubs (club_id BIGINT PRIMARY KEY, lang VARCHAR(2) NOT NULL,"
               " updated_by VARCHAR(200) NOT NULL, updated_at BIGINT NOT NULL)")
    db.execute(f"CREATE TABLE messages_templates (id {key}, club_id BIGINT NOT NULL, event VARCHAR(60) NOT NULL,"
               " lang VARCHAR(2) NOT NULL, body TEXT NOT NULL, enabled SMALLINT NOT NULL, updated_by VARCHAR(200) NOT NULL,"
               " updated_at BIGINT NOT NULL, CONSTRAINT uq_messages_templates UNIQUE (club_id, event, lang))")
    db.execute(f"CREATE TABLE messages_webhooks (id {key}, club_id BIGINT NOT NULL, url VARCHAR(500) NOT NULL,"
               " events TEXT NOT NULL, active SMALLINT NOT NULL, secret TEXT NOT NULL, created_by VARCHAR(200) NOT NULL,"
               " created_at BIGINT NOT NULL, disabled_at BIGINT, disabled_reason VARCHAR(200),"
               " idem_key VARCHAR(250) NOT NULL UNIQUE)")
    db.execute("CREATE INDEX ix_messages_webhooks_club ON messages_webhooks (club_id, id)")
    db.execute(f"CREATE TABLE messages_recipients (id {key}, club_id BIGINT NOT NULL, email VARCHAR(254) NOT NULL,"
               " events TEXT NOT NULL, active SMALLINT NOT NULL, created_by VARCHAR(200) NOT NULL, created_at BIGINT NOT NULL,"
               " idem_key VARCHAR(250) NOT NULL UNIQUE)")
    db.execute("CREATE INDEX ix_messages_recipients_club ON messages_recipients (club_id, id)")
    db.execute(f"CREATE TABLE messages_actions (id {key}, club_id BIGINT NOT NULL, action VARCHAR(40) NOT NULL,"
               " ref BIGINT NOT NULL, idem_key VARCHAR(250) NOT NULL UNIQUE, created_at BIGINT NOT NULL)")


SCHEMA = PluginSchema("messages", (Migration("0001", _create),))
