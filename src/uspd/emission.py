"""The pilot tone's emission: its on/off schedule, the duty-cycle scheduler, the level cap.

Three pieces, each small and pure:

- :class:`ToneGate` is the tone's amplitude over time (0 = off, 1 = on) with click-free
  raised-cosine ramps. The simulator renders through it (no tone, no echoes), a sound
  card would play through it, and :class:`GatedFrames` uses it to keep the front end
  away from the switching (frames while the tone is off or settling are *no data*).
- :class:`DutyCycler` switches the tone off once presence is established, probes briefly
  every ``off_s`` and goes back to continuous sensing when a probe sees no motion (see
  ``[duty_cycle]`` in :mod:`uspd.config`).
- :func:`capped_level_dbfs` keeps a requested drive level under the hard SPL cap.

>>> gate = ToneGate(ramp_s=0.02)
>>> cycler = DutyCycler(config.duty_cycle, gate)
>>> frames = GatedFrames(spectrogram, gate, settle_s=config.duty_cycle.settle_s)
>>> for block, start_s in baseband_blocks:            # rendered or recorded through the gate
...     decisions = detection.process(*frames.process(block, start_s))
...     cycler.update(decisions, now_s=start_s + block.shape[-1] / rate)
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal

import numpy as np

from uspd.config import DutyCycleConfig
from uspd.detect.pipeline import Decisions
from uspd.frontend.spectrogram import DopplerSpectrogram
from uspd.sim.sources import ease


class ToneGate:
    """The tone's on/off schedule: switches at increasing times, each a raised-cosine ramp
    of ``ramp_s`` starting at its time. A gate with no switches is always ``initially_on``."""

    def __init__(self, ramp_s: float = 0.02, initially_on: bool = True) -> None:
        if ramp_s <= 0:
            raise ValueError(f"ramp_s must be positive, got {ramp_s}")
        self.ramp_s = float(ramp_s)
        self.initially_on = bool(initially_on)
        self.times_s: list[float] = []
        self.states: list[bool] = []  # state each switch goes to

    def state_at(self, time_s: float) -> bool:
        """The state the latest switch at or before ``time_s`` goes to (ramps included)."""
        i = bisect_right(self.times_s, time_s)
        return self.states[i - 1] if i else self.initially_on

    @property
    def on(self) -> bool:
        """The state after the last switch."""
        return self.states[-1] if self.states else self.initially_on

    def steadily_on(self, time_s: float) -> bool:
        """On at ``time_s`` with the last switch's ramp over (what a calibration re-check needs)."""
        return self.on and (not self.times_s or self.times_s[-1] + self.ramp_s <= time_s)

    def switch(self, time_s: float, on: bool) -> bool:
        """Turn the tone on or off from ``time_s``; False (nothing done) if it already is."""
        if bool(on) == self.on:
            return False
        if self.times_s and time_s < self.times_s[-1] + self.ramp_s:
            raise ValueError(f"a switch at {time_s:.3f} s would start inside the ramp of the one at {self.times_s[-1]:.3f} s")
        self.times_s.append(float(time_s))
        self.states.append(bool(on))
        return True

    def gain(self, t_s: np.ndarray) -> np.ndarray:
        """Tone amplitude in [0, 1] at times ``t_s`` (any shape)."""
        t_s = np.asarray(t_s, dtype=float)
        if t_s.size == 0:
            return np.ones(t_s.shape)
        lo, hi = float(t_s.min()), float(t_s.max())
        first = bisect_right(self.times_s, lo - self.ramp_s)  # switches still ramping at lo or later
        last = bisect_right(self.times_s, hi)
        before = self.states[first - 1] if first else self.initially_on
        out = np.full(t_s.shape, float(before))
        for time_s, state in zip(self.times_s[first:last], self.states[first:last]):
            out += (1.0 if state else -1.0) * ease((t_s - time_s) / self.ramp_s)
        return np.clip(out, 0.0, 1.0)

    def constant(self, start_s: float, stop_s: float) -> float | None:
        """The gain over [start_s, stop_s] if no ramp touches it (0.0 or 1.0), else None."""
        first = bisect_right(self.times_s, start_s - self.ramp_s)
        if first < len(self.times_s) and self.times_s[first] <= stop_s:
            return None
        return float(self.state_at(start_s))

    def on_seconds(self, start_s: float, stop_s: float) -> float:
        """Seconds of [start_s, stop_s) with the tone on (a ramp counts from its switch time)."""
        edges = [start_s] + [t for t in self.times_s if start_s < t < stop_s] + [stop_s]
        return float(sum(b - a for a, b in zip(edges[:-1], edges[1:]) if self.state_at(a)))


@dataclass(frozen=True)
class DutyStats:
    """Emission duty over a stretch of time (what a dashboard shows)."""

    duration_s: float
    on_s: float
    switches: int

    @property
    def duty_pct(self) -> float:
        return 100.0 * self.on_s / self.duration_s if self.duration_s > 0 else 100.0


def duty_stats(gate: ToneGate, start_s: float, stop_s: float) -> DutyStats:
    switches = sum(start_s <= t < stop_s for t in gate.times_s)
    return DutyStats(stop_s - start_s, gate.on_seconds(start_s, stop_s), switches)


Mode = Literal["continuous", "off", "probe"]


