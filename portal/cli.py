"""`portal`: the operator's command line. Each command imports what it needs when it runs:
`portal serve` and `portal worker` exec uvicorn or Celery at once, and what this module
imported before the exec (Alembic, the message contracts) was start-up time thrown away."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Never

from services.kernel.registry import SERVICES

QUEUES = SERVICES
"""A queue per service (`services.kernel.contracts.QUEUES`, without importing the contracts)."""


def _migrate(args: argparse.Namespace) -> int:
    from services.kernel.migrations import upgrade

    unknown = set(args.services) - set(SERVICES)
    if unknown:
        sys.exit(f"unknown services: {', '.join(sorted(unknown))}")
    for service in args.services or SERVICES:
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


def _keys(args: argparse.Namespace) -> int:
    """The accounts signing key and its public JWKS (what every API verifies tokens with), and
    the captcha secret when PORTAL_CAPTCHA_SECRET is unset, made when missing: deployment keeps
    them in a secret (k8s) or a volume (compose)."""
    from services.accounts.security import ensure_signing_key
    from services.accounts.settings import get_settings
    from services.kernel.captcha import ensure_secret_file

    settings = get_settings()
    ensure_signing_key(settings.private_key_path, settings.public_key_path)
    print(f"signing key: {settings.private_key_path}\npublic keys: {settings.public_key_path}")
    if not settings.captcha_secret:
        ensure_secret_file(settings.captcha_secret_path)
        print(f"captcha secret: {settings.captcha_secret_path}")
    return 0


def _import_catalogue(args: argparse.Namespace) -> int:
    import json

    from services.catalogue.importer import run_import
    from services.catalogue.settings import get_settings

    settings = get_settings()
    if args.layout:
        settings = settings.model_copy(update={"layout": args.layout})
    source = args.source or settings.source_file
    if not source.exists():
        sys.exit(f"no catalogue file at {source}; give one with --source")
    report = asyncio.run(run_import(settings, source, show_progress=not args.quiet))
    assert report is not None
    print(report.summary())
    if args.report:
        args.report.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        print(f"full report: {args.report}")
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
    if os.environ.get("PORTAL_METRICS_PORT", "0") not in ("", "0"):
        # the pool's processes record their task metrics in one folder the worker serves
        import tempfile

        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="metrics-"))
    os.execv(argv[0], argv)  # the process becomes the Celery worker: SIGTERM = warm shutdown


def _run(args: argparse.Namespace) -> int:
    from portal.runner import parse_concurrency, run

    spec = args.concurrency or os.environ.get("PORTAL_WORKER_CONCURRENCY", "1")
    try:
        plan = parse_concurrency(spec)
    except ValueError as exc:
        sys.exit(f"[portal] {exc}")
    return run(worker_concurrency=plan)


def _queues(args: argparse.Namespace) -> int:
    from portal.operations import format_queues, queues_report

    print(format_queues(asyncio.run(queues_report())))
    return 0


def _emails_failed(args: argparse.Namespace) -> int:
    from portal.operations import failed_emails, format_failed, parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        sys.exit(f"--since: {exc}")
    rows = asyncio.run(failed_emails(since, args.limit))
    print(format_failed(rows) if rows else "no failed e-mails")
    return 0


def _emails_replay(args: argparse.Namespace) -> int:
    from portal.operations import replay_emails

    if bool(args.ids) == args.all_failed:
        sys.exit("give e-mail ids or --all-failed (not both)")
    result = asyncio.run(replay_emails(None if args.all_failed else args.ids))
    for message_id in result.replayed:
        print(f"{message_id}: queued again")
    for message_id, why in result.skipped.items():
        print(f"{message_id}: {why}")
    print(f"{len(result.replayed)} e-mail(s) replayed through the notifier's outbox")
    return 1 if result.skipped and not args.all_failed else 0


def _messages_replay(args: argparse.Namespace) -> int:
    from portal.operations import replay_messages

    if bool(args.ids) == args.failed:
        sys.exit("give outbox ids or --failed (not both)")
    ids = None if args.failed else args.ids
    chosen = asyncio.run(replay_messages(args.service, ids, args.min_attempts))
    for row_id in chosen:
        print(f"{args.service} outbox {row_id}: due now")
    missing = sorted(set(args.ids) - set(chosen)) if ids else []
    for row_id in missing:
        print(f"{args.service} outbox {row_id}: no such row")
    print(f"{len(chosen)} message(s) handed to the relay again")
    return 1 if missing else 0


def _purge(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from portal.operations import parse_age, purge

    try:
        drafts = parse_age(args.drafts_older_than)
        messages = parse_age(args.messages_older_than)
    except ValueError as exc:
        sys.exit(str(exc))

    def bar(total: int) -> tqdm[Never]:  # over no iterable: advanced by hand
        return tqdm(total=total, desc="old drafts", unit="draft", disable=args.quiet or None)

    summary = asyncio.run(purge(drafts, messages, bar))
    accounts, dossiers = summary["accounts"], summary["dossiers"]
    print(
        f"accounts: {accounts['expired_credentials']} expired codes, tokens, notices and "
        f"captcha ids removed\n"
        f"dossiers: {dossiers['drafts']} draft(s) older than {args.drafts_older_than} removed "
        f"with {dossiers['files']} file(s); {dossiers['spent_captchas']} spent captcha id(s)\n"
        f"notifier: {summary['notifier']['sent_emails']} record(s) of sent e-mails older than "
        f"{args.messages_older_than} removed"
    )
    for service, purged in summary.items():
        print(
            f"{service} messages: {purged.get('processed_messages', 0)} handled-message id(s) "
            f"and {purged['published_outbox']} published outbox row(s) older than "
            f"{args.messages_older_than} removed"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the whole portal locally (gateway, workers, relays)")
    p.add_argument(
        "--concurrency",
        help="pool processes per worker: N, or queue=N,… (default PORTAL_WORKER_CONCURRENCY or 1)",
    )
    p.set_defaults(func=_run)

    p = sub.add_parser("migrate", help="upgrade service databases to the newest schema")
    p.add_argument("services", nargs="*", help=f"any of {', '.join(SERVICES)}")
    p.set_defaults(func=_migrate)

    p = sub.add_parser("create-admin", help="create the first admin (or make an account admin)")
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="asked for when omitted")
    p.add_argument("--full-name", default="Quản trị viên")
    p.set_defaults(func=_create_admin)

    p = sub.add_parser("import-catalogue", help="import or update agencies and procedures")
    p.add_argument("--source", type=Path, help="national catalogue JSON lines")
    p.add_argument("--layout", choices=["2025", "2023"], help="agency layout (CATALOGUE_LAYOUT)")
    p.add_argument("--report", type=Path, help="write the full report (JSON) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_import_catalogue)

    p = sub.add_parser(
        "serve", help="run one service's API, or the web pages (deployment: one per container)"
    )
    p.add_argument("service", choices=(*SERVICES, "web"))
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_serve)

    p = sub.add_parser("worker", help="run the Celery worker of one queue")
    p.add_argument("queue", choices=QUEUES)
    p.add_argument("--concurrency", type=int, default=1, help="worker processes")
    p.set_defaults(func=_worker)

    p = sub.add_parser(
        "keys", help="create the token signing key, its JWKS and the captcha secret when missing"
    )
    p.set_defaults(func=_keys)

    p = sub.add_parser("queues", help="Celery queue depths and each service's outbox backlog")
    p.set_defaults(func=_queues)

    emails = sub.add_parser("emails", help="failed e-mails: list them, send them again")
    esub = emails.add_subparsers(dest="emails_command", required=True)
    p = esub.add_parser("failed", help="list e-mails that failed for good")
    p.add_argument("--since", help="e.g. 24h, 7d, or an ISO date/time (UTC)")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=_emails_failed)
    p = esub.add_parser("replay", help="send failed e-mails again (once), through the outbox")
    p.add_argument("ids", nargs="*", help="e-mail ids (as `emails failed` lists them)")
    p.add_argument("--all-failed", action="store_true", help="every failed e-mail")
    p.set_defaults(func=_emails_replay)

    messages = sub.add_parser("messages", help="outbox messages that keep failing to publish")
    msub = messages.add_subparsers(dest="messages_command", required=True)
    p = msub.add_parser("replay", help="hand outbox rows to the relay again")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("ids", nargs="*", help="outbox row ids (published or not)")
    p.add_argument(
        "--failed", action="store_true", help="every unpublished row whose publication failed"
    )
    p.add_argument(
        "--min-attempts", type=int, default=3, help="with --failed: also rows tried this often"
    )
    p.set_defaults(func=_messages_replay)

    p = sub.add_parser("purge", help="delete expired credentials, old drafts and message ids")
    p.add_argument("--drafts-older-than", default="30d", help="drafts unchanged this long (30d)")
    p.add_argument(
        "--messages-older-than",
        default="30d",
        help="handled-message ids, published outbox rows, sent e-mail records this old (30d)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_purge)

    p = sub.add_parser("relay", help="publish the outboxes of the named services")
    p.add_argument("services", nargs="+", choices=SERVICES)
    p.set_defaults(func=_relay)

    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
