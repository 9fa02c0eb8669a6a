"""Setting up clubs: owners, clubs and sub-clubs, meta-clubs, merchants, terminals, groups,
marketers, tariffs, rule sets, voucher offers and lotteries. Rare writes, through the ORM; each
call is one transaction, and every change a person makes is in the audit log."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import kimia._core as core
from kimia import identifiers as ids
from kimia.errors import Phrase, reject
from kimia.service import audit, rulesets, tenancy
from kimia.service.api import Kimia
from kimia.service import verify
from kimia.service.terminalkeys import kcv, load_kek, wrap
from kimia.store import models as m


class Admin:
    """Administrative operations of a ``Kimia`` service."""

    def __init__(self, service: Kimia) -> None:
        self.service = service

    def _session(self) -> Session:
        return Session(self.service.engine, expire_on_commit=False)

    def _audit(self, s: Session, club_id: int | None, actor: str, action: str, payload: dict[str, Any], reason: str = "") -> None:
        """A masked, chained row of the audit log in the session's transaction (kimia.service.audit)."""
        audit.append_orm(s, club_id=club_id, actor=actor, action=action, reason=reason, payload=payload, at=self.service.clock())

    def _check(self, club_id: int, refs: list[tenancy.Ref]) -> None:
        """Refuse ids of another club's tree (``kimia.service.tenancy``) before anything is written."""
        with self.service.reading() as tx:
            tenancy.check_refs(tx, club_id, refs)

    def _add(self, obj: Any, *, actor: str, action: str, club_id: int | None = None, reason: str = "") -> Any:
        with self._session() as s, s.begin():
            s.add(obj)
            s.flush()
            payload = {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in ("mac_key_enc", "mac_key_prev_enc")}
            self._audit(s, club_id if club_id is not None else getattr(obj, "club_id", None), actor, action, payload, reason)
        self.service.caches.clear()
        return obj

    def create_owner(self, name_fa: str, *, name_en: str = "", sheba: str | None = None, actor: str = "platform") -> int:
        owner = m.ClubOwner(name_fa=name_fa, name_en=name_en, sheba=ids.validate_sheba(sheba) if sheba else None, created_at=self.service.clock())
        return int(self._add(owner, actor=actor, action="create_owner").id)

    def create_club(
        self,
        owner_id: int,
        name_fa: str,
        *,
        name_en: str = "",
        parent_id: int | None = None,
        business_type: str | None = None,
        settings: dict[str, Any] | None = None,
        actor: str = "platform",
    ) -> int:
        """A club, or a sub-club when ``parent_id`` is given (C1, C2): of a club of the same owner."""
        if parent_id is not None:
            with self._session() as s:
                parent_owner = s.scalar(select(m.Club.owner_id).where(m.Club.id == parent_id))
            if parent_owner != owner_id:
                raise reject("foreign_reference", path="parent_id", kind="club", id=parent_id)
        club = m.Club(owner_id=owner_id, parent_id=parent_id, name_fa=name_fa, name_en=name_en, business_type=business_type,
                      utc_offset_min=self.service.settings.utc_offset_min, settings=settings or {}, created_at=self.service.clock())
        return int(self._add(club, actor=actor, action="create_club").id)

    def update_settings(self, club_id: int, settings: dict[str, Any], *, actor: str, reason: str = "") -> None:
        """Replace parts of a club's settings: ``tiers``, ``conversion``, ``settlement``,
        ``verification`` (kimia.service.verify). Validated by the core (tiers) and here."""
        if "tiers" in settings:
            core.close_tier_period(settings["tiers"], tier=[], period_points=[], period_end=0)
        by_group = (settings.get("conversion") or {}).get("by_group")
        if isinstance(by_group, dict):
            self._check(club_id, [("member group", tenancy._as_int(k), f"conversion.by_group.{k}") for k in by_group])
        if "verification" in settings:
            verify.validate_settings(settings["verification"])
        with self._session() as s, s.begin():
            club = s.get(m.Club, club_id)
            if club is None:
                raise reject("unknown_club")
            club.settings = {**(club.settings or {}), **settings}
            self._audit(s, club_id, actor, "update_settings", settings, reason)
        self.service.caches.clear()

    def create_meta_club(self, name_fa: str, club_ids: list[int], *, share_members: bool = True, share_merchants: bool = False,
                         share_value: bool = False, actor: str = "platform") -> int:
        """A meta-club: clubs sharing members and/or merchants and value (C3)."""
        with self._session() as s, s.begin():
            meta = m.MetaClub(name_fa=name_fa, name_en="", share_members=share_members, share_merchants=share_merchants,
                              share_value=share_value, created_at=self.service.clock())
            s.add(meta)
            s.flush()
            for club_id in club_ids:
                s.add(m.MetaClubMember(meta_club_id=meta.id, club_id=club_id))
            self._audit(s, None, actor, "create_meta_club", {"id": meta.id, "clubs": club_ids})
            meta_id = int(meta.id)
        self.service.caches.clear()
        return meta_id

    def set_fee_tariff(self, business_type: str | None, *, percent_bp: int, fixed_rial: int = 0, cap_rial: int | None = None, actor: str = "platform") -> None:
        """The platform's fee per business type (C6)."""
        with self._session() as s, s.begin():
            tariff = s.scalars(select(m.FeeTariff).where(m.FeeTariff.business_type.is_(None) if business_type is None else m.FeeTariff.business_type == business_type)).first()
            if tariff is None:
                tariff = m.FeeTariff(business_type=business_type)
                s.add(tariff)
            tariff.percent_bp, tariff.fixed_rial, tariff.cap_rial = percent_bp, fixed_rial, cap_rial
            self._audit(s, None, actor, "set_fee_tariff", {"business_type": business_type, "percent_bp": percent_bp, "fixed_rial": fixed_rial, "cap_rial": cap_rial})

    def create_marketer(self, club_id: int, name_fa: str, *, sheba: str | None = None, actor: str = "platform") -> int:
        marketer = m.Marketer(club_id=club_id, name_fa=name_fa, sheba=ids.validate_sheba(sheba) if sheba else None, created_at=self.service.clock())
        return int(self._add(marketer, actor=actor, action="create_marketer").id)

    def create_merchant(self, club_id: int, name_fa: str, *, name_en: str = "", business_type: str | None = None,
                        sheba: str | None = None, marketer_id: int | None = None, actor: str = "platform") -> int:
        self._check(club_id, [("marketer", marketer_id, "marketer_id")] if marketer_id is not None else [])
        merchant = m.Merchant(club_id=club_id, name_fa=name_fa, name_en=name_en, business_type=business_type,
                              sheba=ids.validate_sheba(sheba) if sheba else None, marketer_id=marketer_id, active=True,
                              created_at=self.service.clock())
        return int(self._add(merchant, actor=actor, action="create_merchant").id)

    def create_branch(self, merchant_id: int, name_fa: str, *, actor: str = "platform") -> int:
        return int(self._add(m.Branch(merchant_id=merchant_id, name_fa=name_fa), actor=actor, action="create_branch").id)

    def create_terminal(self, merchant_id: int, terminal_code: str, merchant_code: str, *, kind: str = "pos",
                        branch_id: int | None = None, mac_key_hex: str | None = None, actor: str = "platform") -> int:
        """Register a terminal (field 41) of a merchant (field 42); unknown terminals are refused."""
        if kind not in ("pos", "pcpos"):
            raise reject("invalid_request", path="kind", detail="pos or pcpos")
        if not 1 <= len(terminal_code) <= 8 or not 1 <= len(merchant_code) <= 15:
            raise reject("invalid_request", path="terminal_code", detail="terminal id up to 8, merchant id up to 15 characters")
        if mac_key_hex is not None and len(bytes.fromhex(mac_key_hex)) not in (16, 32):
            raise reject("invalid_request", path="mac_key_hex", detail="a 16 or 32 byte AES key in hex")
        terminal = m.Terminal(terminal_code=terminal_code, merchant_code=merchant_code, merchant_id=merchant_id, branch_id=branch_id,
                              kind=kind, active=True, mac_key_version=0)
        if mac_key_hex is not None:
            # Stored only under the KEK (kimia/service/terminalkeys.py); the audit records its check value.
            key = bytes.fromhex(mac_key_hex)
            terminal.mac_key_enc = wrap(load_kek(), key, terminal_code, merchant_code)
            terminal.mac_key_version, terminal.mac_key_kcv = 1, kcv(key)
        with self._session() as s:
            club_id = s.scalar(select(m.Merchant.club_id).where(m.Merchant.id == merchant_id))
        if club_id is None:
            raise reject("unknown_merchant")
        if branch_id is not None:
            with self._session() as s:
                branch_merchant = s.scalar(select(m.Branch.merchant_id).where(m.Branch.id == branch_id))
            if branch_merchant != merchant_id:
                # A terminal's branch is its own merchant's (a purchase is scoped by it).
                raise reject("foreign_reference", path="branch_id", kind="branch", id=branch_id)
        return int(self._add(terminal, actor=actor, action="create_terminal", club_id=club_id).id)

    def create_merchant_group(self, club_id: int, name_fa: str, merchant_ids: list[int], *, name_en: str = "", actor: str = "platform") -> int:
        """A group of the club's merchants (or merchants a meta-club shares with it)."""
        self._check(club_id, [("merchant", mid, f"merchant_ids[{i}]") for i, mid in enumerate(merchant_ids)])
        with self._session() as s, s.begin():
            group = m.MerchantGroup(club_id=club_id, name_fa=name_fa, name_en=name_en)
            s.add(group)
            s.flush()
            for merchant_id in merchant_ids:
                s.add(m.MerchantGroupMember(group_id=group.id, merchant_id=merchant_id))
            self._audit(s, club_id, actor, "create_merchant_group", {"id": group.id, "merchants": merchant_ids})
            group_id = int(group.id)
        self.service.caches.clear()
        return group_id

    def create_member_group(self, club_id: int, name_fa: str, member_ids: list[int], *, name_en: str = "", actor: str = "platform") -> int:
        """A group of the club's members (or members a meta-club shares with it)."""
        self._check(club_id, [("member", mid, f"member_ids[{i}]") for i, mid in enumerate(member_ids)])
        with self._session() as s, s.begin():
            group = m.MemberGroup(club_id=club_id, name_fa=name_fa, name_en=name_en)
            s.add(group)
            s.flush()
            for member_id in member_ids:
                s.add(m.MemberGroupMember(group_id=group.id, member_id=member_id))
            self._audit(s, club_id, actor, "create_member_group", {"id": group.id, "members": member_ids})
            return int(group.id)

    def create_shared_wallet(self, club_id: int, name_fa: str, member_ids: list[int], *, actor: str = "platform") -> int:
        """A wallet shared by a family or group of cards (M5): of the club's own members only."""
        self._check(club_id, [("wallet member", mid, f"member_ids[{i}]") for i, mid in enumerate(member_ids)])
        with self._session() as s, s.begin():
            wallet = m.SharedWallet(club_id=club_id, name_fa=name_fa)
            s.add(wallet)
            s.flush()
            for member in s.scalars(select(m.Member).where(m.Member.id.in_(member_ids))):
                member.shared_wallet_id = wallet.id
            self._audit(s, club_id, actor, "create_shared_wallet", {"id": wallet.id, "members": member_ids})
            return int(wallet.id)

    def publish_rules(self, club_id: int, body: dict[str, Any], *, actor: str, reason: str = "", effective_from: int | None = None) -> int:
        """Validate (compile) and store a new version of a club's rule set; returns the version.
        The club's settlement shares and the platform's fee tariffs are merged in when absent
        (kimia.service.rulesets.complete_body). The version takes effect at ``effective_from``
        (Unix seconds; default and at the earliest: now): until then the one before stays in use."""
        now = self.service.clock()
        effective = now if effective_from is None else effective_from
        if effective < now - rulesets.PAST_TOLERANCE_S:
            raise reject("field_invalid", path="effective_from", detail=Phrase("it is in the past", "در گذشته است"))
        with self._session() as s, s.begin():
            club = s.get(m.Club, club_id)
            if club is None:
                raise reject("unknown_club")
            version = int(s.scalar(select(func.coalesce(func.max(m.RuleSetVersion.version), 0)).where(m.RuleSetVersion.club_id == club_id)) or 0) + 1
            tariffs = [{"business_type": t.business_type, "percent_bp": t.percent_bp, "fixed_rial": t.fixed_rial, "cap_rial": t.cap_rial}
                       for t in s.scalars(select(m.FeeTariff).order_by(m.FeeTariff.id))]
            full = rulesets.complete_body(body, club_id=club_id, version=version, utc_offset_min=club.utc_offset_min,
                                          club_settings=club.settings or {}, fee_tariffs=tariffs)
            core.Rulebook(full)  # refused with a RuleError at its path unless it compiles
            # Compiled: every id is an integer now. Each must be the club's (issue 13: a rule of one
            # club gave its members entries in another club's lottery).
            self._check(club_id, tenancy.rule_refs(body))
            self._check_tiers(club.settings or {}, body)
            s.add(m.RuleSetVersion(club_id=club_id, version=version, body=full, created_by=actor, created_at=now,
                                   effective_from=max(effective, now)))
            self._audit(s, club_id, actor, "publish_rules", {"version": version, "rules": len(body.get("rules", [])),
                                                             "effective_from": max(effective, now)}, reason)
        self.service.caches.clear()
        return version

    @staticmethod
    def _check_tiers(settings: dict[str, Any], body: dict[str, Any]) -> None:
        """A tier a rule names must be one of the club's tiers, once the club has any."""
        tiers = (settings.get("tiers") or {}).get("tiers")
        if not tiers:
            return
        names = {str(t.get("name")) for t in tiers}
        for name, path in tenancy.rule_tiers(body):
            if name not in names:
                raise reject("foreign_reference", path=path, kind="tier", id=name)

    def create_voucher_template(self, club_id: int, name_fa: str, *, discount_rial: int = 0, discount_bp: int = 0,
                                cap_rial: int | None = None, valid_days: int = 30, merchants: list[int] | None = None,
                                price_points: int = 0, price_credit_rial: int = 0, min_balance: int = 0,
                                funder: str = "club_owner", name_en: str = "", actor: str = "platform", reason: str = "") -> int:
        if (price_points > 0) == (price_credit_rial > 0) and (price_points or price_credit_rial):
            raise reject("invalid_request", path="price", detail="a voucher costs points or credit, not both")
        self._check(club_id, [("merchant", mid, f"merchants[{i}]") for i, mid in enumerate(merchants or [])])
        template = m.VoucherTemplate(club_id=club_id, name_fa=name_fa, name_en=name_en, discount_rial=discount_rial, discount_bp=discount_bp,
                                     cap_rial=cap_rial, valid_days=valid_days, merchants=merchants or [], price_points=price_points,
                                     price_credit_rial=price_credit_rial, min_balance=min_balance, funder=funder)
        return int(self._add(template, actor=actor, action="create_voucher_template", reason=reason).id)

    def open_lottery(self, club_id: int, name_fa: str, *, prizes: list[str], seed_commitment: str, name_en: str = "", actor: str = "platform",
                     reason: str = "") -> int:
        """Open a lottery with the SHA-256 of its secret seed committed now (revealed at the draw)."""
        if len(seed_commitment) != 64 or any(c not in "0123456789abcdef" for c in seed_commitment):
            raise reject("invalid_request", path="seed_commitment", detail="a SHA-256 hex digest")
        lottery = m.Lottery(club_id=club_id, name_fa=name_fa, name_en=name_en, prizes=prizes, seed_commitment=seed_commitment, status="open")
        return int(self._add(lottery, actor=actor, action="open_lottery", reason=reason).id)

    @staticmethod
    def commitment(seed: str) -> str:
        return hashlib.sha256(seed.encode()).hexdigest()
