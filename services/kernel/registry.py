"""The portal's services, listed once. Everything that does something per service derives from
this list: the Celery queues and task routes (`contracts.py`), the migrations, the relay, the
workers and API processes `portal run` starts, the gateway's mounts and health checks, the
operator's commands and the hourly purge. Each service is a package `services/<name>/` with the
same modules (`app`, `settings`, `tasks` with its `<name>.purge_expired`, `maintenance`,
`migrations/`); the kernel only names them and imports none."""

from __future__ import annotations

SERVICES: tuple[str, ...] = ("accounts", "catalogue", "dossiers", "notifier")
"""Every service: its own database, migrations, outbox and relay, Celery queue and worker."""

PUBLIC_APIS: tuple[str, ...] = tuple(s for s in SERVICES if s != "notifier")
"""The services with a public API under `/api/v1/<name>/`; the notifier's app answers health
checks only."""
