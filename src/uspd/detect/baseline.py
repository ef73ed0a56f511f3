"""The classical baseline: Doppler energy and bandwidth against an adaptive noise floor.

In the spirit of SoundWave (Gupta et al., CHI 2012): motion shows as Doppler energy
outside the clutter notch around 0 m/s, spread over several velocity bins. A body moves
one way at a time, while fan blades and a speaker's intermodulation put equal energy on
both sides of the carrier: ``asymmetry_weight`` blends the total excess energy with its
one-sided part |E₊ − E₋|, in which such symmetric pairs cancel. Each bin keeps
its own noise floor: the running mean of its power over frames where it is not active,
creeping up only slowly while it is, so a person does not become the floor while a steady
hum does. A bin is active 6 dB over that mean: noise alone crosses it in 1.8 % of bins with
one microphone (exponential power) and almost never when several mics are averaged. Every
learned detector has to beat this one, so it is tuned, not a straw man.

>>> detector = BaselineDetector(config.baseline, front.velocity_m_s, hop_s=0.02)
>>> for block in stream:
...     power, frame_end_s = front.process(block)
...     frames = detector.process(power)        # scores in [0, 1], one per frame
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uspd.config import BaselineConfig
from uspd.physics import power_to_db

_TINY = np.finfo(float).tiny  # keeps a floor of exact zeros (digital silence) dividable


@dataclass(frozen=True)
class BaselineFrames:
    """Per-frame outputs, all of shape (n_frames,)."""

    score: np.ndarray  # motion score in [0, 1]
    excess_db: np.ndarray  # mean energy above the floor outside the notch, dB re floor
    active_bins: np.ndarray  # velocity bins ≥ active_db above their floor (the bandwidth)
    centroid_m_s: np.ndarray  # energy-weighted radial velocity of the active bins; + approaching


class BaselineDetector:
    """Streaming detector over Doppler power frames (n_frames, n_velocity).

    State: the per-bin floor (mean power over frames where the bin is not active). Frames may come one at a time or many at once; the
    result is the same either way.
    """

    def __init__(self, config: BaselineConfig, velocity_m_s: np.ndarray, hop_s: float) -> None:
        if hop_s <= 0:
            raise ValueError(f"hop must be positive, got {hop_s} s")
        self.config = config
        self._outside = np.abs(np.asarray(velocity_m_s)) >= config.notch_m_s
        if not self._outside.any():
            raise ValueError(f"the notch (±{config.notch_m_s} m/s) covers the whole velocity axis")
        self._velocity = np.asarray(velocity_m_s, dtype=float)[self._outside]
        self._positive = self._velocity > 0
        self._rise = 1.0 - np.exp(-hop_s / config.floor_rise_s)
        self._track = 1.0 - np.exp(-hop_s / config.floor_track_s)
        self._warmup_frames = int(np.ceil(config.warmup_s / hop_s))
        self.reset()

    def reset(self) -> None:
        """A new stream: the first frame sets the floor; scores stay 0 for ``warmup_s``."""
        self._floor: np.ndarray | None = None
        self._seen = 0
        self._blind = self._warmup_frames  # frames left whose score is forced to 0

    def process(self, power: np.ndarray) -> BaselineFrames:
        """Doppler power (n_frames, n_velocity) → per-frame outputs.

        A frame of digital silence (a muted input, a paused tone) is missing data: it
        scores 0, leaves the floor alone and restarts the warm-up, so the tone coming back
        (a broadband switch-on) is not taken for motion.
        """
        power = np.asarray(power, dtype=float)
        if power.ndim != 2 or power.shape[1] != len(self._outside):
            raise ValueError(f"power must be (n_frames, {len(self._outside)}), got shape {power.shape}")
        cfg = self.config
        frames = power[:, self._outside]
        n = len(frames)
        excess_db, active, centroid = np.full(n, -np.inf), np.zeros(n, dtype=int), np.zeros(n)
        blind = np.zeros(n, dtype=bool)
        threshold = 10.0 ** (cfg.active_db / 10.0)
        for i, frame in enumerate(frames):
            if not frame.any():
                self._blind = self._warmup_frames
                blind[i] = True
                continue
            blind[i] = self._blind > 0
            self._blind = max(self._blind - 1, 0)
            if self._floor is None:
                self._floor = np.maximum(frame, _TINY)
            ratio = frame / self._floor
            on = ratio >= threshold
            energy = np.where(on, ratio - 1.0, 0.0) if on.sum() >= cfg.min_active_bins else np.zeros_like(ratio)
            approaching, receding = energy[self._positive].sum(), energy[~self._positive].sum()
            one_sided = (1.0 - cfg.asymmetry_weight) * (approaching + receding) + cfg.asymmetry_weight * abs(
                approaching - receding)
            excess_db[i] = power_to_db(one_sided / len(energy))
            active[i] = on.sum()
            centroid[i] = (energy @ self._velocity) / energy.sum() if energy.any() else 0.0
            # Inactive bins: running mean of power (plain mean until the time constant is
            # reached). Active bins: creep up in dB, so a loud mover loses a fixed share of
            # its excess per second however strong it is, and a steady hum is absorbed.
            self._seen += 1
            tracked = self._floor + max(self._track, 1.0 / self._seen) * (frame - self._floor)
            crept = self._floor * (np.maximum(ratio, 1.0) ** self._rise)
            self._floor = np.maximum(np.where(on, crept, tracked), _TINY)
        score = 1.0 / (1.0 + np.exp(-(excess_db - cfg.score_center_db) / cfg.score_width_db))
        score[blind] = 0.0
        return BaselineFrames(score, excess_db, active, centroid)
