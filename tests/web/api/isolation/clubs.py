"""Isolation cases of kimia/web/api/routes/clubs.py: the tree, sub-clubs and marketers of club A
(A's management key only), and the platform's things (the platform key only)."""

from __future__ import annotations

from . import Case, Probe

CASES: dict[str, Case] = {
    "GET /club-tree": lambda api: Probe("/club-tree"),
    "POST /clubs/{club_id}/sub-clubs": lambda api: Probe(f"/clubs/{api.a.sub_club_id}/sub-clubs", {"name_fa": "زیرباشگاه"}),
    "POST /marketers": lambda api: Probe("/marketers", {"name_fa": "بازاریاب", "club_id": api.a.club_id}),
    "GET /marketers": lambda api: Probe("/marketers"),
    "POST /owners": lambda api: Probe("/owners", {"name_fa": "شرکت"}),
    "GET /owners": lambda api: Probe("/owners"),
    "POST /clubs": lambda api: Probe("/clubs", {"owner_id": api.a.owner_id, "name_fa": "باشگاه"}),
    "GET /clubs": lambda api: Probe("/clubs"),
    # Sharing nothing, so a walk that makes it does not open A's members to B for the probes after it.
    "POST /meta-clubs": lambda api: Probe("/meta-clubs", {"name_fa": "فرا", "club_ids": [api.a.club_id, api.b.club_id],
                                                          "share_members": False}),
    "GET /meta-clubs": lambda api: Probe("/meta-clubs"),
    "PUT /fee-tariffs": lambda api: Probe("/fee-tariffs", {"business_type": "cafe", "percent_bp": 100}),
    "GET /fee-tariffs": lambda api: Probe("/fee-tariffs"),
}
