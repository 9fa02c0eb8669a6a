"""The kimia service: every operation is one database transaction, exactly once per key.

``Kimia`` is a thin facade: it owns the plumbing (the engine, the group-commit writer, read
connections, caches, card keys, plugin hooks, deadlines) and hands each operation to its family's
module, which decides with the core (``kimia._core``) and writes the decision:

- ``members`` (identify, enrol, bind, balances), ``cardholder`` (PINs, one-time codes),
- ``purchases`` (with ``bulk``, the batched write path), ``holds``, ``refunds`` (and reversals),
- ``value`` (conversion, charge, voucher, adjustment, expiry, credit limit), ``tiers``,
  ``lotteries``, ``settlement``; ``clubs`` and ``ops`` (operation rows) serve them all;
- ``requests`` holds the plain request types and helpers every family shares.

Value operations go through the group-commit writer; reads (quote, balances) use their own
connections. Used by the terminal server, the JSON API, the panel and the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kimia.errors import KimiaError
from kimia.service import cardholder, clubs, holds, lotteries, members, ops, outbox, purchases, refunds, settlement, tiers, value, verify
from kimia.service.cardkeys import DEV_CARD_KEY, CardKeys
from kimia.service.check import run_check
from kimia.service.context import Caches, MerchantContext, TerminalContext
from kimia.service.lotteries import draw_winners
from kimia.service.bulk import run_postings
from kimia.service.plugin_services import PluginServices
from kimia.service.posting import PostingWork
from kimia.service.purchases import PurchaseWork
from kimia.service.requests import Deadline, MemberRef, PurchaseRequest, local_day, request_hash
from kimia.service.sql import Tx
from kimia.service.verify import Notifier, Proof
from kimia.service.writer import Batchable, Writer
from kimia.store.engine import is_sqlite, raw_connect
from kimia.store.models import Base, utc_now_s

if TYPE_CHECKING:
    import pluggy
    from sqlalchemy import Engine

    from kimia.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


class Kimia:
    """The service. One instance per process; thread-safe.

    Writes are committed in groups of at most ``writer_max_batch`` operations (the settings). When
    fewer operations are queued than the last group carried, the writer waits up to
    ``writer_max_wait_s`` (1 ms; at most 10) for that many, so concurrent callers share one
    commit; a lone caller never waits (``kimia.service.writer``).

    Built by :func:`kimia.app.assemble` from the process's settings (kimia.settings), which
    resolves the card-hash keys, applies the migration policy and makes the parts; constructing it
    never touches the schema."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        card_keys: CardKeys,
        caches: Caches,
        plugins: pluggy.PluginManager,
        notifier: Notifier,
        clock: Callable[[], int] = utc_now_s,
    ) -> None:
        self.settings = settings
        self.card_keys = card_keys
        self.card_key = card_keys.current
        self.url = settings.database_url
        self.sqlite = is_sqlite(self.url)
        self.engine = engine
        self.clock = clock
        #: Where one-time codes go (the ``notify`` setting: the console, or ``file:<path>``).
        self.notifier = notifier
        self.caches = caches
        self.plugins = plugins
        #: What plugins are handed: the public calls of kimia.plugins.types.Services.
        self.plugin_services = PluginServices(self)
        # One thread runs the ``kimia_operation_committed`` hooks, in commit order, off the writer.
        self._events = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kimia-events")
        self.writer = Writer(lambda: raw_connect(self.url), max_batch=settings.writer_max_batch, max_wait_s=settings.writer_max_wait_s,
                             max_queue=settings.writer_max_queue, on_commit=self._announce)
        self._local = threading.local()
        self._readers: list[Any] = []
        self._readers_lock = threading.Lock()

    def close(self) -> None:
        self.writer.close()
        self._events.shutdown(wait=True)  # every committed operation is announced before we stop
        with self._readers_lock:
            for conn in self._readers:
                try:
                    conn.close()
                except Exception:
                    pass
            self._readers.clear()
        self.engine.dispose()

    def __enter__(self) -> Kimia:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------

    @property
    def notifications(self) -> bool:
        """Whether operations write their notification events to the outbox (``KIMIA_NOTIFICATIONS``)."""
        return self.settings.notifications

    def announce(self, tx: Tx, hook: str, **kwargs: Any) -> None:
        """Note a past-tense hook (``kimia_member_enrolled``, ...) of something written in ``tx``:
        it is called once the transaction commits, only if the savepoint of the operation that
        wrote it was kept, in commit order, on the event thread (docs/plugins.md)."""
        if getattr(self.plugins.hook, hook).get_hookimpls():
            tx.events.append((hook, kwargs))

    def emit(self, tx: Tx, event: str, *, club_id: int, key: str, payload: dict[str, Any], member_id: int | None = None) -> None:
        """Write a notification event to the outbox in ``tx`` (nothing when notifications are off)."""
        if self.settings.notifications:
            outbox.emit(tx, event=event, club_id=club_id, key=key, payload=payload, at=self.clock(), member_id=member_id)

    def committed(self, tx: Tx, *, kind: str, club_id: int, op_id: int, member_id: int | None, receipt: dict[str, Any],
                  merchant_id: int | None = None, amount_rial: int | None = None, pending: list[tuple[Any, ...]] | None = None) -> None:
        """Note an operation written in ``tx``: once its transaction commits (and only if its
        savepoint was kept), ``kimia_operation_committed`` is called with it (docs/plugins.md).
        Its ``operation.committed`` outbox row is written now, or, with ``pending`` (a run's
        rows: kimia.service.posting), appended there for the run to write with its other rows."""
        if self.plugins.hook.kimia_operation_committed.get_hookimpls():
            tx.events.append(("kimia_operation_committed",
                              {"kind": kind, "club_id": club_id, "op_id": op_id, "member_id": member_id, "receipt": receipt}))
        if self.settings.notifications:
            row = outbox.operation_row(kind=kind, club_id=club_id, op_id=op_id, member_id=member_id, receipt=receipt,
                                       merchant_id=merchant_id, amount_rial=amount_rial, at=self.clock())
            if pending is not None:
                pending.append(row)
            else:
                outbox.insert_rows(tx, [row])

    def _announce(self, events: list[Any]) -> None:
        """The writer's ``on_commit``: hand a committed batch's events to the event thread."""
        try:
            self._events.submit(self._run_hooks, events)
        except RuntimeError:  # closing: the events of the last batches are run here instead
            self._run_hooks(events)

    def _run_hooks(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Each plugin's hook for each event, on its own: one failing plugin (logged) neither
        stops the others nor touches the operation, which is committed already."""
        for hook, args in events:
            for impl in getattr(self.plugins.hook, hook).get_hookimpls():
                try:
                    impl.function(**{name: args[name] for name in impl.argnames})
                except Exception:
                    log.exception("%s of plugin %s failed for %s", hook, impl.plugin_name,
                                  args.get("op_id", args.get("member_id", args.get("lottery_id"))))

    def run_after_commit(self, hook: str, **kwargs: Any) -> None:
        """Call a past-tense hook for something already committed outside the writer (the delivery
        worker's expiry warnings), on the event thread as the others are."""
        if getattr(self.plugins.hook, hook).get_hookimpls():
            self._announce([(hook, kwargs)])

    def wait_for_events(self) -> None:
        """Return once the hooks of every operation committed so far have run."""
        self._events.submit(lambda: None).result()

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A read transaction on this thread's own connection (never the writer's)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = raw_connect(self.url)
            if not self.sqlite:
                conn.autocommit = False
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        tx = Tx(conn)
        tx.begin_read()
        try:
            yield tx
        finally:
            tx.rollback()

    def write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` as one operation in the writer (one savepoint inside a group commit).

        If the calling thread set a deadline (``with service.deadline(guard):``), the operation is
        checked against it when it starts and when it finishes, inside its savepoint: past the
        deadline it is rolled back, so an operation answered as timed out is never posted."""
        guard: Deadline | None = getattr(self._local, "deadline", None)
        if guard is not None and hasattr(work, "batch_kind"):
            cast(Batchable, work).guard = guard
        elif guard is not None:
            work = _guarded(work, guard)
        result: T = self.writer.submit(work)
        if isinstance(result, KimiaError):
            raise result
        return result

    def posting(self, decide: Callable[[Tx, Any], Any]) -> Callable[[Tx], Any]:
        """A work that posts (kimia.service.posting), run by the one write path (kimia.service.bulk)."""
        return PostingWork(self, decide, run_postings)

    @contextmanager
    def deadline(self, guard: Deadline) -> Iterator[Deadline]:
        """Operations this thread submits inside the block obey ``guard``."""
        self._local.deadline = guard
        try:
            yield guard
        finally:
            self._local.deadline = None

    def check(self) -> Any:
        """Recompute every balance from the journal and verify every invariant (``kimia check``)."""
        with self.reading() as tx:
            return run_check(tx)

    # --- members (M1–M5; kimia.service.members) ----------------------------------------------------------

    def member_key(self, member: MemberRef | int | dict[str, Any] | None) -> list[str]:
        """A member reference in normal form (a card as its keyed hash), for idempotency hashes."""
        return members.member_key(self, member)

    def normalize_identifier(self, kind: str, value: str) -> tuple[str, str]:
        """(lookup, display) for an identifier; card numbers become a keyed hash and a mask.
        An invalid identifier is a ``Rejected`` with the identifier's own code (one family of
        errors for every caller, so a terminal answers 14, not 96)."""
        return members.normalize_identifier(self, kind, value)

    def identify(self, club_id: int, member: MemberRef | int | dict[str, Any]) -> int:
        """The member id known by an identifier in a club (or a club sharing members with it)."""
        return members.identify(self, club_id, member)

    def enroll(
        self,
        club_id: int,
        *,
        idem_key: str,
        identifiers: list[tuple[str, str]],
        name_fa: str = "",
        referrer: MemberRef | int | dict[str, Any] | None = None,
        groups: list[int] | None = None,
        via: str = "api",
        merchant_id: int | None = None,
        shared_wallet_id: int | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Enrol a member (at a POS, in the panel, through the app or API: M1–M3). The groups,
        enrolling merchant and shared wallet must be the club's own."""
        return members.enroll(self, club_id, idem_key=idem_key, identifiers=identifiers, name_fa=name_fa, referrer=referrer, groups=groups, via=via, merchant_id=merchant_id, shared_wallet_id=shared_wallet_id, actor=actor)

    def account_number(self, member_id: int) -> str | None:
        """The member's account number (``MK`` ``A:<number>``), if they have one."""
        return members.account_number(self, member_id)

    def bind_identifier(
        self,
        club_id: int,
        member: MemberRef | int | dict[str, Any],
        kind: str,
        value: str,
        *,
        idem_key: str | None = None,
        proof: Proof | None = None,
        actor: str | None = None,
        merchant_id: int | None = None,
        terminal_id: int | None = None,
    ) -> dict[str, Any]:
        """Bind another identifier (e.g. a second bank card, M5) to a member of the club.

        An operator (``actor``: the panel, the CLI) is trusted and audited as themselves; anyone
        else (a terminal, the app) must give the proof the member's club asks for binding (a PIN or
        a one-time code, kimia.service.verify). Writes a ``bind`` operation and an audit row."""
        return members.bind_identifier(self, club_id, member, kind, value, idem_key=idem_key, proof=proof, actor=actor, merchant_id=merchant_id, terminal_id=terminal_id)

    # --- clubs, merchants, terminals (kimia.service.clubs) -----------------------------------------------

    def terminal(self, terminal_code: str, merchant_code: str) -> TerminalContext:
        """A registered, active terminal (field 41 + 42), or ``unknown_terminal``."""
        return clubs.find_terminal(self, terminal_code, merchant_code)

    def record_for_review(self, merchant_id: int, action: str, payload: dict[str, Any]) -> None:
        """Record something an operator should look at (e.g. an advice that could not be applied)."""
        clubs.record_for_review(self, merchant_id, action, payload)

    def merchant_club(self, merchant_id: int) -> int:
        """The club whose ledger a merchant belongs to; ``unknown_merchant`` for a deactivated one
        (its terminals may no longer refund or enrol, as they may no longer sell)."""
        return clubs.merchant_club(self, merchant_id)

    def member_balances(self, merchant_id: int, member: MemberRef | int | dict[str, Any] | None) -> dict[str, Any]:
        """Points, and credit spendable at this merchant, of the member (a balance inquiry)."""
        return members.member_balances(self, merchant_id, member)

    # --- purchases (kimia.service.purchases) -------------------------------------------------------------

    def purchase_conversion(self, tx: Tx, merchant: MerchantContext, req: PurchaseRequest) -> dict[str, Any] | None:
        """The conversion settings a purchase needs: only one that redeems points reads them."""
        return clubs.purchase_conversion(self, tx, merchant, req)

    def quote(self, req: PurchaseRequest) -> dict[str, Any]:
        """What a purchase would give, without writing anything (a dry run)."""
        return purchases.quote(self, req)

    def purchase(self, req: PurchaseRequest) -> dict[str, Any]:
        """A purchase: discount, credit spent, points and credit earned, split. Exactly once per key.
        Concurrent purchases are decided and written together (kimia.service.bulk). A refusal is
        remembered under the key when ``req.remember_refusal`` (a terminal's request): a replay is
        refused the same way, even once the member could pay."""
        return purchases.purchase(self, req)

    def _purchase_work(self, req: PurchaseRequest) -> PurchaseWork:
        """A checked purchase ready for the writer: refused here, before the queue, if malformed."""
        return purchases.purchase_work(self, req)

    async def purchase_async(self, req: PurchaseRequest, deadline: Deadline | None = None) -> dict[str, Any]:
        """``purchase`` for an event loop (the terminal host): the request is checked and queued on
        the loop's own thread and the answer comes back with its batch, so a purchase crosses no
        thread but the writer's. Past ``deadline`` it is rolled back and rejected (never posted)."""
        return await purchases.purchase_async(self, req, deadline)

    # --- cardholder verification (kimia.service.cardholder) ----------------------------------------------

    def request_code(self, club_id: int, member: MemberRef | int | dict[str, Any] | None) -> dict[str, Any]:
        """Send the member a one-time code on their mobile (through ``self.notifier``); it proves
        they are there for one spend or card binding within a few minutes. At most one code a
        minute per member."""
        return cardholder.request_code(self, club_id, member)

    def set_pin(self, club_id: int, member: MemberRef | int | dict[str, Any], pin: str, *, actor: str, reason: str = "") -> None:
        """Set (or replace) a member's club PIN; audited, the PIN itself never stored or logged.
        Clears a lockout."""
        cardholder.set_pin(self, club_id, member, pin, actor=actor, reason=reason)

    # --- operation rows (kimia.service.ops) --------------------------------------------------------------

    def remember_timeout(self, merchant_id: int, idem_key: str) -> asyncio.Future[Any]:
        """A terminal request answered 91 (nothing posted): its key is spent, so the same request
        replayed later, when it might pass, is answered 91 again and never posts (the terminal
        starts again with a new STAN). Reversals and advices are not spent this way: they are
        repeated until answered. Called on the event loop: the write is queued at once (before any
        later request's) and not waited for, so the 91 is not delayed by a busy writer."""
        return ops.remember_timeout(self, merchant_id, idem_key)

    # --- holds (kimia.service.holds) ---------------------------------------------------------------------

    def hold(self, req: PurchaseRequest) -> dict[str, Any]:
        """Reserve the credit a purchase would spend and fix its discount; complete or cancel later.
        A refusal is remembered under the key as a purchase's is (``req.remember_refusal``)."""
        return holds.hold(self, req)

    def complete_hold(self, merchant_id: int, hold_id: int, *, idem_key: str, reference: str | None = None,
                      terminal_id: int | None = None, actor: str | None = None) -> dict[str, Any]:
        """The bank sale went through: pay the merchant from the hold and write the rest of the purchase.
        ``merchant_id`` is the acting merchant (its terminal's): only its own holds are found."""
        return holds.complete_hold(self, merchant_id, hold_id, idem_key=idem_key, reference=reference, terminal_id=terminal_id, actor=actor)

    def cancel_hold(self, merchant_id: int, hold_id: int, *, idem_key: str, terminal_id: int | None = None,
                    actor: str | None = None) -> dict[str, Any]:
        """The bank sale did not happen (or was reversed): the held credit goes back. Only a hold of
        the acting merchant ``merchant_id`` is found."""
        return holds.cancel_hold(self, merchant_id, hold_id, idem_key=idem_key, terminal_id=terminal_id, actor=actor)

    # --- refunds and reversals (kimia.service.refunds) ---------------------------------------------------

    def refund(
        self,
        merchant_id: int,
        *,
        idem_key: str,
        op_id: int | None = None,
        reference: str | None = None,
        amount_rial: int | None = None,
        terminal_id: int | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Refund part of a purchase (``amount_rial``) or reverse what is left of it (``None``).
        The purchase is named by its operation id, or by its reference (RRN), and is found only
        among the sales of the acting merchant ``merchant_id``."""
        return refunds.refund(self, merchant_id, idem_key=idem_key, op_id=op_id, reference=reference, amount_rial=amount_rial, terminal_id=terminal_id, actor=actor)

    def reverse_by_key(self, merchant_id: int, original_key: str, *, idem_key: str, replacement_rial: int | None = None,
                       terminal_id: int | None = None, actor: str | None = None, legacy_key: str | None = None) -> dict[str, Any]:
        """Reverse the operation submitted under ``original_key`` (a terminal's reversal, 0400/0420).

        A posted purchase is reversed in full, or, with ``replacement_rial`` (what the sale comes to
        after a partial reversal, ISO 8583 field 95), down to that amount; a pending hold is
        cancelled; an original that never arrived is recorded as void under its key, so if it
        arrives late it is refused and never posts. Repeating the reversal (same ``idem_key``)
        changes nothing. ``legacy_key`` is the original's key as it was written before (a terminal
        key without its year): looked up when nothing is stored under ``original_key``.

        Only an original of the acting merchant ``merchant_id`` is reversed: a key of another
        merchant of the club is answered ``unknown_operation`` (and is not voided)."""
        return refunds.reverse_by_key(self, merchant_id, original_key, idem_key=idem_key, replacement_rial=replacement_rial, terminal_id=terminal_id, actor=actor, legacy_key=legacy_key)

    # --- value operations (kimia.service.value) ----------------------------------------------------------

    def convert_points(self, club_id: int, member: MemberRef | int | dict[str, Any], points: int, *, idem_key: str) -> dict[str, Any]:
        """Convert points to credit at the member's tier/group ratio (V1)."""
        return value.convert_points(self, club_id, member, points, idem_key=idem_key)

    def charge(
        self,
        club_id: int,
        member: MemberRef | int | dict[str, Any],
        *,
        idem_key: str,
        kind: str,
        amount_rial: int,
        source: dict[str, Any],
        actor: str,
        reason: str,
        expires_days: int | None = None,
        shared_wallet: bool = False,
    ) -> dict[str, Any]:
        """Charge credit: welfare from an organisation (V3), a gift card (V4), a credit-line repayment (V2).
        With ``shared_wallet`` the credit goes to the member's shared (family) wallet, which every
        member of the wallet may spend (M5). Issues value: who (``actor``) and why (``reason``)
        go to the audit log with it."""
        return value.charge(self, club_id, member, idem_key=idem_key, kind=kind, amount_rial=amount_rial, source=source, actor=actor, reason=reason, expires_days=expires_days, shared_wallet=shared_wallet)

    def charge_many(self, club_id: int, org_id: int, charges: list[tuple[int, int]], *, batch_key: str, actor: str, reason: str,
                    kind: str = "welfare_credit", expires_days: int | None = None) -> list[dict[str, Any]]:
        """Closed-loop bulk charge of staff accounts by an organisation (V3): one operation per member,
        keyed ``{batch_key}:{member_id}`` so a re-run of the same batch charges nobody twice; each
        with ``actor`` and ``reason`` in the audit log."""
        return value.charge_many(self, club_id, org_id, charges, batch_key=batch_key, actor=actor, reason=reason, kind=kind, expires_days=expires_days)

    def set_credit_limit(self, club_id: int, member_id: int, limit_rial: int, *, actor: str, reason: str) -> None:
        """Open or change a member's credit line (V2); audited."""
        value.set_credit_limit(self, club_id, member_id, limit_rial, actor=actor, reason=reason)

    def buy_voucher(self, club_id: int, member: MemberRef | int | dict[str, Any], template_id: int, *, idem_key: str) -> dict[str, Any]:
        """Buy a voucher with points or credit (V5); the answer carries the voucher code."""
        return value.buy_voucher(self, club_id, member, template_id, idem_key=idem_key)

    def adjust(
        self,
        club_id: int,
        member: MemberRef | int | dict[str, Any],
        *,
        idem_key: str,
        account_kind: str,
        delta: int,
        actor: str,
        reason: str,
        expires_days: int | None = None,
    ) -> dict[str, Any]:
        """A manual adjustment by staff, with who and why in the audit log (the member named as
        the operator named them, masked: a card by its last 4 digits)."""
        return value.adjust(self, club_id, member, idem_key=idem_key, account_kind=account_kind, delta=delta, actor=actor, reason=reason, expires_days=expires_days)

    def expire_sweep(self, club_id: int, *, actor: str) -> int:
        """Retire every expired lot of a club; returns how many members were swept. Re-runnable.
        Each run is a row of the audit log naming ``actor`` (the job or person that ran it)."""
        return value.expire_sweep(self, club_id, actor=actor)

    # --- tiers (kimia.service.tiers) ---------------------------------------------------------------------

    def close_period(self, club_id: int, period_end: int, *, actor: str, chunk_size: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Close a tier period for the whole club: moves, grace, deductions; returns counts per reason.

        Chunked and restartable (kimia.service.period): each chunk of members is closed, and its
        deductions posted, in one transaction; if a run stops half-way, running the same close
        again finishes it, closing every member once and deducting once. ``progress(done, total)``
        is called as members are closed."""
        return tiers.close_period(self, club_id, period_end, actor=actor, chunk_size=chunk_size, progress=progress)

    def period_closes(self, club_id: int) -> tuple[int | None, int | None]:
        """(end of the club's last finished period close, end of its unfinished close if any)."""
        return tiers.period_closes(self, club_id)

    # --- settlement (kimia.service.settlement) -----------------------------------------------------------

    def settlement(self, club_id: int, day: int) -> str:
        """The settlement CSV of one local day of a club (S1)."""
        return settlement.club_settlement(self, club_id, day)

    # --- lotteries (kimia.service.lotteries) -------------------------------------------------------------

    def draw_lottery(self, club_id: int, lottery_id: int, seed: str, *, actor: str) -> list[dict[str, Any]]:
        """Draw winners, reproducibly: the seed's SHA-256 was committed when the lottery opened, and
        the winners follow from the seed and the entries alone (weighted by entries, without repeats).
        ``club_id`` is the club drawing: a lottery of another club is not found."""
        return lotteries.draw_lottery(self, club_id, lottery_id, seed, actor=actor)



def _guarded(work: Callable[[Tx], T], guard: Deadline) -> Callable[[Tx], T]:
    """``work`` checked against ``guard`` when it starts and sealed when it finishes."""

    def run(tx: Tx) -> T:
        guard.check()
        result = work(tx)
        guard.seal()
        return result

    return run


__all__ = ["DEV_CARD_KEY", "Base", "Deadline", "Kimia", "MemberRef", "PurchaseRequest", "draw_winners", "local_day", "request_hash"]
