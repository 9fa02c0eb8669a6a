"""The club dashboard (kimia/web/panel/pages/dashboard.py) and its per-day aggregate
(kimia/service/dashboard_views.py): the figures are what the ledger says after known purchases,
the aggregate stays right under refunds, reversals, conversions and expiry, it equals a recount
(and ``kimia check`` says so, or names the difference), and each club sees its own figures."""

from __future__ import annotations

import re
from typing import Any

from kimia.service import dashboard_views as dv
from kimia.service.check import run_check
from service.builders import World, rows, scalar

from .conftest import Panel, page

PERSIAN_DIGIT = re.compile("[۰-۹]")


def _recount_matches(svc: Any) -> None:
    with svc.reading() as tx:
        assert dv.recount(tx) == dv.stored(tx)


def _trade(w: World) -> dict[str, Any]:
    """Known operations in club A: purchases at three merchants (the bookshop's earns merchant
    credit), a partial refund, a full reversal, a conversion and a voucher bought with points."""
    m1, m2 = w.enroll(), w.enroll()
    first = w.buy(m1, 2_000_000)
    w.buy(m2, 3_000_000, merchant="restaurant")
    w.buy(m1, 5_000_000, merchant="bookshop")
    w.buy(m2, 1_000_000)
    w.service.refund(w.merchants["cafe"], idem_key=w.key("refund"), op_id=int(first["op_id"]), amount_rial=500_000)
    fourth = w.buy(m1, 700_000)
    w.service.refund(w.merchants["cafe"], idem_key=w.key("reverse"), op_id=int(fourth["op_id"]))
    w.service.convert_points(w.club_id, m2, 100, idem_key=w.key("convert"))
    return {"members": (m1, m2)}


def test_the_aggregate_is_written_with_each_operation_and_equals_a_recount(panel: Panel) -> None:
    w, svc = panel.a, panel.service
    _trade(w)
    _recount_matches(svc)
    assert scalar(svc, "SELECT COUNT(*) FROM club_days WHERE club_id = ?", (w.club_id,)) > 0
    report = svc.check()
    assert report.ok, report.summary()
    # A rebuild writes the same rows; a row changed behind kimia's back is named by the check.
    before = rows(svc, "SELECT club_id, day, metric, count, amount FROM club_days ORDER BY club_id, day, metric")
    assert dv.rebuild_daily(svc) == len(before)
    assert rows(svc, "SELECT club_id, day, metric, count, amount FROM club_days ORDER BY club_id, day, metric") == before
    svc.write(lambda tx: tx.execute("UPDATE club_days SET amount = amount + 1 WHERE metric = 'op:purchase'"))
    with svc.reading() as tx:
        problems = run_check(tx).problems
    assert any("club_days op:purchase" in p for p in problems), problems
    dv.rebuild_daily(svc, w.club_id)
    assert svc.check().ok


def test_the_figures_are_what_the_ledger_says(panel: Panel) -> None:
    w, svc = panel.a, panel.service
    _trade(w)
    w.clock.advance(days=400)  # the points' lots (365 days) expire
    svc.expire_sweep(w.club_id, actor="test")
    w.buy(w.enroll(), 4_000_000)
    _recount_matches(svc)
    board = dv.dashboard(svc, w.club_id, 90)
    root = w.club_id
    # Purchases and net sales over the period: the operations' own.
    done = scalar(svc, "SELECT COUNT(*) FROM operations WHERE club_id = ? AND kind = 'purchase' AND status <> 'void' AND day >= ?",
                  (root, board.days[0]))
    assert sum(board.counts("op:purchase")) == done == 1
    # Everything, over all time: points issued, retired by expiry, outstanding by kind.
    everything = dv.dashboard(svc, w.club_id, 90)
    issued_all = -int(scalar(svc, "SELECT COALESCE(SUM(amount), 0) FROM journal WHERE club_id = ? AND account LIKE '%/points_issued'", (root,)))
    with svc.reading() as tx:
        cells = dv.stored(tx, root)
    assert -sum(a for (_, _, m), (_, a) in cells.items() if m.startswith("b:points_issued:")) == issued_all > 0
    expired = sum(a for (_, _, m), (_, a) in cells.items() if m.startswith("b:points_retired:") and m.endswith(":expiry"))
    assert expired == int(scalar(svc, "SELECT COALESCE(SUM(j.amount), 0) FROM journal j JOIN operations o ON o.id = j.op_id"
                                      " WHERE o.kind = 'expiry' AND j.account LIKE '%/points_retired' AND o.club_id = ?", (root,))) > 0
    points = int(scalar(svc, "SELECT COALESCE(SUM(balance), 0) FROM balances WHERE club_id = ? AND account LIKE 'member:%/points'", (root,)))
    assert everything.outstanding.get("points", 0) == points
    credit = int(scalar(svc, "SELECT COALESCE(SUM(balance), 0) FROM balances WHERE club_id = ? AND account LIKE 'member:%/merchant_credit@%'",
                        (root,)))
    assert everything.outstanding.get("merchant_credit", 0) == credit


