"""The terminal simulator plays the demo's members: it names those holding credit by the cards the
demo's roster kept (never the database), so their redemptions are answered, not declined 55."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kimia.demo_club import DemoClock, build_demo, default_last_day, tehran_midnight
from kimia.service import Admin, Kimia
from kimia.terminal.client import TerminalIdentity
from kimia.terminal.simulator import SimulationReport, load_setup, simulate
from kimia.world import Roster

from .conftest import serving

REDEEM_ONLY = {"redeem": 1.0}


def drive(service: Kimia, setup_members: list[str], terminals: Sequence[TerminalIdentity], queue: Path, requests: int) -> SimulationReport:
    async def body() -> SimulationReport:
        async with serving(service) as srv:
            return await simulate("127.0.0.1", srv.port, terminals=terminals, members=setup_members,
                                  requests=requests, mix=REDEEM_ONLY, seed=1, queue_path=queue)

    return asyncio.run(body())


def test_the_simulator_redeems_as_the_demo_members(db_url: str, tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    end_at = tehran_midnight(default_last_day(int(time.time())) + dt.timedelta(days=1))
    roster = Roster()
    with open_service(db_url, clock=DemoClock(end_at), dev_mode=True) as demo:
        build_demo(demo, Admin(demo), purchases=30, seed=4, roster=roster)
    path = roster.save(tmp_path / "demo.roster.json")
    service = open_service(db_url, migrations="check")
    try:
        known = load_setup(service, terminals=2, roster=Roster.load(path))
        report = drive(service, known.members, known.terminals, tmp_path / "saf.sqlite", requests=24)
        assert report.mismatches == 0, report.format()
        assert report.messages["redeem"] == 24
        assert set(report.response_codes) <= {"00", "51"}, report.format()
        assert report.durable_purchases > 0, report.format()
        # Without the roster the same members are named by mobile: the club asks for the cardholder.
        unknown = load_setup(service, terminals=2)
        report = drive(service, unknown.members, unknown.terminals, tmp_path / "saf.sqlite", requests=4)
        assert report.response_codes["55"] == 4, report.format()
        check = service.check()
        assert check.ok, check.summary()
    finally:
        service.close()
