"""Same-run A/B of the notification outbox on the purchase path (issue 17): purchases through the
service with ``KIMIA_NOTIFICATIONS=on`` (each purchase's ``operation.committed`` row written with
its batch) against ``off``, in alternating rounds on one database, so both arms see the same disk,
the same table sizes and the same machine load. Used by benches/test_outbox_bench.py (the
figures) and tests/benches/test_outbox_bench.py (a short form, no timing asserted)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from kimia.app import assemble
from kimia.samples import demo_rules_for
from kimia.service import Admin, Kimia, PurchaseRequest
from kimia.settings import Settings


@dataclass
class Arm:
    purchases: int = 0
    seconds: float = 0.0
    rounds: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.purchases / self.seconds if self.seconds else 0.0


@dataclass
class Result:
    on: Arm
    off: Arm
    club_id: int

    @property
    def ratio(self) -> float:
        return self.on.rate / self.off.rate if self.off.rate else 0.0


def _round(service: Kimia, merchant: int, members: list[int], callers: int, per_caller: int, tag: str) -> float:
    def caller(t: int) -> None:
        for i in range(per_caller):
            service.purchase(PurchaseRequest(idem_key=f"{tag}-{t}-{i}", merchant_id=merchant, member=members[(t * 4 + i) % len(members)],
                                             amount_rial=250_000 + i))

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(callers)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - start


def ab(url: str, *, callers: int = 16, per_caller: int = 50, rounds: int = 6) -> Result:
    """Alternate rounds (``callers`` threads × ``per_caller`` purchases) between a service with
    notifications on and one with them off, on one database and club; the off arm goes first in
    odd rounds, so neither always follows the other."""
    base = Settings.from_env(database_url=url, migrations="upgrade")
    on = assemble(base)
    off = assemble(Settings.from_env(database_url=url, migrations="upgrade", notifications=False))
    try:
        admin = Admin(on)
        owner = admin.create_owner("بنچ")
        club = admin.create_club(owner, "باشگاه بنچ")
        merchant = admin.create_merchant(club, "فروشگاه")
        admin.publish_rules(club, demo_rules_for(admin, club, merchant, actor="bench"), actor="bench")
        members = [on.enroll(club, idem_key=f"e{i}", identifiers=[("account", str(10_000 + i))])["member_id"] for i in range(callers * 4)]
        # A warm-up round for each, not counted.
        run = uuid.uuid4().hex[:8]
        _round(on, merchant, members, callers, max(1, per_caller // 5), f"{run}-warm-on")
        _round(off, merchant, members, callers, max(1, per_caller // 5), f"{run}-warm-off")
        arms = {"on": Arm(), "off": Arm()}
        services = {"on": on, "off": off}
        for r in range(rounds):
            for name in (("on", "off") if r % 2 == 0 else ("off", "on")):
                seconds = _round(services[name], merchant, members, callers, per_caller, f"{run}-{r}-{name}")
                arm = arms[name]
                arm.purchases += callers * per_caller
                arm.seconds += seconds
                arm.rounds.append(callers * per_caller / seconds)
        assert on.check().ok
        return Result(arms["on"], arms["off"], club)
    finally:
        off.close()
        on.close()
