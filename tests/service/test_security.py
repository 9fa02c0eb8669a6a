"""Issue 13, items 6, 7 and 13: card-hash keys (required, rotatable), nothing an operator passes
stored in clear, club cards hashed, actors and reasons on every manual or bulk value operation,
an append-only journal and audit log, and an audit chain ``kimia check`` verifies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kimia import identifiers as ids
from kimia.errors import Rejected
from kimia.service import Kimia
from kimia.service.cardkeys import DEV_CARD_KEY
from kimia.store.engine import raw_connect

from .builders import FakeClock, World, all_text, audit, build_club, card_number, club_card, execute, national_code, persian, rows, scalar

KEY_A = b"A" * 16 + b"first-production-key"
KEY_B = b"B" * 16 + b"second-production-key"


# --- item 6: keys -----------------------------------------------------------------------------------


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process started as in production: no key, no development mode."""
    monkeypatch.delenv("KIMIA_DEV_MODE", raising=False)
    monkeypatch.delenv("KIMIA_CARD_HASH_KEY", raising=False)
    monkeypatch.delenv("KIMIA_CARD_HASH_OLD_KEYS", raising=False)


@pytest.mark.usefixtures("no_key")
def test_the_service_refuses_to_start_without_a_card_key(tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    """Item 6: no silent development key; nothing is created when the service refuses."""
    url = f"sqlite:///{tmp_path}/refused/kimia.db"
    with pytest.raises(Rejected) as err:
        open_service(url)
    assert err.value.code == "card_key_missing"
    assert "KIMIA_CARD_HASH_KEY" in err.value.message_en and err.value.message_fa
    assert not (tmp_path / "refused").exists()


@pytest.mark.usefixtures("no_key")
@pytest.mark.parametrize("key", [b"short-key", DEV_CARD_KEY])
def test_a_weak_or_development_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: bytes, open_service: Callable[..., Kimia]) -> None:
    monkeypatch.setenv("KIMIA_CARD_HASH_KEY", key.decode())
    with pytest.raises(Rejected) as err:
        open_service(f"sqlite:///{tmp_path}/kimia.db")
    assert err.value.code == "card_key_weak"
    with pytest.raises(Rejected) as err:
        open_service(f"sqlite:///{tmp_path}/kimia.db", card_key=KEY_A, old_card_keys=[key])
    assert err.value.code == "card_key_weak"


@pytest.mark.usefixtures("no_key")
def test_development_mode_and_a_real_key_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_service: Callable[..., Kimia]) -> None:
    with open_service(f"sqlite:///{tmp_path}/dev.db", dev_mode=True) as dev:
        assert dev.card_keys.development and dev.card_key == DEV_CARD_KEY
    monkeypatch.setenv("KIMIA_CARD_HASH_KEY", KEY_A.decode())
    monkeypatch.setenv("KIMIA_CARD_HASH_OLD_KEYS", f"{KEY_B.decode()}, ")
    with open_service(f"sqlite:///{tmp_path}/real.db") as real:
        assert real.card_key == KEY_A and real.card_keys.older == (KEY_B,) and not real.card_keys.development
        assert real.card_keys.ids() == [ids.key_id(KEY_A), ids.key_id(KEY_B)]


def _identifier_rows(service: Kimia) -> list[tuple[Any, ...]]:
    return rows(service, "SELECT kind, lookup, key_id FROM member_identifiers WHERE kind IN ('card', 'club_card') ORDER BY kind")


def test_cards_are_found_after_a_key_rotation_and_move_to_the_new_key(db_url: str, clock: FakeClock, open_service: Callable[..., Kimia]) -> None:
    """Item 6: each hash carries its key id; a new current key still finds cards hashed under an
    older one, and the first write that meets such a card re-hashes it under the current key."""
    pan, card = card_number(61), club_card(61)
    with open_service(db_url, card_key=KEY_A, clock=clock) as first:
        world = build_club(first, clock)
        member = world.enroll(identifiers=[("card", pan), ("club_card", card)])
        assert _identifier_rows(first) == [("card", ids.card_hash(pan, KEY_A), ids.key_id(KEY_A)),
                                           ("club_card", ids.club_card_hash(card, KEY_A), ids.key_id(KEY_A))]
    with open_service(db_url, card_key=KEY_B, old_card_keys=[KEY_A], clock=clock) as rotated:
        world.service = rotated
        # A read finds the card under the older key and changes nothing.
        assert rotated.identify(world.club_id, {"kind": "card", "value": pan}) == member
        assert {k for _, _, k in _identifier_rows(rotated)} == {ids.key_id(KEY_A)}
        # Enrolling the same card again is refused, whichever key it is stored under.
        with pytest.raises(Rejected) as err:
            world.enroll(identifiers=[("card", pan)])
        assert err.value.code == "identifier_taken"
        # A purchase (a write) by card and one by club card move both to the current key.
        assert world.buy({"kind": "card", "value": pan}, 100_000)["member_id"] == member
        assert world.buy({"kind": "club_card", "value": card}, 100_000)["member_id"] == member
        assert _identifier_rows(rotated) == [("card", ids.card_hash(pan, KEY_B), ids.key_id(KEY_B)),
                                             ("club_card", ids.club_card_hash(card, KEY_B), ids.key_id(KEY_B))]
    with open_service(db_url, card_key=KEY_B, clock=clock) as only_new:  # the older key is dropped
        assert only_new.identify(world.club_id, {"kind": "card", "value": pan}) == member
        assert only_new.identify(world.club_id, {"kind": "club_card", "value": card}) == member


