"""Things that sound in the room, and airflow that bends the pilot tone: the distractors.

Every class is a frozen dataclass of plain numbers, strings and tuples (its
``dataclasses.asdict`` is JSON) and a deterministic function of absolute time, so the
renderers may evaluate any block of times, in any order, at any rate, including the
off-grid times ``t − delay`` of each microphone. Randomness comes from the ``seed`` field:
seeded schedules (clicks, sweeps, drift) and white noise drawn per fixed block of an
absolute sample grid, filtered on that grid and interpolated (see :func:`evaluate_grid`).

Sources (:class:`~uspd.sim.base.Source`), pressure in Pa referred to 1 m:

- :class:`InterfererTone`: another device's pilot tone, near our carrier or on it, drifting.
- :class:`PestRepeller`: a loud 25–60 kHz sweep (optionally pulsed) from a wall socket.
- :class:`KeysJingle`, :class:`PaperCrinkle` (one :class:`Transients` implementation):
  seeded bursts of clicks at a hand. Keys ring: each click also excites the modes of one
  key, so short lines cross the Doppler band. Paper only crackles.
- :class:`AirflowHiss`: broadband hiss from an HVAC vent.

Every source gives its real waveform (:meth:`passband_pa`) and its complex envelope around
the carrier (:meth:`baseband_pa`), keeping only |f − f0| < bandwidth/2 without aliasing.
Tonal sources give the *same* waveform in both (Re{baseband·e^{j2πf0t}} = passband while
the tone is in band) and taper the envelope to zero by instantaneous frequency at the
band edge. Noise-like sources give a baseband noise with the passband's power spectral
density at f0 (same click schedule, independent noise fill): the baseband renderer runs
for hours at ~3 kHz and must never touch the 100+ kHz passband grid.

Levels of broadband sources are quoted as the RMS SPL at 1 m in 20–50 kHz while they
sound (:data:`LEVEL_BAND_HZ`), the band that matters for an ultrasonic carrier.

``passband_pa`` accepts ``max_frequency_hz``: content above it is dropped, as a
microphone's anti-alias filter would. A renderer sampling at rate fs should pass fs/2;
without it a 60 kHz sweep sampled at 96 kHz aliases into the carrier band.

The modulator :class:`HvacTurbulence` is the airflow itself: turbulent velocity and
temperature fluctuations change the travel time of the part of the static field that
crosses the flow, a slow random phase wander that looks like slow motion.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Protocol

import numpy as np
from scipy import signal, special

from uspd.physics import spl_to_pa, speed_of_sound_m_s
from uspd.sim.base import Modulator, Source, windows_near

ALWAYS_S = ((-1.0e9, 1.0e9),)
"""A schedule window no scene leaves (JSON has no infinity)."""
LEVEL_BAND_HZ = (20000.0, 50000.0)
"""Band in which the level of a broadband source is quoted."""
NOMINAL_SPEED_OF_SOUND_M_S = float(speed_of_sound_m_s(20.0))
"""For effects whose size, not exact phase, depends on c (cone Doppler, turbulence)."""
EDGE_TAPER = 0.15
"""Fraction of a band edge over which tapers fall from 1 to 0."""

_SEED_OFFSET = 2**40  # keeps negative block indices valid seed entries
_BLOCK = 8192  # samples per cached grid block
_INTERP_CHUNK = 1 << 14  # times per interpolation pass (bounds memory)
_CONTIGUOUS_BLOCKS = 16  # requests spanning fewer blocks read all of them
SMOOTH = (4, 8.0)
"""Interpolation kernel (half-width in taps, Kaiser β) for content below rate/8: < −70 dB error."""
SHARP = (16, 8.0)
"""Kernel for content up to 0.42·rate: < −75 dB error."""
_KERNEL_PHASES = 512  # tabulated fractional offsets; linear in between (< −100 dB)


# --------------------------------------------------------------------------------------
# Signal primitives (shared with uspd.sim.music)
# --------------------------------------------------------------------------------------
def ease(x: np.ndarray | float) -> np.ndarray:
    """0 → 1 raised-cosine step over [0, 1], clipped outside: click-free switching."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def gate(t_s: np.ndarray, windows_s: tuple[tuple[float, float], ...], ramp_s: float) -> np.ndarray:
    """Smooth 0/1 envelope: 1 inside any (on, off) window, ramping over ramp_s inside its edges."""
    out = np.zeros(t_s.shape)
    for on_s, off_s in windows_near(windows_s, t_s, ramp_s):
        ramp = min(ramp_s, 0.5 * (off_s - on_s))
        out += ease((t_s - on_s) / ramp) * (1.0 - ease((t_s - off_s + ramp) / ramp))
    return np.minimum(out, 1.0)


