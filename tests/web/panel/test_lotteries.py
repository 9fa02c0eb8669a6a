"""The lotteries pages (kimia/web/panel/pages/lotteries.py): the commitment shown, entries,
opening a lottery (audited with the reason), the draw by revealing the seed (a wrong seed at its
field, nothing drawn), the winners and the lottery's audit trail."""

from __future__ import annotations

import hashlib
import json

from ..conftest import count
from .conftest import Panel, page, post


def test_a_lottery_is_opened_with_a_commitment_and_drawn_by_its_seed(panel: Panel) -> None:
    world = panel.a
    member = panel.api.members[world.club_id]
    world.buy({"kind": "id", "value": str(member)}, 3_000_000)  # three entries
    commitment = hashlib.sha256(world.lottery_seed.encode()).hexdigest()
    reader = panel.client("read_only")
    status, html = page(reader, "/panel/lotteries")
    assert status == 200 and "قرعه‌کشی نوروز" in html and commitment[:16] in html and "باز" in html
    status, html = page(reader, f"/panel/lotteries/{world.lottery_id}")
    assert status == 200 and commitment in html and '<span class="value">۳</span>' in html and "ساخت و ثبت تعهد" in html
    assert "/draw" not in html  # read-only staff do not draw
    # A marketer opens a lottery; bad input is shown at its field and opens nothing.
    marketer = panel.client("marketer")
    lotteries, rows = count(panel.api, "lotteries"), count(panel.api, "audit_log")
    for form, field in (({"name_fa": "بد", "prizes": "سکه", "seed_commitment": "not-a-hash"}, "seed_commitment"),
                        ({"name_fa": "بد", "prizes": "", "seed_commitment": "ab" * 32}, "prizes"),
                        ({"name_fa": "", "prizes": "سکه", "seed_commitment": "ab" * 32}, "name_fa")):
        r = post(marketer, "/panel/lotteries/create", form)
        assert r.status_code == 400 and f'name="{field}"' in r.get_data(as_text=True) and 'class="error"' in r.get_data(as_text=True), form
    assert count(panel.api, "lotteries") == lotteries and count(panel.api, "audit_log") == rows
    seed = "بذر مخفی یلدا"
    r = post(marketer, "/panel/lotteries/create", {"name_fa": "قرعه‌کشی یلدا", "prizes": "سکه\nکارت هدیه\n",
                                                   "seed_commitment": hashlib.sha256(seed.encode()).hexdigest().upper(),
                                                   "reason": "جشن یلدا"})
    assert r.status_code == 302
    with panel.service.reading() as tx:
        assert tuple(tx.one("SELECT actor, reason FROM audit_log WHERE action = 'open_lottery' ORDER BY id DESC LIMIT 1")) == (
            f"panel:marketer-{world.club_id}", "جشن یلدا")
        prizes = tx.one("SELECT prizes FROM lotteries ORDER BY id DESC LIMIT 1")[0]
    assert (json.loads(prizes) if isinstance(prizes, str) else prizes) == ["سکه", "کارت هدیه"]
    # A marketer may not draw; the admin draws, and a wrong seed is refused at its field.
    assert post(marketer, f"/panel/lotteries/{world.lottery_id}/draw", {"seed": world.lottery_seed}).status_code == 403
    admin = panel.client("admin")
    r = post(admin, f"/panel/lotteries/{world.lottery_id}/draw", {"seed": "not the seed"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "بذر اعلام‌شده با هش ثبت‌شده مطابقت ندارد" in html and 'aria-invalid="true"' in html
    assert count(panel.api, "lottery_winners") == 0
    assert post(panel.client("admin", panel.b), f"/panel/lotteries/{world.lottery_id}/draw",
                {"seed": world.lottery_seed}).status_code == 404
    r = post(admin, f"/panel/lotteries/{world.lottery_id}/draw", {"seed": world.lottery_seed})
    assert r.status_code == 302 and "notice=lotteries.drawn" in r.headers["Location"]
    status, html = page(admin, f"/panel/lotteries/{world.lottery_id}?notice=lotteries.drawn")
    assert status == 200 and "قرعه‌کشی انجام شد" in html and world.lottery_seed in html and "سکه طلا" in html
    assert "قرعه‌کشی و اعلام بذر" in html and f"panel:admin-{world.club_id}" in html and "۱۴۰۴/۰۲/۲۴" in html
    assert "/draw" not in html  # drawn once
    status, html = page(admin, f"/panel/lotteries/{world.lottery_id}?lang=en")
    assert status == 200 and "Winners" in html and "Drawn, seed revealed" in html and "1404/02/24" in html
