"""`nps-bot outbox`: what the outbox holds, and sending again what is waiting or failed.

Counts and ages only: the outbox's rows carry customer data in their rendered messages, which
these commands never print.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from bot.config.settings import SettingsError, load_settings
from bot.domain.patterns import is_channel_id, is_user_id


def register(subparsers: Any) -> None:
    """Add `outbox status` and `outbox retry` to the CLI."""
    outbox = subparsers.add_parser("outbox", help="show the outbox, or send again what failed")
    commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    status = commands.add_parser("status", help="deliveries by state and kind, oldest wait")
    status.set_defaults(func=status_cmd)
    retry = commands.add_parser(
        "retry", help="send waiting deliveries now; with --failed, failed ones again too"
    )
    retry.add_argument(
        "--failed", action="store_true", help="also send failed deliveries again (fresh count)"
    )
    retry.add_argument(
        "--channel",
        nargs="+",
        metavar="C",
        type=_channel,
        help="only deliveries to these channel or user ids",
    )
    retry.set_defaults(func=retry_cmd)


def _channel(value: str) -> str:
    from storage.outbox import WEBHOOK_CHANNEL

    if not (is_channel_id(value) or is_user_id(value) or value == WEBHOOK_CHANNEL):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Slack channel or user id")
    return value


def _engine() -> Any:
    from storage.db import create_db_engine, pending_migrations, ping

    engine = create_db_engine(load_settings().database_url)
    if not ping(engine):
        raise SettingsError("DATABASE_URL: cannot connect to the database")
    if pending_migrations(engine):
        raise SettingsError("DATABASE_URL: schema is behind; run `nps-bot migrate`")
    return engine


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def status_cmd(args: argparse.Namespace) -> int:
    """Print the count of deliveries per state and kind, and how long the oldest has waited."""
    from storage.outbox_admin import counts_by_kind, oldest_waiting

    engine = _engine()
    counts = counts_by_kind(engine)
    oldest = oldest_waiting(engine)
    engine.dispose()
    if not counts:
        print("the outbox is empty")
        return 0
    print(f"{'state':<10} {'kind':<18} {'count':>7}")
    for (state, kind), count in sorted(counts.items()):
        print(f"{state:<10} {kind:<18} {count:>7}")
    if oldest is None:
        print("nothing is waiting")
    else:
        waited = (datetime.now(UTC) - oldest).total_seconds()
        print(f"oldest pending: queued {_age(max(waited, 0))} ago")
    return 0


def retry_cmd(args: argparse.Namespace) -> int:
    """Make waiting deliveries due now; with --failed, send failed ones again."""
    from storage.outbox_admin import requeue

    engine = _engine()
    done = requeue(engine, now=datetime.now(UTC), failed=args.failed, channels=args.channel)
    engine.dispose()
    print(
        f"due now: {done.waiting} waiting, {done.checking} to check in Slack first"
        + (
            f"; sent again: {done.failed} failed, {done.threads} thread lines"
            if args.failed
            else ""
        )
    )
    return 0
