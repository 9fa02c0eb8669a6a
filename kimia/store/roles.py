"""The PostgreSQL grants of kimia's application role (``kimia db grant-app-role``).

kimia on PostgreSQL runs under two roles:

- the **owner** owns the schema and every table; it runs ``kimia init`` (the migrations) and
  nothing else;
- the **application** role is what the terminal host, the API and the CLI jobs connect as. It may
  read every table and write where kimia writes, but on the append-only tables (``journal`` and
  ``audit_log``, kimia.store.append_only) it has INSERT and SELECT only, and it owns nothing, so
  it can neither UPDATE, DELETE nor TRUNCATE their rows nor drop or disable their triggers.

:func:`grant_statements` is the SQL (plain text, so an operator can read it before running it);
:func:`inspect` reads what it needs from the database, and :func:`verify` checks the result with
``has_table_privilege``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from kimia.error_codes import ErrorCode
from kimia.errors import Phrase, message
from kimia.store.append_only import TABLES as APPEND_ONLY

#: Role names accepted: PostgreSQL's unquoted identifiers, lower case (what ``CREATE ROLE name`` stores).
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Tables the application reads but never writes.
READ_ONLY = ("alembic_version",)
#: What the application may do on every other kimia table.
WRITE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
#: What it may do on a table a later migration creates, until the command runs again.
DEFAULT_PRIVILEGES = ("SELECT", "INSERT")
#: Privileges the application must not hold on an append-only table.
FORBIDDEN_APPEND_ONLY = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


class RoleError(ValueError):
    """A role that must not be (or cannot be) the application role."""

    def __init__(self, code: ErrorCode, **params: object) -> None:
        self.code = code
        self.message_en = message(code, "en", **params)  # worded by the error catalogue
        self.message_fa = message(code, "fa", **params)
        self.params = {name: str(value) for name, value in params.items()}
        super().__init__(self.message_en)


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def check_role_name(role: str) -> str:
    if not ROLE_NAME.match(role):
        raise RoleError("bad_role_name", role=repr(role))
    return role


@dataclass(frozen=True)
class Database:
    """What the grants depend on: the schema kimia's tables are in, their owner, the tables."""

    schema: str
    owner: str
    tables: tuple[str, ...]


def inspect(conn: Connection) -> Database:
    """Read the schema, the owner of ``journal`` and the tables of the database behind ``conn``."""
    schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
    rows = conn.execute(text("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
                        {"s": schema}).all()
    owners = {str(name): str(owner) for name, owner in rows}
    if "journal" not in owners:
        raise RoleError("not_initialized", detail=Phrase(f"schema {schema}", f"شِمای {schema}"))
    return Database(schema=schema, owner=owners["journal"], tables=tuple(owners))


def grant_statements(role: str, db: Database) -> list[str]:
    """The statements that make ``role`` kimia's application role on ``db`` (safe to repeat:
    they start by revoking whatever the role held on kimia's tables and sequences)."""
    r, s, o = quote(check_role_name(role)), quote(db.schema), quote(db.owner)
    append_only = [t for t in db.tables if t in APPEND_ONLY]
    read_only = [t for t in db.tables if t in READ_ONLY]
    writable = [t for t in db.tables if t not in APPEND_ONLY and t not in READ_ONLY]

    def names(tables: list[str]) -> str:
        return ", ".join(f"{s}.{quote(t)}" for t in tables)

    out = [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
    ]
    if writable:
        out.append(f"GRANT {', '.join(WRITE_PRIVILEGES)} ON {names(writable)} TO {r}")
    if append_only:
        out.append(f"GRANT SELECT, INSERT ON {names(append_only)} TO {r}")
    if read_only:
        out.append(f"GRANT SELECT ON {names(read_only)} TO {r}")
    # Inserts draw ids from the tables' sequences (nextval needs USAGE); SELECT lets currval work.
    out.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
    # Tables and sequences a later migration creates (as the owner) can be read and appended to at
    # once; UPDATE and DELETE on them wait for this command to run again after `kimia init` (so
    # a new append-only table never has them, not even for a moment).
    out.append(f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT {', '.join(DEFAULT_PRIVILEGES)} ON TABLES TO {r}")
    out.append(f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}")
    return out


def role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is not None


def refuse_unsafe(conn: Connection, role: str, db: Database) -> None:
    """Refuse a role that would not be held back by the grants: a superuser, a role that bypasses
    row security, the tables' owner or a member of the owner's role (it could act as the owner)."""
    row = conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if row is None:
        return
    if row[0] or row[1]:
        raise RoleError("role_too_strong", role=role)
    owners = {db.owner, *(str(o) for (o,) in conn.execute(
        text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = :s"), {"s": db.schema}))}
    for owner in sorted(owners):
        member = conn.execute(text("SELECT pg_has_role(:r, :o, 'MEMBER')"), {"r": role, "o": owner}).scalar_one()
        if member:
            raise RoleError("role_owns_tables", role=role, owner=owner)


def verify(conn: Connection, role: str, db: Database) -> list[str]:
    """What is wrong with ``role``'s privileges on ``db`` (empty when it is as :func:`grant_statements` leaves it)."""
    problems: list[str] = []
    for table in db.tables:
        qualified = f"{quote(db.schema)}.{quote(table)}"

        def has(privilege: str) -> bool:
            return bool(conn.execute(text("SELECT has_table_privilege(:r, :t, :p)"),
                                     {"r": role, "t": qualified, "p": privilege}).scalar_one())

        if table in APPEND_ONLY:
            needed, forbidden = ["SELECT", "INSERT"], list(FORBIDDEN_APPEND_ONLY)
        elif table in READ_ONLY:
            needed, forbidden = ["SELECT"], ["INSERT", "UPDATE", "DELETE", "TRUNCATE"]
        else:
            needed, forbidden = list(WRITE_PRIVILEGES), []
        problems += [f"{table}: {p} missing" for p in needed if not has(p)]
        problems += [f"{table}: {p} held (must not be)" for p in forbidden if has(p)]
    return problems


__all__ = ["APPEND_ONLY", "Database", "READ_ONLY", "RoleError", "check_role_name", "grant_statements", "inspect",
           "refuse_unsafe", "role_exists", "verify"]
