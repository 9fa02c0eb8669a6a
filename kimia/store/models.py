"""The domain schema (SQLAlchemy 2.0 typed models).

The journal is append-only double-entry: every posting of a decision is two rows (−amount on the
account it leaves, +amount on the account it reaches) under the operation that made it. Balances
are a projection of the journal kept in ``balances`` in the same transaction; ``kimia check``
recomputes them. Money is integer rials (BigInteger), points and entries are integers.

The purchase path writes with driver-level SQL (kimia/service/sql.py) for speed; the models are
the single definition of the schema, used by migrations, the panel and the tools.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names are stable across SQLite and PostgreSQL, so migrations can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

intpk = Annotated[int, mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)]
rial = Annotated[int, mapped_column(BigInteger, nullable=False, default=0)]
ts = Annotated[int, mapped_column(BigInteger, nullable=False)]  # Unix seconds
name = Annotated[str, mapped_column(String(200), nullable=False, default="")]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# --- platform, owners, clubs -------------------------------------------------------------


class ClubOwner(Base):
    """A business that opens clubs on the platform (باشگاه‌دار)."""

    __tablename__ = "club_owners"
    id: Mapped[intpk]
    name_fa: Mapped[name]
    name_en: Mapped[name]
    sheba: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[ts]


class Club(Base):
    """A club (باشگاه) or, with a parent, a sub-club (زیرباشگاه), nested to any depth (C1, C2)."""

    __tablename__ = "clubs"
    id: Mapped[intpk]
    owner_id: Mapped[int] = mapped_column(ForeignKey("club_owners.id"), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("clubs.id"))
    name_fa: Mapped[name]
    name_en: Mapped[name]
    business_type: Mapped[str | None] = mapped_column(String(50))
    utc_offset_min: Mapped[int] = mapped_column(Integer, nullable=False, default=210)
    # Settlement shares, conversion ratios and tier configuration as plain data (validated by the core).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[ts]


class MetaClub(Base):
    """A meta-club (فراباشگاه): clubs that share members and/or merchants and value (C3)."""

    __tablename__ = "meta_clubs"
    id: Mapped[intpk]
    name_fa: Mapped[name]
    name_en: Mapped[name]
    share_members: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    share_merchants: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    share_value: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[ts]


class MetaClubMember(Base):
    __tablename__ = "meta_club_members"
    meta_club_id: Mapped[int] = mapped_column(ForeignKey("meta_clubs.id"), primary_key=True)
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), primary_key=True)


class FeeTariff(Base):
    """The platform's fee (کارمزد) per business type (C6); business_type NULL is the default."""

    __tablename__ = "fee_tariffs"
    id: Mapped[intpk]
    business_type: Mapped[str | None] = mapped_column(String(50), unique=True)
    percent_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    fixed_rial: Mapped[rial]
    cap_rial: Mapped[int | None] = mapped_column(BigInteger)


# --- merchants and terminals ---------------------------------------------------------------


class Marketer(Base):
    """A marketer (بازاریاب) who brings merchants and takes a share of their payments (S3)."""

    __tablename__ = "marketers"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]
    sheba: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[ts]


class Merchant(Base):
    """A merchant (پذیرنده) of a club or sub-club (C4)."""

    __tablename__ = "merchants"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]
    name_en: Mapped[name]
    business_type: Mapped[str | None] = mapped_column(String(50))
    sheba: Mapped[str | None] = mapped_column(String(26))
    marketer_id: Mapped[int | None] = mapped_column(ForeignKey("marketers.id"))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[ts]


class Branch(Base):
    __tablename__ = "branches"
    id: Mapped[intpk]
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), nullable=False, index=True)
    name_fa: Mapped[name]


class MerchantGroup(Base):
    __tablename__ = "merchant_groups"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]
    name_en: Mapped[name]


