"""Cases of kimia/web/panel/pages/rules.py (the rules builder)."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    # Each club sees its own rule set at these addresses: they name nothing of club A's.
    "panel.rules.index": lambda p: Visit("/panel/rules", names_a=False),
    "panel.rules.edit": lambda p: Visit("/panel/rules/edit", names_a=False),
    # A version number is the club's own (club B's staff see their own version 1, or 404).
    "panel.rules.diff": lambda p: Visit("/panel/rules/diff", names_a=False),
    # "Update from the JSON": changes nothing, re-draws the builder (200) for admin and marketer.
    "panel.rules.edit_post": lambda p: Visit("/panel/rules/edit", form={"do": "update_json", "json": '{"rules": []}'},
                                             names_a=False, served=frozenset({200})),
}