def inside(t_s: np.ndarray, windows_s: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Is each time inside any (on, off) window: the ground truth of 'sounding'."""
    out = np.zeros(t_s.shape, dtype=bool)
    for on_s, off_s in windows_near(windows_s, t_s, 0.0):
        out |= (t_s >= on_s) & (t_s < off_s)
    return out


def check_windows(windows_s: tuple[tuple[float, float], ...]) -> None:
    if any(off <= on for on, off in windows_s):
        raise ValueError(f"every schedule window needs off > on, got {windows_s}")


def band_weight(frequency_hz: np.ndarray | float, half_band_hz: float) -> np.ndarray:
    """1 well inside |f| < half_band, raised-cosine to 0 at the edge, 0 beyond."""
    start = (1.0 - EDGE_TAPER) * half_band_hz
    return 1.0 - ease((np.abs(frequency_hz) - start) / (half_band_hz - start))


def event_sum(
    t_s: np.ndarray, starts_s: np.ndarray, lengths_s: np.ndarray,
    shape: Callable[[int, np.ndarray], np.ndarray], dtype: type = float,
) -> np.ndarray:
    """Σ_k shape(k, t − start_k) over events, each touching only its own [start, start + length)."""
    order = np.argsort(t_s, kind="stable")
    sorted_t = t_s[order]
    total = np.zeros(t_s.shape, dtype=dtype)
    lo = np.searchsorted(sorted_t, starts_s, "left")
    hi = np.searchsorted(sorted_t, starts_s + lengths_s, "left")
    for k in np.flatnonzero(hi > lo):
        total[lo[k] : hi[k]] += shape(int(k), sorted_t[lo[k] : hi[k]] - starts_s[k])
    out = np.empty_like(total)
    out[order] = total
    return out


def white_noise(
    seed: int, stream: int, start: int, stop: int, complex_valued: bool, n_channels: int | None = None
) -> np.ndarray:
    """Unit-power white noise at absolute grid indices [start, stop), drawn per fixed block,
    so any span of it is the same whatever the calls that cover it: (n,), or (n_channels, n)."""
    first, last = start // _BLOCK, (stop - 1) // _BLOCK
    shape = (_BLOCK,) if n_channels is None else (n_channels, _BLOCK)
    parts = []
    for block in range(first, last + 1):
        rng = np.random.default_rng([seed, stream, block + _SEED_OFFSET])
        if complex_valued:
            pair = rng.standard_normal((2, *shape))
            parts.append((pair[0] + 1j * pair[1]) / np.sqrt(2.0))
        else:
            parts.append(rng.standard_normal(shape))
    return np.concatenate(parts, axis=-1)[..., start - first * _BLOCK : stop - first * _BLOCK]


def lowpass_taps(rate_hz: float, half_band_hz: float) -> np.ndarray:
    """Zero-phase FIR: flat to (1 − EDGE_TAPER/2)·B, ≥ 60 dB down from B, unit DC gain."""
    width = 0.5 * EDGE_TAPER * half_band_hz
    numtaps, beta = signal.kaiserord(60.0, width / (0.5 * rate_hz))
    taps = signal.firwin(numtaps | 1, half_band_hz - 0.5 * width, window=("kaiser", beta), fs=rate_hz)
    return taps / taps.sum()


def shaping_taps(rate_hz: float, amplitude: Callable[[np.ndarray], np.ndarray], numtaps: int) -> np.ndarray:
    """Zero-phase FIR with the given amplitude response (frequency sampling, Hamming window)."""
    freq = np.linspace(0.0, 0.5 * rate_hz, 2 * numtaps + 1)
    return signal.firwin2(numtaps, freq, amplitude(freq), fs=rate_hz)


def windowed_sinc(distance: np.ndarray, kernel: tuple[int, float]) -> np.ndarray:
    """Kaiser-windowed sinc at ``distance`` samples from its centre (zero beyond ±half)."""
    half, beta = kernel
    window = special.i0(beta * np.sqrt(np.maximum(1.0 - (distance / half) ** 2, 0.0))) / special.i0(beta)
    return np.where(np.abs(distance) < half, np.sinc(distance) * window, 0.0)


@lru_cache(maxsize=8)
def _kernel_table(kernel: tuple[int, float]) -> np.ndarray:
    """(phases + 1, 2·half) Kaiser-windowed sinc taps for fractional offsets 0..1."""
    half = kernel[0]
    return windowed_sinc(np.linspace(0.0, 1.0, _KERNEL_PHASES + 1)[:, None] - np.arange(-half + 1, half + 1), kernel)


def interpolate(
    samples_at: Callable[[np.ndarray], np.ndarray], position: np.ndarray, kernel: tuple[int, float]
) -> np.ndarray:
    """Band-limited value at fractional grid positions (Kaiser-windowed sinc).

    Exact at integer positions. When every position is within 1e-6 of the grid (a
    request on a sub-grid, up to rounding) samples are read directly: < −110 dB error.
    """
    nearest = np.rint(position)
    if np.all(np.abs(position - nearest) < 1e-6):
        return samples_at(nearest.astype(np.int64))
    table = _kernel_table(kernel)
    offsets = np.arange(-kernel[0] + 1, kernel[0] + 1)
    parts = []
    for lo in range(0, len(position), _INTERP_CHUNK):
        x = position[lo : lo + _INTERP_CHUNK]
        base = np.floor(x)
        phase = (x - base) * _KERNEL_PHASES
        row = np.minimum(phase.astype(np.int64), _KERNEL_PHASES - 1)
        blend = (phase - row)[:, None]
        taps = table[row] * (1.0 - blend) + table[row + 1] * blend
        values = samples_at(base.astype(np.int64)[:, None] + offsets)
        parts.append(np.einsum("tk,tk->t", taps, values))
    return np.concatenate(parts)


@dataclass(frozen=True, eq=False)
class GridPlan:
    """A signal defined on the absolute grid k/rate_hz: raw samples filtered by ``taps``.

    ``raw(start, stop)`` returns the unfiltered samples for indices [start, stop), or a
    number when they are all that constant (nothing sounding). Filtering happens per
    fixed block with margins, so every request sees identical samples.
    """

    rate_hz: float
    taps: np.ndarray
    raw: Callable[[int, int], np.ndarray | float]
    kernel: tuple[int, float] = SMOOTH


class GridSignal(Protocol):
    def grid_plan(self, key: tuple) -> GridPlan: ...


@lru_cache(maxsize=64)
def _plan(owner: GridSignal, key: tuple) -> GridPlan:
    return owner.grid_plan(key)


@lru_cache(maxsize=512)
def _block(owner: GridSignal, key: tuple, block: int) -> np.ndarray:
    plan = _plan(owner, key)
    half = len(plan.taps) // 2
    start = block * _BLOCK
    raw = plan.raw(start - half, start + _BLOCK + half)
    if np.isscalar(raw):
        return np.full(_BLOCK, raw * plan.taps.sum())
    return signal.oaconvolve(raw, plan.taps, mode="valid")


def evaluate_grid(owner: GridSignal, key: tuple, t_s: np.ndarray) -> np.ndarray:
    """Evaluate ``owner.grid_plan(key)`` at arbitrary times: cached blocks, then interpolation."""
    plan = _plan(owner, key)
    if len(t_s) == 0:
        return _block(owner, key, 0)[:0]

    def samples_at(index: np.ndarray) -> np.ndarray:
        first, last = int(index.min()) // _BLOCK, int(index.max()) // _BLOCK
        if last - first < _CONTIGUOUS_BLOCKS:  # a block of times: read the run of blocks it spans
            table = np.concatenate([_block(owner, key, b) for b in range(first, last + 1)])
            return table[index - first * _BLOCK]
        flat = index.reshape(len(index), -1)  # scattered times: only the blocks they touch
        needed = np.unique(np.concatenate([flat[:, 0], flat[:, -1]]) // _BLOCK)
        table = np.concatenate([_block(owner, key, int(b)) for b in needed])
        slot = np.searchsorted(needed, flat // _BLOCK)
        return table[slot * _BLOCK + flat % _BLOCK].reshape(index.shape)

    return interpolate(samples_at, np.asarray(t_s, dtype=float) * plan.rate_hz, plan.kernel)


@lru_cache(maxsize=64)
def _drift_components(seed: int, stream: int, low_hz: float, high_hz: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng([seed, stream])
    omega = 2.0 * np.pi * np.exp(rng.uniform(np.log(low_hz), np.log(high_hz), 4))
    amp = rng.uniform(0.5, 1.0, 4)
    return omega, rng.uniform(0.0, 2.0 * np.pi, 4), amp * np.sqrt(2.0 / np.sum(amp**2))


def slow_noise(t_s: np.ndarray, seed: int, stream: int, low_hz: float, high_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit-RMS smooth random wander (a seeded sum of sinusoids) and its time integral."""
    omega, phase, amp = _drift_components(seed, stream, low_hz, high_hz)
    arg = omega * t_s[:, None] + phase
    return np.cos(arg) @ amp, np.sin(arg) @ (amp / omega)


def onset_decay(tau_s: np.ndarray, decay_s: float | np.ndarray, attack_s: float) -> np.ndarray:
    """Impulse response of a struck or crackling body, (1 − e^{−τ/attack})·e^{−τ/decay} for
    τ ≥ 0 (callers pass event slices, which start at the event)."""
    return -np.expm1(-tau_s / attack_s) * np.exp(-tau_s / decay_s)


def onset_decay_energy(decay_s: float | np.ndarray, attack_s: float) -> np.ndarray:
    """∫ onset_decay² dτ, analytically (for level normalisation)."""
    a, d = 1.0 / attack_s, 1.0 / decay_s
    return 0.5 / d - 2.0 / (a + 2.0 * d) + 1.0 / (2.0 * a + 2.0 * d)


# --------------------------------------------------------------------------------------
# Placement and schedules for sample()
# --------------------------------------------------------------------------------------
Vec3 = tuple[float, float, float]


def wall_point(rng: np.random.Generator, room_size_m: Vec3, height_m: float, inset_m: float) -> Vec3:
    """A point ``inset_m`` in front of a random side wall, at least 0.3 m from the corners."""
    lx, ly, _ = room_size_m
    wall = int(rng.integers(4))
    along = float(rng.uniform(0.3, (ly if wall < 2 else lx) - 0.3))
    across = inset_m if wall % 2 == 0 else (lx if wall < 2 else ly) - inset_m
    x, y = (across, along) if wall < 2 else (along, across)
    return float(x), float(y), float(height_m)


def room_point(rng: np.random.Generator, room_size_m: Vec3, device_m: Vec3, height_m: float, clearance_m: float) -> Vec3:
    """A point 0.4 m inside the walls, ``clearance_m`` from the device where the room allows."""
    lx, ly, _ = room_size_m
    for _ in range(50):
        xy = rng.uniform((0.4, 0.4), (lx - 0.4, ly - 0.4))
        if np.hypot(xy[0] - device_m[0], xy[1] - device_m[1]) >= clearance_m:
            break
    return float(xy[0]), float(xy[1]), float(height_m)


def random_windows(
    rng: np.random.Generator, duration_s: float, always_probability: float, length_s: tuple[float, float], max_windows: int = 3
) -> tuple[tuple[float, float], ...]:
    """Either always on, or 1..max_windows non-overlapping windows inside the scene."""
    if rng.uniform() < always_probability:
        return ALWAYS_S
    windows: list[tuple[float, float]] = []
    cursor = 0.0
    for _ in range(int(rng.integers(1, max_windows + 1))):
        length = float(rng.uniform(*length_s))
        if cursor + length > duration_s:
            break
        on = float(rng.uniform(cursor, duration_s - length))
        windows.append((on, on + length))
        cursor = on + length + 0.5
    return tuple(windows) or ((0.0, min(duration_s, length_s[1])),)


# --------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Placed(Source):
    """A source at ``location_m`` that sounds inside ``windows_s`` (ramped over ``ramp_s``)."""

    location_m: Vec3 = (1.0, 1.0, 1.0)
    windows_s: tuple[tuple[float, float], ...] = ALWAYS_S
    ramp_s: float = 0.02

    def __post_init__(self) -> None:
        check_windows(self.windows_s)

    @property
    def position_m(self) -> np.ndarray:
        return np.asarray(self.location_m, dtype=float)

    def active(self, t_s: np.ndarray) -> np.ndarray:
        return inside(t_s, self.windows_s)


@dataclass(frozen=True)
class _Tonal(_Placed):
    """A single tone of known phase: baseband and passband are the same waveform."""

    level_db_spl: float = 70.0

    @abstractmethod
    def _phase(self, t_s: np.ndarray, reference_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """Phase relative to reference_hz·t (rad) and instantaneous frequency (Hz)."""

    def _amplitude_pa(self, t_s: np.ndarray) -> np.ndarray:
        return np.sqrt(2.0) * spl_to_pa(self.level_db_spl) * gate(t_s, self.windows_s, self.ramp_s)

    def passband_pa(self, t_s: np.ndarray, max_frequency_hz: float | None = None) -> np.ndarray:
        phase, frequency = self._phase(t_s, 0.0)
        weight = 1.0 if max_frequency_hz is None else band_weight(frequency, max_frequency_hz)
        return self._amplitude_pa(t_s) * weight * np.cos(phase)

    def baseband_pa(self, t_s: np.ndarray, carrier_hz: float, bandwidth_hz: float) -> np.ndarray:
        phase, frequency = self._phase(t_s, carrier_hz)
        weight = band_weight(frequency - carrier_hz, 0.5 * bandwidth_hz)
        return self._amplitude_pa(t_s) * weight * np.exp(1j * phase)


@dataclass(frozen=True)
class InterfererTone(_Tonal):
    """Another ultrasonic device's pilot tone: its crystal sits tens to hundreds of Hz
    from ours (a beat in the Doppler band), or on the same nominal frequency and drifting
    a few Hz with temperature (a slow 'mover' that never stops)."""

    kind: ClassVar[str] = "interferer_tone"

    frequency_hz: float = 32300.0
    drift_hz: float = 1.0  # RMS of the slow frequency wander (periods 10–120 s)
    phase_rad: float = 0.0
    seed: int = 0

    def _phase(self, t_s: np.ndarray, reference_hz: float) -> tuple[np.ndarray, np.ndarray]:
        wander, wander_integral = slow_noise(t_s, self.seed, 1, 1.0 / 120.0, 1.0 / 10.0)
        phase = 2.0 * np.pi * ((self.frequency_hz - reference_hz) * t_s + self.drift_hz * wander_integral) + self.phase_rad
        return phase, self.frequency_hz + self.drift_hz * wander

    @property
    def dominant_frequency_hz(self) -> float:
        return self.frequency_hz

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Vec3, device_m: Vec3, duration_s: float,
               carrier_hz: float, **kw) -> InterfererTone:
        """Another device on a shelf: 55 % a nearby offset, 25 % same nominal frequency, 20 % far off."""
        mode = rng.uniform()
        sign = float(rng.choice((-1.0, 1.0)))
        if mode < 0.55:
            offset, drift = sign * rng.uniform(50.0, 800.0), rng.uniform(0.0, 1.0)
        elif mode < 0.8:
            offset, drift = rng.uniform(-5.0, 5.0), rng.uniform(0.5, 3.0)
        else:
            offset, drift = sign * rng.uniform(2000.0, 8000.0), rng.uniform(0.0, 2.0)
        source = cls(
            location_m=wall_point(rng, room_size_m, float(rng.uniform(0.4, 2.0)), 0.1),
            windows_s=random_windows(rng, duration_s, 0.6, (0.2 * duration_s, 0.8 * duration_s)),
            ramp_s=float(rng.uniform(0.005, 0.05)), seed=int(rng.integers(2**31)),
            level_db_spl=float(rng.uniform(50.0, 80.0)), frequency_hz=float(max(carrier_hz + offset, 18000.0)),
            drift_hz=float(drift), phase_rad=float(rng.uniform(0.0, 2.0 * np.pi)),
        )
        return dataclasses.replace(source, **kw)


_SWEEP_SHAPES = ("saw", "triangle")
_PULSE_RAMP_S = 0.002


@dataclass(frozen=True)
class PestRepeller(_Tonal):
    """A plug-in rodent repeller: a loud phase-continuous sweep between low_hz and high_hz
    (sawtooth or triangle, one sweep per ``sweep_period_s``), optionally chopped into
    pulses. In baseband it is a chirp crossing the band once or twice per period."""

    kind: ClassVar[str] = "pest_repeller"

    location_m: Vec3 = (0.03, 1.0, 0.3)
    level_db_spl: float = 92.0
    low_hz: float = 25000.0
    high_hz: float = 55000.0
    sweep_period_s: float = 0.5
    sweep_shape: str = "triangle"
    pulse_period_s: float = 0.0  # 0: continuous
    pulse_duty: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sweep_shape not in _SWEEP_SHAPES:
            raise ValueError(f"sweep_shape must be one of {_SWEEP_SHAPES}, got '{self.sweep_shape}'")

    def _profile(self) -> tuple[np.ndarray, np.ndarray]:
        """Knots (time within a period, frequency) of the piecewise-linear sweep."""
        p, lo, hi = self.sweep_period_s, self.low_hz, self.high_hz
        if self.sweep_shape == "saw":
            return np.array([0.0, p]), np.array([lo, hi])
        return np.array([0.0, 0.5 * p, p]), np.array([lo, hi, lo])

    def _phase(self, t_s: np.ndarray, reference_hz: float) -> tuple[np.ndarray, np.ndarray]:
        knots_s, knots_hz = self._profile()
        rel = knots_hz - reference_hz
        slope = np.diff(knots_hz) / np.diff(knots_s)
        cycles_at_knot = np.concatenate([[0.0], np.cumsum(0.5 * (rel[1:] + rel[:-1]) * np.diff(knots_s))])
        per_period = cycles_at_knot[-1] % 1.0
        period = np.floor(t_s / self.sweep_period_s)
        tau = t_s - period * self.sweep_period_s
        seg = np.clip(np.searchsorted(knots_s, tau, "right") - 1, 0, len(slope) - 1)
        dt = tau - knots_s[seg]
        cycles = (period * per_period) % 1.0 + cycles_at_knot[seg] + rel[seg] * dt + 0.5 * slope[seg] * dt**2
        return 2.0 * np.pi * (cycles % 1.0), knots_hz[seg] + slope[seg] * dt

    def _amplitude_pa(self, t_s: np.ndarray) -> np.ndarray:
        amplitude = super()._amplitude_pa(t_s)
        if self.pulse_period_s <= 0.0:
            return amplitude
        on_s = self.pulse_duty * self.pulse_period_s
        tau = t_s % self.pulse_period_s
        return amplitude * ease(tau / _PULSE_RAMP_S) * (1.0 - ease((tau - on_s + _PULSE_RAMP_S) / _PULSE_RAMP_S))

    @property
    def dominant_frequency_hz(self) -> float:
        return 0.5 * (self.low_hz + self.high_hz)

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Vec3, device_m: Vec3, duration_s: float,
               carrier_hz: float, **kw) -> PestRepeller:
        """A repeller in a wall socket, usually on all the time; 40 % pulse their sweep."""
        pulsed = rng.uniform() < 0.4
        source = cls(
            location_m=wall_point(rng, room_size_m, float(rng.uniform(0.25, 0.4)), 0.03),
            windows_s=random_windows(rng, duration_s, 0.8, (0.3 * duration_s, 0.9 * duration_s)),
            ramp_s=0.01, level_db_spl=float(rng.uniform(85.0, 100.0)),
            low_hz=float(rng.uniform(25000.0, 32000.0)), high_hz=float(rng.uniform(45000.0, 60000.0)),
            sweep_period_s=float(np.exp(rng.uniform(np.log(0.2), np.log(2.0)))),
            sweep_shape=str(rng.choice(_SWEEP_SHAPES)),
            pulse_period_s=float(rng.uniform(0.05, 0.5)) if pulsed else 0.0,
            pulse_duty=float(rng.uniform(0.2, 0.6)) if pulsed else 1.0,
        )
        return dataclasses.replace(source, **kw)


