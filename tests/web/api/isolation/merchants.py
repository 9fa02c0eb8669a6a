"""Isolation cases of kimia/web/api/routes/merchants.py: club A's merchants, branches, terminals
and merchant groups. Merchants and branches are read by A's integration keys too (the cafe, so a
key bound to it reads them as well); everything else is A's management key's."""

from __future__ import annotations

import itertools
from typing import Any

from . import Case, Probe

#: A fresh terminal id (field 41) for each registration a walk makes.
_TERMINALS = itertools.count(1)
KEY_HEX = "00112233445566778899AABBCCDDEEFF"


def _cafe(api: Any) -> int:
    return int(api.a.merchants["cafe"])


def _terminal(api: Any) -> dict[str, Any]:
    return {"terminal_code": f"I{next(_TERMINALS):07d}", "merchant_code": "M-ISOLATION", "branch_id": api.a.branches["cafe-north"]}


CASES: dict[str, Case] = {
    "GET /merchants": lambda api: Probe("/merchants"),
    "GET /merchants/{merchant_id}": lambda api: Probe(f"/merchants/{_cafe(api)}"),
    "POST /merchants": lambda api: Probe("/merchants", {"name_fa": "پذیرنده", "club_id": api.a.sub_club_id,
                                                        "marketer_id": api.a.marketer_id}),
    "PUT /merchants/{merchant_id}": lambda api: Probe(f"/merchants/{_cafe(api)}", {"name_en": "Cafe"}),
    "GET /merchants/{merchant_id}/branches": lambda api: Probe(f"/merchants/{_cafe(api)}/branches"),
    "POST /merchants/{merchant_id}/branches": lambda api: Probe(f"/merchants/{_cafe(api)}/branches", {"name_fa": "شعبه"}),
    "GET /merchants/{merchant_id}/terminals": lambda api: Probe(f"/merchants/{_cafe(api)}/terminals"),
    "POST /merchants/{merchant_id}/terminals": lambda api: Probe(f"/merchants/{_cafe(api)}/terminals", _terminal(api)),
    "GET /terminals/{terminal_id}": lambda api: Probe(f"/terminals/{api.a.terminals['cafe']}"),
    "PUT /terminals/{terminal_id}/mac-key": lambda api: Probe(f"/terminals/{api.a.terminals['cafe']}/mac-key", {"key_hex": KEY_HEX}),
    "POST /merchant-groups": lambda api: Probe("/merchant-groups", {"name_fa": "گروه", "ids": [_cafe(api)]}),
    "GET /merchant-groups": lambda api: Probe("/merchant-groups"),
    "GET /merchant-groups/{group_id}": lambda api: Probe(f"/merchant-groups/{api.a.merchant_group_id}"),
    "PUT /merchant-groups/{group_id}/merchants": lambda api: Probe(f"/merchant-groups/{api.a.merchant_group_id}/merchants",
                                                                    {"add": [api.a.merchants["bookshop"]]}),
}
