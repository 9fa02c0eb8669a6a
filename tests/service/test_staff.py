"""Panel users and sessions (kimia.service.staff): bad input changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kimia.errors import KimiaError
from kimia.service import staff

from .builders import FakeClock, World, dump


TABLES = ("panel_users", "panel_sessions", "audit_log")


@pytest.fixture
def world(club: Callable[..., World]) -> World:
    return club()


def _refused(code: str, path: str | None, call: object, world: World) -> None:
    before = dump(world.service, TABLES)
    with pytest.raises(KimiaError) as refused:
        call()  # type: ignore[operator]
    assert refused.value.code == code and (path is None or refused.value.path == path), refused.value
    assert dump(world.service, TABLES) == before


def test_bad_users_are_refused_and_change_nothing(world: World) -> None:
    svc, club = world.service, world.club_id
    staff.create_user(svc, login="Admin.One", name="A", role="admin", password="long enough pass", actor="t", club_id=club)
    cases = [
        ("password_too_weak", "password", dict(login="short", role="admin", password="2short", club_id=club)),
        ("password_too_weak", "password", dict(login="samesame12", role="admin", password="SameSame12", club_id=club)),
        ("login_taken", "login", dict(login="admin.one", role="admin", password="long enough pass", club_id=club)),
        ("field_invalid", "login", dict(login="a b", role="admin", password="long enough pass", club_id=club)),
        ("field_invalid", "role", dict(login="x-role", role="owner", password="long enough pass", club_id=club)),
        ("field_required", "club_id", dict(login="x-club", role="support", password="long enough pass")),
        ("field_invalid", "club_id", dict(login="x-plat", role="platform", password="long enough pass", club_id=club)),
        ("unknown_club", "club_id", dict(login="x-unk", role="support", password="long enough pass", club_id=999_999)),
        ("foreign_reference", "merchant_id", dict(login="x-m", role="merchant", password="long enough pass", club_id=club)),
        ("field_invalid", "merchant_id", dict(login="x-m2", role="admin", password="long enough pass", club_id=club,
                                              merchant_id=world.merchants["cafe"])),
    ]
    for code, path, kwargs in cases:
        _refused(code, path, lambda kwargs=kwargs: staff.create_user(svc, name="n", actor="t", **kwargs), world)


def test_a_password_change_ends_every_session(world: World) -> None:
    svc = world.service
    user = staff.create_user(svc, login="sup", name="S", role="support", password="long enough pass", actor="t", club_id=world.club_id)
    token, _ = staff.open_session(svc, kind="staff", user_id=user.id, club_id=world.club_id)
    assert staff.session_of(svc, token) is not None
    staff.set_password(svc, user.id, "another long one", actor="t", reason="forgotten")
    assert staff.session_of(svc, token) is None
    assert staff.authenticate(svc, "sup", "another long one").id == user.id


def test_disabling_needs_a_reason_and_an_expired_session_is_gone(world: World, clock: FakeClock) -> None:
    svc = world.service
    user = staff.create_user(svc, login="reader", name="R", role="read_only", password="long enough pass", actor="t", club_id=world.club_id)
    _refused("reason_required", "reason", lambda: staff.set_disabled(svc, user.id, True, actor="t", reason=" "), world)
    token, _ = staff.open_session(svc, kind="staff", user_id=user.id, club_id=world.club_id)
    clock.advance(seconds=staff.IDLE_S + 1)
    assert staff.session_of(svc, token) is None  # session_expired, as the panel says it
    assert staff.session_of(svc, "not-a-token") is None
