"""Isolation cases: for every API endpoint, one request naming club A's things (its members,
merchants, operations, ...), which ``test_isolation.py`` sends with every kind of key.

Each module here (one per area, as ``kimia/web/api/routes/``) defines ``CASES``: a dict from the
endpoint's key (``"GET /members/{member_id}"``, as ``Endpoint.key``) to a function of the
:class:`~tests.web.conftest.Api` world giving a :class:`Probe`. The walker fails when an
endpoint has no case. With club B's keys (and with A's keys of kinds the endpoint does not
accept) the probe must be refused (401/403/404, or 409/422 for a POST whose body names A's
things and is refused before anything is written) and nothing may change; with A's
keys of accepted kinds it must not be refused as not theirs (403/404).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Probe:
    #: The path under /api/v1 with club A's ids filled in (e.g. ``/members/7``).
    path: str
    #: The JSON body for a POST or PUT (naming club A's things), or None.
    body: Any = None
    #: Query parameters, if any.
    query: dict[str, Any] = field(default_factory=dict)
    #: Kinds of A's keys expected to succeed (default: every kind the endpoint accepts). A member
    #: token reads only its own member, so a probe of another member of A lists it as refused.
    a_allowed: frozenset[str] | None = None


Case = Callable[[Any], Probe]
