"""Tasks the dossiers worker consumes on the `dossiers` queue."""

from __future__ import annotations

from services.dossiers.settings import get_settings
from services.kernel.messaging import make_celery

settings = get_settings()
celery = make_celery("dossiers", settings)
