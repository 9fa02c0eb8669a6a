"""Isolation cases of kimia/web/api/routes/members.py: each names club A's first member (the one
A's member token reads) or, for an enrolment, A's member group."""

from __future__ import annotations

from typing import Any

from service.builders import mobile

from . import Case, Probe

#: Keys that enrol, bind and identify (a member token does none of it).
WRITERS = frozenset({"management", "integration", "merchant"})


def _member(api: Any) -> int:
    return int(api.members[api.a.club_id])


def _read(suffix: str) -> Case:
    return lambda api: Probe(f"/members/{_member(api)}{suffix}")


CASES: dict[str, Case] = {
    # B's keys name A's member group: foreign_reference, before anything is written. A's keys may
    # all enrol it (the second and later answer identifier_taken: the mobile is theirs by then).
    "POST /members": lambda api: Probe("/members", {"identifiers": [{"kind": "mobile", "value": mobile(4_000_001)}],
                                                    "groups": [api.a.member_group_id]}, a_allowed=WRITERS),
    "POST /members/{member_id}/identifiers": lambda api: Probe(f"/members/{_member(api)}/identifiers",
                                                               {"kind": "mobile", "value": mobile(4_000_002)}, a_allowed=WRITERS),
    "POST /members/identify": lambda api: Probe("/members/identify", {"member": {"kind": "id", "value": str(_member(api))}},
                                                a_allowed=WRITERS),
    "GET /members/{member_id}": _read(""),
    "GET /members/{member_id}/balances": _read("/balances"),
    "GET /members/{member_id}/lots": _read("/lots"),
    "GET /members/{member_id}/tier-history": _read("/tier-history"),
    "GET /members/{member_id}/history": _read("/history"),
    "GET /members/{member_id}/lottery-entries": _read("/lottery-entries"),
    "GET /members/{member_id}/referral-code": _read("/referral-code"),
}