class MerchantGroupMember(Base):
    __tablename__ = "merchant_group_members"
    group_id: Mapped[int] = mapped_column(ForeignKey("merchant_groups.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)


class Terminal(Base):
    """A POS terminal (کارتخوان) or cash register bound to one merchant (field 41 + 42)."""

    __tablename__ = "terminals"
    __table_args__ = (UniqueConstraint("terminal_code", "merchant_code"),)
    id: Mapped[intpk]
    terminal_code: Mapped[str] = mapped_column(String(8), nullable=False)
    merchant_code: Mapped[str] = mapped_column(String(15), nullable=False)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), nullable=False, index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="pos")  # pos | pcpos
    # The MAC key encrypted under the KEK (kimia/terminal/keys.py), never in clear; its version
    # (1 for the first key, +1 per change) and check value; the previous key during a key change's overlap.
    mac_key_enc: Mapped[str | None] = mapped_column(Text)
    mac_key_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    mac_key_kcv: Mapped[str | None] = mapped_column(String(6))
    mac_key_prev_enc: Mapped[str | None] = mapped_column(Text)
    mac_key_prev_until: Mapped[int | None] = mapped_column(BigInteger)  # Unix time (s)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


# --- members ---------------------------------------------------------------------------------


class SharedWallet(Base):
    """A group wallet shared by several members or cards, e.g. a family (M5)."""

    __tablename__ = "shared_wallets"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]


class Member(Base):
    """A member (عضو / دارنده). Counters here are kept with each purchase for the rules (R3, R5)."""

    __tablename__ = "members"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]
    tier: Mapped[str | None] = mapped_column(String(50))
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    shared_wallet_id: Mapped[int | None] = mapped_column(ForeignKey("shared_wallets.id"))
    enrolled_by_merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    enrolled_via: Mapped[str] = mapped_column(String(10), nullable=False, default="panel")
    purchase_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_purchase_at: Mapped[int | None] = mapped_column(BigInteger)
    # Tier period state (V6–V8).
    period_points: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    grace_used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    frozen_until: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    manual_tier: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[ts]


class MemberIdentifier(Base):
    """How a member is known: bank card or club card (keyed hash + last-4 mask, never the number),
    mobile, national code or a card-less account (M4); several bank cards per member (M5).
    ``key_id`` names the key a card's hash was made with (kimia.service.cardkeys), NULL for what
    is not hashed (and for cards stored before revision 0005)."""

    __tablename__ = "member_identifiers"
    __table_args__ = (UniqueConstraint("club_id", "kind", "lookup"),
                      # The panel's search by a card's last 4 (migration 0014): an exact match on the mask.
                      Index("ix_member_identifiers_display", "club_id", "kind", "display"))
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    lookup: Mapped[str] = mapped_column(String(100), nullable=False)
    display: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[ts]
    key_id: Mapped[str | None] = mapped_column(String(16))


class MemberSearchWord(Base):
    """A word of a member's name, normalised for search (kimia.service.search_keys), under the
    member's root club: the panel finds members by the prefix of any word of their name through
    the primary key (migration 0014). PostgreSQL keeps the words in byte order (collation "C") so
    that a prefix is a range of the index."""

    __tablename__ = "member_search_words"
    club_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    word: Mapped[str] = mapped_column(String(100).with_variant(String(100, collation="C"), "postgresql"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)


class MemberPin(Base):
    """A member's club PIN for cardholder verification: a slow salted hash (scrypt), never the PIN;
    wrong attempts counted, locked for a while after too many (kimia.service.verify)."""

    __tablename__ = "member_pins"
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pin_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[ts]


class MemberCode(Base):
    """A one-time code sent to a member's mobile: its keyed hash, short-lived, single use, a few
    attempts (kimia.service.verify)."""

    __tablename__ = "member_codes"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[ts]
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[ts]


class MemberGroup(Base):
    __tablename__ = "member_groups"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]
    name_en: Mapped[name]


