"""Issue 12, item 16: ``kimia_operation_committed`` is fired by the service after every commit,
whatever the channel (the Python service, single and group-committed; the terminal host; the
CLI), once per operation, with the operation's real club, id, member and stored receipt; an
operation rolled back is never announced, and a failing hook changes nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from kimia.cli import main
from kimia.errors import KimiaError
from kimia.plugins import default_plugin_manager, hookimpl, make_plugin_manager
from kimia.service import Admin, Kimia
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request
from kimia.terminal.server import TerminalServer

from .batching import together
from .builders import FakeClock, World, build_club, rows

Event = tuple[str, int, int, int | None, dict[str, Any]]


class Recorder:
    """A notifier plugin: keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def kimia_operation_committed(self, kind: str, club_id: int, op_id: int, member_id: int | None, receipt: dict[str, Any]) -> None:
        self.events.append((kind, club_id, op_id, member_id, receipt))


class Broken:
    """A notifier that always fails (and takes only some of the arguments, as a plugin may)."""

    @hookimpl
    def kimia_operation_committed(self, kind: str, op_id: int) -> None:
        raise RuntimeError(f"SMS gateway down ({kind} {op_id})")


def stored(service: Kimia) -> list[Event]:
    """Every operation in the database, as its event should say it (void markers are not operations)."""
    out: list[Event] = []
    for kind, club, op_id, member, response in rows(service, "SELECT kind, club_id, id, member_id, response FROM operations"
                                                             " WHERE kind <> 'void' ORDER BY id"):
        out.append((kind, club, op_id, member, response if isinstance(response, dict) else json.loads(response)))
    return out


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def heard(db_url: str, clock: FakeClock, recorder: Recorder, open_service: Callable[..., Kimia]) -> World:
    """A club on a service whose plugins are the recorder and a broken notifier."""
    service = open_service(db_url, clock=clock, plugins=make_plugin_manager([Broken(), recorder], load_entry_points=False))
    return build_club(service, clock)


def test_every_operation_of_the_python_service_is_announced_once_after_its_commit(heard: World, recorder: Recorder,
                                                                                   caplog: pytest.LogCaptureFixture) -> None:
    w, service = heard, heard.service
    caplog.set_level(logging.ERROR)
    member = w.enroll()
    service.charge(w.club_id, member, idem_key="gift", kind="gift_credit", amount_rial=300_000, source={"type": "club", "id": w.club_id},
                   actor="test", reason="gift")
    single = w.buy(member, 400_000, merchant="cafe")
    # Two purchases committed as one group (kimia.service.bulk), one of a sub-club's merchant.
    grouped = together(service, [lambda: w.buy(member, 500_000, merchant="restaurant"),
                                 lambda: w.buy(member, 600_000, merchant="bookshop", redeem_credit_rial=100_000)])
    assert all(isinstance(r, dict) for r in grouped)
    service.refund(w.merchants["cafe"], idem_key="refund", op_id=single["op_id"], amount_rial=100_000)
    held = service.hold(w.request(member, 200_000, merchant="cafe", redeem_credit_rial=50_000))
    service.complete_hold(w.merchants["cafe"], held["hold_id"], idem_key="complete")
    service.adjust(w.club_id, member, idem_key="fix", account_kind="points", delta=7, actor="staff", reason="apology")
    service.reverse_by_key(w.merchants["cafe"], "never-arrived", idem_key="reverse-nothing")
    with pytest.raises(KimiaError):  # refused in the writer: rolled back, never announced
        service.refund(w.merchants["cafe"], idem_key="too-much", op_id=single["op_id"], amount_rial=400_000)
    service.wait_for_events()
    assert recorder.events == stored(service)
    kinds = [e[0] for e in recorder.events]
    assert kinds.count("purchase") == 3 and {"enroll", "charge", "refund", "hold", "completion", "adjustment", "reversal"} <= set(kinds)
    assert {e[1] for e in recorder.events} == {w.club_id}  # the club's real id (a sub-club's merchant books in its club)
    assert {e[3] for e in recorder.events if e[0] != "reversal"} == {member}
    assert sum("SMS gateway down" in r.getMessage() or "SMS gateway down" in (r.exc_text or "") for r in caplog.records) >= 1
    assert service.check().ok  # the failing notifier undid nothing


