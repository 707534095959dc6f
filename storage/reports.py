"""Reports as SQL aggregates: KPIs, the daily digest, root causes, weekly trends; account churn and
renewal events; the BI export.

Every figure is counted by the database (COUNT/SUM with CASE), never by loading rows. Figures
are as of `now`: a contact, resolution, recovery or account event stamped later does not count
yet. Periods are half-open, [start, end), on `received_at`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from bot.domain.vocabulary import CaseStatus, Segment
from storage.db import begin_immediate
from storage.intake import Bulk
from storage.models import Account, AccountEvent, Customer, FollowUpCase, SurveyResponse

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
CUSTOMER = Customer.__table__
RESPONSE = SurveyResponse.__table__
EVENT = AccountEvent.__table__

DETRACTOR = Segment.DETRACTOR.value
RESOLVED = CaseStatus.RESOLVED.value
CHURNED = "churned"
RENEWED = "renewed"
EVENTS = frozenset({CHURNED, RENEWED})
SOURCES = frozenset({"webhook", "import"})
ACCOUNT_ID_MAX = 200

CONTACT_WITHIN = timedelta(hours=72)
RECOVERED_SCORE = 7
DAYS_PER_MONTH = 30.4375
WEEK = timedelta(days=7)

# What the program aims for, for whoever shows the figures.
TARGET_CONTACT_RATE_72H = 0.95
TARGET_CHURN_REDUCTION = (0.20, 0.50)
TARGET_ROI = 5.0


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A share, kept as its two counts so a report can show both."""

    numerator: float
    denominator: float

    @property
    def value(self) -> float | None:
        """The share, or None when there was nothing to count."""
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class KpiSummary:
    """The program's figures for cases and responses received in [start, end)."""

    start: datetime
    end: datetime
    contact_rate: Ratio
    contact_rate_72h: Ratio
    resolution_rate: Ratio
    score_recovery: Ratio
    churn_contacted: Ratio
    churn_uncontacted: Ratio
    retained_arr: float
    program_cost: float
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    nps_previous: float | None

    @property
    def churn_reduction(self) -> float | None:
        """How much lower churn is among contacted accounts: 1 - contacted ÷ uncontacted rate."""
        contacted, uncontacted = self.churn_contacted.value, self.churn_uncontacted.value
        if contacted is None or not uncontacted:
            return None
        return 1 - contacted / uncontacted

    @property
    def roi(self) -> float | None:
        """Retained ARR per unit of program cost, or None without a cost."""
        return Ratio(self.retained_arr, self.program_cost).value


def nps(*, promoters: int, detractors: int, responses: int) -> float | None:
    """The Net Promoter Score (-100 to 100), or None without responses."""
    share = Ratio(promoters - detractors, responses).value
    return None if share is None else share * 100


def program_months(start: datetime, end: datetime) -> float:
    """The period's length in average months, counting at least one day."""
    days = max((end - start).total_seconds() / 86_400, 1.0)
    return days / DAYS_PER_MONTH


# --- SQL building blocks -------------------------------------------------------------------


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
    # UTCDateTime keeps fixed-width 'YYYY-MM-DD HH:MM:SS.ffffff' text: shift the whole seconds
    # and keep the fraction, so the result compares as text exactly like a stored value.
    column = compiler.process(element.column, **kw)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '+{element.seconds} seconds')"
        f" || substr({column}, 20))"
    )


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many rows of the group meet `condition` (0 for an empty group)."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _received(column: sa.ColumnElement[datetime], start: datetime, end: datetime) -> Any:
    return sa.and_(column >= start, column < end)