class MemberGroupMember(Base):
    __tablename__ = "member_group_members"
    group_id: Mapped[int] = mapped_column(ForeignKey("member_groups.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)


class MemberDay(Base):
    """A member's purchases per local day: the history behind recency/frequency/monetary rules."""

    __tablename__ = "member_days"
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    spend_rial: Mapped[rial]


class MerchantVisit(Base):
    """Purchases of a member at a merchant (for "every nth purchase here")."""

    __tablename__ = "merchant_visits"
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class ReferralCode(Base):
    """A member's referral code (معرف), made on first ask (kimia.service.member_views): a
    newcomer enrolling with it names the member as their referrer, and the club's ``referral``
    rules credit the referrer on the newcomer's purchases. One per member; unique in its root club."""

    __tablename__ = "referral_codes"
    __table_args__ = (UniqueConstraint("club_id", "code"),)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the member's root club
    code: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[ts]


# --- rules -----------------------------------------------------------------------------------


class RuleSetVersion(Base):
    """A version of a club's rule set; the newest whose ``effective_from`` has come is compiled and used."""

    __tablename__ = "rule_sets"
    __table_args__ = (UniqueConstraint("club_id", "version"),)
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False, default="system")
    created_at: Mapped[ts]
    #: When the version takes effect (Unix seconds): a later time is stored but not used until then.
    #: Unless given, when it was created.
    effective_from: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                                default=lambda context: context.get_current_parameters()["created_at"])


# --- value: operations, journal, balances, lots ------------------------------------------------


#: PostgreSQL's largest ``toast_tuple_target``: rows up to a page are stored as they are.
TOAST_TUPLE_TARGET = 8160


class Operation(Base):
    """One operation (purchase, refund, charge, ...), exactly once per idempotency key."""

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("club_id", "idem_key"),
        # A club's operations of a day. Day first on purpose: the batch looks idempotency keys up
        # with ``club_id = ? AND idem_key = ANY(?)``, and while a growing table's statistics lag
        # PostgreSQL took an index led by club_id alone and filtered the club's every operation
        # (migration 0002).
        Index("ix_operations_day_club", "day", "club_id"),
        # An operation by its reference (the RRN kimia gives, or the caller's own): a refund names
        # its sale by it, and every batch of API purchases checks its fresh RRNs are not taken;
        # without it each batch read the club's every operation (migration 0012). Reference first,
        # as above: an index led by club_id would again tempt PostgreSQL's key lookup.
        Index("ix_operations_reference_club", "reference", "club_id"),
        # PostgreSQL: a purchase's row (its stored decision and receipt, about 4 kB) stays in the
        # table as it is, not compressed into TOAST from 2 kB on: compressing it on every insert
        # took a fifth of a batch's time (migration 0003).
        {"postgresql_with": {"toast_tuple_target": TOAST_TUPLE_TARGET}},
    )
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False)
    idem_key: Mapped[str] = mapped_column(String(200), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)  # done | rejected | held | cancelled | completed
    member_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    merchant_id: Mapped[int | None] = mapped_column(BigInteger)
    terminal_id: Mapped[int | None] = mapped_column(BigInteger)
    original_op_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    amount_rial: Mapped[rial]
    refunded_rial: Mapped[rial]
    reference: Mapped[str | None] = mapped_column(String(40))  # e.g. the bank sale's RRN (ix_operations_reference_club)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    decision: Mapped[str | None] = mapped_column(Text)
    day: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[ts]
    #: Who made it: ``terminal:<id>`` (also in ``terminal_id``), an API key or panel user as the
    #: caller names itself, else ``merchant:<id>``; NULL on rows before revision 0006.
    actor: Mapped[str | None] = mapped_column(String(100))


class JournalLeg(Base):
    """One leg of a posting. Append-only: never updated or deleted."""

    __tablename__ = "journal"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    op_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    account: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    unit: Mapped[str] = mapped_column(String(6), nullable=False)
    memo: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    created_at: Mapped[ts]