# --- item 7: nothing in clear ------------------------------------------------------------------------


def test_an_adjustment_by_card_leaves_no_identifier_in_the_database(world: World) -> None:
    """Item 7: an adjustment naming the member by bank card, club card or national code (and a
    reason and an actor quoting the numbers, in Persian digits too) leaves no card number anywhere
    in the database (club cards are hashed like bank cards) and none of them in audit_log."""
    service = world.service
    pan, card, code = card_number(718_293_645), club_card(45_362_819), national_code(71)
    member = world.enroll(identifiers=[("card", pan), ("club_card", card), ("national_code", code)])
    for n, (kind, value) in enumerate([("card", pan), ("club_card", card), ("national_code", code)]):
        service.adjust(world.club_id, {"kind": kind, "value": persian(value) if n else value}, idem_key=f"adj-{n}",
                       account_kind="points", delta=10, actor=f"support:{pan}",
                       reason=f"member called from card {pan} / {persian(pan)} / {card} / {code[:3]}-{code[3:]}")
    texts = all_text(service)
    for secret in (pan, persian(pan), pan[6:12], card, persian(card)):
        leaks = sorted({(table, column) for table, column, text in texts if secret in text})
        assert not leaks, f"{secret} found in clear in {leaks}"
    # A national code is looked up as it is (it spends nothing), but never reaches the audit log.
    assert not [column for table, column, text in texts if table == "audit_log" and code in text]
    adjusted = audit(service, "adjust")
    assert [p["member_id"] for _, _, p in adjusted] == [member] * 3
    assert [p["member"] for _, _, p in adjusted] == [f"card:************{pan[-4:]}", f"club_card:********{card[-4:]}",
                                                    f"national_code:{code[:3]}****{code[-3:]}"]
    assert all(actor == f"support:************{pan[-4:]}" for actor, _, _ in adjusted)
    assert rows(service, "SELECT kind, display FROM member_identifiers WHERE kind = 'club_card'") == [("club_card", f"********{card[-4:]}")]


# --- item 13: actors, reasons, audit rows ------------------------------------------------------------


def test_a_charge_records_its_actor_reason_and_an_audit_row(world: World) -> None:
    """Item 13: issuing gift or welfare credit is audited like an adjustment, single or in bulk."""
    service, club = world.service, world.club_id
    a, b = world.enroll(), world.enroll()
    gift = service.charge(club, a, idem_key="gift", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": club},
                          actor="support:ali", reason="apology for a late delivery")
    service.charge_many(club, 42, [(a, 300_000), (b, 200_000)], batch_key="welfare-1404-01", actor="cli:hr", reason="monthly welfare")
    charged = audit(service, "charge")
    assert [(actor, reason, p["member_id"], p["amount"], p["op_id"] > 0) for actor, reason, p in charged] == [
        ("support:ali", "apology for a late delivery", a, 100_000, True),
        ("cli:hr", "monthly welfare (batch welfare-1404-01)", a, 300_000, True),
        ("cli:hr", "monthly welfare (batch welfare-1404-01)", b, 200_000, True),
    ]
    assert charged[0][2]["op_id"] == gift["op_id"]


