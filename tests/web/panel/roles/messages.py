"""Cases of the messages extra's pages (kimia/extras/messages/pages.py)."""

from __future__ import annotations

import itertools
from typing import Any

from extras.messages.helpers import add_delivery, emit
from kimia.extras.messages import store

from . import Case, Visit

_n = itertools.count(1)


def fresh_webhook(p: Any) -> int:
    hook, _ = store.add_webhook(p.service.plugin_services, club_id=p.a.club_id, actor="test", url="https://walk.example.ir/h",
                                events="*", idem_key=f"walk-{next(_n)}")
    return int(hook["id"])


def fresh_recipient(p: Any) -> int:
    return int(store.add_recipient(p.service.plugin_services, club_id=p.a.club_id, actor="test", email="walk@example.ir",
                                   events="*", idem_key=f"walk-{next(_n)}")["id"])


def failed_delivery(p: Any) -> int:
    event = emit(p.service, "operation.committed", p.a.club_id, f"walk-{next(_n)}", {"kind": "purchase"})
    return add_delivery(p.service, event, "webhook", "1")


CASES: dict[str, Case] = {
    "panel.messages.templates": lambda p: Visit("/panel/messages", names_a=False),
    "panel.messages.language": lambda p: Visit("/panel/messages/language", {"language": "fa", "form_key": f"walk-lang-{next(_n)}"},
                                                names_a=False),
    "panel.messages.template": lambda p: Visit("/panel/messages/templates/tier.changed", names_a=False),
    "panel.messages.webhooks": lambda p: Visit("/panel/messages/webhooks", names_a=False),
    "panel.messages.webhook_disable": lambda p: Visit(f"/panel/messages/webhooks/{fresh_webhook(p)}/disable"),
    "panel.messages.webhook_test": lambda p: Visit(f"/panel/messages/webhooks/{fresh_webhook(p)}/test",
                                                   {"form_key": f"walk-test-{next(_n)}"}),
    "panel.messages.recipients": lambda p: Visit("/panel/messages/recipients", names_a=False),
    "panel.messages.recipient_remove": lambda p: Visit(f"/panel/messages/recipients/{fresh_recipient(p)}/remove"),
    "panel.messages.deliveries": lambda p: Visit("/panel/messages/deliveries", names_a=False),
    "panel.messages.retry": lambda p: Visit(f"/panel/messages/deliveries/{failed_delivery(p)}/retry",
                                            {"reason": "walk", "form_key": f"walk-retry-{next(_n)}"}),
    "panel.messages.platform": lambda p: Visit("/panel/messages/platform", names_a=False),
}