def test_sales_net_of_refunds_and_reversals_per_day(panel: Panel) -> None:
    w, svc = panel.a, panel.service
    _trade(w)
    board = dv.dashboard(svc, w.club_id, 7)
    today = -1
    sales = board.amounts("op:purchase")[today]
    back = board.amounts("op:refund")[today] + board.amounts("op:reversal")[today]
    assert board.counts("op:purchase")[today] == 5
    assert sales == 2_000_000 + 3_000_000 + 5_000_000 + 1_000_000 + 700_000
    assert back == 500_000 + 700_000
    net = int(scalar(svc, "SELECT SUM(amount_rial - refunded_rial) FROM operations WHERE club_id = ? AND kind = 'purchase'", (w.club_id,)))
    assert sales - back == net
    funders = board.funders()
    assert funders["merchant"]["merchant_credit"] == 500_000  # 10% of the bookshop's 5,000,000, funded by the merchant


def test_the_page_in_persian_and_english(panel: Panel) -> None:
    _trade(panel.a)
    client = panel.client("read_only")
    status, html = page(client, "/panel/dashboard")
    assert status == 200
    assert 'lang="fa"' in html and 'dir="rtl"' in html
    assert "پیشخوان باشگاه" in html and "خرید و فروش روزانه" in html
    assert PERSIAN_DIGIT.search(html)
    assert re.search("[۰-۹]+ (فروردین|اردیبهشت|خرداد|تیر|مرداد|شهریور|مهر|آبان|آذر|دی|بهمن|اسفند)", html)  # Jalali labels
    assert re.search(r"۱۴[۰-۹]{2}/[۰-۹]{2}/[۰-۹]{2}", html)  # Jalali dates in the tables
    stats = html.split('id="dashboard-stats"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "۵" in stats and not re.search("[0-9]", stats)  # five purchases, Persian digits only
    assert "<svg" in html and 'id="table-trade"' in html and 'id="table-budgets"' in html
    status, html = page(client, "/panel/dashboard?lang=en&days=90")
    assert status == 200 and 'dir="ltr"' in html and "Purchases and sales per day" in html
    assert html.count("<tr>", html.index('id="table-trade"'), html.index("</table>", html.index('id="table-trade"'))) == 91
    assert "Champions" in html and "Recency" in html
    assert not PERSIAN_DIGIT.search(html.split('id="dashboard-stats"', 1)[1].split("</div>\n</div>", 1)[0])


def test_the_period_selector(panel: Panel) -> None:
    client = panel.client("admin")
    for days in (7, 30, 90):
        status, html = page(client, f"/panel/dashboard?days={days}&lang=en")
        table = html[html.index('id="table-points"'):]
        assert status == 200 and table[:table.index("</table>")].count("<tr>") == days + 1
    status, html = page(client, "/panel/dashboard?days=9999&lang=en")  # anything else: 30 days
    assert status == 200 and 'value="30" selected' in html
    status, html = page(client, "/panel/dashboard?days=۷")  # Persian digits are read
    assert status == 200 and 'value="7" selected' in html


def test_each_club_sees_its_own_figures(panel: Panel) -> None:
    _trade(panel.a)
    _, html_a = page(panel.client("admin"), "/panel/dashboard?lang=en")
    _, html_b = page(panel.client("admin", panel.b), "/panel/dashboard?lang=en")
    stats_a = html_a.split('id="dashboard-stats"', 1)[1].split("</div>\n</div>", 1)[0]
    stats_b = html_b.split('id="dashboard-stats"', 1)[1].split("</div>\n</div>", 1)[0]
    assert '<div class="value">5</div>' in stats_a
    assert '<div class="value">0</div>' in stats_b


def test_members_by_tier_and_segment(panel: Panel) -> None:
    w, svc = panel.a, panel.service
    dv.forget_members_cache()
    _trade(w)
    dv.forget_members_cache()
    board = dv.dashboard(svc, w.club_id, 30)
    with svc.reading() as tx:
        from kimia.service.clubs import club_tree
        clubs = club_tree(tx, w.club_id)
    members = int(scalar(svc, f"SELECT COUNT(*) FROM members WHERE club_id IN ({','.join('?' * len(clubs))})", tuple(clubs)))
    assert sum(n for _, n in board.tiers) == members
    named = sum(board.segments.get(f"seg:{s}", 0) for s in ("champions", "loyal", "new", "at_risk", "lost", "never"))
    assert named == members
    assert board.segments.get("seg:loyal", 0) == 2  # both traders bought today, two or three times
    assert board.segments.get("f2", 0) == 2 and board.segments.get("r1", 0) == 2
    assert dv.segment_of("r1", "f3") == "seg:champions" and dv.segment_of("r3", "f2") == "seg:at_risk"
    assert dv.segment_of("r0", "f0") == "seg:never" and dv.segment_of("r3", "f1") == "seg:lost"