_KNEE_HZ = 1000.0  # broadband spectra are flat below this
_CLICK_ATTACK_S = 2.0e-5
_CLICK_LENGTH, _RING_LENGTH = 12.0, 8.0  # decay constants an event lasts (−104 dB, −70 dB)
_NOISE_TAPS = 511
_NOISE_STREAM_PASSBAND, _NOISE_STREAM_BASEBAND = 1, 2


@dataclass(frozen=True)
class _Noisy(_Placed):
    """Gaussian noise with one-sided PSD S(f) = K·(f/30 kHz)^(slope/3 dB) (flat below 1 kHz,
    tapered to 0 at top_hz), times a time envelope, scaled so the RMS in 20–50 kHz while
    sounding is ``level_db_spl``.

    The baseband is complex noise with the flat PSD 2·S(f0) (the envelope of a real
    signal with PSD S carries 2·S), times the same envelope, low-passed to the band; the
    tilt across a few kHz of band is ignored.
    """

    level_db_spl: float = 40.0
    slope_db_per_octave: float = -5.0
    top_hz: float = 70000.0
    seed: int = 0

    @abstractmethod
    def _envelope(self, t_s: np.ndarray) -> np.ndarray:
        """Amplitude envelope of the noise (≥ 0): the gate, or a sum of clicks."""

    @abstractmethod
    def _energy_factor(self) -> float:
        """Mean square of the envelope while sounding, including any tonal share."""

    def _ringing(self, t_s: np.ndarray, reference_hz: float, max_offset_hz: float, weight_band_hz: float | None) -> np.ndarray:
        """Complex tonal part relative to reference_hz (none for plain noise)."""
        return np.zeros(t_s.shape, dtype=complex)

    def _shape(self, frequency_hz: np.ndarray | float) -> np.ndarray:
        ratio = np.maximum(frequency_hz, _KNEE_HZ) / 30000.0
        return ratio ** (self.slope_db_per_octave / (10.0 * np.log10(2.0))) * band_weight(frequency_hz, self.top_hz) ** 2

    def psd_pa2_per_hz(self, frequency_hz: np.ndarray | float) -> np.ndarray:
        """One-sided PSD of the noise while its envelope is 1 (Pa²/Hz at 1 m)."""
        return _psd_scale(self) * self._shape(frequency_hz)

    @property
    def _grid_rate_hz(self) -> float:
        return 2.5 * self.top_hz

    def grid_plan(self, key: tuple) -> GridPlan:
        if key[0] == "passband":
            max_frequency_hz = key[1]
            rate = self._grid_rate_hz

            def amplitude(f: np.ndarray) -> np.ndarray:
                cut = 1.0 if max_frequency_hz is None else band_weight(f, max_frequency_hz)
                return np.sqrt(0.5 * rate * self.psd_pa2_per_hz(f)) * cut

            return GridPlan(rate, shaping_taps(rate, amplitude, _NOISE_TAPS),
                            lambda start, stop: white_noise(self.seed, _NOISE_STREAM_PASSBAND, start, stop, False), SHARP)
        _, carrier_hz, bandwidth_hz = key
        rate = 4.0 * bandwidth_hz
        scale = np.sqrt(2.0 * self.psd_pa2_per_hz(carrier_hz) * rate)

        def raw(start: int, stop: int) -> np.ndarray | float:
            t = np.arange(start, stop) / rate
            envelope = self._envelope(t)
            ringing = self._ringing(t, carrier_hz, 0.5 * rate - 0.5 * bandwidth_hz, None)
            if not (envelope.any() or ringing.any()):
                return 0.0
            return scale * envelope * white_noise(self.seed, _NOISE_STREAM_BASEBAND, start, stop, True) + ringing

        return GridPlan(rate, lowpass_taps(rate, 0.5 * bandwidth_hz), raw)

    def passband_pa(self, t_s: np.ndarray, max_frequency_hz: float | None = None) -> np.ndarray:
        envelope = self._envelope(t_s)
        sounding = envelope != 0.0
        out = self._ringing(t_s, 0.0, np.inf, max_frequency_hz).real
        out[sounding] += envelope[sounding] * evaluate_grid(self, ("passband", max_frequency_hz), t_s[sounding])
        return out

    def baseband_pa(self, t_s: np.ndarray, carrier_hz: float, bandwidth_hz: float) -> np.ndarray:
        return evaluate_grid(self, ("baseband", float(carrier_hz), float(bandwidth_hz)), t_s)


