"""SQL helpers, and every difference between SQLite and PostgreSQL the queries need.

One way to write: SQLAlchemy Core expressions for reads and updates, `Bulk` for inserts, and
every write inside `with writing(engine) as conn:`. Besides the engine's setup (`storage.db`)
and the migrations, no other module asks which database it runs on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

SQLITE_ROWS_PER_INSERT = 500


def _postgres(conn: sa.Connection) -> bool:
    """Whether the connection talks to PostgreSQL (else SQLite)."""
    return conn.dialect.name == "postgresql"


# --- transactions --------------------------------------------------------------------------


def begin_immediate(conn: sa.Connection) -> None:
    """Ask for the write lock when the next transaction starts (SQLite); no-op elsewhere.

    The engine's `begin` hook (`storage.db.create_db_engine`) reads the statement back.
    """
    if conn.dialect.name == "sqlite":
        conn.info["begin"] = "BEGIN IMMEDIATE"


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in one write transaction, committed on success; SQLite locks up front."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            yield conn


# --- values --------------------------------------------------------------------------------


def json_text(value: Any) -> str:
    """The compact JSON text stored for a value."""
    return json.dumps(value, separators=(",", ":"))


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL stores `timestamptz`; SQLite stores fixed-width ISO text in UTC, which sorts and
    compares correctly as text and is much cheaper to bind than SQLAlchemy's generic DATETIME.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return self.to_sqlite(value) if dialect.name == "sqlite" else value

    @staticmethod
    def to_sqlite(value: datetime) -> str:
        """The text SQLite stores for an aware datetime: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC."""
        return (
            value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class _Later(sa.sql.expression.ColumnElement[datetime]):
    """A UTCDateTime column moved later by a fixed number of whole seconds."""

    inherit_cache = True
    type = sa.String()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("seconds", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, column: sa.ColumnElement[datetime], seconds: int) -> None:
        self.column = column
        self.seconds = seconds


@compiles(_Later)
def _later_default(element: _Later, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"({column} + interval '{element.seconds} seconds')"


@compiles(_Later, "sqlite")
def _later_sqlite(element: _Later, compiler: Any, **kw: Any) -> str:
    # Shift the whole seconds of UTCDateTime's text and keep its fraction, so the result
    # compares as text exactly like a stored value.
    column = compiler.process(element.column, **kw)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '+{element.seconds} seconds')"
        f" || substr({column}, 20))"
    )


def later(column: sa.ColumnElement[datetime], seconds: int) -> sa.ColumnElement[datetime]:
    """`column` plus whole `seconds`, comparable with other UTCDateTime values."""
    return _Later(column, seconds)


# --- clauses -------------------------------------------------------------------------------


def among(conn: sa.Connection, column: sa.ColumnElement[int], ids: Sequence[int]) -> Any:
    """`column IN ids`; one array parameter on PostgreSQL instead of a thousand."""
    if _postgres(conn):
        return column == sa.any_(sa.bindparam(None, list(ids), type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(ids)


def skip_locked(query: sa.Select[Any], *, of: sa.Table) -> sa.Select[Any]:
    """Lock `of`'s rows, skipping those another transaction holds (PostgreSQL).

    SQLite renders no lock clause: a writer there holds the database's write lock already.
    """
    return query.with_for_update(skip_locked=True, of=of)


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return (postgresql if _postgres(conn) else sqlite).insert(table)


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
    keep_when_null: Sequence[str] = (),
) -> None:
    """Insert rows, updating `update` columns on a `key` conflict; `keep_when_null` columns
    keep their stored value where the new one is NULL."""
    if not rows:
        return
    stmt = _insert(conn, table).values(list(rows))
    changes = {
        name: (
            sa.func.coalesce(stmt.excluded[name], table.c[name])
            if name in keep_when_null
            else stmt.excluded[name]
        )
        for name in update
    }
    conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=changes))


def insert_missing(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    returning: sa.ColumnElement[Any] | None = None,
) -> list[Any]:
    """Insert the rows whose `key` is not taken yet; the `returning` values of those inserted."""
    if not rows:
        return []
    stmt = _insert(conn, table).values(list(rows)).on_conflict_do_nothing(index_elements=list(key))
    if returning is None:
        conn.execute(stmt)
        return []
    return list(conn.execute(stmt.returning(returning)).scalars())


# --- multi-row inserts ---------------------------------------------------------------------


class Bulk:
    """Multi-row statements straight to the driver: one round trip and no per-row ORM work.

    The intake writes thousands of small rows a second; one `INSERT ... VALUES (...), (...)`
    per table keeps the writer's cost per response low. Column names may carry a kind:
    `name:t` (aware datetime), `name:d` (date) or `name:j` (JSON).
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.postgres = _postgres(conn)
        self.mark = "%s" if self.postgres else "?"
        self._times: dict[datetime, str] = {}
        self._jsons: dict[int, str] = {}

    def _time(self, value: datetime | None) -> Any:
        if value is None or self.postgres:
            return value
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = UTCDateTime.to_sqlite(value)
        return text

    def _date(self, value: date | None) -> Any:
        return value if value is None or self.postgres else value.isoformat()

    def _json(self, value: Any) -> str:
        # The same object (a case's frozen policy, shared per segment) is encoded once; every
        # row holds its values until the statement runs, so ids cannot be reused meanwhile.
        text = self._jsons.get(id(value))
        if text is None:
            text = self._jsons[id(value)] = json_text(value)
        return text

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], suffix: str = ""
    ) -> sa.CursorResult[Any]:
        """One `INSERT ... VALUES` of every row; `suffix` adds ON CONFLICT or RETURNING."""
        names, kinds = zip(*(c.partition(":")[::2] for c in columns), strict=True)
        convert = {"t": self._time, "d": self._date, "j": self._json}
        converters = [(i, convert[k]) for i, k in enumerate(kinds) if k]
        params: list[Any] = []
        for row in rows:
            values = list(row)
            for i, fn in converters:
                values[i] = fn(values[i])
            params.extend(values)
        group = "(" + ", ".join([self.mark] * len(names)) + ")"
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES " + ", ".join([group] * len(rows))
        return self.conn.exec_driver_sql(sql + suffix, tuple(params))

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append plain rows (no conflicts, nothing returned): COPY on PostgreSQL, else INSERT."""
        if not rows:
            return
        if not self.postgres:
            for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
                self.insert(table, columns, rows[start : start + SQLITE_ROWS_PER_INSERT])
            return
        names, kinds = zip(*(c.partition(":")[::2] for c in columns), strict=True)
        json_columns = [i for i, kind in enumerate(kinds) if kind == "j"]
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                values = list(row)
                for i in json_columns:
                    values[i] = self._json(values[i])
                copy.write_row(values)

    def copy_with_ids(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        """Append rows as `copy` does and return their new ids, in the rows' order.

        The ids are taken first: from the table's sequence on PostgreSQL, after the largest id
        on SQLite (whose writer holds the write lock, so nobody else takes them meanwhile).
        """
        if not rows:
            return []
        if self.postgres:
            next_ids = sa.text(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"
                " FROM generate_series(1, :n)"
            )
            ids = list(self.conn.execute(next_ids, {"n": len(rows)}).scalars())
        else:
            largest = self.conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            first = largest.scalar_one() + 1
            ids = list(range(first, first + len(rows)))
        self.copy(table, ("id", *columns), [(i, *row) for i, row in zip(ids, rows, strict=True)])
        return ids
