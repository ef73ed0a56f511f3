"""Render a scene to what the microphones record: fast complex baseband, or real passband.

Both renderers share one path engine (:class:`Propagation`). For every point scatterer
it builds each speaker image → scatterer → microphone image path with total wall order
≤ ``max_order_moving``, and evaluates the path's exact length L(t) at every output
sample. The path contributes

    a(t) · exp(−j·2π·f0·L(t)/c)

with a = p₁ₘ · √σ · D(θ) · Γ / (r₁·r₂) · 10^(−α·L/20): the speaker's tone pressure at 1 m,
the scatterer's cross-section, the speaker's directivity towards it, the wall reflection
gains, spherical spreading on both legs, and ISO 9613-1 air absorption. Doppler is the
rate of change of that phase: nothing is shifted in the spectrum.

The static field (direct path, wall images of the speaker, furniture) is a fixed
impulse response; it is applied to the emitted envelope, which is constant for a pure
tone and carries intermodulation when music plays through the nonlinear speaker.

- :func:`render_baseband` evaluates at the baseband rate (a few kHz). A mover fast
  enough for its Doppler to alias (a fan blade tip can exceed the band) is evaluated on
  a finer grid and decimated through a low-pass filter, as the front end would.
- :func:`render_passband` evaluates the same paths on a wider complex grid
  (device rate / ``passband_envelope_decimation``, enough for any physical Doppler),
  interpolates that band-limited field to the device rate, modulates it onto the carrier,
  and adds what only exists in passband: audible music at the mics, sources at their true
  frequencies, full-band noise, ADC quantisation and clipping.

Demodulating the passband output reproduces the baseband output (tested).

Both render block by block (``config.chunk_s``) on an absolute sample grid, and either can
render a window ``[start_s, stop_s)`` of a scene alone (a stretch of a day-long scene):
blocks are always evaluated whole and cut to the window, and noise is drawn per fixed
block of absolute samples, so a window's samples are exactly those of the whole render.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy import signal

from uspd.config import Config, SimulationConfig
from uspd.frontend.spectrogram import DopplerSpectrogram
from uspd.physics import P_REF_PA, db_to_amplitude
from uspd.sim.scene import Scene
from uspd.sim.sources import white_noise, windowed_sinc

if TYPE_CHECKING:
    from uspd.emission import ToneGate

_LN10_OVER_20 = np.log(10.0) / 20.0
# Grid samples either side of a block for the resampling filter's edges: resample_poly's
# default filter reaches 10 samples of the coarser grid either side, so 11 leave the
# block's outputs exactly as from an endless grid.
_RESAMPLE_GUARD = 11
# Coarsest grid (a nearly still scatterer: a seated body, a resting pet, a curtain) and how
# far a decimated grid's rate must exceed the scatterer's Doppler bound (plus
# _SIGMA_BANDWIDTH_HZ). Measured against evaluating every sample (moving part of the
# field, 4 Hz–1.08 kHz, 7 mics): steps up to 64 add nothing over 16 once the bound covers
# the grid's guards (cat 1.55e-4, walk_in 1.17e-4: the float32 floor); 2.5 instead of 3
# adds < 5 % to that (1.57e-4, 1.22e-4), while 2 jumps to 1e-2 (cat) and is not used.
_MAX_DECIMATION = 64
_DOPPLER_OVERHEAD = 2.5
# Interpolating a coarse grid up must bury its images (multiples of the coarse rate) under
# the weakest motion: a seated person's body echo is ~100 dB above their page-turning
# hand, so β = 10 (≈ 100 dB stopband); its wider transition is harmless because the
# Doppler bound is pessimistic: the content stays inside the passband. Decimating an oversampled fan keeps the
# default β = 5: its content reaches the band edge, and the front end keeps only ±0.38 (its flat band).
_UPSAMPLE_BETA = 10.0
_IMAGE_REJECTION_DB = 100.0  # passband renderer's interpolation to the device rate
_DOWNSAMPLE_BETA = 5.0
_SIGMA_BANDWIDTH_HZ = 30.0  # allowance for slow changes of cross-section and aspect


def _oversampling(max_doppler_hz: float, rate_hz: float) -> tuple[int, int] | None:
    """(p, q): the smallest grid rate·p/q (q ≤ 4) fast enough that the scatterer's Doppler
    aliases only beyond the output band (rate·p/q − f_max ≥ rate/2), or None when the
    output rate itself is (f_max ≤ rate/2). The same criterion as the integer factors it
    replaces, on finer steps: a fan blade at 3.3 kHz runs at 5/3 of 3 kHz, not 2."""
    need = (max_doppler_hz + 0.5 * rate_hz) / rate_hz
    if need <= 1.0:
        return None
    return min(((int(np.ceil(need * q)), q) for q in (1, 2, 3, 4)), key=lambda pq: (pq[0] / pq[1], pq[1]))


def _decimation(max_doppler_hz: np.ndarray, rate_hz: float) -> int:
    """Largest power-of-two step whose grid still holds the scatterer's Doppler band.

    ``max_doppler_hz[i]`` bounds the Doppler over everything the grid of step 2^i spans,
    its resampling guards included: motion just outside the block reaches into it through
    the interpolation filter, so a scatterer about to move is not put on a grid too coarse
    for that motion.
    """
    step, level = 1, 0
    while (step < _MAX_DECIMATION
           and rate_hz / (2 * step) >= _DOPPLER_OVERHEAD * max_doppler_hz[level + 1] + _SIGMA_BANDWIDTH_HZ):
        step, level = 2 * step, level + 1
    return step


@dataclass(frozen=True)
class Rendered:
    """A rendered scene (or block of one).

    signal: (n_mics, n) complex64 baseband or float32 passband, digital full-scale units.
    reference: (n,) the playback reference — baseband: the emitted near-carrier envelope
        relative to a clean tone (1 without music); passband: the speaker drive (tone +
        music) in full-scale units.
    clipped_fraction: share of passband samples that hit full scale (0 for baseband).
    """

    signal: np.ndarray
    sample_rate_hz: float
    carrier_hz: float
    start_s: float
    reference: np.ndarray
    clipped_fraction: float = 0.0


class Propagation:
    """Geometry and gains of every path in a scene, precomputed once."""

    _DIRECTIVITY_NODES = 2**14 + 1  # table of the speaker's pattern over cos θ ∈ [−1, 1]
    _TILE_PATHS = 512  # paths per pass: amortises per-call overhead, and the work arrays stay in cache

    def __init__(self, scene: Scene, config: SimulationConfig) -> None:
        self.scene = scene
        device, hardware = scene.device, scene.device.hardware
        self.carrier_hz = scene.carrier_hz
        self.c_m_s = scene.speed_of_sound_m_s
        self.wavenumber = 2 * np.pi * self.carrier_hz / self.c_m_s
        self.absorption_np_per_m = scene.environment.absorption_db_per_m(self.carrier_hz) * _LN10_OVER_20
        self.tone_pa = hardware.tone_pressure_pa(scene.level_dbfs, self.carrier_hz)
        self.mic_gain = hardware.mic_gains(device.n_mics, self.carrier_hz)  # (K,)
        self.mics_m = device.mic_positions_m
        self.speaker_m = device.speaker_position_m

        table = scene.room.images(config.max_order_moving, self.carrier_hz)
        self.spk_images_m = table.positions(self.speaker_m)  # (I, 3)
        self.spk_axes = table.sign * device.speaker_axis  # mirrored speaker axis per image
        self.mic_images_m = table.positions(self.mics_m)  # (K, I, 3)
        self.image_order, self.image_gain, self.max_order = table.order, table.gain, config.max_order_moving
        self._image_gain_f32 = table.gain.astype(np.float32)[:, None]
        self._images_up_to_order = np.searchsorted(table.order, np.arange(self.max_order + 1), side="right")
        i, j = np.nonzero(table.order[:, None] + table.order[None, :] <= config.max_order_moving)
        self.pair_spk, self.pair_mic = i, j
        self.pair_gain = table.gain[i] * table.gain[j]

        # Every distance as one matrix product, r² = |a|² − 2a·p + |p|² with p = (x, y, z, |p|², 1),
        # about the device: coordinates stay within a room's length of it, which keeps float32
        # as accurate as subtracting first (< 2e-3 rad of phase over 15 m; tested against float64).
        self._origin_m = np.asarray(device.position_m, dtype=float)
        spk, mic = self.spk_images_m - self._origin_m, (self.mic_images_m - self._origin_m).reshape(-1, 3)
        ends = np.concatenate([spk, mic])  # (I + K·I, 3): speaker images, then mic images mic-major
        to_ends = np.column_stack([-2.0 * ends, np.ones(len(ends)), np.einsum("rx,rx->r", ends, ends)])
        # (p − s_i)·axis_i = r₁·cos θ towards speaker image i
        along_axes = np.column_stack([self.spk_axes, np.zeros(len(spk)), -np.einsum("ix,ix->i", spk, self.spk_axes)])
        self._projection = np.concatenate([to_ends, along_axes]).astype(np.float32)
        # The speaker's pattern is a fixed function of cos θ, and the Bessel function in it
        # costs about as much as all the legs' sin, cos and exp: tabulate it once, interpolate linearly.
        cos_nodes = np.linspace(-1.0, 1.0, self._DIRECTIVITY_NODES)
        pattern = hardware.speaker_directivity(cos_nodes, self.carrier_hz, self.c_m_s)
        self._directivity_table = pattern.astype(np.float32)
        self._directivity_slope = np.diff(pattern, append=pattern[-1]).astype(np.float32)

        static = scene.room.images(config.max_order_static, self.carrier_hz)
        self._static_spk_images_m = static.positions(self.speaker_m)
        self._static_spk_axes = static.sign * device.speaker_axis
        self._static_gain = static.gain

    # -- moving scatterers -------------------------------------------------------------
    def scatterer_paths(self, positions_m: np.ndarray, cross_section_m2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Path lengths and real amplitudes (per Pa of tone at 1 m) for one scatterer.

        positions_m (T, 3), cross_section_m2 (T,) → length_m, amplitude: (K, n_pairs, T).
        """
        to_scat = positions_m[None, :, :] - self.spk_images_m[:, None, :]  # (I, T, 3)
        r1 = np.linalg.norm(to_scat, axis=-1)  # (I, T)
        cos_theta = np.einsum("itx,ix->it", to_scat, self.spk_axes) / r1
        directivity = self.scene.device.hardware.speaker_directivity(cos_theta, self.carrier_hz, self.c_m_s)
        r2 = np.linalg.norm(positions_m[None, None, :, :] - self.mic_images_m[:, :, None, :], axis=-1)  # (K, I, T)
        r1p, r2p = r1[self.pair_spk], r2[:, self.pair_mic]
        length = r1p + r2p
        amplitude = (
            np.sqrt(cross_section_m2)
            * (directivity[self.pair_spk] * self.pair_gain[:, None] / r1p)
            / r2p
            * np.exp(-self.absorption_np_per_m * length)
        )
        return length, amplitude

    def scatterers_field(
        self, positions_m: np.ndarray, cross_section_m2: np.ndarray, t_s: np.ndarray,
        envelope: Callable[[np.ndarray], np.ndarray] | None,
    ) -> np.ndarray:
        """(K, T) summed field of scatterers (S, T, 3) at times ``t_s``, per unit of :attr:`field_gain`.

        Fields add, so the scatterers are not kept apart: a time slice of all of them is
        evaluated in one pass of ``_TILE_PATHS`` paths, small enough to stay in cache.
        """
        n_scat, n_t = cross_section_m2.shape
        n_slice = max(1, self._TILE_PATHS // n_scat)  # samples per tile
        padded = -(-n_t // n_slice) * n_slice  # the last tile is padded with σ = 0
        relative = np.pad(positions_m - self._origin_m, ((0, 0), (0, padded - n_t), (0, 0)), mode="edge")
        norm2 = np.einsum("stx,stx->st", relative, relative)
        augmented = np.stack([*np.moveaxis(relative, -1, 0), norm2, np.ones_like(norm2)]).astype(np.float32)
        gain = np.zeros((n_scat, padded), dtype=np.complex64 if envelope is not None else np.float32)
        gain[:, :n_t] = np.sqrt(cross_section_m2)
        if envelope is not None:  # the scatterer re-radiates the delayed emitted envelope
            direct_m = (np.linalg.norm(positions_m - self.speaker_m, axis=-1)
                        + np.linalg.norm(positions_m - self.mics_m[0], axis=-1))
            gain[:, :n_t] *= envelope((t_s - direct_m / self.c_m_s).ravel()).reshape(n_scat, n_t)
        out = np.empty((len(self.mics_m), padded), dtype=np.complex64)
        work = np.empty((4, len(self._projection), n_scat * n_slice), dtype=np.float32)  # reused by every tile
        for a in range(0, padded, n_slice):
            cols = slice(a, a + n_slice)
            tile = self._tile_field(augmented[:, :, cols].reshape(5, -1), gain[:, cols].ravel(), work)
            out[:, cols] = tile.reshape(len(out), n_scat, n_slice).sum(axis=1)
        return out[:, :n_t]

    def _tile_field(self, augmented: np.ndarray, gain: np.ndarray, work: np.ndarray) -> np.ndarray:
        """(K, n) field of n scatterer positions given as rows (x, y, z, |p|², 1) about the device.

        ``gain`` (n,) is √σ, times the delayed emitted envelope when music plays (complex).
        Every leg, speaker image → scatterer (i) or scatterer → mic image (k, j), is
        e^{−(α+jk)r}/r. A path is U_i·V_kj with U_i = gain·D_i·leg; summing first, for each
        mic image, the speaker legs within its order budget (W_j) keeps this linear in the
        number of images instead of quadratic.

        float32 throughout: rooms are < 30 m, where its rounding costs < 2e-3 rad of
        phase, and the SIMD float32 sin/cos/exp make this the renderer's fast inner loop.
        """
        n_images = len(self.spk_images_m)
        # einsum, not BLAS: a threaded matmul this small only contends with other renders
        projection = np.einsum("rx,xn->rn", self._projection, augmented, out=work[0])
        r = np.sqrt(projection[:-n_images], out=projection[:-n_images])
        cos_theta = projection[-n_images:]
        cos_theta /= r[:n_images]
        directivity = self._directivity(cos_theta)

        magnitude = np.multiply(r, np.float32(-self.absorption_np_per_m), out=work[1, : len(r)])
        np.exp(magnitude, out=magnitude)
        magnitude /= r
        legs = work[2:, : len(r)]  # (re, im) of every leg: re − j·im
        np.multiply(r, np.float32(self.wavenumber), out=legs[0])
        np.sin(legs[0], out=legs[1])
        np.cos(legs[0], out=legs[0])
        legs *= magnitude

        u = directivity * gain  # (I, n), complex with an envelope
        u *= self._image_gain_f32
        if np.iscomplexobj(u):
            u = u * (legs[0, :n_images] - 1j * legs[1, :n_images])
            u = np.stack([u.real, u.imag])
        else:
            u = legs[:, :n_images] * u
            u[1] *= -1
        # W_j = Γ_j·Σ_{order_i ≤ N − order_j} Γ_i·U_i; images are sorted by order
        budget = np.stack([u[:, :count].sum(axis=1) for count in self._images_up_to_order], axis=1)
        w = budget[:, self.max_order - self.image_order]
        w *= self._image_gain_f32  # (re, im) of W
        v = legs[:, n_images:].reshape(2, len(self.mics_m), n_images, -1)
        out = np.empty(v.shape[1::2], dtype=np.complex64)  # Σ_j (v_re − j·v_im)·(w_re + j·w_im)
        out.real = np.einsum("akjt,ajt->kt", v, w)
        out.imag = np.einsum("akjt,ajt->kt", v, np.stack([w[1], -w[0]]))
        return out

    def _directivity(self, cos_theta: np.ndarray) -> np.ndarray:
        """Speaker directivity from its table; overwrites ``cos_theta``.

        Linear interpolation between 2^14 + 1 nodes is within 1e-6 of the exact pattern
        except within a node of its kinks (the rear floor), where it stays within 3e-4 (tested).
        """
        position = cos_theta
        position += 1.0
        position *= (self._DIRECTIVITY_NODES - 1) / 2
        np.clip(position, 0, self._DIRECTIVITY_NODES - 1, out=position)
        node = np.floor(position)
        position -= node
        node = node.astype(np.intp)
        directivity = self._directivity_slope.take(node)
        directivity *= position
        directivity += self._directivity_table.take(node)
        return directivity

    @property
    def field_gain(self) -> np.ndarray:
        """(K,) tone pressure at 1 m times each mic's complex gain: Pa → digital units."""
        return self.tone_pa * self.mic_gain

    def max_doppler_hz(self, positions_m: np.ndarray, rate_hz: float, samples: np.ndarray | None = None) -> np.ndarray:
        """(S,) bound on any path's Doppler per scatterer: a leg changes at most at its speed.

        ``samples``: the (increasing) sample indices of the positions, if not consecutive.
        """
        if positions_m.shape[1] < 2:
            return np.zeros(positions_m.shape[0])
        return 2.0 * self.carrier_hz / self.c_m_s * self._speed(positions_m, rate_hz, samples).max(axis=1)

    @staticmethod
    def _speed(positions_m: np.ndarray, rate_hz: float, samples: np.ndarray | None = None) -> np.ndarray:
        """(S, T − 1) mean speed between successive positions (S, T, 3)."""
        speed = np.linalg.norm(np.diff(positions_m, axis=1), axis=-1) * rate_hz
        return speed if samples is None else speed / np.diff(samples)

    @cached_property
    def static_paths(self) -> tuple[np.ndarray, np.ndarray]:
        """Lengths and complex-free amplitudes of direct, wall-image and furniture paths: (K, P).
        Computed once: the static filter's length, its DC value and its taps all start here."""
        to_mic = self.mics_m[:, None, :] - self._static_spk_images_m[None, :, :]  # (K, I, 3)
        dist = np.linalg.norm(to_mic, axis=-1)
        cos_theta = np.einsum("kix,ix->ki", to_mic, self._static_spk_axes) / dist
        directivity = self.scene.device.hardware.speaker_directivity(cos_theta, self.carrier_hz, self.c_m_s)
        lengths = [dist]
        amplitudes = [directivity * self._static_gain / dist * np.exp(-self.absorption_np_per_m * dist)]
        for item in self.scene.room.furniture:
            length, amplitude = self.scatterer_paths(
                np.asarray([item.position_m], dtype=float), np.asarray([item.cross_section_m2])
            )
            lengths.append(length[..., 0])
            amplitudes.append(amplitude[..., 0])
        return np.concatenate(lengths, axis=1), np.concatenate(amplitudes, axis=1)

    def static_response(self, offset_hz: np.ndarray) -> np.ndarray:
        """(K, F) complex transfer function of the static field at carrier + offset, digital units.

        Phases are reduced to a fraction of a cycle in float64 first, so float32 sin/cos of
        what is left (|φ| ≤ π, error < 1e-6 rad) stand in for a complex exponential five
        times slower.
        """
        length, amplitude = self.static_paths
        h = np.empty((len(length), len(offset_hz)), dtype=complex)
        for k, (delay_s, a) in enumerate(zip(length / self.c_m_s, amplitude)):
            cycles = np.multiply.outer(delay_s, self.carrier_hz + offset_hz)  # (P, F)
            cycles -= np.rint(cycles)
            phase = (2 * np.pi * cycles).astype(np.float32)
            h[k] = np.einsum("p,pf->f", a, np.cos(phase)) - 1j * np.einsum("p,pf->f", a, np.sin(phase))
        return h * (self.tone_pa * self.mic_gain)[:, None]


class _StaticFilter:
    """The static field as a baseband FIR at one rate, applied to the emitted envelope.

    Every static path (direct, wall images, furniture) delays the envelope by its τ and
    turns the carrier's phase by 2π·f0·τ. Its taps are a Kaiser-windowed sinc centred on
    τ·rate, exact for an envelope band-limited to the rate: a direct path a few cm long
    has most of its sinc at negative lags, so the filter looks ``lookahead`` samples ahead
    (the envelope is a known function of time) instead of truncating them.
    """

    KERNEL = (32, 8.0)  # half-width in samples, Kaiser β: flat to ±0.45 × rate

    def __init__(self, propagation: Propagation, rate_hz: float) -> None:
        self._propagation, self._rate_hz = propagation, rate_hz
        length_m, _ = propagation.static_paths  # (K, P)
        self.lookahead = self.KERNEL[0]
        self.margin = int(np.ceil(length_m.max() / propagation.c_m_s * rate_hz)) + self.KERNEL[0]  # history needed before a block
        self.dc = propagation.static_response(np.zeros(1))[:, 0]

    @cached_property
    def taps(self) -> np.ndarray:
        """(K, lookahead + margin) FIR, tap i at lag i − lookahead; built on first use (only
        music needs it: a pure tone's static field is :attr:`dc`)."""
        propagation = self._propagation
        length_m, amplitude = propagation.static_paths  # (K, P)
        delay = length_m / propagation.c_m_s * self._rate_hz  # samples
        lags = np.floor(delay).astype(np.int64)[..., None] + np.arange(-self.KERNEL[0] + 1, self.KERNEL[0] + 1)
        kernel = windowed_sinc(lags - delay[..., None], self.KERNEL)
        weight = amplitude * np.exp(-2j * np.pi * propagation.carrier_hz * (length_m / propagation.c_m_s))
        taps = np.zeros((len(delay), self.lookahead + self.margin), dtype=complex)
        for k in range(len(delay)):
            np.add.at(taps[k], lags[k] + self.lookahead, weight[k, :, None] * kernel[k])
        return taps * propagation.field_gain[:, None]

    def apply(self, envelope: np.ndarray, n: int) -> np.ndarray:
        """Envelope from ``margin`` samples before a block of ``n`` to ``lookahead`` after → (K, n)."""
        full = signal.oaconvolve(envelope[None, :], self.taps, axes=-1)
        start = self.margin + self.lookahead
        return full[:, start : start + n]


def _window(scene: Scene, rate_hz: float, start_s: float, stop_s: float | None) -> tuple[int, int]:
    """Sample indices [start, stop) of the window [start_s, stop_s) of a scene at rate_hz."""
    stop_s = scene.duration_s if stop_s is None else stop_s
    if not 0.0 <= start_s < stop_s <= scene.duration_s:
        raise ValueError(f"render window [{start_s}, {stop_s}) s must satisfy 0 ≤ start_s < stop_s ≤ "
                         f"the scene's duration {scene.duration_s} s")
    n_total = int(round(scene.duration_s * rate_hz))
    start, stop = int(round(start_s * rate_hz)), min(int(round(stop_s * rate_hz)), n_total)
    if stop <= start:
        raise ValueError(f"render window [{start_s}, {stop_s}) s holds no sample at {rate_hz} Hz")
    return start, stop


def _chunks(duration_s: float, chunk_s: float, rate_hz: float, start: int = 0,
            stop: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """Blocks [a, b) of ``chunk_s`` on the absolute sample grid that meet [start, stop), each
    with the part of it inside the window. A block is always rendered whole and cut after:
    how a scatterer is evaluated depends on its motion over the block, so a window that
    starts or ends mid-block still gets exactly the full render's samples."""
    n_total = int(round(duration_s * rate_hz))
    stop = n_total if stop is None else stop
    step = int(round(chunk_s * rate_hz))
    for a in range(start // step * step, stop, step):
        b = min(a + step, n_total)
        yield a, b, max(a, start), min(b, stop)


class _FieldRenderer:
    """Everything that is neither noise nor passband-only: the carrier-domain field."""

    def __init__(self, scene: Scene, config: SimulationConfig, rate_hz: float, baseband: bool,
                 tone_gate: ToneGate | None = None) -> None:
        # baseband: add sources' in-band envelopes here; the passband renderer adds
        # sources at their true frequencies instead.
        self.scene, self.rate_hz, self.baseband = scene, rate_hz, baseband
        self.tone_gate = tone_gate
        self.propagation = Propagation(scene, config)
        self.static = _StaticFilter(self.propagation, rate_hz)
        self.bandwidth_hz = rate_hz if baseband else rate_hz * 0.8

    def envelope(self, t_s: np.ndarray) -> np.ndarray:
        """Emitted near-carrier envelope relative to a clean, steady tone: the music's
        intermodulation, times the tone gate's on/off ramps."""
        music = self.scene.music
        if music is None:
            out = np.ones(t_s.shape, dtype=np.complex128)
        else:
            tone_fs = float(db_to_amplitude(self.scene.level_dbfs))
            out = music.carrier_envelope(t_s, self.scene.carrier_hz, tone_fs, self.bandwidth_hz)
        return out if self.tone_gate is None else out * self.tone_gate.gain(t_s)

    def field(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Carrier-domain field (K, n) and emitted envelope (n,) for samples [start, stop).

        With a tone gate, a block the gate holds off (echoes included) has no tone field at
        all; a block with a switch within reach goes through the envelope path (each echo
        switches when its own delayed tone does), like music.
        """
        t_s = np.arange(start, stop) / self.rate_hz
        prop = self.propagation
        gate = None if self.tone_gate is None else self.tone_gate.constant(
            (start - self.static.margin) / self.rate_hz, (stop + self.static.lookahead) / self.rate_hz)
        if gate == 0.0:
            field = np.zeros((len(prop.mics_m), len(t_s)), dtype=np.complex128)
            if self.baseband:
                field += self._sources(t_s)
            return field, np.zeros(len(t_s), dtype=np.complex128)
        if self.scene.music is None and (self.tone_gate is None or gate == 1.0):
            envelope = np.ones(len(t_s), dtype=np.complex128)
            static = np.repeat(self.static.dc[:, None], len(t_s), axis=1)
            mover_envelope = None
        else:
            around_t = np.arange(start - self.static.margin, stop + self.static.lookahead) / self.rate_hz
            full_envelope = self.envelope(around_t)
            envelope = full_envelope[self.static.margin : self.static.margin + len(t_s)]
            static = self.static.apply(full_envelope, len(t_s))
            mover_envelope = self.envelope
        for modulator in self.scene.modulators:
            static = static * modulator.static_field_gain(t_s, prop.mics_m, self.scene.carrier_hz)
        field = static + self._movers(start, stop, mover_envelope)
        if self.baseband:
            field += self._sources(t_s)
        return field, envelope

    def _movers(self, start: int, stop: int, envelope: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
        """Field of all movers, each scatterer on the coarsest grid its Doppler allows.

        A path's complex envelope is band-limited to the scatterer's Doppler bound, so a
        slow scatterer (a seated person's legs, a curtain) is evaluated at a fraction of
        the rate and interpolated up exactly; a mover fast enough to alias (fan blades) is
        evaluated oversampled (by the smallest ratio p/q, q ≤ 4, that keeps its aliases out
        of the output band) and decimated through a low-pass filter, as the front end's
        decimation filter would. A scatterer that does not move at all in the block (a
        stopped fan, a parked vacuum) has a constant field: it is evaluated once. Grids are
        aligned to absolute sample indices so blocks join seamlessly.
        """
        prop = self.propagation
        n = stop - start
        if not self.scene.movers:
            return np.zeros((len(prop.mics_m), n), dtype=np.complex128)
        listener = np.asarray(self.scene.device.position_m, dtype=float)

        def grid(p: int, q: int) -> tuple[np.ndarray, int]:
            """Indices on the lattice of rate·p of the grid at rate·p/q (every q-th lattice
            point) covering the block and the resampling guard, and where ``start`` lands
            once resampled back to the output rate: the grid starts on an output sample."""
            if p == q == 1:
                return np.arange(start, stop), 0
            guard = _RESAMPLE_GUARD * max(p, q) // p  # output samples (p = 1 or p > q)
            first = (start - guard) * p // (p * q) * (p * q)  # a lattice point on both grids
            last = (stop + guard) * p
            return np.arange(first, last + q, q), start - first // p

        # Every mover is evaluated once at every sample of the block (and one either side,
        # for its Doppler bound) and at the guard points of every decimated grid.
        block = np.arange(start - 1, stop + 1)
        steps = 2 ** np.arange(1, int(np.log2(_MAX_DECIMATION)) + 1)
        probe = np.unique(np.concatenate([block, *(grid(1, int(q))[0] for q in steps)]))
        in_block = slice(int(np.searchsorted(probe, start - 1)), int(np.searchsorted(probe, start - 1)) + n + 2)
        spans = []  # intervals of the probe between the ends of each decimated grid
        for q in steps:
            ends = grid(1, int(q))[0][[0, -1]]
            spans.append((int(np.searchsorted(probe, ends[0])), int(np.searchsorted(probe, ends[1]))))

        # Fields add, so all scatterers on one grid are evaluated and resampled together.
        grids: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}  # (p, q) → (positions, σ)
        still: list[tuple[np.ndarray, np.ndarray]] = []  # (position, σ) of scatterers at rest
        for mover in self.scene.movers:
            scat = mover.scatterers(probe / self.rate_hz, listener)
            present = np.any(scat.cross_section_m2 > 0, axis=1)
            if not present.any():
                continue
            # Doppler bound over the block, and over what each decimated grid spans
            hz_per_m_s = 2.0 * prop.carrier_hz / prop.c_m_s
            speed = prop._speed(scat.positions_m, self.rate_hz, probe)  # (S, P − 1)
            doppler_hz = hz_per_m_s * speed[:, in_block.start : in_block.stop - 1].max(axis=1)
            by_step = np.stack([doppler_hz, *(hz_per_m_s * speed[:, a:b].max(axis=1) for a, b in spans)], axis=1)
            ratio = _oversampling(doppler_hz.max(initial=0.0), self.rate_hz)
            if ratio is not None:
                p, q = ratio
                samples = grid(p, q)[0]
                scat = mover.scatterers(samples / (self.rate_hz * p), listener)
                present = np.any(scat.cross_section_m2 > 0, axis=1)
                if present.any():
                    grids.setdefault((p, q), []).append((scat.positions_m[present], scat.cross_section_m2[present]))
                continue
            at_rest = doppler_hz == 0  # then check the guards too
            for s in np.flatnonzero(at_rest):
                at_rest[s] = (np.array_equal(scat.positions_m[s], np.broadcast_to(scat.positions_m[s, :1], scat.positions_m[s].shape))
                              and np.all(scat.cross_section_m2[s] == scat.cross_section_m2[s, 0]))
            for pos, sigma, f_max, rest, here in zip(scat.positions_m, scat.cross_section_m2, by_step, at_rest, present):
                if not here:
                    continue
                if rest:
                    still.append((pos[0], sigma[0]))
                    continue
                step = 1 if envelope is not None else _decimation(f_max, self.rate_hz)
                sel = np.searchsorted(probe, grid(1, step)[0])
                grids.setdefault((1, step), []).append((pos[None, sel], sigma[None, sel]))
        out = np.zeros((len(prop.mics_m), n), dtype=np.complex128)
        for (p, q), members in grids.items():
            samples, offset = grid(p, q)
            positions, sigma = (np.concatenate(parts) for parts in zip(*members))
            field = prop.scatterers_field(positions, sigma, samples / (self.rate_hz * p), envelope)
            if p * q > 1:  # real and imaginary parts through real taps: a quarter of the multiplies
                re_im = signal.resample_poly(np.concatenate([field.real, field.imag]), q, p, axis=-1,
                                             window=("kaiser", _UPSAMPLE_BETA if q > p else _DOWNSAMPLE_BETA))
                field = re_im[: len(out)] + 1j * re_im[len(out) :]
            out += field[:, offset : offset + n]
        if still:
            out += self._still_field(still, start, stop, envelope)
        return out * prop.field_gain[:, None]

    def _still_field(self, still: list[tuple[np.ndarray, np.ndarray]], start: int, stop: int,
                     envelope: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
        """(K, n) field of scatterers at rest through the block: each one's paths are fixed,
        so its field is one value, times the emitted envelope delayed along its direct path
        when music plays. Evaluated as one scatterer at as many instants as there are of
        them, which keeps them apart; equal to evaluating every sample (float32 rounding)."""
        prop = self.propagation
        positions = np.stack([pos for pos, _ in still])  # (S, 3)
        sigma = np.array([s for _, s in still])
        values = prop.scatterers_field(positions[None], sigma[None], np.zeros(len(still)), None)  # (K, S)
        if envelope is None:
            return np.repeat(values.sum(axis=1)[:, None], stop - start, axis=1)
        t_s = np.arange(start, stop) / self.rate_hz
        direct_m = np.linalg.norm(positions - prop.speaker_m, axis=-1) + np.linalg.norm(positions - prop.mics_m[0], axis=-1)
        delayed = envelope((t_s[None, :] - (direct_m / prop.c_m_s)[:, None]).ravel()).reshape(len(still), -1)
        return values @ delayed

    def _sources(self, t_s: np.ndarray) -> np.ndarray:
        """In-band complex envelopes of the scene's sound sources at the mics."""
        out = np.zeros((len(self.propagation.mics_m), len(t_s)), dtype=np.complex128)
        carrier_hz = self.scene.carrier_hz
        for source in self.scene.sources:
            gain, delay_s = _source_paths(self.scene, self.propagation, source)
            for k, (g, d) in enumerate(zip(gain, delay_s)):
                out[k] += g * np.exp(-2j * np.pi * carrier_hz * d) * source.baseband_pa(t_s - d, carrier_hz, self.bandwidth_hz)
        return out


def _source_paths(scene: Scene, prop: Propagation, source) -> tuple[np.ndarray, np.ndarray]:
    """(K,) real gain (Pa → digital units) and delay (s) from a source to each mic.

    Spreading and air absorption at the source's dominant frequency, the mic's response
    there, and its phase spread as a delay (the phase it has at the carrier): one model
    that both renderers apply, the passband to the real waveform, the baseband to its
    envelope.
    """
    dist_m = np.linalg.norm(prop.mics_m - source.position_m, axis=-1)
    alpha = scene.environment.absorption_db_per_m(source.dominant_frequency_hz) * _LN10_OVER_20
    mic = scene.device.hardware.mic_gains(len(dist_m), source.dominant_frequency_hz)
    phase_delay_s = -np.angle(prop.mic_gain) / (2 * np.pi * scene.carrier_hz)
    return np.abs(mic) * np.exp(-alpha * dist_m) / dist_m, dist_m / prop.c_m_s + phase_delay_s


_NOISE_STREAM_BASEBAND, _NOISE_STREAM_PASSBAND = 201, 202  # apart from the sources' noise streams


def iter_baseband(scene: Scene, config: SimulationConfig, *, start_s: float = 0.0,
                  stop_s: float | None = None, tone_gate: ToneGate | None = None) -> Iterator[Rendered]:
    """Render block by block (``config.chunk_s``): bounded memory for day-long scenes.

    ``start_s``/``stop_s`` render only that window (default: the whole scene), in blocks
    on the same absolute grid as the whole render, the first and last cut to the window.
    Its samples equal those of the whole render (noise is drawn per fixed block of absolute
samples by :func:`~uspd.sim.sources.white_noise`),
    so a stretch of a day-long scene can be rendered on its own.

    ``tone_gate`` switches the tone on and off (see :class:`~uspd.emission.ToneGate`); it
    is read block by block as the blocks are rendered, so a scheduler may add switches
    after each block for the blocks still to come.
    """
    rate = config.baseband_rate_hz
    _check_rate(scene, rate)
    first, last = _window(scene, rate, start_s, stop_s)
    renderer = _FieldRenderer(scene, config, rate, baseband=True, tone_gate=tone_gate)
    noise_rms = np.sqrt(2 * scene.device.hardware.noise_psd_fs2_per_hz() * rate)  # both I/Q components
    n_mics = len(renderer.propagation.mics_m)
    for a, b, start, stop in _chunks(scene.duration_s, config.chunk_s, rate, first, last):
        field, envelope = renderer.field(a, b)
        field, envelope = field[:, start - a : stop - a], envelope[start - a : stop - a]
        if config.noise:
            field = field + noise_rms * white_noise(scene.seed, _NOISE_STREAM_BASEBAND, start, stop, True, n_mics)
        yield Rendered(field.astype(np.complex64), rate, scene.carrier_hz, start / rate, envelope.astype(np.complex64))


def render_baseband(scene: Scene, config: SimulationConfig, *, start_s: float = 0.0,
                    stop_s: float | None = None, tone_gate: ToneGate | None = None) -> Rendered:
    """The scene (or its window [start_s, stop_s)) as complex baseband (n_mics, n) at
    ``config.baseband_rate_hz``."""
    blocks = list(iter_baseband(scene, config, start_s=start_s, stop_s=stop_s, tone_gate=tone_gate))
    return Rendered(
        np.concatenate([b.signal for b in blocks], axis=1),
        config.baseband_rate_hz,
        scene.carrier_hz,
        blocks[0].start_s,
        np.concatenate([b.reference for b in blocks]),
    )


PLAYBACK_POWERS = (1, 2)  # the playback canceller's regressors: the drive m and m² (uspd.frontend.music.PlaybackCanceller)


def playback_baseband(scene: Scene, block: Rendered) -> np.ndarray | None:
    """What the device knows it plays during a baseband block, as the playback canceller's
    regressors (n_regressors, n) at the block's rate; None when the scene has no music."""
    if scene.music is None:
        return None
    t_s = block.start_s + np.arange(block.signal.shape[1]) / block.sample_rate_hz
    return np.stack([scene.music.drive_baseband(t_s, power, block.sample_rate_hz) for power in PLAYBACK_POWERS])


def scene_spectrogram(scene: Scene, config: Config) -> DopplerSpectrogram:
    """The streaming Doppler spectrogram that reads this scene's baseband render: its
    carrier and its air's speed of sound on the velocity axis."""
    return DopplerSpectrogram(config.frontend, carrier_hz=scene.carrier_hz,
                              baseband_rate_hz=config.simulation.baseband_rate_hz,
                              speed_of_sound_m_s=scene.speed_of_sound_m_s)


def iter_doppler(scene: Scene, config: Config, spectrogram: DopplerSpectrogram, *, start_s: float = 0.0,
                 stop_s: float | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The scene as a live device would see it, block by block: Doppler power (n_frames,
    n_velocity) and frame end times (s) from ``spectrogram`` (see :func:`scene_spectrogram`)
    fed with :func:`iter_baseband`, and with what the device plays (:func:`playback_baseband`)."""
    for frames in iter_chains_doppler(scene, config.simulation, {None: spectrogram}, start_s=start_s, stop_s=stop_s):
        yield frames[None]


def iter_chains_doppler(scene: Scene, config: SimulationConfig, spectrograms: dict, *, start_s: float = 0.0,
                        stop_s: float | None = None) -> Iterator[dict]:
    """:func:`iter_doppler` for several front ends at once (``spectrograms``: any key → its
    spectrogram): the scene rendered once, block by block, and each key's frames of the block."""
    for block in iter_baseband(scene, config, start_s=start_s, stop_s=stop_s):
        playback = playback_baseband(scene, block) if any(s.takes_playback for s in spectrograms.values()) else None
        yield {key: spectrogram.process(block.signal, playback=playback) for key, spectrogram in spectrograms.items()}


def iter_passband(scene: Scene, config: SimulationConfig, *, start_s: float = 0.0,
                  stop_s: float | None = None, tone_gate: ToneGate | None = None) -> Iterator[Rendered]:
    """Real multichannel audio at the device rate, block by block; ``start_s``/``stop_s``
    and ``tone_gate`` as in :func:`iter_baseband`."""
    hardware = scene.device.hardware
    rate = hardware.sample_rate_hz
    decimation = config.passband_envelope_decimation
    if rate % decimation:
        raise ValueError(f"passband_envelope_decimation {decimation} must divide the sample rate {rate} Hz")
    first, last = _window(scene, rate, start_s, stop_s)
    env_rate = rate // decimation
    renderer = _FieldRenderer(scene, config, env_rate, baseband=False, tone_gate=tone_gate)
    prop = renderer.propagation
    # The field fills ±0.4 × env_rate; its images start at 0.6 × env_rate and must vanish:
    # left in, the strong direct path's image folds back near the carrier (f0 ≈ 36 kHz at
    # 96 kHz puts it at 600 Hz of Doppler).
    width_hz = 0.2 * env_rate
    numtaps, beta = signal.kaiserord(_IMAGE_REJECTION_DB, width_hz / (rate / 2))
    interpolator = signal.firwin(numtaps | 1, env_rate / 2, window=("kaiser", beta), fs=rate)
    guard = numtaps // decimation + 1  # envelope samples either side, for the filter's edges
    music_pa_per_fs = np.sqrt(2) * P_REF_PA * db_to_amplitude(hardware.speaker_sensitivity_db_spl)
    direct_m = np.linalg.norm(prop.mics_m - prop.speaker_m, axis=-1)
    audible_gain = np.abs(hardware.mic_gains(len(direct_m), 1000.0)) * music_pa_per_fs / direct_m
    noise_std = np.sqrt(hardware.noise_psd_fs2_per_hz() * rate / 2.0)
    lsb = 2.0 / 2**hardware.adc_bits
    tone_fs = float(db_to_amplitude(scene.level_dbfs))
    for a, b, start, stop in _chunks(scene.duration_s, config.chunk_s, rate, first, last):
        env_start, env_stop = a // decimation, -(-b // decimation)
        field, _ = renderer.field(env_start - guard, env_stop + guard)
        fine = signal.resample_poly(field, decimation, 1, axis=-1, window=interpolator)
        offset = (start - (env_start - guard) * decimation)
        fine = fine[:, offset : offset + (stop - start)]
        t_s = np.arange(start, stop) / rate
        audio = np.real(fine * np.exp(2j * np.pi * scene.carrier_hz * t_s))
        reference = tone_fs * np.cos(2 * np.pi * scene.carrier_hz * t_s)
        if tone_gate is not None:
            reference = reference * tone_gate.gain(t_s)
        if scene.music is not None:
            reference = reference + scene.music.drive_fs(t_s)
            for k, d in enumerate(direct_m):
                audio[k] += audible_gain[k] * scene.music.drive_fs(t_s - d / prop.c_m_s)
        audio += _passband_sources(scene, prop, t_s)
        if config.noise:
            audio += noise_std * white_noise(scene.seed, _NOISE_STREAM_PASSBAND, start, stop, False, len(prop.mics_m))
        clipped = np.abs(audio) >= 1.0
        audio = np.clip(np.round(audio / lsb) * lsb, -1.0, 1.0 - lsb)
        yield Rendered(audio.astype(np.float32), rate, scene.carrier_hz, start / rate,
                       reference.astype(np.float32), float(clipped.mean()))


def _passband_sources(scene: Scene, prop: Propagation, t_s: np.ndarray) -> np.ndarray:
    out = np.zeros((len(prop.mics_m), len(t_s)))
    top_hz = scene.device.hardware.sample_rate_hz / 2
    for source in scene.sources:
        gain, delay_s = _source_paths(scene, prop, source)
        for k, (g, d) in enumerate(zip(gain, delay_s)):
            out[k] += g * source.passband_pa(t_s - d, max_frequency_hz=top_hz)
    return out


def render_passband(scene: Scene, config: SimulationConfig, *, start_s: float = 0.0,
                    stop_s: float | None = None, tone_gate: ToneGate | None = None) -> Rendered:
    """The scene (or its window [start_s, stop_s)) as real audio (n_mics, n) at the device rate."""
    blocks = list(iter_passband(scene, config, start_s=start_s, stop_s=stop_s, tone_gate=tone_gate))
    n = sum(b.signal.shape[1] for b in blocks)
    return Rendered(
        np.concatenate([b.signal for b in blocks], axis=1),
        scene.device.hardware.sample_rate_hz,
        scene.carrier_hz,
        blocks[0].start_s,
        np.concatenate([b.reference for b in blocks]),
        float(sum(b.clipped_fraction * b.signal.shape[1] for b in blocks) / n),
    )


def _check_rate(scene: Scene, baseband_rate_hz: int) -> None:
    device_rate = scene.device.hardware.sample_rate_hz
    if device_rate % baseband_rate_hz:
        raise ValueError(f"baseband rate {baseband_rate_hz} Hz must divide the device rate {device_rate} Hz")
