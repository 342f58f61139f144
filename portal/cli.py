"""`portal`: the operator's command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import os
import sys

from services.kernel.contracts import QUEUES
from services.kernel.migrations import MIGRATED_SERVICES, upgrade


def _migrate(args: argparse.Namespace) -> int:
    unknown = set(args.services) - set(MIGRATED_SERVICES)
    if unknown:
        sys.exit(f"unknown services: {', '.join(sorted(unknown))}")
    for service in args.services or MIGRATED_SERVICES:
        settings = importlib.import_module(f"services.{service}.settings").get_settings()
        upgrade(service, settings.resolved_database_url())
        print(f"{service}: migrated to head")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    from pydantic import TypeAdapter, ValidationError

    from services.accounts.app import load_keys
    from services.accounts.schemas import EmailIn, NewPassword
    from services.accounts.service import AccountService
    from services.accounts.settings import get_settings
    from services.kernel.db import database_for

    password = args.password or getpass.getpass("Mật khẩu quản trị viên: ")
    settings = get_settings()
    try:
        email = EmailIn(email=args.email).email
        TypeAdapter(NewPassword).validate_python(password)
    except ValidationError as exc:
        sys.exit(f"refused: {exc.errors()[0]['msg']}")

    async def main() -> None:
        signer, secret = load_keys(settings)
        db = database_for(settings.resolved_database_url())
        async with db.sessionmaker() as session:
            await AccountService(session, settings, signer, secret).ensure_admin(
                email, password, args.full_name
            )
            await session.commit()
        await db.dispose()

    asyncio.run(main())
    print(f"admin {email} is active")
    return 0


def _relay(args: argparse.Namespace) -> int:
    from portal.relay import run_relays
    from services.kernel.settings import ServiceSettings

    asyncio.run(run_relays(args.services, ServiceSettings().relay_poll_interval))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from portal.runner import api_argv

    argv = api_argv(args.service, host=args.host, port=args.port)
    os.execv(argv[0], argv)  # the process becomes uvicorn: signals reach it directly


def _worker(args: argparse.Namespace) -> int:
    from portal.runner import worker_argv

    argv = worker_argv(args.queue, concurrency=args.concurrency)
    os.execv(argv[0], argv)  # the process becomes the Celery worker: SIGTERM = warm shutdown


def _run(args: argparse.Namespace) -> int:
    from portal.runner import run

    return run(worker_concurrency=args.concurrency)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the whole portal locally (gateway, workers, relays)")
    p.add_argument("--concurrency", type=int, default=1, help="processes per Celery worker")
    p.set_defaults(func=_run)

    p = sub.add_parser("migrate", help="upgrade service databases to the newest schema")
    p.add_argument("services", nargs="*", help=f"any of {', '.join(MIGRATED_SERVICES)}")
    p.set_defaults(func=_migrate)

    p = sub.add_parser("create-admin", help="create the first admin (or make an account admin)")
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="asked for when omitted")
    p.add_argument("--full-name", default="Quản trị viên")
    p.set_defaults(func=_create_admin)

    p = sub.add_parser("serve", help="run one service's API (deployment: one per container)")
    p.add_argument("service", choices=MIGRATED_SERVICES)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_serve)

    p = sub.add_parser("worker", help="run the Celery worker of one queue")
    p.add_argument("queue", choices=QUEUES)
    p.add_argument("--concurrency", type=int, default=1, help="worker processes")
    p.set_defaults(func=_worker)

    p = sub.add_parser("relay", help="publish the outboxes of the named services")
    p.add_argument("services", nargs="+", choices=MIGRATED_SERVICES)
    p.set_defaults(func=_relay)

    args = parser.parse_args(argv)
    sys.exit(args.func(args))
