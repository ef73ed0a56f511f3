"""Presence: per-frame motion scores → motion events and an occupied/vacant state.

Any detector (the classical baseline, the neural net) gives one score in [0, 1] per hop,
timed at the end of the audio it used. This module is the small explicit state machine
behind "occupied" and "vacant" (defaults in :class:`~uspd.config.PresenceConfig`):

- **Motion per frame**: ``major`` (walking) once ``confirm_frames`` consecutive frames
  reach ``major_threshold``; ``minor`` (a seated person's small motion) once they reach
  ``minor_threshold``. The debounce drops single-frame spikes and costs
  ``confirm_frames - 1`` hops of latency (40 ms at the defaults). Motion ends at the
  ``release_frames``-th consecutive frame that makes none (1 s at the defaults): a pet or
  fan whose score hovers at a threshold gives one onset, not one per flicker. Held frames
  are not evidence: only frames that make a motion renew the timers below and gather
  minor motion.
- **Context-dependent sensitivity**: while occupied, minor motion counts from the lower
  ``sensitive_threshold`` within ``sensitive_s`` of the last *clear* motion (major, or
  minor over ``minor_threshold``). Faint motion holds presence but does not renew the
  window, so a fan or curtain just over the sensitive threshold can keep a room at most
  ``sensitive_s + hold_s`` after everyone left; one clear motion (shifting in the chair)
  renews it for a long read.
- **VACANT → OCCUPIED** on major motion, or on ``minor_occupy_s`` of minor motion within
  ``minor_occupy_window_s``: people enter walking, so minor motion alone needs more
  evidence, and a sparse twitch of a fan or curtain never occupies an empty room.
- **OCCUPIED → VACANT** after ``hold_s`` without motion, or after the shorter
  ``departure_vacancy_s`` when the last major motion was flagged ``leaving`` and nothing
  but leaving motion followed. The score cannot tell direction; a detector that sees
  receding Doppler fading out (e.g. the baseline's negative velocity centroid) may pass
  the hint. A departure also closes the sensitive window: its reason has left the room.

Vacancy is decided at frame times, so a live source keeps sending frames (score 0 when
quiet). Streaming and batch are one code path:

>>> presence = Presence(config.presence)
>>> for time_s, score in frames:
...     for event in presence.update(time_s, score):     # Event(time_s, event, kind, score)
...         print(event)
>>> motion, occupied, events = run_presence(times_s, scores, config.presence)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from uspd.config import PresenceConfig

MotionKind = Literal["none", "minor", "major"]
State = Literal["vacant", "occupied"]
_RANK: dict[str, int] = {"none": 0, "minor": 1, "major": 2}
_MAX_FRAME_S = 0.1  # a longer step between frames is missing input, not that much minor motion


@dataclass(frozen=True)
class Event:
    """One presence event; ``dataclasses.asdict`` gives the plain dict for routines and MQTT.

    ``motion`` marks a motion onset (nothing → minor/major, or minor → major), not every
    frame; ``occupied`` and ``vacant`` mark state changes. ``kind`` is the motion class
    (None for ``vacant``), ``score`` the detector score of the frame that caused it.
    """

    time_s: float
    event: Literal["motion", "occupied", "vacant"]
    kind: Literal["minor", "major"] | None
    score: float


class Presence:
    """Streaming presence state machine; feed it one frame at a time or in blocks."""

    def __init__(self, config: PresenceConfig = PresenceConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget everything: vacant, no motion, no frames seen."""
        self._time_s: float | None = None
        self._occupied = False
        self._motion: MotionKind = "none"
        self._runs = {"major": 0, "minor": 0, "sensitive": 0}  # consecutive frames at or over each threshold
        self._quiet_frames = 0  # consecutive frames that made no motion
        self._last_motion_s = -math.inf
        self._context_s = -math.inf  # last clear motion: opens the sensitive window
        self._departing = False
        self._minor_frames: deque[tuple[float, float]] = deque()  # (time_s, duration_s) while vacant
        self._minor_sum_s = 0.0
        self._minor_threshold = self.config.minor_threshold

    @property
    def state(self) -> State:
        return "occupied" if self._occupied else "vacant"

    @property
    def motion(self) -> MotionKind:
        """The motion class shown after the latest frame (debounced, held through short gaps)."""
        return self._motion

    @property
    def minor_threshold(self) -> float:
        """The minor-motion threshold the latest frame was judged against: ``sensitive_threshold``
        inside the context window after a clear motion, else ``minor_threshold``."""
        return self._minor_threshold

    def update(self, time_s: float, score: float, *, leaving: bool = False) -> list[Event]:
        """Take one frame: its end time (s, increasing), score in [0, 1], optional leaving hint."""
        time_s, score = float(time_s), float(score)
        if not math.isfinite(time_s):
            raise ValueError(f"time_s must be finite, got {time_s}")
        if self._time_s is not None and time_s <= self._time_s:
            raise ValueError(f"time_s must increase from frame to frame: got {time_s} after {self._time_s}")
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"score must be a finite number in [0, 1], got {score}")
        c = self.config
        duration_s = 0.0 if self._time_s is None else min(time_s - self._time_s, _MAX_FRAME_S)
        self._time_s = time_s

        runs = self._runs
        for name, threshold in (
            ("major", c.major_threshold),
            ("minor", c.minor_threshold),
            ("sensitive", c.sensitive_threshold),
        ):
            runs[name] = runs[name] + 1 if score >= threshold else 0
        sensitive = self._occupied and time_s - self._context_s <= c.sensitive_s
        self._minor_threshold = c.sensitive_threshold if sensitive else c.minor_threshold
        motion: MotionKind
        if runs["major"] >= c.confirm_frames:
            motion = "major"
        elif runs["minor"] >= c.confirm_frames or (sensitive and runs["sensitive"] >= c.confirm_frames):
            motion = "minor"
        else:
            motion = "none"
        self._quiet_frames = self._quiet_frames + 1 if motion == "none" else 0
        shown = self._motion if 0 < self._quiet_frames < c.release_frames else motion

        events = []
        if _RANK[shown] > _RANK[self._motion]:
            events.append(Event(time_s, "motion", shown, score))
        self._motion = shown
        if motion != "none":
            self._last_motion_s = time_s
            if not leaving:
                self._departing = False
            elif motion == "major":
                self._departing = True
            if self._departing:
                self._context_s = -math.inf
            elif runs["minor"] >= c.confirm_frames:  # major or trusted minor: a clear motion
                self._context_s = time_s

        if not self._occupied:
            if motion == "minor":
                self._minor_frames.append((time_s, duration_s))
                self._minor_sum_s += duration_s
            while self._minor_frames and self._minor_frames[0][0] <= time_s - c.minor_occupy_window_s:
                self._minor_sum_s -= self._minor_frames.popleft()[1]
            if not self._minor_frames:
                self._minor_sum_s = 0.0  # no rounding residue carried into the next window
            if motion == "major" or self._minor_sum_s >= c.minor_occupy_s:
                self._occupied = True
                self._minor_frames.clear()
                self._minor_sum_s = 0.0
                events.append(Event(time_s, "occupied", motion, score))
        else:
            timeout_s = c.departure_vacancy_s if self._departing else c.hold_s
            if time_s - self._last_motion_s >= timeout_s:
                self._occupied = False
                self._departing = False
                self._context_s = -math.inf
                events.append(Event(time_s, "vacant", None, score))
        return events

    def process(
        self, times_s: np.ndarray, scores: np.ndarray, leaving: np.ndarray | None = None, *,
        return_threshold: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, list[Event]] | tuple[np.ndarray, np.ndarray, list[Event], np.ndarray]:
        """Take a block of frames; blocks of any size give the same result as one big one.

        times_s, scores, leaving: (n,). Returns motion (n,) str ("none" | "minor" | "major"),
        occupied (n,) int8 (state after each frame) and the block's events; with
        ``return_threshold`` also each frame's :attr:`minor_threshold` (n,). On a bad frame
        the frames before it are kept and a ValueError names its index in the block.
        """
        times_s = np.asarray(times_s, dtype=float)
        scores = np.asarray(scores, dtype=float)
        leaving = np.zeros(times_s.shape, bool) if leaving is None else np.asarray(leaving, dtype=bool)
        if times_s.ndim != 1 or scores.shape != times_s.shape or leaving.shape != times_s.shape:
            raise ValueError(
                f"times_s, scores and leaving must be 1-D arrays of one length, got shapes "
                f"{times_s.shape}, {scores.shape} and {leaving.shape}"
            )
        motion = np.empty(times_s.shape, dtype="<U5")
        occupied = np.empty(times_s.shape, dtype=np.int8)
        minor_threshold = np.empty(times_s.shape)
        events: list[Event] = []
        for i, (time_s, score, leave) in enumerate(zip(times_s.tolist(), scores.tolist(), leaving.tolist())):
            try:
                events += self.update(time_s, score, leaving=leave)
            except ValueError as err:
                raise ValueError(f"frame {i}: {err}") from None
            motion[i] = self._motion
            occupied[i] = self._occupied
            minor_threshold[i] = self._minor_threshold
        if return_threshold:
            return motion, occupied, events, minor_threshold
        return motion, occupied, events


def run_presence(
    times_s: np.ndarray,
    scores: np.ndarray,
    config: PresenceConfig = PresenceConfig(),
    leaving: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[Event]]:
    """Batch presence over a whole recording; the same code as streaming (see Presence.process)."""
    return Presence(config).process(times_s, scores, leaving)