@lru_cache(maxsize=64)
def _psd_scale(source: _Noisy) -> float:
    """K such that the expected band power while sounding is the quoted level."""
    f = np.linspace(*LEVEL_BAND_HZ, 3001)
    band_power = np.trapezoid(source._shape(f), f) * source._energy_factor()
    return float(spl_to_pa(source.level_db_spl) ** 2 / band_power)


@dataclass(frozen=True)
class AirflowHiss(_Noisy):
    """Turbulent-air hiss from an HVAC vent: broadband, falling with frequency, cycling on/off."""

    kind: ClassVar[str] = "airflow_hiss"

    location_m: Vec3 = (2.0, 2.0, 2.48)
    ramp_s: float = 2.0

    def _envelope(self, t_s: np.ndarray) -> np.ndarray:
        return gate(t_s, self.windows_s, self.ramp_s)

    def _energy_factor(self) -> float:
        return 1.0

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Vec3, device_m: Vec3, duration_s: float,
               carrier_hz: float, **kw) -> AirflowHiss:
        """A ceiling diffuser or a high wall grille, 25–50 dB SPL in 20–50 kHz, −3…−8 dB/octave."""
        lx, ly, lz = room_size_m
        if rng.uniform() < 0.5:
            location = (float(rng.uniform(0.5, lx - 0.5)), float(rng.uniform(0.5, ly - 0.5)), float(lz - 0.02))
        else:
            location = wall_point(rng, room_size_m, float(lz - rng.uniform(0.2, 0.5)), 0.02)
        source = cls(
            location_m=location, windows_s=random_windows(rng, duration_s, 0.4, (0.3 * duration_s, 0.9 * duration_s)),
            ramp_s=float(rng.uniform(1.0, 4.0)), seed=int(rng.integers(2**31)),
            level_db_spl=float(rng.uniform(25.0, 50.0)), slope_db_per_octave=float(rng.uniform(-8.0, -3.0)),
        )
        return dataclasses.replace(source, **kw)


