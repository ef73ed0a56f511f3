"""Doppler frames → motion scores → presence: the detection chain shared by files, live
streams and the evaluation harness.

A detector is anything that turns Doppler power frames into one score per frame (and a
Doppler centroid, for the presence machine's "leaving" hint): :data:`DETECTORS` names
them and ``config.detect.detector`` picks one; the shipped neural network (the default)
or the classical baseline. :class:`Detection` runs it and the presence state machine frame by
frame, so a recording, a live stream and a simulated scene all give the same decisions.

>>> detection = Detection(config, velocity_m_s)
>>> for power, frame_end_s in frames:                 # from FrontEnd.process, any block size
...     decisions = detection.process(power, frame_end_s)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from uspd.config import Config
from uspd.detect.baseline import BaselineDetector
from uspd.detect.neural import NeuralDetector
from uspd.detect.presence import Event, Presence

LEAVING_M_S = 0.2  # major motion whose Doppler centroid recedes faster than this counts as leaving


@dataclass(frozen=True)
class Decisions:
    """Per-frame results, arrays of shape (n_frames,), and the events they raised."""

    time_s: np.ndarray  # end of the audio each decision used
    score: np.ndarray  # detector score in [0, 1]
    motion: np.ndarray  # none | minor | major
    occupied: np.ndarray  # int8, state after the frame
    events: list[Event]
    minor_threshold: np.ndarray | None = None  # minor-motion threshold each frame was judged against (context-dependent)

    @classmethod
    def concatenate(cls, parts: list[Decisions]) -> Decisions:
        thresholds = [p.minor_threshold for p in parts]
        return cls(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in ("time_s", "score", "motion", "occupied")),
            [event for p in parts for event in p.events],
            None if any(t is None for t in thresholds) else np.concatenate(thresholds),
        )


class FrameScores(Protocol):
    score: np.ndarray  # (n_frames,) in [0, 1]
    centroid_m_s: np.ndarray  # (n_frames,) energy-weighted radial velocity, + approaching


class FrameDetector(Protocol):
    def process(self, power: np.ndarray) -> FrameScores: ...

    def reset(self) -> None: ...


DETECTORS: dict[str, Callable[[Config, np.ndarray], FrameDetector]] = {
    "baseline": lambda config, velocity_m_s: BaselineDetector(config.baseline, velocity_m_s, config.frontend.hop_s),
    "neural": lambda config, velocity_m_s: NeuralDetector(velocity_m_s, config.frontend.hop_s, config.detect.model),
}


class Detection:
    """The configured detector + presence, streaming over Doppler frames (n_frames, n_velocity)."""

    def __init__(self, config: Config, velocity_m_s: np.ndarray) -> None:
        self.detector = DETECTORS[config.detect.detector](config, velocity_m_s)
        self.presence = Presence(config.presence)

    def reset(self) -> None:
        self.detector.reset()
        self.presence.reset()

    def process(self, power: np.ndarray, time_s: np.ndarray) -> Decisions:
        frames = self.detector.process(power)
        leaving = frames.centroid_m_s < -LEAVING_M_S
        motion, occupied, events, minor_threshold = self.presence.process(time_s, frames.score, leaving,
                                                                          return_threshold=True)
        return Decisions(np.asarray(time_s, dtype=float), frames.score, motion, occupied, events, minor_threshold)
