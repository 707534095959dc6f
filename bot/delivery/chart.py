"""The weekly KPI chart for the `/nps` reports, drawn on a `Canvas` and returned as PNG bytes."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple, Protocol

from bot.delivery.png import GLYPH_HEIGHT, Canvas, hex_color, text_width
from bot.domain import targets

WIDTH_PX = 1000
HEIGHT_PX = 500
MAX_WEEK_LABELS = 13
TITLE_LIMIT = 90
CONTACT_TARGET = round(targets.CONTACT * 100)
RESOLUTION_TARGET = round(targets.RESOLUTION * 100)

CONTACT_COLOR = "#1264a3"
RESOLUTION_COLOR = "#2eb67d"
NPS_COLOR = "#e01e5a"
TEXT_COLOR = "#1d1c1d"
MUTED_COLOR = "#616061"
GRID_COLOR = "#dddddd"

# The plot area, in pixels from the top-left corner; the right and bottom edges are exclusive.
PLOT_LEFT = 90
PLOT_RIGHT = 910
PLOT_TOP = 62
PLOT_BOTTOM = 376

LINE_WIDTH = 2
MARKER_RADIUS = 3
TEXT_SCALE = 2
LINE_HEIGHT = GLYPH_HEIGHT * TEXT_SCALE
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class WeekPointLike(Protocol):
    """One week's rates (fractions, 0 to 1) and NPS (-100 to 100); None when nothing counted."""

    @property
    def week_start(self) -> datetime: ...
    @property
    def contact_rate(self) -> float | None: ...
    @property
    def resolution_rate(self) -> float | None: ...
    @property
    def nps(self) -> float | None: ...


class _Series(NamedTuple):
    """How a line and its legend entry look: square or round markers, or a dashed target."""

    label: str
    color: str
    square: bool = False
    dashed: bool = False


CONTACT = _Series("Contact rate", CONTACT_COLOR)
RESOLUTION = _Series("Resolution rate", RESOLUTION_COLOR)
NPS = _Series("NPS (right axis)", NPS_COLOR, square=True)
CONTACT_GOAL = _Series(f"Contact target {CONTACT_TARGET}%", CONTACT_COLOR, dashed=True)
RESOLUTION_GOAL = _Series(f"Resolution target {RESOLUTION_TARGET}%", RESOLUTION_COLOR, dashed=True)


def _y(percent: float) -> float:
    """The row of a value on the left axis (0 to 100), clamped to the plot area."""
    clamped = min(100.0, max(0.0, percent))
    return PLOT_BOTTOM - 1 - clamped / 100 * (PLOT_BOTTOM - 1 - PLOT_TOP)


def _percent(value: float | None) -> float | None:
    """A rate (0 to 1) in percent; None, or NaN, is a week without a value."""
    return None if value is None or math.isnan(value) else value * 100


def _nps_percent(value: float | None) -> float | None:
    """NPS (-100 to 100) as a height on the left axis's 0 to 100 scale."""
    return None if value is None or math.isnan(value) else (value + 100) / 2


def _week_label(on: date) -> str:
    return f"{MONTHS[on.month - 1]} {on.day:02d}"


def _week_xs(weeks: Sequence[date]) -> list[float]:
    """Columns of the weeks, half a week of margin either side, as many days apart as they are."""
    if not weeks:
        return []
    low = weeks[0].toordinal() - 3.5
    span = weeks[-1].toordinal() - weeks[0].toordinal() + 7
    width = PLOT_RIGHT - PLOT_LEFT
    return [PLOT_LEFT + (w.toordinal() - low) / span * width for w in weeks]


def _truncate(title: str) -> str:
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 3].rstrip() + "..."


def _draw_title(canvas: Canvas, title: str) -> None:
    """Left-aligned over the plot: large on one line when it fits, else smaller on two."""
    room = WIDTH_PX - PLOT_LEFT - 20
    text = _truncate(title)
    ink = hex_color(TEXT_COLOR)
    if text_width(text, 3) <= room:
        canvas.text(PLOT_LEFT, 18, text, ink, scale=3)
        return
    per_line = (room + TEXT_SCALE) // (6 * TEXT_SCALE)
    lines = textwrap.wrap(text, per_line, max_lines=2, placeholder="...")
    for i, line in enumerate(lines):
        canvas.text(PLOT_LEFT, 12 + i * (LINE_HEIGHT + 6), line, ink, scale=TEXT_SCALE)