class Balance(Base):
    """The projection of the journal per account, updated in the same transaction."""

    __tablename__ = "balances"
    __table_args__ = (UniqueConstraint("club_id", "account"), Index("ix_balances_owner", "club_id", "owner"))
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    account: Mapped[str] = mapped_column(String(100), nullable=False)
    owner: Mapped[str] = mapped_column(String(40), nullable=False)  # "member:42", "group:3", "club:1", ...
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credit_limit: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class LotRow(Base):
    """A lot of earned value with its own expiry; spending draws the soonest-expiring first."""

    __tablename__ = "lots"
    __table_args__ = (Index("ix_lots_owner", "club_id", "owner"), Index("ix_lots_expiry", "club_id", "expires_at"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "{op_id}:{n}"
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    owner: Mapped[str] = mapped_column(String(40), nullable=False)
    account: Mapped[str] = mapped_column(String(100), nullable=False)
    original: Mapped[int] = mapped_column(BigInteger, nullable=False)
    remaining: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    pending_until: Mapped[int | None] = mapped_column(BigInteger)


class BudgetUsage(Base):
    __tablename__ = "budget_usage"
    club_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class ClubDay(Base):
    """Per club and local day, a count and an amount per metric (kimia.service.daily):
    written with the operations and journal legs it counts, read by the dashboard (migration 0015)."""

    __tablename__ = "club_days"
    club_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class OutboxEvent(Base):
    """A notification event, written in the transaction that caused it (kimia.service.outbox);
    ``uid`` is its stable id, ``dispatched_at`` set once the worker made its deliveries (0016)."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_waiting", "id", postgresql_where=text("dispatched_at IS NULL"),
                            sqlite_where=text("dispatched_at IS NULL")),)
    id: Mapped[intpk]
    uid: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    event: Mapped[str] = mapped_column(String(60), nullable=False)
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[ts]
    dispatched_at: Mapped[int | None] = mapped_column(BigInteger)


class OutboxDelivery(Base):
    """One event to one target of one channel, with its attempts and back-off (0016)."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "channel", "target", name="uq_outbox_deliveries_event_id"),
                      Index("ix_outbox_deliveries_due", "status", "next_at"),
                      Index("ix_outbox_deliveries_club", "club_id", "status"))
    id: Mapped[intpk]
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"), nullable=False)
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column(String(40), nullable=False)
    target: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    lease_until: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[ts]


class PluginMigration(Base):
    """A plugin's schema step that was applied (kimia.store.plugin_schema, 0016)."""

    __tablename__ = "plugin_migrations"
    plugin: Mapped[str] = mapped_column(String(100), primary_key=True)
    revision: Mapped[str] = mapped_column(String(100), primary_key=True)
    applied_at: Mapped[ts]


class SplitLegRow(Base):
    """A beneficiary's part of a payment (S1), the input of the daily settlement file."""

    __tablename__ = "split_legs"
    __table_args__ = (Index("ix_split_legs_club_day", "club_id", "day"),)
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    op_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    beneficiary_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_rial: Mapped[int] = mapped_column(BigInteger, nullable=False)
    day: Mapped[int] = mapped_column(Integer, nullable=False)


# --- vouchers, lotteries, tiers, audit -----------------------------------------------------------


class VoucherTemplate(Base):
    __tablename__ = "voucher_templates"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]
    name_en: Mapped[name]
    discount_rial: Mapped[rial]
    discount_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cap_rial: Mapped[int | None] = mapped_column(BigInteger)
    valid_days: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    merchants: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    price_points: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    price_credit_rial: Mapped[rial]
    min_balance: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    funder: Mapped[str] = mapped_column(String(20), nullable=False, default="club_owner")


class Voucher(Base):
    __tablename__ = "vouchers"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("voucher_templates.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), nullable=False, index=True)
    issued_op_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    used_op_id: Mapped[int | None] = mapped_column(BigInteger)
    valid_from: Mapped[ts]
    valid_to: Mapped[ts]


class Lottery(Base):
    """A lottery (قرعه‌کشی). The seed's SHA-256 is committed before the draw, so the draw can be audited."""

    __tablename__ = "lotteries"
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), nullable=False, index=True)
    name_fa: Mapped[name]
    name_en: Mapped[name]
    prizes: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    seed_commitment: Mapped[str | None] = mapped_column(String(64))
    seed: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="open")
    drawn_at: Mapped[int | None] = mapped_column(BigInteger)


class LotteryWinner(Base):
    __tablename__ = "lottery_winners"
    lottery_id: Mapped[int] = mapped_column(ForeignKey("lotteries.id"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), nullable=False)
    prize: Mapped[str] = mapped_column(String(200), nullable=False, default="")