@dataclass(frozen=True)
class _Clicks:
    """A drawn click schedule: times, amplitudes (with burst ramps), struck key, per-mode
    excitation magnitudes and phases."""

    time_s: np.ndarray
    amplitude: np.ndarray
    key: np.ndarray
    excitation: np.ndarray
    phase_rad: np.ndarray


@dataclass(frozen=True)
class Transients(_Noisy):
    """Bursts (``windows_s``) of clicks at a hand: a Poisson stream at ``click_rate_hz``,
    bunched by the shaking or crumpling rhythm ``shake_hz``; log-normal click strengths.

    Each click is an impulse of broadband noise (attack 20 µs, decay ``click_decay_ms``);
    with ``n_keys`` > 0 it also strikes one key, whose ``modes_per_key`` modes (log-uniform
    in 3–60 kHz, decay ~``ring_decay_ms``) ring with ``tonal_ratio`` times the noise
    energy on average. Metal keys ring for milliseconds; paper only crackles.
    """

    windows_s: tuple[tuple[float, float], ...] = ((1.0, 2.0),)
    ramp_s: float = 0.05
    level_db_spl: float = 70.0
    slope_db_per_octave: float = -1.0
    click_rate_hz: float = 60.0
    shake_hz: float = 5.0
    click_decay_ms: float = 0.4
    n_keys: int = 4
    modes_per_key: int = 5
    ring_decay_ms: float = 8.0
    tonal_ratio: float = 2.0

    _RANGES: ClassVar[dict[str, tuple[float, float]]] = {}
    _KEYS: ClassVar[tuple[int, int]] = (0, 0)
    _BURST_S: ClassVar[tuple[float, float]] = (0.2, 2.0)
    _MODE_BAND_HZ: ClassVar[tuple[float, float]] = (3000.0, 60000.0)
    _SHAKE_DEPTH: ClassVar[float] = 0.9
    _STRENGTH_SIGMA: ClassVar[float] = 0.6

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(off - on > 60.0 for on, off in self.windows_s):
            raise ValueError(f"{type(self).__name__} bursts last at most 60 s, got windows {self.windows_s}")

    def _energy_factor(self) -> float:
        tonal = self.tonal_ratio if self.n_keys > 0 else 0.0
        return self.click_rate_hz * float(onset_decay_energy(1e-3 * self.click_decay_ms, _CLICK_ATTACK_S)) * (1.0 + tonal)

    def _envelope(self, t_s: np.ndarray) -> np.ndarray:
        clicks, decay = _clicks(self), 1e-3 * self.click_decay_ms
        return event_sum(t_s, clicks.time_s, np.full(len(clicks.time_s), _CLICK_LENGTH * decay),
                         lambda k, tau: clicks.amplitude[k] * onset_decay(tau, decay, _CLICK_ATTACK_S))

    def _ringing(self, t_s: np.ndarray, reference_hz: float, max_offset_hz: float, weight_band_hz: float | None) -> np.ndarray:
        """Σ over clicks of the struck key's modes, relative to reference_hz: modes farther
        than max_offset_hz are left out; weight_band_hz tapers them like an anti-alias filter."""
        if self.n_keys == 0:
            return np.zeros(t_s.shape, dtype=complex)
        clicks = _clicks(self)
        freq, decay, amplitude = _modes(self)
        gain = amplitude * (np.abs(freq - reference_hz) < max_offset_hz)
        if weight_band_hz is not None:
            gain = gain * band_weight(freq, weight_band_hz)
        gain_of_click = gain[clicks.key] * clicks.excitation * clicks.amplitude[:, None]
        start_phase = clicks.phase_rad - 2.0 * np.pi * ((reference_hz * clicks.time_s) % 1.0)[:, None]
        omega = 2.0 * np.pi * (freq - reference_hz)
        lengths = _RING_LENGTH * np.max(np.where(gain_of_click != 0.0, decay[clicks.key], 0.0), axis=1)

        def ring(k: int, tau: np.ndarray) -> np.ndarray:
            key = clicks.key[k]
            envelope = onset_decay(tau[:, None], decay[key], _CLICK_ATTACK_S)
            return (envelope * np.exp(1j * (omega[key] * tau[:, None] + start_phase[k]))) @ gain_of_click[k]

        return event_sum(t_s, clicks.time_s, lengths, ring, complex)

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Vec3, device_m: Vec3, duration_s: float,
               carrier_hz: float, **kw) -> Transients:
        """Bursts at a hand 0.7–1.3 m up, one to four per scene, parameters from the kind's ranges."""
        drawn = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in cls._RANGES.items()}
        source = cls(
            location_m=room_point(rng, room_size_m, device_m, float(rng.uniform(0.7, 1.3)), 0.7),
            windows_s=random_windows(rng, duration_s, 0.0, cls._BURST_S, 4), seed=int(rng.integers(2**31)),
            n_keys=int(rng.integers(cls._KEYS[0], cls._KEYS[1] + 1)), **drawn,
        )
        return dataclasses.replace(source, **kw)


