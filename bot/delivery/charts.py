"""Charts for the `/nps` reports, rendered to PNG bytes with matplotlib's Agg canvas."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MultipleLocator, PercentFormatter

WIDTH_PX = 1000
HEIGHT_PX = 500
DPI = 100
MAX_WEEK_LABELS = 13
TITLE_LIMIT = 90
CONTACT_TARGET = 85
RESOLUTION_TARGET = 60

CONTACT_COLOR = "#1264a3"
RESOLUTION_COLOR = "#2eb67d"
NPS_COLOR = "#e01e5a"
TEXT_COLOR = "#1d1c1d"
MUTED_COLOR = "#616061"
GRID_COLOR = "#dddddd"


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


def _percent(value: float | None) -> float:
    return math.nan if value is None else value * 100


def _value(value: float | None) -> float:
    return math.nan if value is None else value


def _week_label(value: float, _position: int | None = None) -> str:
    on = date.fromordinal(round(value))
    return f"{on.day} {on:%b}"


def _week_ticks(ax: Axes, weeks: Sequence[date]) -> None:
    """Put a tick on every week, labelling every week or, when crowded, every few weeks."""
    ordinals = [w.toordinal() for w in weeks]
    step = max(1, math.ceil(len(ordinals) / MAX_WEEK_LABELS))
    ax.xaxis.set_major_locator(FixedLocator(ordinals[::step]))
    ax.xaxis.set_minor_locator(FixedLocator(ordinals))
    ax.xaxis.set_major_formatter(FuncFormatter(_week_label))
    ax.set_xlim(min(ordinals) - 3.5, max(ordinals) + 3.5)
    first, last = weeks[0], weeks[-1]
    years = {first.year, last.year}
    ax.set_xlabel(
        f"Week starting ({'-'.join(str(y) for y in sorted(years))})",
        color=MUTED_COLOR,
    )


def _style(ax: Axes, right: Axes) -> None:
    for axis in (ax, right):
        axis.spines["top"].set_visible(False)
        axis.tick_params(colors=MUTED_COLOR, labelcolor=TEXT_COLOR)
        for side in ("left", "right", "bottom"):
            axis.spines[side].set_color(GRID_COLOR)
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_locator(MultipleLocator(25))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    ax.set_ylabel("Contact and resolution rate", color=MUTED_COLOR)
    ax.grid(axis="y", color=GRID_COLOR, linewidth=0.8)
    ax.set_axisbelow(True)
    right.set_ylim(-100, 100)
    right.yaxis.set_major_locator(MultipleLocator(50))
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:+.0f}" if v else "0"))
    right.set_ylabel("NPS", color=NPS_COLOR)


def weekly_chart_png(points: Sequence[WeekPointLike], *, title: str) -> bytes:
    """A 1000x500 PNG of the weekly contact and resolution rates against target, and NPS."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    fig.subplots_adjust(left=0.075, right=0.925, top=0.89, bottom=0.2)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    right = ax.twinx()
    _style(ax, right)
    ax.set_title(
        title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1].rstrip() + "…",
        loc="left",
        color=TEXT_COLOR,
        fontsize=14,
        fontweight="bold",
        pad=12,
        parse_math=False,
    )

    ordered = sorted(points, key=lambda p: p.week_start)
    weeks = [p.week_start.date() for p in ordered]
    x = [w.toordinal() for w in weeks]
    lines: list[Line2D] = []
    lines += ax.plot(
        x,
        [_percent(p.contact_rate) for p in ordered],
        color=CONTACT_COLOR,
        linewidth=2.2,
        marker="o",
        markersize=5,
        label="Contact rate",
    )
    lines.append(
        ax.axhline(
            CONTACT_TARGET,
            color=CONTACT_COLOR,
            linestyle="--",
            linewidth=1.2,
            alpha=0.7,
            label=f"Contact target {CONTACT_TARGET}%",
        )
    )
    lines += ax.plot(
        x,
        [_percent(p.resolution_rate) for p in ordered],
        color=RESOLUTION_COLOR,
        linewidth=2.2,
        marker="o",
        markersize=5,
        label="Resolution rate",
    )
    lines.append(
        ax.axhline(
            RESOLUTION_TARGET,
            color=RESOLUTION_COLOR,
            linestyle="--",
            linewidth=1.2,
            alpha=0.7,
            label=f"Resolution target {RESOLUTION_TARGET}%",
        )
    )
    right.axhline(0, color=GRID_COLOR, linewidth=0.8, zorder=0)
    lines += right.plot(
        x,
        [_value(p.nps) for p in ordered],
        color=NPS_COLOR,
        linewidth=2.2,
        marker="s",
        markersize=5,
        label="NPS (right axis)",
    )

    if weeks:
        _week_ticks(ax, weeks)
    else:
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_locator(FixedLocator([]))
    if not any(
        p.contact_rate is not None or p.resolution_rate is not None or p.nps is not None
        for p in ordered
    ):
        right.text(
            0.5,
            0.5,
            "No data yet",
            transform=right.transAxes,
            ha="center",
            va="center",
            fontsize=13,
            color=MUTED_COLOR,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 6},
        )
    fig.legend(
        handles=lines,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=len(lines),
        frameon=False,
        fontsize=9,
        handlelength=2.5,
    )

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    fig.clear()
    return buffer.getvalue()
