"""Doppler power frames → the neural detector's input: a fixed velocity grid, in dB over
a per-bin floor.

The front end's velocity axis depends on the carrier and the speed of sound (a bin is
c·Δf/2f0: 0.05 m/s at 40 kHz, 0.11 m/s at 20 kHz), so each frame is first pooled onto one
grid of ``N_BINS`` equal bins over ±``MAX_SPEED_M_S`` (each output bin the mean power of
the input bins weighted by their overlap). Absolute levels depend on emission level, room
and mic gain, which the network should not have to learn: each grid bin keeps a floor in
dB that falls fast (a quiet frame is the floor) and rises slowly (``FLOOR_RISE_S``: a fan
running for minutes becomes floor, a person walking for seconds does not), and the
feature is the frame's dB over that floor, clipped and scaled to about [-1, 3]. A stream's
first frame sets the floor, capped at its quiet bins' level (``START_PERCENTILE`` + a
margin), so a person already walking when the data starts stands out as they would
walking in (the floor settles low within a second either way; scores are held at 0 for
the first second).

Frames of all zeros (no pilot tone: "no data") give all-zero features, leave the floor
alone and are flagged in ``missing`` so the detector can score them 0.

>>> features = DopplerFeatures(front.velocity_m_s)
>>> x, missing = features.process(power)     # (n_frames, N_BINS) float32, (n_frames,) bool
"""

from __future__ import annotations

import numpy as np

from uspd.physics import power_to_db

N_BINS = 64
MAX_SPEED_M_S = 4.0
FLOOR_RISE_S = 20.0  # time constant of the floor rising under a steady mover (dB per frame share)
FLOOR_FALL_S = 0.5  # time constant of the floor falling to a quieter level
DB_SCALE = 20.0  # feature = (dB over floor) / this
CLIP_DB = (-20.0, 60.0)
START_PERCENTILE, START_MARGIN_DB = 25.0, 3.0  # a stream's first floor: at most this far over its quiet bins


def grid_m_s() -> np.ndarray:
    """Centres of the fixed velocity grid (m/s, + approaching)."""
    edges = np.linspace(-MAX_SPEED_M_S, MAX_SPEED_M_S, N_BINS + 1)
    return 0.5 * (edges[1:] + edges[:-1])


def pooling_matrix(velocity_m_s: np.ndarray) -> np.ndarray:
    """(n_velocity, N_BINS) weights: each grid bin's mean power over the input bins it
    overlaps (input bins are taken as intervals around their centres)."""
    v = np.asarray(velocity_m_s, dtype=float)
    if v.ndim != 1 or len(v) < 2 or np.any(np.diff(v) <= 0):
        raise ValueError("velocity axis must be 1-D, increasing, with at least two bins")
    half = np.diff(v).mean() / 2.0
    lo, hi = v - half, v + half
    edges = np.linspace(-MAX_SPEED_M_S, MAX_SPEED_M_S, N_BINS + 1)
    overlap = np.clip(np.minimum(hi[:, None], edges[None, 1:]) - np.maximum(lo[:, None], edges[None, :-1]), 0.0, None)
    covered = overlap.sum(axis=0)
    if np.any(covered <= 0):
        raise ValueError(f"the velocity axis ({v[0]:.2f}…{v[-1]:.2f} m/s) does not cover ±{MAX_SPEED_M_S} m/s")
    return (overlap / covered).astype(np.float32)


class DopplerFeatures:
    """Streaming feature extractor; frames may come one at a time or many at once."""

    def __init__(self, velocity_m_s: np.ndarray, hop_s: float = 0.02) -> None:
        self._pool = pooling_matrix(velocity_m_s)
        self._rise = 1.0 - np.exp(-hop_s / FLOOR_RISE_S)
        self._fall = 1.0 - np.exp(-hop_s / FLOOR_FALL_S)
        self.reset()

    def reset(self) -> None:
        self._floor_db: np.ndarray | None = None

    def process(self, power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Doppler power (n_frames, n_velocity) → features (n_frames, N_BINS) float32 and
        the missing-data flags (n_frames,)."""
        power = np.asarray(power, dtype=np.float32)
        if power.ndim != 2 or power.shape[1] != self._pool.shape[0]:
            raise ValueError(f"power must be (n_frames, {self._pool.shape[0]}), got shape {power.shape}")
        missing = ~power.any(axis=1)
        level_db = power_to_db(np.maximum(power @ self._pool, 1e-30)).astype(np.float32)
        out = np.zeros((len(power), N_BINS), dtype=np.float32)
        floor = self._floor_db
        for i in np.flatnonzero(~missing):  # few NumPy calls per frame: this loop runs every hop
            frame = level_db[i]
            if floor is None:  # (re)start: the quiet part of this frame, not a mover already there
                floor = np.minimum(frame, np.percentile(frame, START_PERCENTILE) + START_MARGIN_DB)
            over = np.subtract(frame, floor, out=out[i])
            floor += np.where(over > 0, self._rise, self._fall) * over
        self._floor_db = floor
        return np.clip(out, *CLIP_DB) / DB_SCALE, missing