def _draw_axes(canvas: Canvas) -> None:
    """Grid, frame, the left axis in percent and the right axis in NPS points."""
    grid, muted = hex_color(GRID_COLOR), hex_color(MUTED_COLOR)
    ink = hex_color(TEXT_COLOR)
    width = PLOT_RIGHT - PLOT_LEFT
    for percent in range(0, 101, 25):
        row = round(_y(percent))
        canvas.rect(PLOT_LEFT, row, width, 1, grid)
        left_label = f"{percent}%"
        nps = percent * 2 - 100
        right_label = f"{nps:+d}" if nps else "0"
        top = row - LINE_HEIGHT // 2
        left_x = PLOT_LEFT - 10 - text_width(left_label, TEXT_SCALE)
        canvas.text(left_x, top, left_label, ink, scale=TEXT_SCALE)
        canvas.text(PLOT_RIGHT + 10, top, right_label, ink, scale=TEXT_SCALE)
        canvas.rect(PLOT_LEFT - 5, row, 5, 1, muted)
        canvas.rect(PLOT_RIGHT, row, 5, 1, muted)
    canvas.rect(PLOT_LEFT - 1, PLOT_TOP, 1, PLOT_BOTTOM - PLOT_TOP, grid)
    canvas.rect(PLOT_RIGHT, PLOT_TOP, 1, PLOT_BOTTOM - PLOT_TOP, grid)
    canvas.rect(PLOT_LEFT - 1, PLOT_BOTTOM, width + 2, 1, grid)
    middle = (PLOT_TOP + PLOT_BOTTOM) // 2
    left_title = "Contact and resolution rate"
    bottom = middle + text_width(left_title, TEXT_SCALE) // 2
    canvas.text(14, bottom, left_title, muted, scale=TEXT_SCALE, upward=True)
    bottom = middle + text_width("NPS", TEXT_SCALE) // 2
    nps_x = WIDTH_PX - 14 - LINE_HEIGHT
    canvas.text(nps_x, bottom, "NPS", hex_color(NPS_COLOR), scale=TEXT_SCALE, upward=True)


def _draw_weeks(canvas: Canvas, weeks: Sequence[date], xs: Sequence[float]) -> None:
    """A tick on every week; a label on every week or, when crowded, every few weeks."""
    muted, ink = hex_color(MUTED_COLOR), hex_color(TEXT_COLOR)
    step = max(1, math.ceil(len(weeks) / MAX_WEEK_LABELS))
    pitch = step * (xs[-1] - xs[0]) / (len(xs) - 1) if len(xs) > 1 else PLOT_RIGHT - PLOT_LEFT
    for x in xs:
        canvas.rect(round(x), PLOT_BOTTOM + 1, 1, 3, muted)
    for i, (week, x) in enumerate(zip(weeks[::step], xs[::step], strict=True)):
        label = _week_label(week)
        label_width = text_width(label, TEXT_SCALE)
        stagger = label_width + 10 > pitch and i % 2 == 1
        canvas.rect(round(x), PLOT_BOTTOM + 1, 1, 6 + (16 if stagger else 0), muted)
        top = PLOT_BOTTOM + 10 + (18 if stagger else 0)
        canvas.text(round(x - label_width / 2), top, label, ink, scale=TEXT_SCALE)
    years = "-".join(str(y) for y in sorted({weeks[0].year, weeks[-1].year}))
    caption = f"Week starting ({years})"
    left = (PLOT_LEFT + PLOT_RIGHT - text_width(caption, TEXT_SCALE)) // 2
    canvas.text(left, PLOT_BOTTOM + 50, caption, muted, scale=TEXT_SCALE)


def _draw_marker(canvas: Canvas, x: float, y: float, series: _Series) -> None:
    color = hex_color(series.color)
    if series.square:
        side = 2 * MARKER_RADIUS + 1
        canvas.rect(round(x) - MARKER_RADIUS, round(y) - MARKER_RADIUS, side, side, color)
    else:
        canvas.dot(x, y, MARKER_RADIUS, color)


