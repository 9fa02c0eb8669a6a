"""The walker's table (tests/web/panel/test_roles.py): one module per page module of the panel
and the portal, each with ``CASES``: a page's endpoint (``panel.members.member_page``) mapped to
a function of the :class:`~tests.web.panel.conftest.Panel` giving a :class:`Visit`.

A visit names club A's things (its member, its merchant, its rule set ...). The walker opens it
as every role of club A (and the platform's operator; a member for the portal): roles the page
declares must be served, the others refused 403 ``role_forbidden``; then as the same roles of
club B, which must never see A's things (``names_a``: 404 or 403, never 200). A POST is sent
with a valid CSRF token as each role, and once without one (403 ``csrf_failed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Visit:
    #: The page's address with club A's ids filled in (query included).
    path: str
    #: A POST's form (valid for club A: an allowed role must not be refused as not theirs).
    form: dict[str, Any] = field(default_factory=dict)
    #: True when the path or form names something of club A's (club B must not reach it).
    names_a: bool = True
    #: Statuses an allowed role may get (default: 200 for a GET; for a POST anything but 401,
    #: 403, 404 and 5xx, since a form may be re-shown with its errors or redirect).
    served: frozenset[int] | None = None
    #: A POST that ends the session it is sent with (sign out): the walker signs in again after it.
    ends_session: bool = False


Case = Callable[[Any], Visit]
