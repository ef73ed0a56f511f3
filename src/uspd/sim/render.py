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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy import signal

from uspd.config import SimulationConfig
from uspd.physics import P_REF_PA, db_to_amplitude
from uspd.sim.scene import Scene

_LN10_OVER_20 = np.log(10.0) / 20.0
_RESAMPLE_GUARD = 16  # grid samples either side of a block for the resampling filter's edges
_MAX_DECIMATION = 16
_DOPPLER_OVERHEAD = 3.0  # a decimated grid's rate must exceed the Doppler bound this many times
_SIGMA_BANDWIDTH_HZ = 30.0  # allowance for slow changes of cross-section and aspect


def _decimation(max_doppler_hz: float, rate_hz: float) -> int:
    """Largest power-of-two step whose grid still holds the scatterer's Doppler band."""
    step = 1
    while step < _MAX_DECIMATION and rate_hz / (2 * step) >= _DOPPLER_OVERHEAD * max_doppler_hz + _SIGMA_BANDWIDTH_HZ:
        step *= 2
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
        self._spk_images_f32 = self.spk_images_m.T.astype(np.float32)  # coordinate-first for SIMD
        self._spk_axes_f32 = self.spk_axes.T.astype(np.float32)
        self._mic_images_f32 = np.moveaxis(self.mic_images_m, -1, 0).astype(np.float32)
        self.image_order, self.image_gain, self.max_order = table.order, table.gain, config.max_order_moving
        i, j = np.nonzero(table.order[:, None] + table.order[None, :] <= config.max_order_moving)
        self.pair_spk, self.pair_mic = i, j
        self.pair_gain = table.gain[i] * table.gain[j]

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

    def scatterer_legs(
        self, positions_m: np.ndarray, cross_section_m2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Both legs of every path to one scatterer, as complex phasors.

        Amplitude and phase of a path factor into a speaker leg (i) and a mic leg (j):
        U_i = √σ·D_i/r₁·e^{−(α+jk)r₁} and V_kj = e^{−(α+jk)r₂}/r₂. Returns U (I, T),
        V (K, I, T) and the direct path length (T,) to mic 0.

        float32 throughout: rooms are < 30 m, where its rounding costs < 2e-3 rad of
        phase, and the SIMD float32 sin/cos/exp make this the renderer's fast inner loop.
        """
        pos = positions_m.astype(np.float32).T  # (3, T)
        spk = self._spk_images_f32  # (3, I)
        d1 = pos[:, None, :] - spk[:, :, None]  # (3, I, T)
        r1 = np.sqrt(np.einsum("xit,xit->it", d1, d1))
        cos_theta = np.einsum("xit,xi->it", d1, self._spk_axes_f32) / r1
        directivity = self.scene.device.hardware.speaker_directivity(cos_theta, self.carrier_hz, self.c_m_s)
        d2 = pos[:, None, None, :] - self._mic_images_f32[:, :, :, None]  # (3, K, I, T)
        r2 = np.sqrt(np.einsum("xkit,xkit->kit", d2, d2))
        u = self._leg(r1, np.sqrt(cross_section_m2).astype(np.float32) * directivity.astype(np.float32))
        v = self._leg(r2, np.float32(1.0))
        return u, v, r1[0] + r2[0, 0]

    def _leg(self, distance_m: np.ndarray, gain: np.ndarray | np.float32) -> np.ndarray:
        """gain·e^{−(α + jk)·r}/r as complex64: spreading, absorption and phase along a leg."""
        magnitude = gain * np.exp(np.float32(-self.absorption_np_per_m) * distance_m) / distance_m
        phase = np.float32(self.wavenumber) * distance_m
        out = np.empty(distance_m.shape, dtype=np.complex64)
        np.multiply(magnitude, np.cos(phase), out=out.real)
        np.multiply(magnitude, -np.sin(phase), out=out.imag)
        return out

    def _combine_legs(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Σ over image pairs with order_i + order_j ≤ N of Γ_i·Γ_j·U_i·V_kj → (K, T).

        Grouping speaker legs by the order budget they leave keeps this linear in the
        number of images instead of quadratic.
        """
        weighted = self.image_gain[:, None] * u
        budget = np.stack([weighted[self.image_order <= n].sum(axis=0) for n in range(self.max_order + 1)])
        per_mic_image = self.image_gain[:, None] * budget[self.max_order - self.image_order]  # (J, T)
        return np.einsum("kjt,jt->kt", v, per_mic_image)

    def scatterer_field(
        self, positions_m: np.ndarray, cross_section_m2: np.ndarray, t_s: np.ndarray,
        envelope: Callable[[np.ndarray], np.ndarray] | None,
    ) -> np.ndarray:
        """(K, T) field of one scatterer at times ``t_s``, per unit of :attr:`field_gain`."""
        u, v, direct_m = self.scatterer_legs(positions_m, cross_section_m2)
        contribution = self._combine_legs(u, v)
        if envelope is not None:  # the scatterer re-radiates the delayed emitted envelope
            contribution *= envelope(t_s - direct_m / self.c_m_s)
        return contribution

    @property
    def field_gain(self) -> np.ndarray:
        """(K,) tone pressure at 1 m times each mic's complex gain: Pa → digital units."""
        return self.tone_pa * self.mic_gain

    def max_doppler_hz(self, positions_m: np.ndarray, rate_hz: float) -> np.ndarray:
        """(S,) bound on any path's Doppler per scatterer: a leg changes at most at its speed."""
        if positions_m.shape[1] < 2:
            return np.zeros(positions_m.shape[0])
        speed = np.linalg.norm(np.diff(positions_m, axis=1), axis=-1).max(axis=1) * rate_hz
        return 2.0 * speed * self.carrier_hz / self.c_m_s

    # -- static field ------------------------------------------------------------------
    def static_paths(self) -> tuple[np.ndarray, np.ndarray]:
        """Lengths and complex-free amplitudes of direct, wall-image and furniture paths: (K, P)."""
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
        """(K, F) complex transfer function of the static field at carrier + offset, digital units."""
        length, amplitude = self.static_paths()
        phase = -2j * np.pi * (self.carrier_hz + offset_hz[None, None, :]) * (length[..., None] / self.c_m_s)
        h = np.einsum("kp,kpf->kf", amplitude, np.exp(phase))
        return h * (self.tone_pa * self.mic_gain)[:, None]

    def max_static_delay_s(self) -> float:
        return float(self.static_paths()[0].max() / self.c_m_s)


class _StaticFilter:
    """The static field as a baseband FIR at one rate, applied to the emitted envelope."""

    def __init__(self, propagation: Propagation, rate_hz: float) -> None:
        self.margin = int(np.ceil(propagation.max_static_delay_s() * rate_hz)) + 16
        n_fft = int(2 ** np.ceil(np.log2(2 * self.margin)))
        offsets = np.fft.fftfreq(n_fft, d=1.0 / rate_hz)
        self.taps = np.fft.ifft(propagation.static_response(offsets), axis=-1)[:, : self.margin]
        self.dc = propagation.static_response(np.zeros(1))[:, 0]

    def apply(self, envelope_with_history: np.ndarray) -> np.ndarray:
        """Envelope sampled from ``margin`` samples before the block → (K, block)."""
        full = signal.oaconvolve(envelope_with_history[None, :], self.taps, axes=-1)
        return full[:, self.margin : len(envelope_with_history)]


def _chunks(duration_s: float, chunk_s: float, rate_hz: float) -> Iterator[tuple[int, int]]:
    n_total = int(round(duration_s * rate_hz))
    step = int(round(chunk_s * rate_hz))
    for start in range(0, n_total, step):
        yield start, min(start + step, n_total)


class _FieldRenderer:
    """Everything that is neither noise nor passband-only: the carrier-domain field."""

    def __init__(self, scene: Scene, config: SimulationConfig, rate_hz: float, baseband: bool) -> None:
        # baseband: add sources' in-band envelopes here; the passband renderer adds
        # sources at their true frequencies instead.
        self.scene, self.rate_hz, self.baseband = scene, rate_hz, baseband
        self.propagation = Propagation(scene, config)
        self.static = _StaticFilter(self.propagation, rate_hz)
        self.bandwidth_hz = rate_hz if baseband else rate_hz * 0.8

    def envelope(self, t_s: np.ndarray) -> np.ndarray:
        music = self.scene.music
        if music is None:
            return np.ones(t_s.shape, dtype=np.complex128)
        tone_fs = float(db_to_amplitude(self.scene.level_dbfs))
        return music.carrier_envelope(t_s, self.scene.carrier_hz, tone_fs, self.bandwidth_hz)

    def field(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Carrier-domain field (K, n) and emitted envelope (n,) for samples [start, stop)."""
        t_s = np.arange(start, stop) / self.rate_hz
        prop = self.propagation
        if self.scene.music is None:
            envelope = np.ones(len(t_s), dtype=np.complex128)
            static = np.repeat(self.static.dc[:, None], len(t_s), axis=1)
            mover_envelope = None
        else:
            history_t = np.arange(start - self.static.margin, stop) / self.rate_hz
            full_envelope = self.envelope(history_t)
            envelope = full_envelope[self.static.margin :]
            static = self.static.apply(full_envelope)
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
        evaluated oversampled and decimated through a low-pass filter, as the front end's
        decimation filter would. Grids are aligned to absolute sample indices so blocks
        join seamlessly.
        """
        prop = self.propagation
        n = stop - start
        out = np.zeros((len(prop.mics_m), n), dtype=np.complex128)
        listener = np.asarray(self.scene.device.position_m, dtype=float)
        margin = (_RESAMPLE_GUARD + 1) * _MAX_DECIMATION
        index = np.arange(start - margin, stop + margin)
        for mover in self.scene.movers:
            scat = mover.scatterers(index / self.rate_hz, listener)
            doppler_hz = prop.max_doppler_hz(scat.positions_m[:, margin - 1 : margin + n + 1], self.rate_hz)
            oversample = int(np.ceil((doppler_hz.max(initial=0.0) + 0.5 * self.rate_hz) / self.rate_hz))
            if oversample > 1:
                fine = np.arange((start - _RESAMPLE_GUARD) * oversample, (stop + _RESAMPLE_GUARD) * oversample)
                t_fine = fine / (self.rate_hz * oversample)
                fine_scat = mover.scatterers(t_fine, listener)
                field = sum(
                    prop.scatterer_field(p, s, t_fine, envelope)
                    for p, s in zip(fine_scat.positions_m, fine_scat.cross_section_m2) if np.any(s > 0)
                )
                if not np.isscalar(field):
                    out += signal.resample_poly(field, 1, oversample, axis=-1)[:, _RESAMPLE_GUARD : _RESAMPLE_GUARD + n]
                continue
            for pos, sigma, f_max in zip(scat.positions_m, scat.cross_section_m2, doppler_hz):
                if not np.any(sigma > 0):
                    continue
                step = 1 if envelope is not None else _decimation(f_max, self.rate_hz)
                first = (start // step - _RESAMPLE_GUARD) * step
                picks = np.arange(first, (-(-stop // step) + _RESAMPLE_GUARD) * step, step)
                sel = picks - (start - margin)
                field = prop.scatterer_field(pos[sel], sigma[sel], picks / self.rate_hz, envelope)
                if step > 1:
                    field = signal.resample_poly(field, step, 1, axis=-1)
                out += field[:, start - first : start - first + n]
        return out * prop.field_gain[:, None]

    def _sources(self, t_s: np.ndarray) -> np.ndarray:
        prop = self.propagation
        out = np.zeros((len(prop.mics_m), len(t_s)), dtype=np.complex128)
        for source in self.scene.sources:
            dist = np.linalg.norm(prop.mics_m - source.position_m, axis=-1)
            gain = self._source_gain(source, dist) * prop.mic_gain
            for k, (d, g) in enumerate(zip(dist, gain)):
                delay = d / prop.c_m_s
                bb = source.baseband_pa(t_s - delay, self.scene.carrier_hz, self.bandwidth_hz)
                out[k] += g * np.exp(-2j * np.pi * self.scene.carrier_hz * delay) * bb
        return out

    def _source_gain(self, source, dist_m: np.ndarray) -> np.ndarray:
        alpha = self.scene.environment.absorption_db_per_m(source.dominant_frequency_hz) * _LN10_OVER_20
        return np.exp(-alpha * dist_m) / dist_m


def _noise_rng(scene: Scene, start: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([scene.seed, stream, start])


def iter_baseband(scene: Scene, config: SimulationConfig) -> Iterator[Rendered]:
    """Render block by block (``config.chunk_s``): bounded memory for day-long scenes."""
    rate = config.baseband_rate_hz
    _check_rate(scene, rate)
    renderer = _FieldRenderer(scene, config, rate, baseband=True)
    noise_std = np.sqrt(scene.device.hardware.noise_psd_fs2_per_hz() * rate)  # per I/Q component
    for start, stop in _chunks(scene.duration_s, config.chunk_s, rate):
        field, envelope = renderer.field(start, stop)
        if config.noise:
            rng = _noise_rng(scene, start, stream=1)
            field = field + noise_std * (rng.standard_normal(field.shape) + 1j * rng.standard_normal(field.shape))
        yield Rendered(field.astype(np.complex64), rate, scene.carrier_hz, start / rate, envelope.astype(np.complex64))


def render_baseband(scene: Scene, config: SimulationConfig) -> Rendered:
    """The whole scene as complex baseband (n_mics, n) at ``config.baseband_rate_hz``."""
    blocks = list(iter_baseband(scene, config))
    return Rendered(
        np.concatenate([b.signal for b in blocks], axis=1),
        config.baseband_rate_hz,
        scene.carrier_hz,
        0.0,
        np.concatenate([b.reference for b in blocks]),
    )


def iter_passband(scene: Scene, config: SimulationConfig) -> Iterator[Rendered]:
    """Real multichannel audio at the device rate, block by block."""
    hardware = scene.device.hardware
    rate = hardware.sample_rate_hz
    decimation = config.passband_envelope_decimation
    if rate % decimation:
        raise ValueError(f"passband_envelope_decimation {decimation} must divide the sample rate {rate} Hz")
    env_rate = rate // decimation
    renderer = _FieldRenderer(scene, config, env_rate, baseband=False)
    prop = renderer.propagation
    guard = 32  # envelope samples either side, for the interpolation filter's edges
    music_pa_per_fs = np.sqrt(2) * P_REF_PA * db_to_amplitude(hardware.speaker_sensitivity_db_spl)
    direct_m = np.linalg.norm(prop.mics_m - prop.speaker_m, axis=-1)
    audible_gain = np.abs(hardware.mic_gains(len(direct_m), 1000.0)) * music_pa_per_fs / direct_m
    noise_std = np.sqrt(hardware.noise_psd_fs2_per_hz() * rate / 2.0)
    lsb = 2.0 / 2**hardware.adc_bits
    tone_fs = float(db_to_amplitude(scene.level_dbfs))
    for start, stop in _chunks(scene.duration_s, config.chunk_s, rate):
        env_start, env_stop = start // decimation, -(-stop // decimation)
        field, _ = renderer.field(env_start - guard, env_stop + guard)
        fine = signal.resample_poly(field, decimation, 1, axis=-1)
        offset = (start - (env_start - guard) * decimation)
        fine = fine[:, offset : offset + (stop - start)]
        t_s = np.arange(start, stop) / rate
        audio = np.real(fine * np.exp(2j * np.pi * scene.carrier_hz * t_s))
        reference = tone_fs * np.cos(2 * np.pi * scene.carrier_hz * t_s)
        if scene.music is not None:
            reference = reference + scene.music.drive_fs(t_s)
            for k, d in enumerate(direct_m):
                audio[k] += audible_gain[k] * scene.music.drive_fs(t_s - d / prop.c_m_s)
        audio += _passband_sources(scene, prop, t_s)
        if config.noise:
            audio += noise_std * _noise_rng(scene, start, stream=2).standard_normal(audio.shape)
        clipped = np.abs(audio) >= 1.0
        audio = np.clip(np.round(audio / lsb) * lsb, -1.0, 1.0 - lsb)
        yield Rendered(audio.astype(np.float32), rate, scene.carrier_hz, start / rate,
                       reference.astype(np.float32), float(clipped.mean()))


def _passband_sources(scene: Scene, prop: Propagation, t_s: np.ndarray) -> np.ndarray:
    out = np.zeros((len(prop.mics_m), len(t_s)))
    hardware = scene.device.hardware
    for source in scene.sources:
        dist = np.linalg.norm(prop.mics_m - source.position_m, axis=-1)
        alpha = scene.environment.absorption_db_per_m(source.dominant_frequency_hz) * _LN10_OVER_20
        mic = np.abs(hardware.mic_gains(len(dist), source.dominant_frequency_hz))
        for k, d in enumerate(dist):
            out[k] += mic[k] * np.exp(-alpha * d) / d * source.passband_pa(t_s - d / prop.c_m_s, max_frequency_hz=hardware.sample_rate_hz / 2)
    return out


def render_passband(scene: Scene, config: SimulationConfig) -> Rendered:
    blocks = list(iter_passband(scene, config))
    n = sum(b.signal.shape[1] for b in blocks)
    return Rendered(
        np.concatenate([b.signal for b in blocks], axis=1),
        scene.device.hardware.sample_rate_hz,
        scene.carrier_hz,
        0.0,
        np.concatenate([b.reference for b in blocks]),
        float(sum(b.clipped_fraction * b.signal.shape[1] for b in blocks) / n),
    )


def _check_rate(scene: Scene, baseband_rate_hz: int) -> None:
    device_rate = scene.device.hardware.sample_rate_hz
    if device_rate % baseband_rate_hz:
        raise ValueError(f"baseband rate {baseband_rate_hz} Hz must divide the device rate {device_rate} Hz")
