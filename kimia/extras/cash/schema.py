"""The cash extra's tables (``cash_*``), created by its migrations (``kimia_register_schema``).

- ``cash_categories``: what an expense or a cash receipt is for. ``merchant_id`` NULL is one of
  the club's shared categories (the defaults are added on first use, :data:`DEFAULTS`); a
  merchant's own category shadows a shared one with the same code. ``code`` is short ASCII,
  what a terminal sends in 48 ``EX``; unique per club (or merchant), kind and code.
- ``cash_entries``: one expense or cash receipt of a merchant, on a local day of its club,
  append-only: a wrong entry is voided with a reason (``voided_*``), never edited or deleted.
  ``idem_key`` is the request's idempotency key (terminal natural key, API Idempotency-Key, panel
  form key) and ``void_key`` the void's: a repeat finds the stored row and is answered from it.
"""

from __future__ import annotations

from kimia.plugins.types import Db, Migration, PluginSchema

#: The club's shared categories added on first use: (kind, code, Persian name, English name).
DEFAULTS: tuple[tuple[str, str, str, str], ...] = (
    ("expense", "rent", "اجاره", "Rent"),
    ("expense", "wages", "حقوق و دستمزد", "Wages"),
    ("expense", "goods", "خرید کالا", "Goods bought"),
    ("expense", "bills", "قبوض", "Bills"),
    ("expense", "transport", "حمل و نقل", "Transport"),
    ("expense", "other", "سایر", "Other"),
    ("receipt", "sales", "فروش نقدی", "Cash sales"),
    ("receipt", "debts", "وصول طلب", "Debts collected"),
    ("receipt", "other", "سایر", "Other"),
)


def _create(db: Db) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    db.execute(
        f"CREATE TABLE cash_categories (id {key}, club_id BIGINT NOT NULL, merchant_id BIGINT,"
        " kind VARCHAR(10) NOT NULL, code VARCHAR(16) NOT NULL, name_fa VARCHAR(80) NOT NULL, name_en VARCHAR(80) NOT NULL,"
        " active SMALLINT NOT NULL DEFAULT 1, created_at BIGINT NOT NULL, idem_key VARCHAR(200) UNIQUE,"
        " CHECK (kind IN ('expense', 'receipt')))"
    )
    # One code per scope: the club's shared ones, and each merchant's own.
    db.execute("CREATE UNIQUE INDEX cash_categories_shared_code ON cash_categories (club_id, kind, code) WHERE merchant_id IS NULL")
    db.execute("CREATE UNIQUE INDEX cash_categories_own_code ON cash_categories (merchant_id, kind, code) WHERE merchant_id IS NOT NULL")
    db.execute(
        f"CREATE TABLE cash_entries (id {key}, club_id BIGINT NOT NULL, merchant_id BIGINT NOT NULL,"
        " kind VARCHAR(10) NOT NULL, category_id BIGINT REFERENCES cash_categories (id), amount_rial BIGINT NOT NULL,"
        " note VARCHAR(200) NOT NULL DEFAULT '', at BIGINT NOT NULL, day BIGINT NOT NULL, source VARCHAR(10) NOT NULL,"
        " terminal_id BIGINT, idem_key VARCHAR(200) NOT NULL UNIQUE, fingerprint VARCHAR(400) NOT NULL, answer TEXT NOT NULL DEFAULT '',"
        " actor VARCHAR(200) NOT NULL, voided_at BIGINT, voided_by VARCHAR(200), void_reason VARCHAR(500),"
        " void_key VARCHAR(200) UNIQUE,"
        " CHECK (kind IN ('expense', 'receipt')), CHECK (amount_rial > 0))"
    )
    # The lists served: a merchant's entries by day (the cash book, the income report, the API's
    # list by id), a club's by id.
    db.execute("CREATE INDEX cash_entries_merchant_day ON cash_entries (merchant_id, day, id)")
    db.execute("CREATE INDEX cash_entries_merchant_id ON cash_entries (merchant_id, id)")
    db.execute("CREATE INDEX cash_entries_club_id ON cash_entries (club_id, id)")


SCHEMA = PluginSchema("cash", (Migration("0001", _create),))
