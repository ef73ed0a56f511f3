"""The dashboard's share of the live chain: per-frame outputs → compact messages for pages.

A :class:`Feed` is one more listener of :class:`~uspd.live.run.LiveChain`, beside the
terminal view: it reads what the chain produced and decides nothing. It runs on the
chain's thread and turns every block into server-sent events:

- ``frame``, ``messages_per_s`` per second of stream: each sums up the hops since the last
  (50 per second at the default 20 ms hop): the loudest Doppler power per velocity bin in
  dB, the highest score, the strongest motion class, the state and thresholds after the
  last hop, and ``onset`` when a motion event (a detection) started in it;
- ``event``: every presence event and routine firing, as it happens;
- ``status``: counters, the source, and the emission (once per block).

A page that opens later first gets ``hello`` (the velocity axis, the source) and the last
``history_s`` of frames, recent events and the latest status, then the live messages.
Each page has its own bounded queue; a page that cannot keep up loses its oldest
messages, never the chain's time.

Only baseband features leave the process (Doppler power per velocity bin, scores,
states, events): never audio, nor anything audible.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections import deque
from dataclasses import asdict

import numpy as np

from uspd.detect.pipeline import Decisions
from uspd.detect.presence import Event
from uspd.live.routines import Firing
from uspd.live.run import LiveChain, LiveStatus
from uspd.live.sources import Source

_RANK = {"none": 0, "minor": 1, "major": 2}
_MOTION = np.array(["none", "minor", "major"])
_QUEUE_MESSAGES = 2000  # per page: 80 s of frames at 25 per second
_RECENT_EVENTS = 50
_FLOOR_DB = -200  # stands in for a bin with no power at all


def sse(kind: str, data: dict) -> str:
    """One server-sent event, ready to send."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def emission_state(source: Source, status: LiveStatus) -> dict:
    """What the speaker does: the duty-cycle scheduler's mode and duty so far (continuous
    without one), the tone, and the unit's calibration when the source plays at one."""
    calibration = source.calibration
    return {
        "state": "off" if status.emission == "off" else "on",
        "mode": status.emission,
        "duty_pct": round(float(status.duty_pct), 2),
        "carrier_hz": float(source.carrier_hz),
        "level_dbfs": None if source.level_dbfs is None else float(source.level_dbfs),
        "calibration": None if calibration is None else {
            "carrier_hz": calibration.carrier_hz, "level_dbfs": calibration.level_dbfs, "spl_db": calibration.spl_db,
            "predicted_snr_db": calibration.predicted_snr_db, "target_met": calibration.target_met,
            "target_range_m": calibration.target_range_m,
        },
        "origin": source.name.split(":")[0],
    }


