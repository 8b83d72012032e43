"""What feedback tells observers (monitoring), without knowing them: feedback sits below
monitoring in the dependency order, so it sends a Django signal and monitoring connects to it.

- `suggestion_rated(rating)`: a seller gave (or changed) a thumbs rating, "up" or "down"; sent
  after the change is committed, with `send_robust`: an observer that fails is logged and never
  fails the seller's request.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

suggestion_rated = Signal()


def send_suggestion_rated_on_commit(*, rating: str) -> None:
    transaction.on_commit(lambda: _send(suggestion_rated, rating=rating))


def _send(signal: Signal, **kwargs) -> None:
    for receiver, result in signal.send_robust(sender="feedback", **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "feedback observer %r failed: %s",
                getattr(receiver, "__qualname__", receiver),
                result,
                exc_info=(type(result), result, result.__traceback__),
            )