def test_value_operations_refuse_a_missing_actor_or_reason(world: World) -> None:
    """Item 13: no default actor: a blank one (or a blank reason) is refused and changes nothing."""
    service, club = world.service, world.club_id
    member = world.enroll()
    before = scalar(service, "SELECT COUNT(*) FROM operations")
    attempts: dict[str, tuple[str, Callable[[], Any]]] = {
        "charge": ("actor_required", lambda: service.charge(club, member, idem_key="c", kind="gift_credit", amount_rial=1_000,
                                                            source={"type": "club", "id": club}, actor=" ", reason="gift")),
        "charge reason": ("reason_required", lambda: service.charge(club, member, idem_key="c", kind="gift_credit", amount_rial=1_000,
                                                                    source={"type": "club", "id": club}, actor="ops", reason="")),
        "charge_many": ("actor_required", lambda: service.charge_many(club, 1, [(member, 1_000)], batch_key="b", actor="", reason="x")),
        "adjust": ("actor_required", lambda: service.adjust(club, member, idem_key="a", account_kind="points", delta=5, actor="",
                                                            reason="goodwill")),
        "set_credit_limit": ("actor_required", lambda: service.set_credit_limit(club, member, 1_000, actor="\t", reason="line")),
        "expire_sweep": ("actor_required", lambda: service.expire_sweep(club, actor="")),
        "close_period": ("actor_required", lambda: service.close_period(club, world.clock.now, actor="")),
        "draw_lottery": ("actor_required", lambda: service.draw_lottery(world.club_id, world.lottery_id, world.lottery_seed, actor="")),
    }
    for name, (code, attempt) in attempts.items():
        with pytest.raises(Rejected) as err:
            attempt()
        assert err.value.code == code, name
    assert scalar(service, "SELECT COUNT(*) FROM operations") == before
    assert audit(service, "charge") == audit(service, "adjust") == []


def test_an_expiry_sweep_is_audited(world: World) -> None:
    service = world.service
    service.expire_sweep(world.club_id, actor="job:nightly-expiry")
    assert [(actor, p["members_swept"]) for actor, _, p in audit(service, "expire_sweep")] == [("job:nightly-expiry", 0)]


# --- item 13: append-only, chained -------------------------------------------------------------------


def _try(service: Kimia, statement: str) -> str:
    """Run ``statement`` as kimia's own database user would; the error it got, "" if none."""
    conn = raw_connect(service.url)
    try:
        cur = conn.cursor()
        if service.sqlite:
            cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(statement)
        except Exception as exc:
            return str(exc)
        finally:
            conn.rollback()
        return ""
    finally:
        conn.close()


def test_the_journal_and_the_audit_log_refuse_updates_and_deletes(world: World) -> None:
    """Item 13: triggers, not convention: kimia's own connection (the table owner in these tests)
    cannot change or remove a journal or audit row."""
    service = world.service
    world.buy(world.enroll(), 500_000)
    service.adjust(world.club_id, world.enroll(), idem_key="adj", account_kind="points", delta=5, actor="support", reason="goodwill")
    statements = [
        "UPDATE journal SET amount = amount + 1",
        "DELETE FROM journal",
        "UPDATE audit_log SET reason = 'nothing happened'",
        "DELETE FROM audit_log",
    ]
    if not service.sqlite:
        statements += ["TRUNCATE journal CASCADE", "TRUNCATE audit_log"]
    for statement in statements:
        assert "append-only" in _try(service, statement), statement
    assert scalar(service, "SELECT COUNT(*) FROM audit_log WHERE reason = 'goodwill'") == 1


def _audited_world(world: World) -> list[int]:
    service = world.service
    member = world.enroll()
    for n in range(4):
        service.adjust(world.club_id, member, idem_key=f"adj-{n}", account_kind="points", delta=10 + n, actor="support:ali",
                       reason=f"goodwill {n}")
    return [int(i) for (i,) in rows(service, "SELECT id FROM audit_log ORDER BY id")]


@pytest.mark.parametrize("tamper", ["edit", "delete", "insert"])
def test_check_finds_an_audit_row_changed_behind_its_back(world: World, tamper: str) -> None:
    """Item 13: with the triggers out of the way (builders.execute drops them, as the tables'
    owner could), an edited, deleted or forged audit row breaks the chain and ``kimia check`` fails."""
    service = world.service
    audit_ids = _audited_world(world)
    report = service.check()
    assert report.ok and report.audit_rows == len(audit_ids) and len(report.audit_head) == 64, report.summary()
    target = audit_ids[-3]
    statement, params = {
        "edit": ("UPDATE audit_log SET reason = ? WHERE id = ?", ("goodwill 99", target)),
        "delete": ("DELETE FROM audit_log WHERE id = ?", (target,)),
        "insert": ("INSERT INTO audit_log (club_id, actor, action, reason, payload, at, chain_hash) VALUES (?,?,?,?,?,?,?)",
                   (world.club_id, "support:ali", "adjust", "forged", "{}", 0, hashlib.sha256(b"forged").hexdigest())),
    }[tamper]
    assert execute(service, statement, params) == 1
    report = service.check()
    assert not report.ok
    broken = target if tamper == "edit" else audit_ids[-2] if tamper == "delete" else max(audit_ids) + 1
    assert f"audit log row {broken} does not match the chain" in report.summary(), report.summary()
    # Leave the database whole for the fixture's own check: the test's services are closed here.
    service.close()
