"""Synthetic score timelines run through the real presence machine, for the live-chain tests."""

from __future__ import annotations

import numpy as np

from uspd.config import Config, config_from_dict
from uspd.detect.pipeline import Decisions
from uspd.detect.presence import Presence

HOP_S = 0.02


def quick_config(**sections) -> Config:
    """Short presence timers (vacant 4 s after the last motion) so tests run in seconds."""
    return config_from_dict({"presence": {"hold_s": 4.0, "departure_vacancy_s": 2.0}, **sections})


def decision_blocks(config: Config, spans: list[tuple[float, float]], block_s: float = 1.0) -> list[Decisions]:
    """spans: (seconds, detector score) one after another → 1 s blocks of decisions."""
    times, scores = [], []
    for seconds, score in spans:
        start = times[-1] if times else 0.0
        n = int(round(seconds / HOP_S))
        times += (start + HOP_S * np.arange(1, n + 1)).tolist()
        scores += [score] * n
    presence = Presence(config.presence)
    per_block = int(round(block_s / HOP_S))
    blocks = []
    for i in range(0, len(times), per_block):
        t, s = np.array(times[i : i + per_block]), np.array(scores[i : i + per_block])
        motion, occupied, events = presence.process(t, s)
        blocks.append(Decisions(t, s, motion, occupied, events))
    return blocks
