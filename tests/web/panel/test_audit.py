"""The audit log page (kimia/web/panel/pages/audit.py): rows of the club tree (who, when in
Jalali, action, reason, payload), filtered and paged, the chain check at the top; the platform
operator reads every club's; a broken chain is shown."""

from __future__ import annotations

import pytest

from kimia.service import offers_views

from .conftest import Panel, page, post


def test_the_audit_log_with_its_chain_filters_and_pages(panel: Panel) -> None:
    member = panel.api.members[panel.a.club_id]
    support = panel.client("support")
    post(support, "/panel/tiers/move", {"member_id": str(member), "tier": "gold", "reason": "هدیهٔ وفاداری"})
    client = panel.client("admin")
    status, html = page(client, "/panel/audit")
    assert status == 200 and "زنجیرهٔ گزارش ممیزی سالم است." in html
    assert f"panel:support-{panel.a.club_id}" in html and "انتقال دستی طبقه" in html and "هدیهٔ وفاداری" in html and "۱۴۰۴/۰۲/۲۴" in html
    assert "باشگاه دوم" not in html
    status, html = page(client, "/panel/audit?action=move_tier")
    assert status == 200 and "هدیهٔ وفاداری" in html and 'title="update_settings"' not in html and 'title="move_tier"' in html
    status, html = page(client, f"/panel/audit?actor=panel:support-{panel.a.club_id}")
    assert status == 200 and "هدیهٔ وفاداری" in html and ">test<" not in html
    # Paging: 50 rows a page, then older rows from the "next" link.
    status, html = page(client, "/panel/audit?lang=en")
    assert status == 200 and "chain holds." in html and "1404/02/24" in html
    with panel.service.reading() as tx:
        rows = int(tx.one("SELECT COUNT(*) FROM audit_log WHERE club_id IN (?, ?)", (panel.a.club_id, panel.a.sub_club_id))[0])
    if rows > 50:
        assert 'class="more"' in html
    # Club B's admin does not see A's rows; the platform operator sees both clubs'.
    _, html = page(panel.client("admin", panel.b), "/panel/audit")
    assert "هدیهٔ وفاداری" not in html
    status, html = page(panel.client("platform"), "/panel/audit?action=move_tier")
    assert status == 200 and "هدیهٔ وفاداری" in html and "<th class=\"num\">باشگاه</th>" in html and "سطر بررسی شد" in html
    assert page(panel.client("marketer"), "/panel/audit")[0] == 403


def test_a_broken_chain_is_shown_at_the_top(panel: Panel, monkeypatch: pytest.MonkeyPatch) -> None:
    full = offers_views.audit_chain(panel.service, full=True)
    assert full.ok and full.rows > 0
    again = offers_views.audit_chain(panel.service)  # from the head it ended at: the same
    assert (again.rows, again.head) == (full.rows, full.head)
    # A row edited behind kimia's back (the triggers refuse UPDATE; a superuser could drop them)
    # no longer follows from the row before it.
    with panel.service.reading() as tx:
        rows = [list(r) for r in tx.all("SELECT id, club_id, actor, action, reason, payload, at, chain_hash FROM audit_log"
                                        " ORDER BY id LIMIT 3")]
    rows[1][4] = "a reason written later"
    count, _, problems = offers_views._verify_from("", rows)
    assert count == 3 and len(problems) == 1 and f"row {rows[1][0]}" in problems[0]
    broken = offers_views.ChainStatus(full.rows, full.head, problems)
    monkeypatch.setattr(offers_views, "audit_chain", lambda svc, full=False: broken)
    status, html = page(panel.client("admin"), "/panel/audit")
    assert status == 200 and "زنجیرهٔ گزارش ممیزی شکسته است" in html and f"row {rows[1][0]}" not in html  # details: the platform's
    status, html = page(panel.client("platform"), "/panel/audit")
    assert status == 200 and "شکسته است" in html and f"row {rows[1][0]}" in html
