"""The ``uspd run`` terminal view: state, motion, a score sparkline and recent events.

Built with rich; :func:`render` is a pure function of a :class:`~uspd.live.run.LiveStatus`
so the view can be tested (and reused) without a terminal.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from uspd.detect.presence import Event
from uspd.live.routines import Firing
from uspd.live.run import LiveStatus

_BARS = "▁▂▃▄▅▆▇█"
_MOTION_STYLE = {"none": "dim", "minor": "yellow", "major": "bold magenta"}


def sparkline(scores: np.ndarray, width: int) -> str:
    """Scores in [0, 1] → ``width`` bar characters, each the maximum over its share of frames."""
    scores = np.asarray(scores, dtype=float)
    if len(scores) == 0 or width <= 0:
        return ""
    width = min(width, len(scores))
    edges = np.linspace(0, len(scores), width + 1).astype(int)
    peaks = np.maximum.reduceat(scores, edges[:-1])
    levels = np.clip((peaks * (len(_BARS) - 1)).round().astype(int), 0, len(_BARS) - 1)
    return "".join(_BARS[i] for i in levels)


def render(status: LiveStatus, *, title: str, wall_time: datetime, width: int = 60) -> Panel:
    state = Text("OCCUPIED", style="bold green") if status.occupied else Text("vacant", style="bold blue")
    head = Table.grid(padding=(0, 2))
    head.add_row(
        Text.assemble("room ", state),
        Text.assemble("motion ", Text(status.motion, style=_MOTION_STYLE.get(status.motion, ""))),
        Text(f"score {status.score:.2f}"),
        Text(wall_time.strftime("%a %H:%M:%S"), style="cyan"),
    )
    history_s = len(status.scores) * 0.02
    spark = Text.assemble(Text(sparkline(np.fromiter(status.scores, float), width), style="magenta"),
                          Text(f"  last {history_s:.0f} s", style="dim"))
    events = Table("time", "event", "kind", "score", box=None, header_style="dim", pad_edge=False)
    for item, when in reversed(status.recent):
        if isinstance(item, Event):
            events.add_row(when.strftime("%H:%M:%S"), item.event, item.kind or "", f"{item.score:.2f}")
        elif isinstance(item, Firing):
            events.add_row(when.strftime("%H:%M:%S"), Text(f"→ {item.routine}", style="green"), item.trigger, "")
    if not status.recent:
        events.add_row("", Text("no events yet", style="dim"), "", "")
    foot = Text(
        f"stream {status.time_s:,.0f} s · {status.frames:,} frames · {status.dropped_frames} dropped · "
        f"{status.events} events · {status.firings} routines fired · MQTT: {status.mqtt} · "
        f"tone {status.emission} ({status.duty_pct:.0f} % on)",
        style="dim",
    )
    return Panel(Group(head, spark, events, foot), title=title, border_style="green" if status.occupied else "blue")
