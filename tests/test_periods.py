"""Report periods: rolling windows, calendar months and quarters in a local zone, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.domain.periods import (
    Period,
    PeriodError,
    last_month,
    last_quarters,
    parse_period,
    previous_period,
)

CPH = ZoneInfo("Europe/Copenhagen")  # DST 2026: from 29 March, until 25 October
NYC = ZoneInfo("America/New_York")
NOW = datetime(2026, 5, 14, 9, 30, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- rolling windows -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "30d", "30D", " 30d "])
def test_nothing_or_30d_is_the_last_30_days_ending_now(text):
    period = parse_period(text, now=NOW, tz=CPH)
    assert period == Period(NOW - timedelta(days=30), NOW, "last 30 days")


@pytest.mark.parametrize("days", [7, 90])
def test_7d_and_90d(days):
    period = parse_period(f"{days}d", now=NOW, tz=CPH)
    assert (period.start, period.end) == (NOW - timedelta(days=days), NOW)
    assert period.label == f"last {days} days"


def test_a_rolling_window_comes_back_in_utc_whatever_zone_now_is_in():
    local_now = NOW.astimezone(CPH)
    period = parse_period("7d", now=local_now, tz=CPH)
    assert period.end == NOW and period.end.tzinfo is UTC
    assert period.end - period.start == timedelta(days=7)


# --- calendar months -------------------------------------------------------------------------


def test_a_month_starts_and_ends_at_local_midnight():
    # Copenhagen is UTC+1 in January and February.
    assert parse_period("2026-01", now=NOW, tz=CPH) == Period(
        utc(2025, 12, 31, 23), utc(2026, 1, 31, 23), "January 2026"
    )


def test_the_month_clocks_go_forward_is_an_hour_short():
    period = parse_period("2026-03", now=NOW, tz=CPH)
    assert (period.start, period.end) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert period.end - period.start == timedelta(days=31, hours=-1)
    assert period.label == "March 2026"


def test_the_month_clocks_go_back_is_an_hour_long():
    period = parse_period("2026-10", now=NOW, tz=CPH)
    assert (period.start, period.end) == (utc(2026, 9, 30, 22), utc(2026, 10, 31, 23))
    assert period.end - period.start == timedelta(days=31, hours=1)


def test_december_ends_at_new_year_local():
    period = parse_period("2026-12", now=NOW, tz=CPH)
    assert (period.start, period.end) == (utc(2026, 11, 30, 23), utc(2026, 12, 31, 23))


def test_february_of_a_leap_year():
    period = parse_period("2028-02", now=NOW, tz=UTC)
    assert period.end - period.start == timedelta(days=29)


def test_a_month_whose_local_midnight_does_not_exist_starts_when_the_day_does():
    # Paraguay moved its clocks from 00:00 to 01:00 on 1 October 2017 (-04:00 to -03:00).
    period = parse_period("2017-10", now=NOW, tz=ZoneInfo("America/Asuncion"))
    assert period.start == utc(2017, 10, 1, 4)
    assert period.start.astimezone(ZoneInfo("America/Asuncion")).hour == 1


def test_months_follow_each_other_without_gaps():
    months = [parse_period(f"2026-{m:02d}", now=NOW, tz=NYC) for m in range(1, 13)]
    assert all(a.end == b.start for a, b in pairwise(months))
    assert sum((m.end - m.start for m in months), timedelta()) == timedelta(days=365)


def test_a_fixed_offset_zone_works_too():
    period = parse_period("2026-06", now=NOW, tz=timezone(timedelta(hours=5, minutes=30)))
    assert period.start == datetime(2026, 5, 31, 18, 30, tzinfo=UTC)


# --- quarters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2026-Q1", utc(2026, 1, 1, 5), utc(2026, 4, 1, 4), "Q1 2026"),
        ("2026-Q2", utc(2026, 4, 1, 4), utc(2026, 7, 1, 4), "Q2 2026"),
        ("2026-Q3", utc(2026, 7, 1, 4), utc(2026, 10, 1, 4), "Q3 2026"),
        ("2026-q4", utc(2026, 10, 1, 4), utc(2027, 1, 1, 5), "Q4 2026"),
    ],
)
def test_quarters_in_new_york(text, start, end, label):
    # New York is UTC-5 in winter and UTC-4 in summer.
    assert parse_period(text, now=NOW, tz=NYC) == Period(start, end, label)


def test_a_quarter_is_its_three_months():
    quarter = parse_period("2026-Q1", now=NOW, tz=CPH)
    assert quarter.start == parse_period("2026-01", now=NOW, tz=CPH).start
    assert quarter.end == parse_period("2026-03", now=NOW, tz=CPH).end


# --- last month ------------------------------------------------------------------------------


def test_last_month_is_the_local_calendar_month_before_now():
    period = last_month(NOW, CPH)
    assert period == parse_period("2026-04", now=NOW, tz=CPH)
    assert period.label == "April 2026"


def test_last_month_counts_from_the_local_date_not_the_utc_one():
    # 23:30 UTC on 28 February is already 1 March in Copenhagen: last month is February.
    now = utc(2026, 2, 28, 23, 30)
    assert last_month(now, CPH).label == "February 2026"
    assert last_month(now, UTC).label == "January 2026"


def test_last_month_in_january_is_last_december():
    period = last_month(utc(2026, 1, 10), CPH)
    assert period.label == "December 2025"
    assert (period.start, period.end) == (utc(2025, 11, 30, 23), utc(2025, 12, 31, 23))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1d",
        "14d",
        "365d",
        "d",
        "-7d",
        "7 d",
        "2026-13",
        "2026-00",
        "2026-3",
        "26-03",
        "2026/03",
        "2026-03-01",
        "2026-Q0",
        "2026-Q5",
        "2026Q1",
        "Q1-2026",
        "0000-01",
        "0000-Q1",
        "9999-Q4",
        "last month",
        "march",
        "\uff12\uff10\uff12\uff16-03",  # full-width digits
    ],
)
def test_anything_else_is_refused_with_the_accepted_forms(text):
    with pytest.raises(PeriodError) as caught:
        parse_period(text, now=NOW, tz=CPH)
    message = str(caught.value)
    for form in ('""', "7d", "30d", "90d", "YYYY-MM", "YYYY-Qn"):
        assert form in message


def test_a_period_error_is_a_value_error():
    assert issubclass(PeriodError, ValueError)


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        parse_period("", now=datetime(2026, 5, 14), tz=CPH)
    with pytest.raises(ValueError, match="aware"):
        last_month(datetime(2026, 5, 14), CPH)


def test_the_last_four_quarters_are_whole_ones_before_now():
    now = datetime(2026, 2, 10, 12, tzinfo=UTC)
    labels = [p.label for p in last_quarters(now, UTC, 4)]
    assert labels == ["Q1 2025", "Q2 2025", "Q3 2025", "Q4 2025"]
    tz = ZoneInfo("America/New_York")
    first_of_april = datetime(2026, 4, 1, 3, tzinfo=UTC)  # still 31 March in New York
    periods = last_quarters(first_of_april, tz, 2)
    assert [p.label for p in periods] == ["Q3 2025", "Q4 2025"]
    assert periods[-1].end == datetime(2026, 1, 1, 5, tzinfo=UTC)


def test_the_period_before_a_month_is_the_month_before_else_as_long_just_before():
    tz = ZoneInfo("Europe/Copenhagen")
    march = parse_period("2026-03", now=NOW, tz=tz)
    assert previous_period(march, tz) == parse_period("2026-02", now=NOW, tz=tz)
    rolling = parse_period("7d", now=NOW, tz=tz)
    before = previous_period(rolling, tz)
    assert (before.start, before.end) == (rolling.start - timedelta(days=7), rolling.start)