@lru_cache(maxsize=64)
def _clicks(source: Transients) -> _Clicks:
    """Thinned Poisson clicks per burst, seeded by (seed, burst index)."""
    parts: list[tuple[np.ndarray, ...]] = []
    sigma = source._STRENGTH_SIGMA
    for j, (on_s, off_s) in enumerate(source.windows_s):
        rng = np.random.default_rng([source.seed, 7, j])
        t = np.sort(rng.uniform(on_s, off_s, rng.poisson(2.0 * source.click_rate_hz * (off_s - on_s))))
        keep = rng.uniform(size=len(t)) < 0.5 * (1.0 + source._SHAKE_DEPTH * np.cos(2.0 * np.pi * source.shake_hz * (t - on_s)))
        t = t[keep]
        strength = np.exp(sigma * rng.standard_normal(len(t)) - sigma**2)  # E[strength²] = 1
        parts.append((
            t, strength * gate(t, source.windows_s, source.ramp_s), rng.integers(max(source.n_keys, 1), size=len(t)),
            rng.rayleigh(np.sqrt(0.5), (len(t), source.modes_per_key)),  # E[excitation²] = 1
            rng.uniform(0.0, 2.0 * np.pi, (len(t), source.modes_per_key)),
        ))
    return _Clicks(*(np.concatenate(column) for column in zip(*parts)))


