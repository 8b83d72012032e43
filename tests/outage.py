"""Redis down, for tests: the broker and the cache pointed at a port nothing listens on.

The real kombu and redis clients then get "connection refused", as they would with Redis gone.
Used in-process (the test client, or live_server's threads share this process's Celery app).
"""

import socket
import threading
from contextlib import contextmanager

from marketplace.celery import app as celery_app


def closed_port() -> int:
    """A local port nothing listens on: to be refused by, or free to listen on next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on leaving: nothing listens there


@contextmanager
def hung_server():
    """A local port that accepts connections and never answers, like a Redis stuck on a full
    disk or a wedged process behind a live socket; yields the port."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept_forever():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:  # closed on leaving
                return

    threading.Thread(target=accept_forever, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in accepted:
            conn.close()


free_port = closed_port  # the same port, read as "free to listen on"


def point_broker_at(url: str) -> None:
    celery_app.conf.broker_url = url
    # Celery keeps a connection pool and a producer pool per app; make it build new ones.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class RedisOutage:
    """`start()`: broker and cache unreachable; `end()`: the real Redis is back."""

    def __init__(self, settings):
        self.settings, self.real_url = settings, celery_app.conf.broker_url
        self.dead_url = f"redis://127.0.0.1:{closed_port()}/0"

    def start(self) -> None:
        self.settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": self.dead_url,
            }
        }
        point_broker_at(self.dead_url)

    def end(self) -> None:
        point_broker_at(self.real_url)