class DutyCycler:
    """Occupied and moving → tone off for ``off_s`` → probe for ``probe_s`` → motion seen:
    off again; no motion: continuous until motion is seen again. Vacant: always continuous.

    It acts on each block of decisions once it is processed, switching the gate from the
    block's end (``now_s``): a real device hears a block before it can react to it.
    ``transitions`` lists (time_s, mode) for the dashboard and the report. While ``held``
    (a calibration re-check has the tone paused) it switches nothing.
    """

    def __init__(self, config: DutyCycleConfig, gate: ToneGate, hold_s: float | None = None) -> None:
        if hold_s is not None:
            config.check_within_hold(hold_s)
        self.config = config
        self.gate = gate
        self.mode: Mode = "continuous"
        self._occupied = False
        self._until_s = 0.0
        self._probe_start_s = 0.0
        self.transitions: list[tuple[float, Mode]] = []
        self.held = False

    def _enter(self, mode: Mode, now_s: float) -> None:
        self.mode = mode
        self.gate.switch(now_s, mode != "off")
        self.transitions.append((now_s, mode))
        if mode == "off":
            self._until_s = now_s + self.config.off_s
        elif mode == "probe":
            self._probe_start_s, self._until_s = now_s, now_s + self.config.probe_s

    def update(self, decisions: Decisions, now_s: float) -> Mode:
        """Take one block's decisions (the block ends at ``now_s``); returns the new mode."""
        if self.held:
            return self.mode
        if len(decisions.time_s):
            self._occupied = bool(decisions.occupied[-1])
        occupied = self._occupied
        moving = decisions.motion != "none"
        if not occupied:
            if self.mode != "continuous":
                self._enter("continuous", now_s)
        elif self.mode == "continuous":
            if moving.any():
                self._enter("off", now_s)
        elif self.mode == "off":
            if now_s >= self._until_s:
                self._enter("probe", now_s)
        elif np.any(moving & (decisions.time_s > self._probe_start_s)):
            self._enter("off", now_s)
        elif now_s >= self._until_s:
            self._enter("continuous", now_s)  # in doubt: sense continuously until motion is seen
        return self.mode


class GatedFrames:
    """A Doppler spectrogram fed only while the tone is steadily on.

    Samples while the gate is off, ramping, or within ``settle_s`` after a switch-on (the
    room's echoes building up) never reach the spectrogram; their hops come out as
    all-zero frames (no data: the detectors skip them, the presence clock keeps running).
    At each switch-on the spectrogram restarts in steady state, so a probe yields frames
    one frame length after its ramp instead of after the front end's tone re-adoption.
    """

    def __init__(self, spectrogram: DopplerSpectrogram, gate: ToneGate, settle_s: float) -> None:
        self.spectrogram = spectrogram
        self.gate = gate
        self.settle_s = settle_s
        self._hop_s = spectrogram.hop / spectrogram.rate_hz
        self._last_s = -np.inf  # end time of the last frame handed out
        self._feeding = False

    def steady(self, t_s: np.ndarray) -> np.ndarray:
        """Tone fully on now and ``settle_s`` ago."""
        return (self.gate.gain(t_s) >= 1.0) & (self.gate.gain(t_s - self.settle_s) >= 1.0)

    def process(self, block: np.ndarray, start_s: float,
                playback: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(n_mics, n) baseband starting at ``start_s`` → power (n_frames, n_velocity), frame end times;
        ``playback`` (n_regressors, n): what the device played meanwhile, as the spectrogram takes it."""
        rate = self.spectrogram.rate_hz
        n = block.shape[-1]
        steady = self.steady(start_s + np.arange(n) / rate)
        edges = np.flatnonzero(np.diff(steady.astype(np.int8))) + 1
        powers, times = [], []
        for a, b in zip(np.r_[0, edges], np.r_[edges, n]):
            played = None if playback is None else playback[:, a:b]
            if not steady[a]:
                self._feeding = False
                parts = [self._blank(start_s + a / rate, start_s + b / rate)]
            elif self._feeding:
                parts = [self.spectrogram.process(block[:, a:b], playback=played)]
            else:  # the tone is back: restart, with blank hops until the first frame fills
                self.spectrogram.reset(start_s + a / rate)
                self._feeding = True
                parts = [self._blank(start_s + a / rate, start_s + (a + self.spectrogram.frame) / rate, inclusive=False),
                         self.spectrogram.process(block[:, a:b], playback=played)]
            for power, ends in parts:
                if len(ends):
                    self._last_s = float(ends[-1])
                powers.append(power)
                times.append(ends)
        return np.concatenate(powers), np.concatenate(times)

    def _blank(self, from_s: float, until_s: float, inclusive: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """No-data frames on the hop grid after the last frame handed out (or ``from_s``), up to ``until_s``."""
        last = np.floor(until_s / self._hop_s + (1e-9 if inclusive else -1e-9))
        first = np.floor((self._last_s if np.isfinite(self._last_s) else from_s) / self._hop_s + 1e-9) + 1
        ends = np.arange(first, last + 1) * self._hop_s
        ends = ends[ends > self._last_s]
        return np.zeros((len(ends), len(self.spectrogram.velocity_m_s)), dtype=np.float32), ends


def capped_level_dbfs(requested_dbfs: float, spl_at_0dbfs_db: float, max_spl_db: float,
                      max_level_dbfs: float = 0.0) -> float:
    """The highest drive ≤ ``requested_dbfs`` whose tone stays under ``max_spl_db`` (dB SPL
    at 1 m) given the SPL a full-scale tone makes (``spl_at_0dbfs_db``) and ≤ full scale."""
    return float(min(requested_dbfs, max_spl_db - spl_at_0dbfs_db, max_level_dbfs))
