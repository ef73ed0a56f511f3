"""Music played through the device's own speaker, next to the pilot tone.

Music is the hardest distractor: the speaker is nonlinear, so bass plus the tone gives
sidebands at f0 ± f_music, exactly where Doppler lives (a 60 Hz kick at 32 kHz looks like
±0.32 m/s of motion). They are born at the speaker, so across the mics they follow the
direct path, which is what a multi-mic canceller exploits.

**Speaker model** (Hammerstein: memoryless polynomial, then the linear response that the
renderer applies at f0). Drive u = m(t) + a·cos(ω0 t), music m in full-scale units:

    y = u + c2·u² + c3·u³

Near-carrier terms (m is far below f0): from u, a·cos; from c2·u², 2·c2·a·m·cos; from
c3·u³, 3·c3·a·m²·cos and, via cos³ = (3cos + cos3)/4, (3/4)·c3·a³·cos. So the envelope
relative to cos(ω0 t) is a·[1 + 2·c2·m + 3·c3·m² + (3/4)·c3·a²]. It is divided by its
silent value 1 + (3/4)·c3·a²: the tone's calibrated level already includes the compression.
A bass tone m = M·cos(ωt) gives sidebands at ±f of c2·M each (and ±2f of (3/4)·c3·M²).

**Cone Doppler.** When one cone plays both, its excursion x(t) moves the tone's source:
factor exp(+j·2π·f0·x/c) (forward cone, earlier arrival). Excursion of a voltage-driven
sealed-box driver is a 2nd-order low-pass of the drive: flat below the resonance
(80–150 Hz, Q 0.6–1.2), falling 12 dB/octave above, so bass dominates. A tone of peak
excursion X gives Bessel sidebands J1(β)/J0(β), β = 2π·f0·X/c.

**Reference values** (my judgement for the small drivers of smart speakers and laptops):
|c2| = 0.005–0.08 /FS (2nd harmonic c2·A/2 = 0.25–4 % at full scale), c3 = −0.005…−0.08
/FS² (compressive, 3rd harmonic c3·A²/4), excursion 0.1–1 mm per full-scale drive below
resonance (~0.05–0.5 mm peaks at loud bass); a tone on a separate tweeter moves only by
crossover leakage (0.005–0.03 mm/FS). Defaults: c2 = 0.03, c3 = −0.02, 0.4 mm/FS, 110 Hz,
Q 0.8, −12 dBFS RMS. Measured with those at 32 kHz (120 s, tone at −6 dBFS): the strongest
bass lines (kick, ~50 Hz) at −34 dBc long-term; in 80 ms frames the strongest sideband
within 25–300 Hz has a median of −30 dBc and a 95th percentile of −24 dBc; the sidebands
within ±20–300 Hz total −23 dBc, those beyond ±300 Hz −44 dBc. The cone Doppler dominates;
the c2 term alone gives −47 dBc lines. At 1 mm/FS the frame median is −23 dBc (95 %:
−17 dBc); with the tone on a tweeter (0.02 mm/FS) c2 remains, −41 dBc (−52 dBc for a
cleaner driver, c2 = 0.005).

**Signal.** Synthetic by default (seeded: tempo, key, chord progressions per 8-bar
section, kick with pitch drop, bass line 40–160 Hz, chord pads, hi-hats, breakdowns), as
an analytic sum of notes, so any time can be evaluated exactly; or a user WAV
(:meth:`Music.from_wav`), looped and band-limited by its Fourier series.

:meth:`Music.carrier_envelope` evaluates the speaker model on a fixed absolute grid at
4× the bandwidth (music content kept where its square cannot fold into the band), low-
passes to |f| < bandwidth/2 there, caches the blocks and interpolates to the requested
times: blocks, delays (t − τ) and repeated calls all see the same signal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np
import soundfile as sf
from scipy import signal

from uspd.sim.sources import (
    ALWAYS_S,
    NOMINAL_SPEED_OF_SOUND_M_S,
    SHARP,
    SMOOTH,
    GridPlan,
    band_weight,
    check_windows,
    ease,
    evaluate_grid,
    event_sum,
    gate,
    inside,
    interpolate,
    lowpass_taps,
)

_SEED_OFFSET = 2**40
_BARS_PER_SECTION = 8
_STEPS_PER_BAR = 16
_LOOKBACK_BARS = 2  # no note outlasts two bars
_PRODUCT_MARGIN_HZ = 500.0  # spectral spread of note envelopes, kept clear of folding
MUSIC_TOP_HZ = 20000.0  # music is mastered for ≤ 48 kHz playback: nothing above ~20 kHz
_WAV_TOP = 0.45  # fraction of a WAV's rate kept (its anti-alias filter ends near 0.5)
_RMS_RATE_HZ = 8000.0  # where the synthetic mix's RMS is measured (power survives folding)
_RMS_BARS = 16

_PROGRESSIONS = (  # (semitones above the key, minor?) per two bars
    ((0, False), (7, False), (9, True), (5, False)),
    ((9, True), (5, False), (0, False), (7, False)),
    ((0, True), (8, False), (3, False), (10, False)),
    ((0, True), (5, True), (7, True), (0, True)),
)
_KICK_PATTERNS = ((0, 4, 8, 12), (0, 8, 10), (0, 6, 10), (0, 10))
_BASS_PATTERNS = ((0, 2, 4, 6, 8, 10, 12, 14), (2, 6, 10, 14), (0, 3, 6, 8, 11, 14), (0, 8))
_HAT_PATTERNS = ((0, 2, 4, 6, 8, 10, 12, 14), tuple(range(16)), (2, 6, 10, 14))
_KICK_AMP, _BASS_AMP, _CHORD_AMP, _HAT_AMP = 1.0, 0.6, 0.1, 0.1
_KICK_HARMONICS = np.array([1.0, 0.15])
_BASS_HARMONICS = np.array([1.0, 0.5, 0.25, 0.12])
_CHORD_HARMONICS = np.array([1.0, 0.35, 0.15])
_BASS_TOP_HZ = 160.0
_FULL_RANGE_EXCURSION_MM = (0.1, 1.0)  # tone and music on one small driver: mm per full-scale drive
_TWEETER_EXCURSION_MM = (0.005, 0.03)  # tone on a tweeter: only crossover leakage moves its cone
_TWEETER_PROBABILITY = 0.25


class _Note(NamedTuple):
    """One sounding note: a harmonic series whose fundamental glides exponentially from
    start_hz to end_hz over glide_s (0: no glide); raised-cosine attack, exponential decay,
    raised-cosine release after hold_s. ``harmonics`` are the complex amplitudes (with
    phase) of harmonics 1, 2, …; an inharmonic sound is several notes."""

    start_s: float
    amplitude: float
    attack_s: float
    decay_s: float
    hold_s: float
    release_s: float
    start_hz: float
    end_hz: float
    glide_s: float
    harmonics: np.ndarray

    def wave(self, tau_s: np.ndarray, cutoff_hz: float) -> np.ndarray:
        """The note at ascending times since its start, keeping harmonics below cutoff_hz.

        Re{Σ c_k·z^k} with z = e^{j·phase of the fundamental}, by Horner's rule: one
        complex exponential per sample instead of one cosine per harmonic.
        """
        count = int(np.sum(np.arange(1, len(self.harmonics) + 1) * max(self.start_hz, self.end_hz) < cutoff_hz))
        if count == 0:
            return np.zeros(tau_s.shape)
        envelope = self.amplitude * np.exp(-tau_s / self.decay_s)
        attack, release = np.searchsorted(tau_s, (self.attack_s, self.hold_s))
        envelope[:attack] *= ease(tau_s[:attack] / self.attack_s)
        envelope[release:] *= 1.0 - ease((tau_s[release:] - self.hold_s) / self.release_s)
        cycles = self.end_hz * tau_s
        if self.glide_s > 0.0:
            cycles -= (self.start_hz - self.end_hz) * self.glide_s * np.expm1(-tau_s / self.glide_s)
        z = np.exp(2j * np.pi * cycles)
        total = np.full(tau_s.shape, self.harmonics[count - 1])
        for c in self.harmonics[count - 2 :: -1]:
            total = total * z + c
        return envelope * (total * z).real


def _harmonics(amplitudes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Complex amplitudes with random phases."""
    return amplitudes * np.exp(2j * np.pi * rng.uniform(size=len(amplitudes)))


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


