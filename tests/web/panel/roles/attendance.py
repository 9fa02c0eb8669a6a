"""Cases of the attendance extra's pages (kimia/extras/attendance/pages.py). Club A's cafe gets a
registered person and a clock-in the first time a case asks for them."""

from __future__ import annotations

from typing import Any

from . import Case, Visit


def _made(p: Any) -> tuple[int, int, int]:
    """(cafe, staff id, record id) of club A, made once."""
    found = getattr(p, "_attendance", None)
    if found is None:
        from kimia.extras.attendance import store

        services = p.service.plugin_services
        cafe = services.merchant(p.a.merchants["cafe"])
        staff = store.register(services, cafe, code="WALK1", name="کارمند پیاده", idem_key="walker-staff", actor="test")
        record = store.clock(services, cafe, code="WALK1", direction="in", source="api", idem_key="walker-in", actor="test")
        found = (cafe.id, staff.id, record.id)
        p._attendance = found
    return found  # type: ignore[no-any-return]


CASES: dict[str, Case] = {
    "panel.attendance.home": lambda p: Visit("/panel/attendance", names_a=False),
    "panel.attendance.staff": lambda p: Visit("/panel/attendance/staff", names_a=False),
    "panel.attendance.staff_state": lambda p: Visit(f"/panel/attendance/staff/{_made(p)[1]}/state", form={"active": "1"}),
    "panel.attendance.correct": lambda p: Visit(f"/panel/attendance/correct?record_id={_made(p)[2]}"),
    "panel.attendance.records": lambda p: Visit(f"/panel/attendance/records?merchant_id={_made(p)[0]}"),
    "panel.attendance.report": lambda p: Visit(f"/panel/attendance/report?merchant_id={_made(p)[0]}"),
    "panel.attendance.report_csv": lambda p: Visit(f"/panel/attendance/report.csv?merchant_id={_made(p)[0]}"),
}