def _contacted(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(CASE.c.first_contact_at.is_not(None), CASE.c.first_contact_at <= now)


def _contact_conditions(now: datetime) -> dict[str, sa.ColumnElement[bool]]:
    """Contacted by the deadline; deadline passed or contacted; the same for 72 hours."""
    contacted = _contacted(now)
    seconds = int(CONTACT_WITHIN.total_seconds())
    return {
        "on_time": sa.and_(contacted, CASE.c.first_contact_at <= CASE.c.contact_due_at),
        "due": sa.or_(CASE.c.contact_due_at < now, contacted),
        "within_72h": sa.and_(
            contacted, CASE.c.first_contact_at <= _Later(CASE.c.received_at, seconds)
        ),
        "due_72h": sa.or_(CASE.c.received_at < now - CONTACT_WITHIN, contacted),
    }


def _contact_rate_counts(now: datetime) -> list[sa.ColumnElement[int]]:
    """Contacted by the deadline, and deadline passed or contacted: the contact rate's terms."""
    conditions = _contact_conditions(now)
    return _counts({name: conditions[name] for name in ("on_time", "due")})


def _satisfied(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        CASE.c.status == RESOLVED, CASE.c.customer_satisfied.is_(True), CASE.c.resolved_at <= now
    )


def _counts(conditions: dict[str, sa.ColumnElement[bool]]) -> list[sa.ColumnElement[int]]:
    return [_count(condition).label(name) for name, condition in conditions.items()]


@dataclass(frozen=True)
class Tally:
    """Responses by NPS segment."""

    responses: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def nps(self) -> float | None:
        """The Net Promoter Score of these responses, or None without any."""
        return nps(promoters=self.promoters, detractors=self.detractors, responses=self.responses)


def _nps_columns() -> list[sa.ColumnElement[int]]:
    return [
        sa.func.count().label("responses"),
        _count(RESPONSE.c.score >= 9).label("promoters"),
        _count(RESPONSE.c.score.between(7, 8)).label("passives"),
        _count(RESPONSE.c.score <= 6).label("detractors"),
    ]


def _tally(row: sa.Row[Any]) -> Tally:
    return Tally(int(row.responses), int(row.promoters), int(row.passives), int(row.detractors))


def _check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("report periods take aware datetimes")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ValueError("a report period must end after it starts")
    return start, end


# --- KPIs ----------------------------------------------------------------------------------


def kpi_summary(
    engine: sa.Engine, *, start: datetime, end: datetime, now: datetime, monthly_cost: float
) -> KpiSummary:
    """The program's KPIs for what was received in [start, end), as of `now`."""
    start, end = _check_period(start, end)
    previous = start - (end - start)
    contacted = _contacted(now)
    case_counts = {
        **_contact_conditions(now),
        "satisfied": _satisfied(now),
        "recovered": sa.and_(CASE.c.recovery_score >= RECOVERED_SCORE, CASE.c.recovered_at <= now),
        "resurveyed": sa.and_(CASE.c.recovery_score.is_not(None), CASE.c.recovered_at <= now),
    }
    # One scan of the period's Detractor cases, grouped by account: its case counts, when its
    # first case came, whether any was contacted, and when its first contacted case came.
    accounts = (
        sa.select(
            CASE.c.account_id,
            sa.func.count().label("cases"),
            *_counts(case_counts),
            sa.func.min(CASE.c.received_at).label("first_at"),
            sa.func.max(sa.case((contacted, 1), else_=0)).label("contacted"),
            sa.func.min(sa.case((contacted, CASE.c.received_at))).label("helped_at"),
        )
        .where(CASE.c.segment == DETRACTOR, _received(CASE.c.received_at, start, end))
        .group_by(CASE.c.account_id)
        .subquery()
    )
    churned = sa.exists().where(
        EVENT.c.account_id == accounts.c.account_id,
        EVENT.c.event == CHURNED,
        EVENT.c.at > accounts.c.first_at,
        EVENT.c.at <= now,
    )
    # A renewal after the account's first contacted case retains the ARR it states (the
    # latest that states one), else the account's.
    renewal = (
        EVENT.c.account_id == accounts.c.account_id,
        EVENT.c.event == RENEWED,
        EVENT.c.at > accounts.c.helped_at,
        EVENT.c.at <= now,
    )
    renewal_arr = (
        sa.select(EVENT.c.arr)
        .where(*renewal, EVENT.c.arr.is_not(None))
        .order_by(EVENT.c.at.desc())
        .limit(1)
        .scalar_subquery()
    )
    retained = sa.case(
        (sa.exists().where(*renewal), sa.func.coalesce(renewal_arr, ACCOUNT.c.arr)), else_=0
    )
    by_contact = (
        sa.select(
            accounts.c.contacted,
            sa.func.count().label("accounts"),
            *(sa.func.sum(accounts.c[name]).label(name) for name in ("cases", *case_counts)),
            _count(churned).label("churned"),
            sa.func.coalesce(sa.func.sum(retained), 0).label("retained"),
        )
        .join(ACCOUNT, ACCOUNT.c.id == accounts.c.account_id)
        .group_by(accounts.c.contacted)
    )

    # Two plain aggregates rather than one grouped by period: a range scan each, no sort.
    scores = sa.union_all(
        *(
            sa.select(sa.literal_column(str(tag)).label("period"), *_nps_columns()).where(
                _received(RESPONSE.c.received_at, since, until)
            )
            for tag, since, until in ((1, start, end), (0, previous, start))
        )
    )

    with engine.connect() as conn:
        groups = {row.contacted: row._mapping for row in conn.execute(by_contact)}
        tallies = {row.period: _tally(row) for row in conn.execute(scores)}

    def total(name: str) -> int:
        return sum(int(group[name]) for group in groups.values())

    def churn_ratio(flag: int) -> Ratio:
        group = groups.get(flag)
        return Ratio(int(group["churned"]), group["accounts"]) if group else Ratio(0, 0)

    current, before = tallies[1], tallies[0]
    return KpiSummary(
        start=start,
        end=end,
        contact_rate=Ratio(total("on_time"), total("due")),
        contact_rate_72h=Ratio(total("within_72h"), total("due_72h")),
        resolution_rate=Ratio(total("satisfied"), total("cases")),
        score_recovery=Ratio(total("recovered"), total("resurveyed")),
        churn_contacted=churn_ratio(1),
        churn_uncontacted=churn_ratio(0),
        retained_arr=float(groups[1]["retained"]) if 1 in groups else 0.0,
        program_cost=monthly_cost * program_months(start, end),
        responses=current.responses,
        promoters=current.promoters,
        passives=current.passives,
        detractors=current.detractors,
        nps=current.nps,
        nps_previous=before.nps,
    )


# --- the daily digest ----------------------------------------------------------------------


@dataclass(frozen=True)
class DigestRow:
    """One open case in a digest."""

    case_id: int
    customer_name: str
    account_name: str
    arr: float | None
    score: int
    segment: str
    status: str
    owner_user_id: str | None
    owner_ref: str | None
    contact_due_at: datetime
    overdue: bool
    card_channel: str | None
    card_ts: str | None


@dataclass(frozen=True)
class DigestCounts:
    """What happened on one local day, what is overdue now, and the last week's contact rate."""

    day_start: datetime
    day_end: datetime
    new_cases: int
    contacted: int
    resolved: int
    overdue: int
    contact_rate_7d: Ratio


def _overdue(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(CASE.c.first_contact_at.is_(None), CASE.c.contact_due_at < now)


def digest_rows(
    engine: sa.Engine, *, owners: Collection[str] | None, now: datetime, limit: int = 30
) -> list[DigestRow]:
    """Open cases (of `owners` only, if given): highest ARR first, then oldest."""
    if owners is not None and not owners:
        return []
    overdue = sa.case((_overdue(now), True), else_=False).label("overdue")
    query = (
        sa.select(
            CASE.c.id,
            CUSTOMER.c.name.label("customer_name"),
            ACCOUNT.c.name.label("account_name"),
            ACCOUNT.c.arr,
            CASE.c.score,
            CASE.c.segment,
            CASE.c.status,
            CASE.c.owner_user_id,
            CASE.c.owner_ref,
            CASE.c.contact_due_at,
            overdue,
            CASE.c.card_channel,
            CASE.c.card_ts,
        )
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .join(CUSTOMER, CUSTOMER.c.id == CASE.c.customer_id)
        .where(CASE.c.status != RESOLVED)
        .order_by(ACCOUNT.c.arr.desc().nulls_last(), CASE.c.received_at, CASE.c.id)
        .limit(limit)
    )
    if owners is not None:
        query = query.where(CASE.c.owner_user_id.in_(sorted(set(owners))))
    with engine.connect() as conn:
        return [
            DigestRow(
                case_id=row.id,
                customer_name=row.customer_name,
                account_name=row.account_name,
                arr=row.arr,
                score=row.score,
                segment=row.segment,
                status=row.status,
                owner_user_id=row.owner_user_id,
                owner_ref=row.owner_ref,
                contact_due_at=row.contact_due_at,
                overdue=bool(row.overdue),
                card_channel=row.card_channel,
                card_ts=row.card_ts,
            )
            for row in conn.execute(query)
        ]


def digest_counts(
    engine: sa.Engine, *, day_start: datetime, day_end: datetime, now: datetime
) -> DigestCounts:
    """Cases received, first contacted and resolved in [day_start, day_end); overdue now."""
    day_start, day_end = _check_period(day_start, day_end)

    def how_many(*where: Any) -> sa.ScalarSelect[int]:
        return sa.select(sa.func.count()).select_from(CASE).where(*where).scalar_subquery()

    # Separate subqueries, so each can use its own index, in one round trip.
    counts = sa.select(
        how_many(_received(CASE.c.received_at, day_start, day_end)).label("new_cases"),
        how_many(_received(CASE.c.first_contact_at, day_start, day_end)).label("contacted"),
        how_many(_received(CASE.c.resolved_at, day_start, day_end)).label("resolved"),
        how_many(CASE.c.status != RESOLVED, _overdue(now)).label("overdue"),
    )
    week = sa.select(*_contact_rate_counts(now)).where(
        CASE.c.segment == DETRACTOR, _received(CASE.c.received_at, now - WEEK, now)
    )
    with engine.connect() as conn:
        c = conn.execute(counts).one()
        w = conn.execute(week).one()
    return DigestCounts(
        day_start=day_start,
        day_end=day_end,
        new_cases=c.new_cases,
        contacted=c.contacted,
        resolved=c.resolved,
        overdue=c.overdue,
        contact_rate_7d=Ratio(w.on_time, w.due),
    )


# --- root causes and trends ----------------------------------------------------------------


@dataclass(frozen=True)
class RootCauseRow:
    """One root cause over a period: its cases, their average score, the ARR of the accounts."""

    cause: str
    cases: int
    average_score: float
    arr_at_risk: float


def root_cause_rollup(engine: sa.Engine, *, start: datetime, end: datetime) -> list[RootCauseRow]:
    """Cases received in [start, end) with a root cause, by cause: largest ARR at risk first."""
    start, end = _check_period(start, end)
    # Per cause and account first, so each account's ARR counts once per cause.
    per_account = (
        sa.select(
            CASE.c.root_cause,
            CASE.c.account_id,
            sa.func.count().label("cases"),
            sa.func.sum(CASE.c.score).label("score_sum"),
        )
        .where(CASE.c.root_cause.is_not(None), _received(CASE.c.received_at, start, end))
        .group_by(CASE.c.root_cause, CASE.c.account_id)
        .subquery()
    )
    cases = sa.func.sum(per_account.c.cases).label("cases")
    arr = sa.func.coalesce(sa.func.sum(ACCOUNT.c.arr), 0).label("arr_at_risk")
    query = (
        sa.select(per_account.c.root_cause, cases, sa.func.sum(per_account.c.score_sum), arr)
        .join(ACCOUNT, ACCOUNT.c.id == per_account.c.account_id)
        .group_by(per_account.c.root_cause)
        .order_by(arr.desc(), cases.desc(), per_account.c.root_cause)
    )
    with engine.connect() as conn:
        return [
            RootCauseRow(cause, int(n), float(score_sum) / int(n), float(at_risk))
            for cause, n, score_sum, at_risk in conn.execute(query)
        ]


@dataclass(frozen=True)
class WeekPoint:
    """One week of the trend: contact rate, satisfied resolutions and NPS (None: nothing yet)."""

    week_start: datetime
    contact_rate: float | None
    resolution_rate: float | None
    nps: float | None


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the UTC week `moment` falls in."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly_series(engine: sa.Engine, *, weeks: int, end: datetime) -> list[WeekPoint]:
    """The `weeks` whole UTC weeks (Monday 00:00 UTC) before `end`, oldest first, as of `end`.

    The week `end` falls in is left out until it is over.
    """
    if weeks < 1:
        return []
    last = week_start(end)
    starts = [last - WEEK * (weeks - i) for i in range(weeks)]

    def bucket(column: sa.ColumnElement[datetime]) -> sa.ColumnElement[int]:
        return sa.case(
            *((column < start + WEEK, i) for i, start in enumerate(starts)), else_=None
        ).label("week")

    # Grouped by the output column's name: the CASE carries its bounds as parameters.
    by_week = sa.literal_column("week")
    cases = (
        sa.select(
            bucket(CASE.c.received_at),
            sa.func.count().label("cases"),
            *_contact_rate_counts(end),
            _count(_satisfied(end)).label("satisfied"),
        )
        .where(CASE.c.segment == DETRACTOR, _received(CASE.c.received_at, starts[0], last))
        .group_by(by_week)
    )
    scores = (
        sa.select(bucket(RESPONSE.c.received_at), *_nps_columns())
        .where(_received(RESPONSE.c.received_at, starts[0], last))
        .group_by(by_week)
    )
    with engine.connect() as conn:
        by_cases = {row.week: row for row in conn.execute(cases)}
        by_scores = {row.week: _tally(row) for row in conn.execute(scores)}

    points = []
    for i, start in enumerate(starts):
        c = by_cases.get(i)
        points.append(
            WeekPoint(
                week_start=start,
                contact_rate=Ratio(c.on_time, c.due).value if c else None,
                resolution_rate=Ratio(c.satisfied, c.cases).value if c else None,
                nps=by_scores.get(i, Tally()).nps,
            )
        )
    return points


# --- account events ------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountEventRow:
    """A churn or renewal to record."""

    account_id: str
    event: str
    at: datetime
    arr: float | None = None


@dataclass(frozen=True)
class CsvError:
    """A line of an import that was not taken, and why (never its content)."""

    line: int
    reason: str


@dataclass(frozen=True)
class ImportResult:
    """Lines read, events stored, and events already stored before."""

    read: int
    created: int
    duplicates: int


EVENT_COLUMNS = ("account_id", "event", "at:t", "arr", "source", "created_at:t")
CSV_HEADER = ("account_id", "event", "at", "arr")


def _check_event(row: AccountEventRow) -> None:
    if not row.account_id or len(row.account_id) > ACCOUNT_ID_MAX:
        raise ValueError(f"an account id takes 1 to {ACCOUNT_ID_MAX} characters")
    if row.event not in EVENTS:
        raise ValueError(f"unknown account event: {row.event!r}")
    if row.at.tzinfo is None:
        raise ValueError("an account event needs an aware time")
    if row.arr is not None and not (math.isfinite(row.arr) and row.arr >= 0):
        raise ValueError("ARR must be a finite number, zero or more")


def _store_events(
    conn: sa.Connection, rows: Sequence[AccountEventRow], *, source: str, now: datetime
) -> int:
    """Insert events (and a bare account for any unknown id); return how many were new."""
    if source not in SOURCES:
        raise ValueError(f"unknown event source: {source!r}")
    for row in rows:
        _check_event(row)
    bulk = Bulk(conn)
    accounts = sorted({row.account_id for row in rows})  # a fixed lock order
    bulk.insert(
        "account",
        ("id", "name", "created_at:t", "updated_at:t"),
        [(account_id, account_id, now, now) for account_id in accounts],
        " ON CONFLICT (id) DO NOTHING",
    )
    values = [(r.account_id, r.event, r.at, r.arr, source, now) for r in rows]
    suffix = " ON CONFLICT (account_id, event, at) DO NOTHING RETURNING id"
    return len(bulk.insert("account_event", EVENT_COLUMNS, values, suffix).all())


def record_account_event(
    engine: sa.Engine,
    *,
    account_id: str,
    event: str,
    at: datetime,
    arr: float | None,
    source: str,
    now: datetime,
) -> bool:
    """Record that an account churned or renewed; False if that event was already recorded."""
    row = AccountEventRow(account_id, event, at, arr)
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            return _store_events(conn, [row], source=source, now=now) == 1


def _batches(rows: Iterable[AccountEventRow], size: int) -> Iterator[list[AccountEventRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def import_account_events(
    engine: sa.Engine,
    rows: Iterable[AccountEventRow],
    *,
    now: datetime,
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store imported events, one transaction per batch; lines already stored change nothing.

    `progress` is told how many rows have been read after each batch.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    read = created = 0
    with engine.connect() as conn:
        for chunk in _batches(rows, batch):
            begin_immediate(conn)
            with conn.begin():
                created += _store_events(conn, chunk, source="import", now=now)
            read += len(chunk)
            if progress is not None:
                progress(read)
    return ImportResult(read=read, created=created, duplicates=read - created)


def _csv_row(fields: list[str]) -> AccountEventRow | str:
    """The event a CSV record holds, or why it holds none."""
    if len(fields) != len(CSV_HEADER):
        return f"expected {len(CSV_HEADER)} fields, found {len(fields)}"
    account_id, event, at_text, arr_text = (f.strip() for f in fields)
    if not account_id:
        return "account_id is empty"
    if len(account_id) > ACCOUNT_ID_MAX:
        return f"account_id is longer than {ACCOUNT_ID_MAX} characters"
    if event not in EVENTS:
        return "event must be churned or renewed"
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        return "at is not an ISO 8601 date and time"
    if at.tzinfo is None:
        return "at has no time zone (add Z or an offset such as +01:00)"
    arr: float | None = None
    if arr_text:
        try:
            arr = float(arr_text)
        except ValueError:
            return "arr is not a number"
        if not math.isfinite(arr) or arr < 0:
            return "arr must be a finite number, zero or more"
    return AccountEventRow(account_id, event, at, arr)


def parse_account_csv(lines: Iterable[str]) -> Iterator[AccountEventRow | CsvError]:
    """Events from CSV lines under the header account_id,event,at,arr; bad lines as CsvError."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        yield CsvError(1, "the file is empty: expected the header account_id,event,at,arr")
        return
    except csv.Error:
        header = []
    names = tuple(name.strip().lstrip("\ufeff").lower() for name in header)
    if names != CSV_HEADER:
        yield CsvError(reader.line_num or 1, "the header must be account_id,event,at,arr")
        return
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield CsvError(reader.line_num, "not valid CSV")
            continue
        if not any(field.strip() for field in fields):
            continue
        parsed = _csv_row(fields)
        yield CsvError(reader.line_num, parsed) if isinstance(parsed, str) else parsed


# --- the BI export -------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "case_id",
    "response_id",
    "survey",
    "submitted_at",
    "received_at",
    "segment",
    "score",
    "reasons",
    "status",
    "owner_user_id",
    "claimed_by",
    "claimed_at",
    "contact_due_at",
    "resolution_due_at",
    "first_contact_at",
    "contact_count",
    "overdue_at",
    "resolved_at",
    "customer_satisfied",
    "root_cause",
    "recovery_score",
    "recovered_at",
    "account_id",
    "account_name",
    "account_arr",
    "account_plan",
    "account_renewal_date",
    "customer_id",
)


def export_cases(engine: sa.Engine, *, chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """Every case with its response and account, for BI, streamed in chunks; no personal data.

    Comments, notes, customer names, emails and phones stay out, and so does `owner_ref` (it
    may be an email).
    """
    query = (
        sa.select(
            CASE.c.id.label("case_id"),
            CASE.c.response_id,
            RESPONSE.c.survey,
            RESPONSE.c.submitted_at,
            CASE.c.received_at,
            CASE.c.segment,
            CASE.c.score,
            CASE.c.reasons,
            CASE.c.status,
            CASE.c.owner_user_id,
            CASE.c.claimed_by,
            CASE.c.claimed_at,
            CASE.c.contact_due_at,
            CASE.c.resolution_due_at,
            CASE.c.first_contact_at,
            CASE.c.contact_count,
            CASE.c.overdue_at,
            CASE.c.resolved_at,
            CASE.c.customer_satisfied,
            CASE.c.root_cause,
            CASE.c.recovery_score,
            CASE.c.recovered_at,
            CASE.c.account_id,
            ACCOUNT.c.name.label("account_name"),
            ACCOUNT.c.arr.label("account_arr"),
            ACCOUNT.c.plan.label("account_plan"),
            ACCOUNT.c.renewal_date.label("account_renewal_date"),
            CASE.c.customer_id,
        )
        .join(RESPONSE, RESPONSE.c.response_id == CASE.c.response_id)
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .order_by(CASE.c.id)
    )
    with engine.connect() as conn:
        # yield_per streams: a server-side cursor on PostgreSQL, incremental fetches on SQLite.
        for row in conn.execution_options(yield_per=chunk).execute(query):
            record = dict(row._mapping)
            record["reasons"] = ",".join(record["reasons"] or [])
            yield record
