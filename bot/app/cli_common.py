"""What every nps-bot command shares: one-line errors, the database, reading text files."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from bot.config.settings import Settings, SettingsError, load_settings


class CommandError(Exception):
    """A command cannot go on; the message is for the user, one problem per line."""


def fail(message: str) -> int:
    """Print each line of `message` as its own `nps-bot: ` line; the exit status for errors."""
    for line in message.splitlines() or [""]:
        print(f"nps-bot: {line}", file=sys.stderr)
    return 2


def database_problem(exc: sa.exc.SQLAlchemyError, backend: str) -> str:
    """One line on a failed database call: the backend and the kind of error, never the URL."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return f"DATABASE_URL: lost the connection to the {backend} database"
    cause = getattr(exc, "orig", None) or exc
    return f"DATABASE_URL: the {backend} database failed ({type(cause).__name__})"


def configured_backend() -> str:
    """The configured database's backend, for an error line; never its URL."""
    try:
        return load_settings().database_backend
    except (SettingsError, OSError, UnicodeDecodeError):
        return "configured"


@contextlib.contextmanager
def database(settings: Settings, *, migrated: bool) -> Iterator[sa.Engine]:
    """An engine that answers (and is migrated, when asked); its failures become one line."""
    from alembic.util import CommandError as AlembicError

    from storage.db import create_db_engine, pending_migrations, ping

    backend = settings.database_backend
    try:
        engine = create_db_engine(settings.database_url)
    except OSError as exc:
        raise CommandError(
            f"DATABASE_URL: cannot create the {backend} database at {exc.filename} "
            f"({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        if not ping(engine):
            raise CommandError(f"DATABASE_URL: cannot connect to the {backend} database")
        if migrated and pending_migrations(engine):
            raise CommandError(
                f"DATABASE_URL: the {backend} database schema is behind; run `nps-bot migrate`"
            )
        yield engine
    except sa.exc.SQLAlchemyError as exc:
        raise CommandError(database_problem(exc, backend)) from None
    except AlembicError as exc:
        raise CommandError(f"DATABASE_URL: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


def progress(total: int) -> Callable[[int], None]:
    """A progress bar on stderr for `total` rows."""

    def show(done: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done >= total else ""
        print(f"\rimporting [{bar}] {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)

    return show


def text_lines(path: Path, shown: str) -> Iterator[str]:
    """The file's lines as text, endings kept; a line that is not UTF-8 stops with its number."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise CommandError(
                    f"{shown}:{number}: not UTF-8 text; save the file as CSV UTF-8 "
                    "(Excel: Save As > CSV UTF-8)"
                ) from None