def test_a_batch_that_falls_back_announces_only_what_it_committed(heard: World, recorder: Recorder) -> None:
    """Two members of one shared wallet spending it in one group: the group is rolled back and run
    one by one (the lots guard); only the purchase that landed is announced, once."""
    w, service = heard, heard.service
    a, b = w.enroll(), w.enroll()
    Admin(service).create_shared_wallet(w.club_id, "خانواده", [a, b])
    service.charge(w.club_id, a, idem_key="family", kind="gift_credit", amount_rial=60_000, source={"type": "club", "id": w.club_id},
                   shared_wallet=True, actor="test", reason="gift")
    spent = together(service, [lambda: w.buy(a, 100_000, redeem_credit_rial=60_000), lambda: w.buy(b, 100_000, redeem_credit_rial=60_000)])
    assert isinstance(spent[0], dict) and isinstance(spent[1], KimiaError)
    service.wait_for_events()
    assert recorder.events == stored(service)
    assert [e[2] for e in recorder.events if e[0] == "purchase"] == [spent[0]["op_id"]]


def test_a_terminal_purchase_is_announced_by_the_service_with_its_club(heard: World, recorder: Recorder) -> None:
    w, service = heard, heard.service
    member = w.enroll(identifiers=[("mobile", "09121112233")])
    ident = TerminalIdentity("T1000001", "M10000000000001")
    Admin(service).create_terminal(w.merchants["bookshop"], ident.terminal_id, ident.merchant_id)
    before = len(stored(service))

    async def buy() -> str | None:
        srv = TerminalServer(service, allow_unkeyed=True, freshness_s=10**9)  # no MAC key; the service runs on a fake clock
        await srv.start()
        try:
            conn = await Connection.open("127.0.0.1", srv.port)
            try:
                answer = await conn.send(request(ident, "0200", "000000", amount_rial=850_000, items=[(tlv.MK, "M:09121112233")]), ident)
                return answer.response_code
            finally:
                await conn.close()
        finally:
            await srv.close()

    assert asyncio.run(buy()) == "00"
    service.wait_for_events()
    assert recorder.events == stored(service)
    (purchase,) = recorder.events[before:]
    assert purchase[0] == "purchase" and purchase[1] == w.club_id and purchase[3] == member
    assert purchase[4]["op_id"] == purchase[2]


@pytest.fixture
def installed(recorder: Recorder) -> Iterator[Recorder]:
    """The recorder installed in the process's plugins, as an entry-point plugin is."""
    default_plugin_manager().register(recorder)
    try:
        yield recorder
    finally:
        default_plugin_manager().unregister(recorder)


def test_operations_of_the_cli_are_announced(db_url: str, make_service: Callable[..., Kimia], installed: Recorder) -> None:
    now = FakeClock(int(time.time()) - 3 * 86_400)  # the CLI runs on the wall clock: the gift has expired by then, the points not
    service = make_service(db_url, clock=now)
    w = build_club(service, now)
    member = w.enroll()
    w.buy(member, 6_000_000, merchant="restaurant")  # 600 points: gold at the close, 120 deducted
    service.charge(w.club_id, member, idem_key="short", kind="gift_credit", amount_rial=5_000, source={"type": "club", "id": w.club_id},
                   expires_days=1, actor="test", reason="gift")
    service.close()
    before = len(installed.events)
    for args in (["close-period", "--club", str(w.club_id), "--period-end", str(now.now + 60)], ["expire", "--club", str(w.club_id)]):
        result = CliRunner().invoke(main, ["--database", db_url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    cli_events = installed.events[before:]
    assert [(e[0], e[1], e[3]) for e in cli_events] == [("adjustment", w.club_id, member), ("expiry", w.club_id, member)]
    assert cli_events[0][4]["op_id"] == cli_events[0][2]
