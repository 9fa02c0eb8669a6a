"""What an operation family needs of the service it runs in, as a type.

The families (members, purchases, holds, refunds, value, tiers, lotteries, settlement) are
functions of a ``Host``: the clock, the caches, the card keys, the writer and the read and write
transactions. ``kimia.service.api.Kimia`` is one (structurally); the families never import it,
so the facade imports them and nothing imports back.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from kimia.service.cardkeys import CardKeys
from kimia.service.context import Caches
from kimia.service.sql import Tx
from kimia.service.verify import Notifier
from kimia.service.writer import Writer

T = TypeVar("T")


class Host(Protocol):
    """The service as its operation families see it."""

    clock: Callable[[], int]
    caches: Caches
    card_keys: CardKeys
    card_key: bytes
    writer: Writer
    notifier: Notifier

    @property
    def notifications(self) -> bool:
        """Operations write their notification events to the outbox (``KIMIA_NOTIFICATIONS``)."""

    def reading(self) -> AbstractContextManager[Tx]:
        """A read transaction on the calling thread's own connection."""

    def write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` as one operation of a group commit; its result once durable."""

    def posting(self, decide: Callable[[Tx, Any], Any]) -> Callable[[Tx], Any]:
        """A work that posts: ``decide(tx, run)`` gives its answer or a ``Post`` to stage in the
        run (kimia.service.posting); it rides the writer's runs with the other postings."""

    def committed(self, tx: Tx, *, kind: str, club_id: int, op_id: int, member_id: int | None, receipt: dict[str, Any],
                  merchant_id: int | None = None, amount_rial: int | None = None, pending: list[tuple[Any, ...]] | None = None) -> None:
        """Note an operation written in ``tx``, announced once its transaction commits; its outbox
        row written now, or appended to ``pending`` (a run's rows) for the run to write."""

    def announce(self, tx: Tx, hook: str, **kwargs: Any) -> None:
        """Call the past-tense hook ``hook`` with ``kwargs`` once ``tx`` commits (if the savepoint
        of the operation calling this is kept)."""

    def emit(self, tx: Tx, event: str, *, club_id: int, key: str, payload: dict[str, Any], member_id: int | None = None) -> None:
        """Write a notification event to the outbox in ``tx`` (nothing when notifications are off)."""