class _Page:
    """One open page: its queue lives on the server's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.dropped = 0

    def put(self, messages: list[str] | None) -> None:  # runs on self.loop; None: the end
        for message in messages if messages is not None else [None]:
            if message is not None and self.queue.qsize() >= _QUEUE_MESSAGES:
                self.queue.get_nowait()
                self.dropped += 1
            self.queue.put_nowait(message)


class Feed:
    """Listener of a live chain (it joins ``chain.listeners``) that serves its outputs to any
    number of pages."""

    def __init__(self, chain: LiveChain, source: Source) -> None:
        config = chain.config
        hop_s = config.frontend.hop_s
        self.hops_per_message = max(1, round(1.0 / (config.dashboard.messages_per_s * hop_s)))
        self.message_s = self.hops_per_message * hop_s
        self.chain = chain
        self.timeline = chain.timeline
        self.source = source
        self.hello = sse("hello", {
            "source": source.name,
            "velocity_m_s": np.round(source.velocity_m_s, 3).tolist(),
            "message_s": self.message_s,
            "history_s": config.dashboard.history_s,
        })
        self._history: deque[str] = deque(maxlen=math.ceil(config.dashboard.history_s / self.message_s))
        self._events: deque[str] = deque(maxlen=_RECENT_EVENTS)
        self._status: str | None = None
        self._carry: tuple[np.ndarray, Decisions] | None = None  # hops not yet summed into a message
        self._pages: set[_Page] = set()
        self._lock = threading.Lock()
        chain.listeners.append(self)

    # --- the chain's side (its thread) ---

    def __call__(self, power: np.ndarray, decisions: Decisions, firings: list[Firing]) -> None:
        """A listener of :class:`~uspd.live.run.LiveChain`: one block's outputs."""
        self._publish([self._event_message(item) for item in sorted([*decisions.events, *firings],
                                                                   key=lambda item: item.time_s)], self._events)
        self._publish(self._frame_messages(power, decisions), self._history)

    def status(self, status: LiveStatus, state: str = "running") -> None:
        """After every block (``run_live``'s ``on_block``), and once more when the stream ends."""
        message = sse("status", {
            "state": state,
            "time_s": round(status.time_s, 2),
            "wall_time": self.timeline.wall(status.time_s).isoformat(timespec="seconds"),
            "frames": status.frames,
            "dropped_frames": status.dropped_frames,
            "events": status.events,
            "firings": status.firings,
            "mqtt": status.mqtt,
            "emission": emission_state(self.source, status),
        })
        with self._lock:
            self._status = message
        self._publish([message])

    def close(self) -> None:
        """End every page's stream (the server is stopping)."""
        with self._lock:
            pages, self._pages = list(self._pages), set()
        for page in pages:
            page.loop.call_soon_threadsafe(page.put, None)

    def _publish(self, messages: list[str], keep: deque[str] | None = None) -> None:
        """To every open page (and into ``keep``, for pages that open later)."""
        if not messages:
            return
        with self._lock:
            if keep is not None:
                keep.extend(messages)
            pages = list(self._pages)
        for page in pages:
            page.loop.call_soon_threadsafe(page.put, messages)

    def _event_message(self, item: Event | Firing) -> str:
        wall = self.timeline.wall(item.time_s).isoformat(timespec="seconds")
        if isinstance(item, Firing):
            return sse("event", {"time_s": round(item.time_s, 2), "wall_time": wall, "event": "routine",
                                 "routine": item.routine, "trigger": item.trigger})
        return sse("event", {**asdict(item), "time_s": round(item.time_s, 2), "score": round(item.score, 3),
                             "wall_time": wall})

    def _frame_messages(self, power: np.ndarray, decisions: Decisions) -> list[str]:
        if self._carry is not None:
            power = np.concatenate([self._carry[0], power])
            decisions = Decisions.concatenate([self._carry[1], decisions])
        k = self.hops_per_message
        n = len(decisions.time_s) // k * k
        self._carry = (power[n:], _tail(decisions, n))
        if n == 0:
            return []
        groups = n // k
        with np.errstate(divide="ignore"):
            doppler_db = np.maximum(10 * np.log10(power[:n].reshape(groups, k, -1).max(axis=1)), _FLOOR_DB)
        score = decisions.score[:n].reshape(groups, k).max(axis=1)
        rank = (decisions.motion[:n] == "minor") + 2 * (decisions.motion[:n] == "major")
        motion = _MOTION[rank.reshape(groups, k).max(axis=1)]
        last = np.arange(k - 1, n, k)
        end_s = decisions.time_s[last]
        onsets: dict[int, str] = {}
        for event in decisions.events:
            if event.event == "motion" and event.time_s <= end_s[-1]:
                group = int(np.searchsorted(end_s, event.time_s))
                if _RANK[event.kind] > _RANK.get(onsets.get(group, "none"), 0):
                    onsets[group] = event.kind
        major_threshold = self.chain.detection.presence.config.major_threshold
        rows = zip(np.round(end_s, 3).tolist(), np.round(doppler_db).astype(int).tolist(), np.round(score, 3).tolist(),
                   motion.tolist(), decisions.occupied[last].astype(bool).tolist(),
                   np.round(decisions.minor_threshold[last], 3).tolist())
        return [
            sse("frame", {"time_s": time_s, "doppler_db": db, "score": top, "motion": kind, "occupied": occupied,
                          "minor_threshold": minor, "major_threshold": major_threshold, "onset": onsets.get(g)})
            for g, (time_s, db, top, kind, occupied, minor) in enumerate(rows)
        ]

    # --- the server's side (its event loop) ---

    def subscribe(self) -> tuple[list[str], _Page]:
        """A new page: what it should see at once, and its queue of what follows."""
        page = _Page(asyncio.get_running_loop())
        with self._lock:
            backlog = [self.hello, *self._history, *self._events, *([self._status] if self._status else [])]
            self._pages.add(page)
        return backlog, page

    def unsubscribe(self, page: _Page) -> None:
        with self._lock:
            self._pages.discard(page)


def _tail(decisions: Decisions, start: int) -> Decisions:
    """Frames ``start:`` of a block and the events after its first ``start`` frames."""
    after_s = decisions.time_s[start - 1] if start > 0 else -np.inf
    return Decisions(
        decisions.time_s[start:], decisions.score[start:], decisions.motion[start:], decisions.occupied[start:],
        [e for e in decisions.events if e.time_s > after_s], decisions.minor_threshold[start:],
    )
