"""A model-based test of one member's value: a hypothesis state machine drives purchases that
earn points and cashback (both with expiries), spend credit, let time pass, sweep expired lots,
refund in parts, reverse what is left and convert points to credit; after every step the core's
member snapshot must equal a plain-Python oracle written from the documented policies (spending
soonest-expiring first; reversal restores spent credit with its expiry; clawback takes back what
the member holds — the reversed operation's lots first — and records the rest as a debt that the
next earnings repay first)."""

from __future__ import annotations

from dataclasses import dataclass, field
import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import kimia

from .helpers import CAFE, DAY, at, book, purchase
from .helpers import rule as make_rule

MEMBER_ID = 42
M = f"member:{MEMBER_ID}"
POINTS = f"{M}/points"
CASHBACK = f"{M}/cashback"
VIRTUAL = f"{M}/virtual_credit"
POINTS_DEBT = f"{M}/points_debt"
CREDIT_DEBT = f"{M}/credit_debt"
CREDIT_ACCOUNTS = (CASHBACK, VIRTUAL)
LOT_ACCOUNTS = (POINTS, CASHBACK, VIRTUAL)

POINTS_DAYS = 30
CASHBACK_DAYS = 10
CONVERSION_DAYS = 20
BOOK = book(
    [
        make_rule("pts", {"type": "points", "per_rial": 10_000, "points": 1, "expires_days": POINTS_DAYS}),
        make_rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 500, "expires_days": CASHBACK_DAYS}),
    ]
)
CONVERSION = {"club_id": 1, "default": {"points": 10, "rial": 100}, "expires_days": CONVERSION_DAYS}
NEVER = 2**63 - 1


@dataclass
class Lot:
    id: str
    account: str
    remaining: int
    expires_at: int | None


@dataclass
class Bought:
    """What the oracle knows of a purchase it decided, to compute its refunds."""

    decision: kimia.Decision
    op_id: int
    amount: int
    # (account, amount) in the order the core posts them: spent credit first, then each reward's
    # debt repayment and the part that reached the member.
    earned: list[tuple[str, int]]
    consumed: list[tuple[str, str, int, int | None]]  # (lot id, account, amount, expires_at)
    refunded: int = 0


def _slice(x: int, before: int, after: int, total: int) -> int:
    return x * after // total - x * before // total


def _order(lot: Lot) -> tuple[int, str]:
    return (NEVER if lot.expires_at is None else lot.expires_at, lot.id)


@dataclass
class Oracle:
    balances: dict[str, int] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)

    def add(self, account: str, amount: int) -> None:
        self.balances[account] = self.balances.get(account, 0) + amount

    def spendable(self, accounts: tuple[str, ...], now: int) -> list[Lot]:
        lots = [x for x in self.lots.values() if x.account in accounts and x.remaining > 0 and (x.expires_at is None or x.expires_at > now)]
        return sorted(lots, key=_order)

    def draw(self, accounts: tuple[str, ...], amount: int, now: int) -> list[tuple[str, str, int, int | None]]:
        used = []
        need = amount
        for x in self.spendable(accounts, now):
            if need == 0:
                break
            take = min(x.remaining, need)
            need -= take
            x.remaining -= take
            self.add(x.account, -take)
            used.append((x.id, x.account, take, x.expires_at))
        assert need == 0
        self.prune()
        return used

    def prune(self) -> None:
        self.lots = {k: v for k, v in self.lots.items() if v.remaining > 0}

    def earn(self, account: str, debt: str, amount: int, lot_id: str, expires_at: int, earned: list[tuple[str, int]]) -> bool:
        """Earnings repay the debt first; the rest becomes a lot. Returns whether a lot was made."""
        owed = -min(self.balances.get(debt, 0), 0)
        repay = min(owed, amount)
        if repay:
            self.add(debt, repay)
            earned.append((debt, repay))
        rest = amount - repay
        if rest:
            self.add(account, rest)
            self.lots[lot_id] = Lot(lot_id, account, rest, expires_at)
            earned.append((account, rest))
        return rest > 0


class MemberModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.member = kimia.Member({"member_id": MEMBER_ID})
        self.oracle = Oracle()
        self.now = at(2026, 12, 17, 10)
        self.next_op = 1
        self.bought: list[Bought] = []
        self.last: kimia.Decision | None = None

    def _op(self) -> int:
        op = self.next_op
        self.next_op += 1
        return op

    def _apply(self, d: kimia.Decision) -> None:
        assert d.is_balanced()
        assert d.member_id == MEMBER_ID
        self.member = kimia.apply(self.member, d)
        self.last = d

    # --- steps ---------------------------------------------------------------------------------

    @rule(amount=st.integers(1, 3_000_000), redeem=st.one_of(st.just(0), st.integers(1, 250_000)))
    def buy(self, amount: int, redeem: int) -> None:
        op = self._op()
        want = min(redeem, amount)
        available = sum(x.remaining for x in self.oracle.spendable(CREDIT_ACCOUNTS, self.now))
        p = purchase(op_id=op, amount_rial=amount, redeem_credit_rial=redeem)
        if available < want:
            try:
                BOOK.evaluate(p, self.member, self.now)
            except kimia.Rejected as e:
                assert e.code in {"insufficient_balance", "lot_expired"}, e
                return
            raise AssertionError("spending more credit than the member holds was accepted")
        d = BOOK.evaluate(p, self.member, self.now)
        o = self.oracle
        consumed = o.draw(CREDIT_ACCOUNTS, want, self.now) if want else []
        earned: list[tuple[str, int]] = [(account, -n) for _, account, n, _ in consumed]
        points, cashback = amount // 10_000, amount * 500 // 10_000
        seq = 0
        if points and o.earn(POINTS, POINTS_DEBT, points, f"{op}:{seq}", self.now + POINTS_DAYS * DAY, earned):
            seq += 1
        if cashback:
            o.earn(CASHBACK, CREDIT_DEBT, cashback, f"{op}:{seq}", self.now + CASHBACK_DAYS * DAY, earned)
        assert d.credit_used_rial == want and d.payable_rial == amount - want and d.discount_rial == 0
        assert d.points_earned == points
        assert [(u["lot_id"], u["account"], u["amount"], u["expires_at"]) for u in d.lots_consumed] == consumed
        self._apply(d)
        self.bought.append(Bought(d, op, amount, earned, consumed))

    @rule(days=st.integers(0, 12), seconds=st.integers(0, DAY - 1))
    def wait(self, days: int, seconds: int) -> None:
        self.now += days * DAY + seconds

    @rule()
    def sweep(self) -> None:
        d = kimia.expire(1, self.member, op_id=self._op(), now=self.now)
        o = self.oracle
        expired = sorted((x for x in o.lots.values() if x.expires_at is not None and x.expires_at <= self.now), key=lambda x: x.id)
        assert sorted((u["lot_id"], u["amount"]) for u in d.lots_consumed) == [(x.id, x.remaining) for x in expired]
        for x in expired:
            o.add(x.account, -x.remaining)
            x.remaining = 0
        o.prune()
        self._apply(d)

    @rule(points=st.integers(1, 400))
    def convert(self, points: int) -> None:
        op = self._op()
        o = self.oracle
        if sum(x.remaining for x in o.spendable((POINTS,), self.now)) < points:
            try:
                kimia.convert_points(CONVERSION, self.member, op_id=op, now=self.now, points=points)
            except kimia.Rejected as e:
                assert e.code == "insufficient_balance"
                return
            raise AssertionError("converted more points than the member can spend")
        d = kimia.convert_points(CONVERSION, self.member, op_id=op, now=self.now, points=points)
        o.draw((POINTS,), points, self.now)
        o.add(VIRTUAL, points * 10)
        o.lots[f"{op}:0"] = Lot(f"{op}:0", VIRTUAL, points * 10, self.now + CONVERSION_DAYS * DAY)
        self._apply(d)

    def _open(self) -> list[Bought]:
        return [b for b in self.bought if b.refunded < b.amount]

    @precondition(lambda self: bool(self._open()))
    @rule(pick=st.integers(0, 1_000), percent=st.integers(1, 100))
    def refund_part(self, pick: int, percent: int) -> None:
        target = self._open()[pick % len(self._open())]
        left = target.amount - target.refunded
        self._reverse(target, max(1, left * percent // 100))

    @precondition(lambda self: bool(self._open()))
    @rule(pick=st.integers(0, 1_000))
    def reverse_rest(self, pick: int) -> None:
        self._reverse(self._open()[pick % len(self._open())], None)

    def _reverse(self, target: Bought, refund: int | None) -> None:
        op = self._op()
        before = target.refunded
        after = target.amount if refund is None else before + refund
        d = kimia.reverse(target.decision, self.member, op_id=op, now=self.now, refund_rial=refund, refunded_before_rial=before)
        assert d.kind == ("reversal" if refund is None else "refund")
        o = self.oracle
        total = target.amount
        # Earnings go back: what the member still holds (the reversed operation's lots first,
        # then soonest-expiring, expired or not), the rest as a debt.
        holdings = dict(o.balances)
        own = f"{target.op_id}:"
        taken_lots: list[tuple[str, int]] = []
        for account, amount in target.earned:
            if amount < 0:
                continue  # spent credit, restored below
            back = _slice(amount, before, after, total)
            if back == 0:
                continue
            take = min(back, max(holdings.get(account, 0), 0))
            holdings[account] = holdings.get(account, 0) - take
            need = take
            if account in LOT_ACCOUNTS:
                mine = [x for x in o.lots.values() if x.account == account and x.remaining > 0]
                for x in sorted(mine, key=lambda x: (not x.id.startswith(own), _order(x))):
                    if need == 0:
                        break
                    t = min(x.remaining, need)
                    x.remaining -= t
                    need -= t
                    taken_lots.append((x.id, t))
            o.add(account, -take)
            debt = POINTS_DEBT if account in (POINTS, POINTS_DEBT) else CREDIT_DEBT
            if back - take:
                o.add(debt, -(back - take))
        o.prune()
        # Spent credit comes back as new lots with the expiry it had.
        seq = 0
        for _, account, amount, expires_at in target.consumed:
            back = _slice(amount, before, after, total)
            if back:
                o.lots[f"{op}:{seq}"] = Lot(f"{op}:{seq}", account, back, expires_at)
                o.add(account, back)
                seq += 1
        assert [(u["lot_id"], u["amount"]) for u in d.lots_consumed] == taken_lots
        target.refunded = after
        self._apply(d)

    # --- the oracle's view must be the core's --------------------------------------------------

    @invariant()
    def matches_oracle(self) -> None:
        snapshot = self.member.to_dict()
        balances = {a["account"]: a["balance"] for a in snapshot["accounts"] if a["balance"] != 0}
        assert balances == {a: b for a, b in self.oracle.balances.items() if b != 0}
        lots = {x["id"]: (x["account"], x["remaining"], x["expires_at"]) for x in snapshot["lots"]}
        assert lots == {x.id: (x.account, x.remaining, x.expires_at) for x in self.oracle.lots.values()}

    @invariant()
    def holder_floors(self) -> None:
        for a in self.member.to_dict()["accounts"]:
            if a["account"].endswith("_debt"):
                assert a["balance"] <= 0, a
            else:
                assert a["balance"] >= 0, a

    @invariant()
    def lots_add_up_to_balances(self) -> None:
        snapshot = self.member.to_dict()
        for account in LOT_ACCOUNTS:
            held = sum(x["remaining"] for x in snapshot["lots"] if x["account"] == account)
            assert held == self.member.balance(account), account
        assert self.member.points == self.member.balance(POINTS)

    @invariant()
    def last_decision_balanced(self) -> None:
        if self.last is not None:
            assert self.last.is_balanced()
            assert kimia.Decision.from_json(self.last.to_json()).to_dict() == self.last.to_dict()
            if self.last.kind == "purchase":
                assert sum(leg["amount_rial"] for leg in self.last.split) == self.last.payable_rial
                assert all(leg["beneficiary_id"] == CAFE for leg in self.last.split)


MemberModel.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None, database=None)
TestMemberModel = MemberModel.TestCase


def test_model_oracle_follows_a_known_story() -> None:
    """A fixed run of the machine (earn, spend, convert, refund, reverse, expire) as a smoke test
    of the oracle itself."""
    machine = MemberModel()
    machine.buy(2_000_000, 0)
    machine.matches_oracle()
    machine.convert(150)
    machine.buy(300_000, 100_000)
    machine.matches_oracle()
    machine.refund_part(0, 50)
    machine.matches_oracle()
    machine.reverse_rest(0)
    machine.matches_oracle()
    machine.wait(11, 0)
    machine.sweep()
    machine.matches_oracle()
    machine.holder_floors()
    machine.lots_add_up_to_balances()
    # 200 points earned, 150 converted, 30 more earned; the first purchase refunded in full takes
    # back 200 points of which 80 are held: 120 owed. Its 100,000 cashback was spent on the
    # second purchase, which earned 15,000: 85,000 owed.
    assert machine.member.balance(POINTS_DEBT) == -120
    assert machine.member.balance(CREDIT_DEBT) == -85_000
    assert machine.member.balance(VIRTUAL) == 1_500
    assert machine.member.points == 0