def _draw_series(
    canvas: Canvas, xs: Sequence[float], values: Sequence[float | None], series: _Series
) -> None:
    """Segments between neighbouring weeks that both have a value, and a marker on each value."""
    color = hex_color(series.color)
    ys = [None if v is None else _y(v) for v in values]
    for i in range(1, len(ys)):
        before, after = ys[i - 1], ys[i]
        if before is not None and after is not None:
            canvas.line(xs[i - 1], before, xs[i], after, color, LINE_WIDTH)
    for x, y in zip(xs, ys, strict=True):
        if y is not None:
            _draw_marker(canvas, x, y, series)


def _draw_target(canvas: Canvas, percent: int, series: _Series) -> None:
    y = round(_y(percent))
    color = hex_color(series.color)
    canvas.dashed_hline(PLOT_LEFT, PLOT_RIGHT, y, color, width=LINE_WIDTH, dash=8, gap=5)


def _legend_entry(canvas: Canvas, x: int, y: int, series: _Series) -> None:
    """A 28-pixel sample (dashes for a target, else a line with its marker) and the label."""
    middle = y + LINE_HEIGHT // 2
    color = hex_color(series.color)
    if series.dashed:
        canvas.dashed_hline(x, x + 29, middle, color, width=LINE_WIDTH, dash=8, gap=5)
    else:
        canvas.line(x, middle, x + 28, middle, color, LINE_WIDTH)
        _draw_marker(canvas, x + 14, middle, series)
    canvas.text(x + 38, y, series.label, hex_color(TEXT_COLOR), scale=TEXT_SCALE)


def _draw_legend(canvas: Canvas) -> None:
    """Three columns under the axis: each series over its target (NPS has none)."""
    columns = [[CONTACT, CONTACT_GOAL], [RESOLUTION, RESOLUTION_GOAL], [NPS]]
    widths = [38 + max(text_width(s.label, TEXT_SCALE) for s in column) for column in columns]
    gap = 36
    x = (WIDTH_PX - sum(widths) - gap * (len(widths) - 1)) // 2
    for column, width in zip(columns, widths, strict=True):
        for row, series in enumerate(column):
            _legend_entry(canvas, x, PLOT_BOTTOM + 78 + row * (LINE_HEIGHT + 8), series)
        x += width + gap


def _draw_no_data(canvas: Canvas) -> None:
    message = "No data yet"
    width = text_width(message, 3)
    x = (PLOT_LEFT + PLOT_RIGHT - width) // 2
    y = (PLOT_TOP + PLOT_BOTTOM - GLYPH_HEIGHT * 3) // 2
    canvas.rect(x - 10, y - 10, width + 20, GLYPH_HEIGHT * 3 + 20, (255, 255, 255))
    canvas.text(x, y, message, hex_color(MUTED_COLOR), scale=3)


def weekly_chart_png(points: Sequence[WeekPointLike], *, title: str) -> bytes:
    """A 1000x500 PNG of the weekly contact and resolution rates against target, and NPS."""
    ordered = sorted(points, key=lambda p: p.week_start)
    weeks = [p.week_start.date() for p in ordered]
    xs = _week_xs(weeks)
    canvas = Canvas(WIDTH_PX, HEIGHT_PX)
    _draw_axes(canvas)
    _draw_target(canvas, CONTACT_TARGET, CONTACT_GOAL)
    _draw_target(canvas, RESOLUTION_TARGET, RESOLUTION_GOAL)
    contact = [_percent(p.contact_rate) for p in ordered]
    resolution = [_percent(p.resolution_rate) for p in ordered]
    nps = [_nps_percent(p.nps) for p in ordered]
    _draw_series(canvas, xs, contact, CONTACT)
    _draw_series(canvas, xs, resolution, RESOLUTION)
    _draw_series(canvas, xs, nps, NPS)
    if weeks:
        _draw_weeks(canvas, weeks, xs)
    if all(v is None for v in (*contact, *resolution, *nps)):
        _draw_no_data(canvas)
    _draw_legend(canvas)
    _draw_title(canvas, title)
    return canvas.to_png()
