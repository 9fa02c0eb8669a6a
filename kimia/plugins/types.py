"""The plain types of the plugin contract: what a hook returns and what a plugin is handed.

This module imports nothing of kimia (nor Flask, nor SQLAlchemy): a plugin written against it
depends on kimia's behaviour, never on its internals. ``docs/plugins.md`` documents every type
here; ``tests/plugins/test_docs.py`` fails when a hook's documented signature differs.

The one door into kimia is :class:`Services`: public service calls, and :meth:`Services.write`,
which runs a plugin's work as one database transaction in kimia's single write path (serialised
with every purchase), where the work may write its own tables, append to the audit log and emit
notification events through the :class:`Db` it is given. Everything written there lands together
or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")

#: Who may call an API route: the kinds of API key (docs/api.md, *Keys*).
KeyKind = Literal["platform", "management", "integration", "member"]
#: Who may open a panel or portal page (docs/panel.md, *Roles*).
Role = Literal["platform", "admin", "marketer", "support", "read_only", "merchant", "member", "anyone"]


class Refusal(Exception):
    """Raise to refuse a request with a code of kimia's error catalogue (docs/errors.md), the
    field it concerns (a dotted path, a terminal tag) and the message's parameters. The channel
    turns it into its own answer: a terminal response code, an API problem, a form error. A code
    the catalogue does not list is a programming error (``UnlistedErrorCode``). A parameter that
    is words rather than a value (``what``, ``detail``) may be a pair ``(English, Persian)``, so
    the Persian message holds no English: ``Refusal("not_found", what=("record", "رکورد"))``.

    Every refusal a plugin meets is a ``Refusal``: one it raised inside :meth:`Services.write`
    comes out of ``write`` as itself (after the transaction was undone), and kimia's own refusals
    of a ``Services`` call (``unknown_merchant``, ``overloaded``, ...) are raised as ``Refusal`` too."""

    def __init__(self, code: str, path: str | None = None, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.path = path
        self.params = params
        #: When kimia itself refused a plugin's call (``Services``): its own error, worded in both
        #: languages; a plugin reads ``code``/``path`` and lets it through or shows it.
        self.error: object | None = None


# --- the database, inside one transaction ------------------------------------------------------


class Db(Protocol):
    """One open database transaction (inside :meth:`Services.write` or :meth:`Services.read`).

    Statements use ``?`` placeholders on both databases. Write portable SQL (SQLite and
    PostgreSQL); ``dialect`` says which one runs. To insert a row that may already exist (a
    retried request), use ``INSERT ... ON CONFLICT DO NOTHING`` and look at the count: a failed
    statement on PostgreSQL spoils the whole transaction."""

    dialect: Literal["sqlite", "postgresql"]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query."""
        ...

    def insert(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row into a table with an integer ``id`` key; the new row's id."""
        ...

    def emit(self, event: str, *, club_id: int, key: str, payload: Mapping[str, Any], member_id: int | None = None) -> str:
        """Put a notification event in the outbox, in this transaction: it is delivered (SMS,
        e-mail, webhooks, ...) only if the transaction commits, at least once. ``key`` makes the
        event's stable id (``<event>:<club>:<key>``, returned): emitting the same key twice is
        one event. ``payload`` must be JSON; it is what templates and webhooks see."""
        ...

    def audit(self, *, club_id: int | None, actor: str, action: str, reason: str, payload: Mapping[str, Any]) -> None:
        """Append to the club's audit log (hash-chained), in this transaction."""
        ...


# --- who is asking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who makes a request, as a plugin sees them: an API key, a panel user or a member.

    ``kind`` is the API key's kind (``platform``, ``management``, ``integration``, ``member``) or
    the panel role (``admin``, ``marketer``, ``support``, ``read_only``, ``merchant``,
    ``platform``, ``member``). ``club_id`` is the club it acts for (None: the platform),
    ``merchant_id``/``branch_id`` what it is bound to, ``member_id`` the member it is.
    ``actor`` is how the audit log names it; ``lang`` is ``fa`` or ``en``."""

    kind: str
    club_id: int | None
    actor: str
    lang: str = "fa"
    merchant_id: int | None = None
    branch_id: int | None = None
    member_id: int | None = None


@dataclass(frozen=True)
class MerchantInfo:
    id: int
    club_id: int
    #: The root club whose ledger the merchant books in (a sub-club's merchant books in its root).
    root_club_id: int
    name_fa: str
    name_en: str


@dataclass(frozen=True)
class MemberInfo:
    id: int
    club_id: int
    name: str
    #: The member's mobile (``+989...``), for messages; None when they gave none.
    mobile: str | None
    tier: str | None


@dataclass(frozen=True)
class DaySales:
    """A merchant's card sales seen by kimia on one local day of its club."""

    day: str  # ISO date, Gregorian (the panel shows it Jalali)
    purchases: int
    amount_rial: int
    refunded_rial: int


class Services(Protocol):
    """The public service calls a plugin may make. Kimia gives each plugin the same object; it is
    thread-safe. Refusals raise :class:`Refusal`-like errors of kimia's catalogue."""

    def now(self) -> int:
        """The service clock: Unix seconds (tests and the demo move it)."""
        ...

    def write(self, work: Callable[[Db], T]) -> T:
        """Run ``work`` as one database transaction in kimia's write path and return its result
        once it is durable. A :class:`Refusal` (or any exception) raised by ``work`` undoes all it
        wrote and is raised to the caller. Writes are serialised with every other operation of the
        process, so a read-then-write inside ``work`` is not raced by this process; across
        processes a unique index is the guard."""
        ...

    def read(self, work: Callable[[Db], T]) -> T:
        """Run ``work`` in a read-only transaction (a consistent snapshot)."""
        ...

    def merchant(self, merchant_id: int) -> MerchantInfo:
        """A merchant (``unknown_merchant`` if there is none)."""
        ...

    def merchants(self, club_id: int) -> list[MerchantInfo]:
        """The merchants of a club and of its sub-clubs, at any depth, by id (a club's staff
        choosing one of them)."""
        ...

    def member(self, club_id: int, member_id: int) -> MemberInfo:
        """A member of the club or of a club sharing members with it (``unknown_member``)."""
        ...

    def find_member(self, club_id: int, key: str) -> int | None:
        """The member a key names in the club, as a terminal's ``MK`` names them: ``M:+98912...``
        (mobile), ``N:...`` (national code), ``C:...`` (club card), ``A:...`` (account number).
        None when nobody has it; ``invalid_request`` when the key is malformed."""
        ...

    def utc_offset_min(self, club_id: int) -> int:
        """The club's time zone as minutes east of UTC (Iran: 210)."""
        ...

    def secret_hash(self, purpose: str, value: str) -> str:
        """A keyed hash (HMAC under the card-hash key) of a secret that must never be stored in
        clear: a staff card, a booking code. Same ``purpose`` and ``value``, same hash."""
        ...

    def seal(self, purpose: str, value: str) -> str:
        """``value`` encrypted (AES-GCM) under the operator's key-encryption key, for a secret the
        plugin must read back (a webhook's signing secret): store what this returns."""
        ...

    def unseal(self, purpose: str, sealed: str) -> str:
        """The clear value of what :meth:`seal` returned for the same ``purpose``."""
        ...

    def setting(self, name: str) -> str | None:
        """One of kimia's settings (``kimia.settings.Settings``, by field name: ``sms``,
        ``smtp_url``, ...) as text, None when it is unset or empty. Keys and the database URL are
        never given (None)."""
        ...

    def card_sales(self, merchant_id: int, first_day: str, last_day: str) -> list[DaySales]:
        """The merchant's card purchases and refunds seen by kimia per local day, from
        ``first_day`` to ``last_day`` (ISO dates, inclusive), days without any left out."""
        ...


# --- terminal operations -------------------------------------------------------------------------


@dataclass(frozen=True)
class TerminalInfo:
    """The terminal a request came from (authenticated by its MAC)."""

    terminal_id: int
    merchant_id: int
    branch_id: int | None
    kind: str


@dataclass
class TerminalRequest:
    """What a terminal operation gets: the request's fields as text (``field("4")``), its field-48
    TLV items, the terminal, and ``idem_key``, the natural key of the message (terminal, STAN,
    transmission time): use it as the idempotency key of what the request writes, so a repeat is
    answered as the first was."""

    mti: str
    processing_code: str
    fields: Mapping[str, str]
    items: list[tuple[str, str]]
    terminal: TerminalInfo
    idem_key: str
    services: Services

    def field(self, number: str) -> str | None:
        return self.fields.get(number)

    def tag(self, name: str) -> str | None:
        """The first field-48 item of a tag (``ST``, ``EX``, ``NT``, ...), or None."""
        for tag, value in self.items:
            if tag == name:
                return value
        return None

    @property
    def amount_rial(self) -> int | None:
        """Field 4 as an integer (the server checked it is digits), or None."""
        value = self.fields.get("4")
        return int(value) if value else None


@dataclass
class TerminalReply:
    """An answer: a response code (``00`` approved; docs/terminal-protocol.md, section 8), fields to
    set, and field-48 items (``RL`` receipt lines, ...)."""

    response_code: str = "00"
    fields: dict[str, str | bytes] = field(default_factory=dict)
    items: list[tuple[str, str]] = field(default_factory=list)
    receipt: dict[str, Any] | None = None
    #: Why a refusal was given (a kimia error code, ``deadline``, ...): logged, never sent.
    reason: str | None = None


@dataclass(frozen=True)
class TerminalOperation:
    """A terminal operation: the request MTIs (first-transmission form, ``"0200"``; repeats
    ``0201`` match) and processing codes (field 3, first two digits; ``""`` for messages without
    field 3, ``"*"`` for any) it answers. Plugins use the codes the protocol reserves for them
    (``93``–``99``: docs/terminal-protocol.md). ``required`` lists the fields the request must
    carry (else 30 before the handler runs). ``handle`` runs on a worker thread and may block;
    ``handle_async`` (kimia's own purchase) runs on the event loop and must not."""

    name: str
    mtis: tuple[str, ...]
    processing_codes: tuple[str, ...]
    handle: Callable[[Any], TerminalReply]
    handle_async: Callable[[Any, Any], Awaitable[TerminalReply]] | None = None
    required: tuple[str, ...] = ("7", "11", "12", "13", "41", "42")


@dataclass(frozen=True)
class DialectSpec:
    """A terminal dialect: how a switch's or vendor's ISO 8583 messages are laid out, served with
    ``kimia terminal serve --dialect <name>``. ``spec`` is a pyiso8583 specification (per field:
    ``data_enc``, ``len_enc``, ``len_type``, ``max_len``, ...; ``t`` and ``p`` required, ``1``
    when a field above 64 is used). ``formats`` gives each data field's content format (``n``,
    ``an``, ``ans``, ``z``, ``text``, ``b``; docs/terminal-protocol.md section 11), which the host
    checks because pyiso8583 does not; a field's ``"format"`` key inside ``spec`` is taken too.
    ``length_prefix`` frames a message (``binary2``: two bytes big-endian; ``ascii4``: four
    digits), ``tpdu`` puts a 5-byte TPDU before the MTI, ``mac_fields`` are the fields carrying a
    MAC (``("64", "128")``; empty only for a demo: the host refuses it without
    ``--allow-unkeyed``), ``mtis`` the MTIs it accepts (empty: any)."""

    name: str
    spec: Mapping[str, Mapping[str, Any]]
    formats: Mapping[str, str] = field(default_factory=dict)
    length_prefix: Literal["binary2", "ascii4"] = "binary2"
    tpdu: bool = False
    mac_fields: tuple[str, ...] = ("64", "128")
    mtis: tuple[str, ...] = ()
    description: str = ""


# --- the web: API routes, panel and portal pages, templates and static files -------------------


@dataclass(frozen=True)
class RawAnswer:
    """An answer that is a file rather than JSON (a CSV)."""

    body: bytes | str
    media_type: str = "text/csv"
    filename: str | None = None


@dataclass(frozen=True)
class ApiCall:
    """One API request as a plugin route sees it. ``params`` are the path's parameters,
    ``query`` the query string, ``body`` the JSON body (``{}`` for a GET), ``idem_key`` the
    caller's Idempotency-Key scoped to their key (every POST carries one)."""

    caller: Caller
    params: Mapping[str, Any]
    query: Mapping[str, str]
    body: Mapping[str, Any]
    idem_key: str | None
    services: Services


@dataclass(frozen=True)
class ApiRoute:
    """An API route under ``/api/v1``. ``path`` uses Flask's rule syntax
    (``/attendance/staff/<int:staff_id>``); ``access`` the key kinds that may call it. The
    handler returns JSON (a dict or list), a :class:`RawAnswer`, or None (204). A POST is kept
    under its Idempotency-Key like kimia's own: the same key and body answers the first answer.
    ``tag`` groups it in the OpenAPI document."""

    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str
    handler: Callable[[ApiCall], Any]
    access: frozenset[str]
    summary: str
    tag: str
    status: int = 200
    #: Answer fields shown once (a secret made by the request): the API never keeps them, so a
    #: replay under the same Idempotency-Key answers them as null.
    secret_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class MenuEntry:
    """An entry in the panel's or portal's menu: its words in both languages and its place
    (kimia's own entries are ordered 10, 20, ... 200)."""

    label_fa: str
    label_en: str
    order: int


@dataclass(frozen=True)
class PageCall:
    """One request to a plugin's page. ``form`` is the posted form (the CSRF token already
    checked), ``render(template, **context)`` renders a template inside kimia's layout (the
    template ``{% extends "base.html" %}`` and fills ``{% block content %}``), ``url_for`` builds an
    address (``url_for("panel.<page name>", **params)``), ``redirect(url)`` answers a redirect,
    ``form_key`` is a fresh key to post back with a form that writes (it becomes the
    idempotency key), ``posted_form_key`` the one posted (``missing_idempotency_key`` if bad)."""

    caller: Caller
    method: str
    params: Mapping[str, Any]
    query: Mapping[str, str]
    form: Mapping[str, str]
    services: Services
    render: Callable[..., Any]
    url_for: Callable[..., str]
    redirect: Callable[[str], Any]
    form_key: Callable[[], str]
    posted_form_key: Callable[[], str]
    #: A refusal shown at its form field: ``{path: message}`` in the page's language.
    errors_of: Callable[[Exception], dict[str, str]]


@dataclass(frozen=True)
class PanelPage:
    """A page of the panel (``site="panel"``, club and merchant staff and the platform) or the
    member portal (``site="portal"``). ``rule`` is under ``/panel`` or ``/portal``; ``roles`` who
    may open it (the guard checks the session, the role and the CSRF token of every POST before
    the view runs); ``name`` is unique within the plugin and makes the endpoint
    ``<site>.<plugin>.<name>``. The view returns HTML (``call.render(...)``), a redirect, or a
    :class:`RawAnswer` (a file to download: a CSV)."""

    site: Literal["panel", "portal"]
    rule: str
    name: str
    view: Callable[[PageCall], Any]
    roles: frozenset[str]
    methods: tuple[str, ...] = ("GET",)
    menu: MenuEntry | None = None


@dataclass(frozen=True)
class TemplateDir:
    """A folder of Jinja templates, searched after kimia's own (name yours ``<plugin>/...``)."""

    path: str


@dataclass(frozen=True)
class StaticDir:
    """A folder served at ``/static/plugins/<name>/``."""

    name: str
    path: str


# --- the database: a plugin's own tables --------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One step of a plugin's schema: ``upgrade(db)`` runs once, in its own transaction, when
    ``kimia init`` (or the ``upgrade`` migration policy) reaches it; steps run in list order
    after kimia's own migrations. ``revision`` is unique within the plugin and never reused."""

    revision: str
    upgrade: Callable[[Db], None]


@dataclass(frozen=True)
class PluginSchema:
    """A plugin's tables: ``name`` (the plugin's, prefixing its tables) and its migrations, in
    order. A process refuses to start while any step is not applied (``schema_outdated``)."""

    name: str
    migrations: tuple[Migration, ...]


# --- notifications --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A notification event from the outbox: ``id`` is stable (``<event>:<club>:<key>``) and is
    what a receiver uses to drop repeats; ``event`` its name (``operation.committed``,
    ``member.enrolled``, ``tier.changed``, ``voucher.issued``, ``lottery.drawn``, ``lottery.won``,
    ``value.expiring``, ``appointment.reminder``, ...); ``at`` when it was written (Unix s)."""

    id: str
    event: str
    club_id: int
    member_id: int | None
    payload: Mapping[str, Any]
    at: int


@dataclass(frozen=True)
class Delivery:
    """One event to one target of one channel: ``target`` is the channel's own address (a
    mobile, an e-mail address, a webhook endpoint's id); ``attempt`` counts from 1."""

    event: Event
    channel: str
    target: str
    attempt: int


class DeliveryFailed(Exception):
    """Raised by a channel that could not deliver. ``retry=False`` gives up at once (a target that
    can never take it); otherwise the worker tries again with exponential back-off."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class NotificationChannel(Protocol):
    """A way of telling someone: SMS, e-mail, webhooks, a plugin's own. The delivery worker asks
    each channel for the targets of every event (``targets``; none: the channel ignores it), keeps
    one delivery per (event, channel, target), and calls ``deliver`` until it returns, with
    retries. Delivery is at least once: ``deliver`` may see the same event again after a crash,
    always with the same ``event.id``."""

    name: str

    def targets(self, event: Event, services: Services) -> list[str]:
        ...

    def deliver(self, delivery: Delivery, services: Services) -> None:
        ...


@dataclass(frozen=True)
class PeriodicTask:
    """Work the delivery worker runs every ``every_s`` seconds (finding value about to expire,
    appointment reminders): ``run(services, now)``; it emits events through ``services.write``.
    It must be safe to run twice (emit with a stable key)."""

    name: str
    every_s: int
    run: Callable[[Services, int], None]
