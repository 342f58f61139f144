"""kombu's Redis transport with one change: a channel keeps the client object it uses beside its
BRPOP instead of building a new one for every command.

kombu builds a new `redis.Redis` for each command a channel sends while its own client waits
in BRPOP: the unacknowledged set's writes on every delivery and acknowledgement, two per
message. Building one (its response callbacks, its options) was an eighth of a notifier worker's
main process. The client object holds no connection — each command still takes one from the
channel's pool, as before — so keeping it changes nothing else; a new pool (after kombu
resets its connections) gets a new client. A service's Celery app uses it by setting
`broker_transport` to `TRANSPORT`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

TRANSPORT = "services.kernel.broker:Transport"


class Channel(kombu_redis.Channel):
    _side: tuple[Any, Any] | None = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        if self._side is None or self._side[0] is not pool:
            self._side = (pool, self._create_client())  # type: ignore[attr-defined]
        yield self._side[1]


class Transport(kombu_redis.Transport):
    Channel = Channel
