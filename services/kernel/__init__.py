"""The shared kernel: settings base, database sessions, errors, token verification, message
contracts, the outbox and the Celery wiring. It imports no service."""
