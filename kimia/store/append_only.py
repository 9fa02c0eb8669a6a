"""Triggers that keep the journal and the audit log append-only, on both databases.

Every UPDATE and DELETE of a ``journal`` or ``audit_log`` row is refused (PostgreSQL: TRUNCATE
too), whoever asks: the application, an operator's SQL session, the table's owner. Only dropping
the triggers (which needs the owner's rights) allows a change; revision 0005 creates them.
"""

from __future__ import annotations

TABLES = ("journal", "audit_log")


def create_statements(dialect: str) -> list[str]:
    """The SQL that creates the triggers on ``dialect`` ("postgresql" or "sqlite")."""
    if dialect == "postgresql":
        out = [
            "CREATE OR REPLACE FUNCTION kimia_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'kimia: % is append-only (% refused)', TG_TABLE_NAME, TG_OP"
            " USING ERRCODE = 'insufficient_privilege'; END $$"
        ]
        for table in TABLES:
            out.append(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                       " FOR EACH ROW EXECUTE FUNCTION kimia_append_only()")
            out.append(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                       " FOR EACH STATEMENT EXECUTE FUNCTION kimia_append_only()")
        return out
    return [
        f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, 'kimia: {table} is append-only ({event} refused)'); END"
        for table in TABLES
        for event in ("UPDATE", "DELETE")
    ]


def drop_statements(dialect: str) -> list[str]:
    """The SQL that drops them (a downgrade; or an emergency repair, see docs/operations.md)."""
    if dialect == "postgresql":
        out = []
        for table in TABLES:
            out.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            out.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return [*out, "DROP FUNCTION IF EXISTS kimia_append_only()"]
    return [f"DROP TRIGGER IF EXISTS {table}_no_{event}" for table in TABLES for event in ("update", "delete")]


__all__ = ["TABLES", "create_statements", "drop_statements"]