class PeriodClose(Base):
    """A tier period close of a club, written before any member is closed (migration 0004).

    Members are closed in chunks, each one transaction that closes its members and posts their
    deductions; ``done_through`` is the last member id closed. A close still ``running`` after a
    crash is resumed by the next run of the same close, from ``done_through`` on, with the tier
    configuration it started with; ``kimia check`` reports it until then."""

    __tablename__ = "period_closes"
    __table_args__ = (UniqueConstraint("club_id", "period_end"),)
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    period_end: Mapped[ts]
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # running | done
    # The tier configuration the close started with (a resumed close judges by it too).
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # Members enrolled after the close started belong to the next period.
    last_member_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    members_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    members_done: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    done_through: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    actor: Mapped[str] = mapped_column(String(100), nullable=False, default="system")
    started_at: Mapped[ts]
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class TierHistory(Base):
    """A member's move at a period close; at most one per member and close (migration 0004)."""

    __tablename__ = "tier_history"
    __table_args__ = (UniqueConstraint("club_id", "period_end", "member_id"),)
    id: Mapped[intpk]
    club_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), nullable=False, index=True)
    period_end: Mapped[ts]
    from_tier: Mapped[str | None] = mapped_column(String(50))
    to_tier: Mapped[str | None] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(10), nullable=False)
    period_points: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    deducted_points: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class AuditLog(Base):
    """Every manual action: who, when, why. Append-only (triggers refuse UPDATE and DELETE) and
    chained: ``chain_hash`` is SHA-256 of the previous row's and this row's content
    (kimia.service.audit), so ``kimia check`` finds a row edited or deleted behind kimia's back."""

    __tablename__ = "audit_log"
    id: Mapped[intpk]
    club_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(50), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    at: Mapped[ts]
    chain_hash: Mapped[str] = mapped_column(String(64), nullable=False)


# --- the JSON API: its keys and the answers it keeps under Idempotency-Key ----------------------


class ApiKey(Base):
    """A key of the JSON API (kimia.service.apikeys): ``platform``, ``management`` (a club's back
    office), ``integration`` (apps, sites, cash registers; a club's, or one merchant's or branch's)
    or ``member`` (a token an app's backend mints for one member). Only SHA-256 of the secret is
    kept: a key is shown once, when it is made."""

    __tablename__ = "api_keys"
    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    club_id: Mapped[int | None] = mapped_column(ForeignKey("clubs.id"), index=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    label: Mapped[name]
    #: Requests a minute this key may make (None: its kind's default, kimia.web.api.limits).
    rate_per_min: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[ts]
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class ApiRequest(Base):
    """The answer to a POST, kept under the key that sent it and its ``Idempotency-Key`` so a
    retry gets the first answer (kimia.web.api.idempotency). ``status`` is 0 while it is being
    answered; ``lease_until`` lets a retry take over one whose process died."""

    __tablename__ = "api_requests"
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[ts]
    lease_until: Mapped[int] = mapped_column(BigInteger, nullable=False)


# --- the panel and portal: staff users and the sessions of staff and members ---------------------


class PanelUser(Base):
    """A person who signs in to the panel (kimia.service.staff): the platform's operator, a club's
    staff (admin, marketer, support, read-only) or a merchant's staff. Only an argon2id hash of the
    password is kept; ``failures`` and ``locked_until`` slow a guesser down."""

    __tablename__ = "panel_users"
    id: Mapped[intpk]
    login: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    name: Mapped[name]
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    club_id: Mapped[int | None] = mapped_column(ForeignKey("clubs.id"), index=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[ts]
    updated_at: Mapped[ts]


class PanelSession(Base):
    """A signed-in browser: a staff user's (``kind`` staff) or a member's in the portal (``member``).
    The cookie holds a random token; only its SHA-256 is kept, so a copy of the database opens no
    session. Logout, disabling the user and expiry end it."""

    __tablename__ = "panel_sessions"
    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("panel_users.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    club_id: Mapped[int | None] = mapped_column(BigInteger)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[ts]
    last_seen_at: Mapped[ts]
    expires_at: Mapped[ts]
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(String(64), nullable=False, default="")


def utc_now_s() -> int:
    """The current time in Unix seconds (the core never reads the clock; the service does)."""
    return int(dt.datetime.now(dt.timezone.utc).timestamp())
