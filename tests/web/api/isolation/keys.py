"""Isolation cases of kimia/web/api/routes/keys.py."""

from __future__ import annotations

from typing import Any

from . import Case, Probe


def _a_key(api: Any) -> str:
    """The public id of club A's integration key."""
    return str(api.keys_of(api.a)["integration"].split("_")[2])


CASES: dict[str, Case] = {
    "POST /api-keys": lambda api: Probe("/api-keys", {"kind": "integration", "merchant_id": api.a.merchants["cafe"]},
                                        a_allowed=frozenset({"management"})),
    "GET /api-keys": lambda api: Probe("/api-keys"),
    "DELETE /api-keys/{public_id}": lambda api: Probe(f"/api-keys/{_a_key(api)}", a_allowed=frozenset()),
    "POST /member-tokens": lambda api: Probe("/member-tokens", {"member": {"kind": "id", "value": str(api.members[api.a.club_id])}},
                                             a_allowed=frozenset({"management", "integration", "merchant"})),
}
