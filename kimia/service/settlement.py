"""The daily settlement file (S1): one line per beneficiary with its Sheba and amount, built from
the split legs of one local day, adding up exactly to the payments it covers."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from kimia.service.host import Host
from kimia.service.sql import Tx


@dataclass(frozen=True)
class SettlementLine:
    role: str
    beneficiary_id: int
    name: str
    sheba: str
    amount_rial: int
    legs: int
    first_op_id: int
    last_op_id: int


def settlement_lines(tx: Tx, club_id: int, day: int) -> list[SettlementLine]:
    rows = tx.all(
        "SELECT role, beneficiary_id, SUM(amount_rial), COUNT(*), MIN(op_id), MAX(op_id) FROM split_legs"
        " WHERE club_id = ? AND day = ? GROUP BY role, beneficiary_id ORDER BY role, beneficiary_id",
        (club_id, day),
    )
    lines = []
    for role, beneficiary, amount, n, first, last in rows:
        name, sheba = _beneficiary(tx, role, int(beneficiary))
        lines.append(SettlementLine(role, int(beneficiary), name, sheba, int(amount), int(n), int(first), int(last)))
    return lines


def _beneficiary(tx: Tx, role: str, beneficiary_id: int) -> tuple[str, str]:
    if role in ("merchant", "merchant_marketer"):
        row = tx.one("SELECT name_fa, sheba FROM merchants WHERE id = ?", (beneficiary_id,))
    elif role == "marketer":
        row = tx.one("SELECT name_fa, sheba FROM marketers WHERE id = ?", (beneficiary_id,))
    elif role == "club_owner":
        row = tx.one("SELECT o.name_fa, o.sheba FROM clubs c JOIN club_owners o ON o.id = c.owner_id WHERE c.id = ?", (beneficiary_id,))
    else:
        row = ("platform", "")
    return (str(row[0] or ""), str(row[1] or "")) if row else ("", "")


def settlement_csv(lines: list[SettlementLine], *, club_id: int, day: int) -> str:
    """CSV with a header, one line per beneficiary, and a total line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["club_id", "day", "role", "beneficiary_id", "name", "sheba", "amount_rial", "legs", "first_op_id", "last_op_id"])
    for line in lines:
        writer.writerow([club_id, day, line.role, line.beneficiary_id, line.name, line.sheba, line.amount_rial, line.legs, line.first_op_id, line.last_op_id])
    writer.writerow([club_id, day, "total", "", "", "", sum(line.amount_rial for line in lines), sum(line.legs for line in lines), "", ""])
    return out.getvalue()


def club_settlement(svc: Host, club_id: int, day: int) -> str:
    """The settlement CSV of one local day of a club (S1)."""
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        return settlement_csv(settlement_lines(tx, root, day), club_id=root, day=day)
