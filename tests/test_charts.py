"""The weekly chart: a decodable 1000x500 PNG showing each series where its data is, nothing kept.

The PNG is decoded here with zlib and struct alone, so the checks need no imaging library.
"""

from __future__ import annotations

import gc
import math
import struct
import subprocess
import sys
import tracemalloc
import weakref
import zlib
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.delivery import chart
from bot.delivery.chart import (
    CONTACT_COLOR,
    GRID_COLOR,
    HEIGHT_PX,
    MUTED_COLOR,
    NPS_COLOR,
    PLOT_BOTTOM,
    PLOT_LEFT,
    PLOT_RIGHT,
    PLOT_TOP,
    RESOLUTION_COLOR,
    TEXT_COLOR,
    WIDTH_PX,
    weekly_chart_png,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MONDAY = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Week:
    week_start: datetime
    contact_rate: float | None = None
    resolution_rate: float | None = None
    nps: float | None = None


def weeks(count: int) -> list[Week]:
    """Contact missing in week 3, resolution in weeks 3 and 4, NPS in week 6."""
    return [
        Week(
            MONDAY + timedelta(weeks=i),
            contact_rate=None if i == 3 else 0.7 + 0.02 * i,
            resolution_rate=None if i in (3, 4) else 0.5 + 0.01 * i,
            nps=None if i == 6 else -10.0 + 4 * i,
        )
        for i in range(count)
    ]


# --- a small PNG decoder: chunks, IHDR, IDAT joined, the five filter types reversed ---


@dataclass
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def at(self, x: int, y: int) -> tuple[int, ...]:
        start = x * self.channels
        return tuple(self.rows[y][start : start + 3])

    def find(
        self, color: str, *, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0
    ) -> Iterator[tuple[int, int]]:
        """Every (x, y) of exactly `color` ('#rrggbb') in the box, edges right and bottom open."""
        right, bottom = right or self.width, bottom or self.height
        wanted = bytes.fromhex(color[1:])
        for y in range(top, bottom):
            row = self.rows[y]
            at = row.find(wanted, left * self.channels)
            while at != -1 and at < right * self.channels:
                if at % self.channels == 0:
                    yield at // self.channels, y
                at = row.find(wanted, at + 1)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, row: bytearray, previous: bytes, bpp: int) -> bytearray:
    if kind == 0:
        return row
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = previous[i]
        upper_left = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            guess = left
        elif kind == 2:
            guess = up
        elif kind == 3:
            guess = (left + up) // 2
        elif kind == 4:
            guess = _paeth(left, up, upper_left)
        else:
            raise AssertionError(f"filter type {kind}")
        row[i] = (row[i] + guess) & 0xFF
    return row


def decode(data: bytes) -> Image:
    """An 8-bit RGB or RGBA PNG, checked chunk by chunk (CRCs included)."""
    assert data[:8] == PNG_SIGNATURE
    kinds, header, idat, at = [], b"", b"", 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        kinds.append(kind)
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        at += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0) and color_type in (2, 6)
    channels = 3 if color_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    assert len(raw) == height * (stride + 1)
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        previous = bytes(row)
        rows.append(previous)
    return Image(width, height, channels, rows)