class _Song(NamedTuple):
    root_midi: int
    kick_hz: float
    kick_drop_hz: float
    kick_glide_s: float
    kick_decay_s: float
    hat_hz: np.ndarray
    hat_decay_s: float


@lru_cache(maxsize=64)
def _song(seed: int) -> _Song:
    rng = np.random.default_rng([seed, 0])
    return _Song(
        root_midi=int(rng.integers(28, 41)), kick_hz=float(rng.uniform(45.0, 65.0)),
        kick_drop_hz=float(rng.uniform(50.0, 120.0)), kick_glide_s=float(rng.uniform(0.02, 0.05)),
        kick_decay_s=float(rng.uniform(0.15, 0.3)), hat_hz=rng.uniform(5500.0, 13000.0, 6),
        hat_decay_s=float(rng.uniform(0.03, 0.06)),
    )


@lru_cache(maxsize=4096)
def _bar_notes(seed: int, tempo_bpm: float, bar: int) -> tuple[_Note, ...]:
    """The notes starting in one bar, drawn from (seed, section) and (seed, bar)."""
    song = _song(seed)
    section = np.random.default_rng([seed, 1, bar // _BARS_PER_SECTION + _SEED_OFFSET])
    progression = _PROGRESSIONS[section.integers(len(_PROGRESSIONS))]
    kick, bass = _KICK_PATTERNS[section.integers(len(_KICK_PATTERNS))], _BASS_PATTERNS[section.integers(len(_BASS_PATTERNS))]
    hat = _HAT_PATTERNS[section.integers(len(_HAT_PATTERNS))]
    breakdown = section.uniform() < 0.15 and bar % _BARS_PER_SECTION >= _BARS_PER_SECTION - 2
    section_gain = 10.0 ** (section.uniform(-2.0, 1.0) / 20.0)

    rng = np.random.default_rng([seed, 2, bar + _SEED_OFFSET])
    bar_s = 240.0 / tempo_bpm
    step_s = bar_s / _STEPS_PER_BAR
    offset, minor = progression[(bar % _BARS_PER_SECTION) // 2]
    root = song.root_midi + offset

    def at(step: int) -> float:
        return bar * bar_s + step * step_s + float(rng.normal(0.0, 0.003))

    def velocity() -> float:
        return section_gain * 10.0 ** (float(rng.normal(0.0, 1.5)) / 20.0)

    notes = []
    if not breakdown:
        for step in kick:
            notes.append(_Note(at(step), _KICK_AMP * velocity(), 0.001, song.kick_decay_s, 0.5, 0.05,
                               song.kick_hz + song.kick_drop_hz, song.kick_hz, song.kick_glide_s,
                               _harmonics(_KICK_HARMONICS, rng)))
        for step, next_step in zip(bass, bass[1:] + (_STEPS_PER_BAR,)):
            f = _midi_hz(root + int(rng.choice((0, 0, 0, 7, 12))))
            f = f / 2.0 if f > _BASS_TOP_HZ else f
            notes.append(_Note(at(step), _BASS_AMP * velocity(), 0.005, 0.6, 0.9 * (next_step - step) * step_s, 0.03,
                               f, f, 0.0, _harmonics(_BASS_HARMONICS, rng)))
    for interval in (0, 3 if minor else 4, 7):
        f = _midi_hz(root + 24 + interval)
        notes.append(_Note(at(0), _CHORD_AMP * velocity(), 0.04, 3.0, bar_s, 0.3, f, f, 0.0, _harmonics(_CHORD_HARMONICS, rng)))
    for step in hat:  # metallic: six inharmonic partials, one note each
        start_s = at(step)
        amplitude = _HAT_AMP / len(song.hat_hz) * (1.0 if step % 4 == 0 else 0.7) * velocity()
        decay_s = song.hat_decay_s * (3.0 if rng.uniform() < 0.1 else 1.0)  # 10 % open hats
        for f in song.hat_hz:
            notes.append(_Note(start_s, amplitude, 0.0005, decay_s, 6.0 * decay_s, 0.02, f, f, 0.0,
                               _harmonics(np.ones(1), rng)))
    return tuple(notes)


def _synthesize(seed: int, tempo_bpm: float, t_s: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """The raw synthetic mix (before level normalisation) at arbitrary times."""
    if len(t_s) == 0:
        return np.zeros(0)
    bar_s = 240.0 / tempo_bpm
    first, last = int(np.floor(t_s.min() / bar_s)) - _LOOKBACK_BARS, int(np.floor(t_s.max() / bar_s))
    notes = [n for bar in range(first, last + 1) for n in _bar_notes(seed, tempo_bpm, bar)]
    starts = np.array([n.start_s for n in notes])
    lengths = np.array([n.hold_s + n.release_s for n in notes])
    return event_sum(t_s, starts, lengths, lambda k, tau: notes[k].wave(tau, cutoff_hz))


@lru_cache(maxsize=64)
def _synthetic_gain(seed: int, tempo_bpm: float) -> float:
    """1 / RMS of the mix over its first 16 bars."""
    t = np.arange(0.0, _RMS_BARS * 240.0 / tempo_bpm, 1.0 / _RMS_RATE_HZ)
    return float(1.0 / np.sqrt(np.mean(_synthesize(seed, tempo_bpm, t, np.inf) ** 2)))


@lru_cache(maxsize=8)
def _wav_loop(path: str, cutoff_hz: float) -> tuple[np.ndarray, float]:
    """A WAV as one period of a band-limited loop: mono, DC removed, unit RMS, spectrum
    tapered to zero at cutoff_hz, resampled (exactly, by its Fourier series) to ~2.5×cutoff."""
    audio, rate_hz = sf.read(path, always_2d=True, dtype="float64")
    mono = audio.mean(axis=1)
    mono -= mono.mean()
    rms = np.sqrt(np.mean(mono**2))
    if rms == 0.0:
        raise ValueError(f"music file {path} is silent")
    n = len(mono)
    cutoff_hz = min(cutoff_hz, _WAV_TOP * rate_hz)
    spectrum = np.fft.rfft(mono / rms) * band_weight(np.fft.rfftfreq(n, 1.0 / rate_hz), cutoff_hz)
    n_loop = max(int(np.ceil(2.5 * cutoff_hz * n / rate_hz)), 16)
    bins = n_loop // 2 + 1
    spectrum = spectrum[:bins] if len(spectrum) >= bins else np.pad(spectrum, (0, bins - len(spectrum)))
    return np.fft.irfft(spectrum, n_loop) * (n_loop / n), n_loop * rate_hz / n


@dataclass(frozen=True)
class Music:
    """Music at ``level_dbfs`` RMS of drive, through a nonlinear speaker (see module docstring).

    Synthetic (``seed``, ``tempo_bpm``) unless ``wav_path`` is set. Plays inside
    ``windows_s`` (faded over ``fade_s``).
    """

    kind: ClassVar[str] = "music"

    seed: int = 0
    level_dbfs: float = -12.0
    tempo_bpm: float = 120.0
    wav_path: str = ""
    c2: float = 0.03
    c3: float = -0.02
    excursion_mm_per_fs: float = 0.4
    driver_resonance_hz: float = 110.0
    driver_q: float = 0.8
    windows_s: tuple[tuple[float, float], ...] = ALWAYS_S
    fade_s: float = 0.05

    def __post_init__(self) -> None:
        check_windows(self.windows_s)
        if self.driver_q <= 0.5:
            raise ValueError(f"driver_q must exceed 0.5 (an underdamped driver), got {self.driver_q}")

    @classmethod
    def from_wav(cls, path: str | Path, level_dbfs: float = -12.0, **kw) -> Music:
        """Play a WAV file (any rate and channel count; mono-mixed, looped)."""
        try:
            sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError) as error:
            raise ValueError(f"cannot read music file {path}: {error}") from error
        return cls(wav_path=str(path), level_dbfs=level_dbfs, **kw)

    def _unit_music(self, t_s: np.ndarray, cutoff_hz: float) -> np.ndarray:
        """Unit-RMS music with content below cutoff_hz."""
        if not self.wav_path:
            return _synthetic_gain(self.seed, self.tempo_bpm) * _synthesize(self.seed, self.tempo_bpm, t_s, cutoff_hz)
        loop, rate_hz = _wav_loop(self.wav_path, cutoff_hz)
        return interpolate(lambda i: loop[i % len(loop)], t_s * rate_hz, SHARP)

    def _drive(self, t_s: np.ndarray, cutoff_hz: float) -> np.ndarray:
        g = gate(t_s, self.windows_s, self.fade_s)
        out = np.zeros(t_s.shape)
        playing = g > 0.0
        out[playing] = 10.0 ** (self.level_dbfs / 20.0) * g[playing] * self._unit_music(t_s[playing], cutoff_hz)
        return out

    def drive_fs(self, t_s: np.ndarray) -> np.ndarray:
        """Audible playback signal in full-scale units (what the speaker is fed besides the tone)."""
        return self._drive(np.asarray(t_s, dtype=float), MUSIC_TOP_HZ)

    def active(self, t_s: np.ndarray) -> np.ndarray:
        return inside(t_s, self.windows_s)

    def excursion_taps(self, rate_hz: float) -> np.ndarray:
        """Causal FIR of the cone excursion per unit drive (m/FS): a 2nd-order low-pass
        at the driver resonance by impulse invariance, unit DC gain × excursion."""
        omega = 2.0 * np.pi * self.driver_resonance_hz
        zeta = 0.5 / self.driver_q
        omega_d = omega * np.sqrt(1.0 - zeta**2)
        t = np.arange(int(np.ceil(np.log(1e5) / (zeta * omega) * rate_hz))) / rate_hz
        h = np.exp(-zeta * omega * t) * np.sin(omega_d * t)
        return 1e-3 * self.excursion_mm_per_fs * h / h.sum()

    def grid_plan(self, key: tuple) -> GridPlan:
        bandwidth_hz = key[-1]
        half_band = 0.5 * bandwidth_hz
        # All the music enters the nonlinearity whatever the band kept, since differences of
        # high notes land near the carrier too; the grid is fine enough that m² cannot fold
        # into the band. So baseband and passband renders carry the same intermodulation.
        # A whole multiple of the bandwidth, so renders at that rate read grid points directly.
        rate = bandwidth_hz * max(4, int(np.ceil((2.0 * (MUSIC_TOP_HZ + _PRODUCT_MARGIN_HZ) + half_band) / bandwidth_hz)))
        music_cutoff = min(MUSIC_TOP_HZ, 0.5 * (rate - half_band) - _PRODUCT_MARGIN_HZ)
        if key[0] == "drive":
            power = key[1]

            def drive(start: int, stop: int) -> np.ndarray | float:
                m = self._drive(np.arange(start, stop) / rate, music_cutoff)
                return m**power if m.any() else 0.0

            return GridPlan(rate, lowpass_taps(rate, half_band), drive, SMOOTH)
        _, carrier_hz, tone_amplitude_fs, _ = key
        excursion = self.excursion_taps(rate)
        wavenumber = 2.0 * np.pi * carrier_hz / NOMINAL_SPEED_OF_SOUND_M_S
        compression = 0.75 * self.c3 * tone_amplitude_fs**2

        def raw(start: int, stop: int) -> np.ndarray | float:
            t = np.arange(start - len(excursion) + 1, stop) / rate
            m = self._drive(t, music_cutoff)
            if not m.any():
                return 1.0
            x_m = signal.oaconvolve(m, excursion, mode="valid")
            m = m[len(excursion) - 1 :]
            am = (1.0 + 2.0 * self.c2 * m + 3.0 * self.c3 * m**2 + compression) / (1.0 + compression)
            return am * np.exp(1j * wavenumber * x_m)

        return GridPlan(rate, lowpass_taps(rate, half_band), raw, SMOOTH)

    def carrier_envelope(self, t_s: np.ndarray, carrier_hz: float, tone_amplitude_fs: float, bandwidth_hz: float) -> np.ndarray:
        """Complex envelope around the carrier of what the speaker emits, relative to the
        silent tone (1 without music), keeping |f| < bandwidth_hz/2."""
        key = ("envelope", float(carrier_hz), float(tone_amplitude_fs), float(bandwidth_hz))
        return evaluate_grid(self, key, np.asarray(t_s, dtype=float))

    def drive_baseband(self, t_s: np.ndarray, power: int, bandwidth_hz: float) -> np.ndarray:
        """The playback drive raised to ``power`` (music only, full-scale units), keeping
        |f| < bandwidth_hz/2: what a device that knows its playback derives from it."""
        return evaluate_grid(self, ("drive", int(power), float(bandwidth_hz)), np.asarray(t_s, dtype=float))

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: tuple[float, float, float], device_m: tuple[float, float, float],
               duration_s: float, carrier_hz: float, **kw) -> Music:
        """Loud-ish music (−20…−8 dBFS RMS); 25 % of devices play the tone on a tweeter (little
        cone Doppler); 30 % of scenes start or stop the music within the scene."""
        if rng.uniform() < 0.7:
            windows = ALWAYS_S
        else:
            on = float(rng.uniform(0.1, 0.6) * duration_s)
            windows = ((on, on + float(rng.uniform(0.3, 1.0)) * duration_s),)
        excursion_mm = _TWEETER_EXCURSION_MM if rng.uniform() < _TWEETER_PROBABILITY else _FULL_RANGE_EXCURSION_MM
        music = cls(
            seed=int(rng.integers(2**31)), level_dbfs=float(rng.uniform(-20.0, -8.0)), tempo_bpm=float(rng.uniform(80.0, 140.0)),
            c2=float(rng.choice((-1.0, 1.0)) * np.exp(rng.uniform(np.log(0.005), np.log(0.08)))),
            c3=float(-np.exp(rng.uniform(np.log(0.005), np.log(0.08)))),
            excursion_mm_per_fs=float(np.exp(rng.uniform(*np.log(excursion_mm)))),
            driver_resonance_hz=float(rng.uniform(80.0, 150.0)), driver_q=float(rng.uniform(0.6, 1.2)), windows_s=windows,
        )
        return dataclasses.replace(music, **kw)
