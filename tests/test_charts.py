"""The weekly chart: a decodable PNG of the right size, any data, no memory kept between calls."""

from __future__ import annotations

import gc
import io
import struct
import subprocess
import sys
import tracemalloc
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from bot.delivery import charts
from bot.delivery.charts import CONTACT_COLOR, HEIGHT_PX, NPS_COLOR, WIDTH_PX, weekly_chart_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MONDAY = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Week:
    week_start: datetime
    contact_rate: float | None = None
    resolution_rate: float | None = None
    nps: float | None = None


def weeks(count: int) -> list[Week]:
    return [
        Week(
            MONDAY + timedelta(weeks=i),
            contact_rate=None if i == 3 else 0.7 + 0.02 * i,
            resolution_rate=None if i in (3, 4) else 0.5 + 0.01 * i,
            nps=None if i == 6 else -10.0 + 4 * i,
        )
        for i in range(count)
    ]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always comes first."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def decode(data: bytes) -> np.ndarray:
    pixels = imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (HEIGHT_PX, WIDTH_PX)
    return pixels


def has_color(pixels: np.ndarray, color: str) -> bool:
    rgb = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(pixels[..., :3] - rgb).max(axis=-1) < 0.02).any())


def test_a_png_of_1000_by_500_with_every_series_drawn() -> None:
    data = weekly_chart_png(weeks(12), title="Last 12 weeks")
    assert data.startswith(PNG_SIGNATURE)
    assert png_size(data) == (WIDTH_PX, HEIGHT_PX)
    pixels = decode(data)
    assert has_color(pixels, CONTACT_COLOR) and has_color(pixels, NPS_COLOR)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50


def test_all_none_data_a_single_point_and_no_points_still_render() -> None:
    cases = [
        [Week(MONDAY), Week(MONDAY + timedelta(weeks=1))],
        [Week(MONDAY, contact_rate=0.9, resolution_rate=0.5, nps=12.0)],
        [Week(MONDAY)],
        [],
    ]
    for points in cases:
        data = weekly_chart_png(points, title="Weekly follow-up")
        assert png_size(data) == (WIDTH_PX, HEIGHT_PX)
        decode(data)


def test_unordered_weeks_a_long_history_and_odd_titles() -> None:
    history = weeks(60)
    data = weekly_chart_png(
        list(reversed(history)), title="Cost $5 & $6 \\alpha_x <!channel> " + "long " * 60
    )
    assert png_size(data) == (WIDTH_PX, HEIGHT_PX)
    decode(data)


def test_every_figure_is_freed_once_its_png_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[weakref.ref[Figure]] = []

    class TrackedFigure(Figure):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    monkeypatch.setattr(charts, "Figure", TrackedFigure)
    for _ in range(5):
        weekly_chart_png(weeks(4), title="Weekly follow-up")
    gc.collect()
    assert len(made) == 5
    assert all(ref() is None for ref in made)


@pytest.mark.slow
def test_fifty_charts_do_not_grow_memory() -> None:
    points = weeks(4)
    for _ in range(3):  # matplotlib fills its font and text caches on first use
        weekly_chart_png(points, title="Warm-up")
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(50):
            weekly_chart_png(points, title="Weekly follow-up")
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 1_000_000  # 50 figures kept alive would hold over 3 MB


def test_rendering_leaves_pyplot_and_its_global_figures_alone() -> None:
    code = (
        "import sys; from datetime import datetime, UTC;"
        "from bot.delivery.charts import weekly_chart_png;"
        "from tests.test_charts import Week;"
        "weekly_chart_png([Week(datetime(2024, 1, 1, tzinfo=UTC), 0.5, 0.5, 0.0)], title='t');"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