@lru_cache(maxsize=64)
def _modes(source: Transients) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_keys, modes_per_key) frequencies, decays and peak amplitudes (Pa per unit click).

    Amplitudes make the modes' expected energy spectral density tonal_ratio times the
    click noise's: b² = 2·ratio·E_click·S(f) / (ρ(f)·E_ring), ρ = modes per Hz of one key.
    """
    rng = np.random.default_rng([source.seed, 8])
    lo, hi = source._MODE_BAND_HZ
    shape = (max(source.n_keys, 1), source.modes_per_key)
    freq = np.exp(rng.uniform(np.log(lo), np.log(hi), shape))
    decay = 1e-3 * source.ring_decay_ms * np.exp(rng.uniform(np.log(0.5), np.log(2.0), shape))
    density = source.modes_per_key / (freq * np.log(hi / lo))
    click_energy = onset_decay_energy(1e-3 * source.click_decay_ms, _CLICK_ATTACK_S)
    amplitude = np.sqrt(2.0 * source.tonal_ratio * click_energy * source.psd_pa2_per_hz(freq)
                        / (density * onset_decay_energy(decay, _CLICK_ATTACK_S)))
    return freq, decay, amplitude


@dataclass(frozen=True)
class KeysJingle(Transients):
    """Jingling keys: metallic clicks with ringing modes, strong to 40+ kHz, 60–80 dB SPL."""

    kind: ClassVar[str] = "keys"
    _RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "level_db_spl": (60.0, 80.0), "slope_db_per_octave": (-2.0, 0.0), "click_rate_hz": (30.0, 100.0),
        "shake_hz": (3.0, 8.0), "click_decay_ms": (0.2, 0.6), "ring_decay_ms": (3.0, 15.0), "tonal_ratio": (1.0, 4.0),
    }
    _KEYS: ClassVar[tuple[int, int]] = (2, 6)


@dataclass(frozen=True)
class PaperCrinkle(Transients):
    """Crumpled paper or a crisp packet: dense crackle impulses, spectrum falling with frequency."""

    kind: ClassVar[str] = "paper"

    level_db_spl: float = 55.0
    slope_db_per_octave: float = -4.0
    click_rate_hz: float = 300.0
    shake_hz: float = 2.0
    click_decay_ms: float = 0.5
    n_keys: int = 0

    _RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "level_db_spl": (45.0, 65.0), "slope_db_per_octave": (-6.0, -3.0), "click_rate_hz": (100.0, 500.0),
        "shake_hz": (1.0, 4.0), "click_decay_ms": (0.1, 1.0),
    }
    _BURST_S: ClassVar[tuple[float, float]] = (0.5, 3.0)


# --------------------------------------------------------------------------------------
# Modulator: HVAC airflow turbulence
# --------------------------------------------------------------------------------------
_TURBULENCE_RATE_HZ = 200.0
_TURBULENCE_TAPS = 4001
_TURBULENCE_TOP_HZ = 40.0
_DEG_C_TO_M_S = 0.606  # dc/dT of air


@dataclass(frozen=True)
class HvacTurbulence(Modulator):
    """Airflow from a vent: turbulence bends the phase of the part of the static field
    (``field_fraction`` w) that crosses the flow.

    Per microphone k: g_k(t) = 1 − w + w·exp(−j·2π·f0·δτ_k(t)). A sound-speed fluctuation
    u along a path changes its travel time by δτ = −∫u dl / c². With RMS σ_u and integral
    scale ℓ (eddy size) over a length L ≫ ℓ, Var δτ = 2ℓL·σ_u²/c⁴, so
    δτ_rms = σ_u·√(2ℓL)/c², with σ_u² = σ_v² + (0.606 m/s/K · σ_T)² for velocity and
    temperature fluctuations (conditioned air is warmer or colder than the room).
    Example: σ_v = 0.3 m/s, ℓ = 0.2 m, L = 2 m → δτ_rms ≈ 1.6 µs → 0.32 rad at 32 kHz.

    Eddies are carried across the beam at ``advection_m_s`` U, so δτ has the path-integrated
    Kolmogorov spectrum ∝ [1 + (f/f_c)²]^(−4/3) with f_c = U/(2πℓ) (~0.2–6 Hz; the f^(−8/3)
    tail leaves almost nothing above 10–20 Hz). Mics a few cm apart see correlated paths:
    corr = exp(−distance/ℓ). Switching on, the mean flow along the path
    (``mean_flow_along_path_m_s``) shifts the phase by 2π·f0·U_par·L/c² over ``ramp_s``.
    """

    kind: ClassVar[str] = "hvac_turbulence"

    field_fraction: float = 0.3
    velocity_rms_m_s: float = 0.3
    temperature_rms_k: float = 0.3
    path_length_m: float = 2.0
    eddy_size_m: float = 0.2
    advection_m_s: float = 1.0
    mean_flow_along_path_m_s: float = 0.2
    windows_s: tuple[tuple[float, float], ...] = ALWAYS_S
    ramp_s: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_windows(self.windows_s)

    @property
    def delay_rms_s(self) -> float:
        sigma = np.hypot(self.velocity_rms_m_s, _DEG_C_TO_M_S * self.temperature_rms_k)
        return float(sigma * np.sqrt(2.0 * self.eddy_size_m * self.path_length_m) / NOMINAL_SPEED_OF_SOUND_M_S**2)

    @property
    def corner_hz(self) -> float:
        return self.advection_m_s / (2.0 * np.pi * self.eddy_size_m)

    def grid_plan(self, key: tuple) -> GridPlan:
        """Unit-variance turbulent delay noise for independent stream ``key[1]``."""
        taps = shaping_taps(
            _TURBULENCE_RATE_HZ,
            lambda f: (1.0 + (f / self.corner_hz) ** 2) ** (-2.0 / 3.0) * band_weight(f, _TURBULENCE_TOP_HZ),
            _TURBULENCE_TAPS,
        )
        stream = 100 + key[1]
        return GridPlan(_TURBULENCE_RATE_HZ, taps / np.sqrt(np.sum(taps**2)),
                        lambda start, stop: white_noise(self.seed, stream, start, stop, False))

    def delay_s(self, t_s: np.ndarray, mic_positions_m: np.ndarray) -> np.ndarray:
        """(n_mics, n_times) travel-time change δτ_k(t) of the paths crossing the flow."""
        distance = np.linalg.norm(mic_positions_m[:, None, :] - mic_positions_m[None, :, :], axis=-1)
        mixing = np.linalg.cholesky(np.exp(-distance / self.eddy_size_m) + 1e-12 * np.eye(len(distance)))
        streams = np.stack([evaluate_grid(self, ("stream", k), t_s) for k in range(len(distance))])
        mean = -self.mean_flow_along_path_m_s * self.path_length_m / NOMINAL_SPEED_OF_SOUND_M_S**2
        return gate(t_s, self.windows_s, self.ramp_s) * (mean + self.delay_rms_s * (mixing @ streams))

    def static_field_gain(self, t_s: np.ndarray, mic_positions_m: np.ndarray, carrier_hz: float) -> np.ndarray:
        w = self.field_fraction
        return 1.0 - w + w * np.exp(-2j * np.pi * carrier_hz * self.delay_s(t_s, np.asarray(mic_positions_m, dtype=float)))

    def active(self, t_s: np.ndarray) -> np.ndarray:
        return inside(t_s, self.windows_s)

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Vec3, device_m: Vec3, duration_s: float,
               carrier_hz: float, **kw) -> HvacTurbulence:
        """HVAC airflow: often running the whole scene, else cycling; spreads from the physics above."""
        modulator = cls(
            field_fraction=float(rng.uniform(0.1, 0.5)), velocity_rms_m_s=float(rng.uniform(0.1, 0.5)),
            temperature_rms_k=float(rng.uniform(0.0, 0.8)), path_length_m=float(rng.uniform(1.0, 3.0)),
            eddy_size_m=float(rng.uniform(0.05, 0.3)), advection_m_s=float(rng.uniform(0.3, 2.0)),
            mean_flow_along_path_m_s=float(rng.uniform(-0.5, 0.5)),
            windows_s=random_windows(rng, duration_s, 0.5, (0.3 * duration_s, 0.9 * duration_s)),
            ramp_s=float(rng.uniform(2.0, 5.0)), seed=int(rng.integers(2**31)),
        )
        return dataclasses.replace(modulator, **kw)