def test_the_decoder_reverses_every_filter_type() -> None:
    """A 4x5 RGBA image, each row stored with another filter type, decodes to what was written."""
    bpp, width = 4, 4
    pixels = [
        bytes(v for x in range(width) for v in (x * 60 + y * 7, 255 - 30 * x, 50 * y, 200 + x))
        for y in range(5)
    ]
    raw, previous = b"", bytes(width * bpp)
    for kind, row in enumerate(pixels):
        filtered = bytearray(row)
        for i in range(len(row)):
            left = row[i - bpp] if i >= bpp else 0
            upper_left = previous[i - bpp] if i >= bpp else 0
            guess = [
                0,
                left,
                previous[i],
                (left + previous[i]) // 2,
                _paeth(left, previous[i], upper_left),
            ][kind]
            filtered[i] = (row[i] - guess) & 0xFF
        raw += bytes([kind]) + filtered
        previous = row
    header = struct.pack(">IIBBBBB", width, 5, 8, 6, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    data = (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    image = decode(data)
    assert (image.width, image.height, image.channels) == (4, 5, 4)
    assert image.rows == pixels


# --- the chart ---

PLOT = {"left": PLOT_LEFT, "top": PLOT_TOP, "right": PLOT_RIGHT, "bottom": PLOT_BOTTOM}


def row_of(percent: float) -> float:
    """Where a left-axis value should be drawn, give or take a row."""
    return PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * percent / 100


def column_of(index: int, count: int) -> float:
    """Where week `index` of `count` consecutive weeks should be drawn: half a week of margin."""
    return PLOT_LEFT + (index + 0.5) * (PLOT_RIGHT - PLOT_LEFT) / count


def off_targets(found: Iterator[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pixels away from the 85% and 60% target lines, which share the series' colours."""
    return [(x, y) for x, y in found if all(abs(y - row_of(p)) > 3 for p in (85, 60))]


def across_plot(image: Image, color: str, y: int) -> list[int]:
    """The columns of `color` in row y, from the plot's left edge to its right."""
    found = image.find(color, left=PLOT_LEFT, right=PLOT_RIGHT, top=y, bottom=y + 1)
    return [x for x, _ in found]


def runs(xs: list[int]) -> int:
    """How many unbroken stretches the columns make."""
    ordered = sorted(xs)
    return sum(1 for i, x in enumerate(ordered) if i == 0 or x != ordered[i - 1] + 1)


def test_a_png_of_1000_by_500_with_every_series_drawn() -> None:
    data = weekly_chart_png(weeks(12), title="Last 12 weeks")
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (WIDTH_PX, HEIGHT_PX)
    image = decode(data)
    assert (image.width, image.height) == (WIDTH_PX, HEIGHT_PX)
    assert image.at(0, 0) == image.at(WIDTH_PX - 1, HEIGHT_PX - 1) == (255, 255, 255)
    for color in (CONTACT_COLOR, RESOLUTION_COLOR, NPS_COLOR):
        assert len(off_targets(image.find(color, **PLOT))) > 100, color


def test_contact_pixels_only_where_contact_data_is() -> None:
    no_contact = [Week(w.week_start, None, w.resolution_rate, w.nps) for w in weeks(12)]
    image = decode(weekly_chart_png(no_contact, title="Weekly follow-up"))
    assert off_targets(image.find(CONTACT_COLOR, **PLOT)) == []
    assert off_targets(image.find(RESOLUTION_COLOR, **PLOT))

    image = decode(weekly_chart_png(weeks(12), title="Weekly follow-up"))
    contact = off_targets(image.find(CONTACT_COLOR, **PLOT))
    # 70% to 92%: nothing of the line below 65% or at the top edge.
    assert contact and all(row_of(93) <= y <= row_of(68) for _, y in contact)


def test_dashed_targets_at_85_and_60_percent_and_grid_lines_every_quarter() -> None:
    low = Week(MONDAY, contact_rate=0.1, resolution_rate=0.1, nps=-90.0)
    image = decode(weekly_chart_png([low], title="Targets"))
    above_data = {**PLOT, "bottom": round(row_of(30))}
    for color, percent in ((CONTACT_COLOR, 85), (RESOLUTION_COLOR, 60)):
        by_row: dict[int, list[int]] = {}
        for x, y in image.find(color, **above_data):
            by_row.setdefault(y, []).append(x)
        assert by_row and all(abs(y - row_of(percent)) <= 2 for y in by_row), (color, by_row)
        for xs in by_row.values():
            covered = len(xs) / (PLOT_RIGHT - PLOT_LEFT)
            assert runs(xs) >= 30 and 0.4 < covered < 0.9, "dashed across the whole plot"
    for percent in (0, 25, 50, 75, 100):
        row = round(row_of(percent))
        widest = max(len(across_plot(image, GRID_COLOR, y)) for y in range(row - 2, row + 3))
        assert widest > 0.9 * (PLOT_RIGHT - PLOT_LEFT), percent


def test_a_missing_week_leaves_a_gap_in_its_line() -> None:
    image = decode(weekly_chart_png(weeks(12), title="Gaps"))
    margin = 6  # a marker's radius and half a line
    gaps = {CONTACT_COLOR: (2, 4), RESOLUTION_COLOR: (2, 5), NPS_COLOR: (5, 7)}
    for color, (before, after) in gaps.items():
        inside = {
            "left": round(column_of(before, 12)) + margin,
            "right": round(column_of(after, 12)) - margin,
        }
        assert off_targets(image.find(color, **{**PLOT, **inside})) == [], color
        joined = {
            "left": round(column_of(0, 12)) + margin,
            "right": round(column_of(1, 12)) - margin,
        }
        assert off_targets(image.find(color, **{**PLOT, **joined})), f"{color} joins weeks 0 and 1"


def test_nan_is_a_missing_value_too() -> None:
    with_none = weeks(8)
    with_nan = [
        Week(w.week_start, *(math.nan if v is None else v for v in astuple(w)[1:]))
        for w in with_none
    ]
    assert weekly_chart_png(with_nan, title="t") == weekly_chart_png(with_none, title="t")


def test_a_single_week_is_a_visible_dot() -> None:
    image = decode(weekly_chart_png([Week(MONDAY, contact_rate=0.3)], title="One week"))
    contact = off_targets(image.find(CONTACT_COLOR, **PLOT))
    assert len(contact) >= 20
    assert all(abs(x - column_of(0, 1)) <= 4 and abs(y - row_of(30)) <= 4 for x, y in contact)


def test_every_week_has_a_tick_and_at_most_13_are_labelled() -> None:
    """A short tick under every week, a longer one under every labelled week."""
    for count in (1, 12, 13, 14, 26, 60):
        image = decode(weekly_chart_png(weeks(count), title="Ticks"))
        ticks = across_plot(image, MUTED_COLOR, PLOT_BOTTOM + 2)
        labelled = across_plot(image, MUTED_COLOR, PLOT_BOTTOM + 5)
        assert len(ticks) == count
        step = math.ceil(count / 13)
        assert len(labelled) == len(range(0, count, step)) <= 13, count
        assert labelled == [ticks[i] for i in range(0, count, step)]


def test_no_points_still_a_png_with_its_title_and_no_data_yet() -> None:
    for points in ([], [Week(MONDAY), Week(MONDAY + timedelta(weeks=1))]):
        data = weekly_chart_png(points, title="Weekly follow-up")
        image = decode(data)
        assert (image.width, image.height) == (WIDTH_PX, HEIGHT_PX)
        assert len(list(image.find(TEXT_COLOR, bottom=PLOT_TOP - 4))) > 200, "the title"
        middle = (PLOT_TOP + PLOT_BOTTOM) // 2
        assert list(image.find(MUTED_COLOR, **{**PLOT, "top": middle - 20, "bottom": middle + 20}))
        assert data != weekly_chart_png(points, title="Weekly follow-ups")


def test_odd_long_and_non_ascii_titles() -> None:
    points = weeks(4)
    assert weekly_chart_png(points, title="Café ✓ 😀") == weekly_chart_png(points, title="Caf? ? ?")
    long = "Cost $5 & $6 \\alpha_x <!channel> " + "long " * 60
    image = decode(weekly_chart_png(points, title=long))
    assert list(image.find(TEXT_COLOR, bottom=PLOT_TOP - 4))
    assert weekly_chart_png(points, title=long) == weekly_chart_png(points, title=long + "more")
    # Cut to 90 characters, the last three of them dots.
    cut = weekly_chart_png(points, title="w" * 87 + "...")
    assert weekly_chart_png(points, title="w" * 120) == cut
    assert weekly_chart_png(points, title="w" * 90) != cut


def test_unordered_weeks_draw_the_same_chart() -> None:
    history = weeks(60)
    assert weekly_chart_png(list(reversed(history)), title="t") == weekly_chart_png(
        history, title="t"
    )


def test_every_canvas_is_freed_once_its_png_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[weakref.ref[Any]] = []

    class TrackedCanvas(chart.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    monkeypatch.setattr(chart, "Canvas", TrackedCanvas)
    for _ in range(5):
        weekly_chart_png(weeks(4), title="Weekly follow-up")
    gc.collect()
    assert len(made) == 5
    assert all(ref() is None for ref in made)


@pytest.mark.slow
def test_twenty_charts_do_not_grow_memory() -> None:
    points = weeks(12)
    weekly_chart_png(points, title="Warm-up")
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(20):
            weekly_chart_png(points, title="Weekly follow-up")
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 1_000_000  # one canvas kept alive would hold 1.5 MB


def test_rendering_loads_no_plotting_or_array_library() -> None:
    code = (
        "import sys; from datetime import datetime, UTC;"
        "from bot.delivery.chart import weekly_chart_png; from tests.test_charts import Week;"
        "weekly_chart_png([Week(datetime(2024, 1, 1, tzinfo=UTC), 0.5, 0.5, 0.0)], title='t');"
        "print(sorted({'matplotlib', 'numpy', 'PIL'} & {m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
