"""Tasks the catalogue worker consumes on the `catalogue` queue."""

from __future__ import annotations

from services.catalogue.settings import get_settings
from services.kernel.messaging import make_celery

settings = get_settings()
celery = make_celery("catalogue", settings)
