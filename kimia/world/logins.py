"""The demo's panel users: one of each kind, with known passwords, for a person trying kimia
(``kimia demo`` makes them and ``./scripts/run.sh`` prints them). Demo only: a real deployment
makes its users with ``kimia panel-user create``, which asks for the password.

The club users belong to the first root club (the demo's "Kimia Club"), the merchant staff to
that club's first merchant; the member signs in to the portal with their mobile and a one-time
code (which goes where ``KIMIA_NOTIFY`` says).
"""

from __future__ import annotations

from dataclasses import dataclass

from kimia.errors import KimiaError
from kimia.service import staff
from kimia.service.host import Host

ACTOR = "demo"
#: (login, role, password, name) of each demo user.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("platform", "platform", "demo-platform-1405", "اپراتور سکو"),
    ("admin", "admin", "demo-admin-1405", "مدیر باشگاه"),
    ("marketer", "marketer", "demo-marketer-1405", "بازاریاب باشگاه"),
    ("support", "support", "demo-support-1405", "پشتیبان باشگاه"),
    ("viewer", "read_only", "demo-viewer-1405", "ناظر باشگاه"),
    ("cafe", "merchant", "demo-cafe-1405", "صندوق‌دار پذیرنده"),
)


@dataclass(frozen=True)
class DemoLogin:
    login: str
    role: str
    password: str
    where: str


def make_demo_logins(svc: Host) -> list[DemoLogin]:
    """Make the demo users (again: an existing one keeps its password) and say where each works."""
    with svc.reading() as tx:
        club = tx.one("SELECT MIN(id) FROM clubs WHERE parent_id IS NULL")
        club_id = int(club[0]) if club and club[0] is not None else None
        merchant = tx.one("SELECT MIN(id) FROM merchants WHERE club_id = ?", (club_id,)) if club_id else None
        merchant_id = int(merchant[0]) if merchant and merchant[0] is not None else None
    made = []
    for login, role, password, name in DEMO_USERS:
        if role != "platform" and club_id is None or role == "merchant" and merchant_id is None:
            continue
        try:
            staff.create_user(svc, login=login, name=name, role=role, password=password, actor=ACTOR, reason="demo",
                              club_id=None if role == "platform" else club_id,
                              merchant_id=merchant_id if role == "merchant" else None)
        except KimiaError as error:
            if error.code != "login_taken":
                raise
        where = "platform" if role == "platform" else f"merchant {merchant_id}" if role == "merchant" else f"club {club_id}"
        made.append(DemoLogin(login, role, password, where))
    return made


def portal_member(svc: Host, mobiles: dict[int, list[str]]) -> tuple[int, str] | None:
    """A member of the first root club with a mobile, for the portal's demo sign-in."""
    with svc.reading() as tx:
        club = tx.one("SELECT MIN(id) FROM clubs WHERE parent_id IS NULL")
        rows = tx.all("SELECT id FROM members WHERE club_id = ? ORDER BY id", (club[0],)) if club and club[0] else []
    for (member_id,) in rows:
        if mobiles.get(int(member_id)):
            return int(member_id), mobiles[int(member_id)][0]
    return None
