"""Carrier search and demodulation: ultrasonic audio → complex baseband at a few kHz.

Everything the detector needs lies within a few hundred hertz of the pilot tone, so the
first stage finds the tone, mixes it down to 0 Hz and decimates. The audible band is
discarded here, which is also what keeps stored data free of speech and music.

Convention: passband = Re{baseband · exp(j2π·f0·t)}. Demodulating a real tone
A·cos(2π(f0 + d)t + φ) therefore gives A·exp(j(2π·d·t + φ)): positive Doppler (an
approaching reflector) lands at positive baseband frequency.

>>> carrier_hz = find_carrier_hz(audio, 96000)          # audio: (n_channels, n) float
>>> baseband = demodulate(audio, 96000, carrier_hz)     # (n_channels, n // 32) complex64

Live audio goes through the same filter, one block at a time:

>>> demod = Demodulator(96000, carrier_hz)
>>> for block in stream:                                # block: (n_channels, m), any m ≥ 1
...     baseband_block = demod.process(block)           # aligned: sample j is at j / 3000 s
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from uspd.config import SimulationConfig

DEFAULT_BASEBAND_RATE_HZ = SimulationConfig().baseband_rate_hz
PASSBAND_EDGE = 0.38
"""The decimation filter is flat (±0.1 dB) to ±this × baseband rate (±1140 Hz at 3 kHz: the
widest band a spectrogram keeps on 96 kHz hardware, 4 m/s on a 46 kHz carrier in air at
0 °C, with the STFT window's main lobe) …"""
STOPBAND_EDGE = 1.0 - PASSBAND_EDGE
"""… and attenuates ≥ 60 dB beyond ±this × baseband rate: what lies beyond would fold into
the flat band. What lies between folds onto the band's far side, which no frame keeps."""
_STOPBAND_DB = 70.0  # Kaiser design target; 69.3–69.9 dB measured (44.1–192 kHz), margin over 60 dB
_STAGE1_TAPS_PER_STEP = 7  # stage 1's length per decimation step: sets its rejection of the bands that fold in
_NYQUIST_GUARD_HZ = 2000.0  # room kept between carrier and Nyquist for Doppler and the mixing image
_MAX_CHANNELS = 64  # more "channels" than this means a (samples, channels) array was passed
_MIN_TONE_DB = 20.0  # a pilot tone stands at least this far above the local floor
_FLOOR_SPAN_HZ = 2000.0  # the local floor is the median PSD within this distance of the peak
_PHASE_SPLIT = 1 << 20  # splits the sample counter so the mixing phase stays exact for days
BATCH_BLOCK_S = 1.0  # whole recordings stream through in blocks of this length: bounded memory


class NoPilotToneError(ValueError):
    """The recording holds no stationary ultrasonic tone to demodulate."""


def check_audio(
    audio: np.ndarray, *, complex_ok: bool = False, require_signal: bool = False, convert: bool = True
) -> np.ndarray:
    """Validate multichannel audio once, with errors a user can act on.

    audio: (n_channels, n) or (n,) for one channel. Returns (n_channels, n) float64
    (complex128 where ``complex_ok``); with ``convert=False`` in its own real dtype, for a
    caller that converts while copying anyway. ``require_signal`` rejects all-zero
    recordings, which only a dead or muted microphone produces.
    """
    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"audio must be (n_channels, n_samples), got an array of shape {x.shape}")
    if x.shape[0] > _MAX_CHANNELS:
        raise ValueError(
            f"audio has {x.shape[0]} channels, more than {_MAX_CHANNELS}: pass (n_channels, n_samples), "
            "not (n_samples, n_channels)"
        )
    if np.iscomplexobj(x) and not complex_ok:
        raise ValueError("audio must be real-valued passband samples, got a complex array")
    if convert:
        x = x.astype(np.complex128 if complex_ok else np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError("audio contains NaN or infinite samples")
    if require_signal and not np.any(x):
        raise ValueError("audio is silent (every sample is zero): check the microphone input")
    return x


def find_carrier_hz(audio: np.ndarray, sample_rate_hz: float, min_hz: float = 17000.0) -> float:
    """The strongest stationary tone between ``min_hz`` and Nyquist: the pilot tone.

    audio: (n_channels, n) float. The PSD is the *median* over Welch segments (so a tone
    present in under half the recording, a transient, does not count), averaged over
    channels. A Gaussian window makes the log-PSD peak a parabola, so three-bin
    interpolation is exact to about 1 mHz on a clean tone with ~3 Hz bins.

    Raises NoPilotToneError when no tone stands ≥ 20 dB above the local floor.
    """
    x = check_audio(audio, require_signal=True)
    nyquist_hz = sample_rate_hz / 2
    if nyquist_hz <= min_hz:
        raise ValueError(
            f"sample rate {sample_rate_hz:g} Hz is too low for an ultrasonic pilot tone "
            f"(its Nyquist frequency {nyquist_hz:g} Hz is below {min_hz:g} Hz)"
        )
    nperseg = min(x.shape[1], 1 << int(np.ceil(np.log2(sample_rate_hz / 4))))  # ~3 Hz bins
    freq_hz, psd = signal.welch(
        x, sample_rate_hz, window=("gaussian", nperseg / 8), nperseg=nperseg, average="median", axis=-1
    )
    psd = psd.mean(axis=0)
    band = np.flatnonzero((freq_hz >= min_hz) & (freq_hz < nyquist_hz))
    peak = band[np.argmax(psd[band])]
    near = band[np.abs(freq_hz[band] - freq_hz[peak]) <= _FLOOR_SPAN_HZ]
    floor = np.median(psd[near])
    prominence_db = 10 * np.log10(psd[peak] / floor) if floor > 0 else np.inf
    if not prominence_db >= _MIN_TONE_DB or peak in (band[0], band[-1]):
        raise NoPilotToneError(
            f"no pilot tone found between {min_hz:g} Hz and {nyquist_hz:g} Hz: the strongest stationary "
            f"component stands only {prominence_db:.1f} dB above the noise (need {_MIN_TONE_DB:g} dB); "
            "is the speaker playing the tone?"
        )
    lo, mid, hi = np.log(psd[peak - 1 : peak + 2])
    offset_bins = 0.5 * (lo - hi) / (lo - 2 * mid + hi)
    return float(freq_hz[peak] + offset_bins * (freq_hz[1] - freq_hz[0]))


class Demodulator:
    """Streaming mixer and two-stage decimator: real audio blocks → aligned complex baseband.

    The decimation D splits as D1 · D2 (D2 the smallest factor ≥ 4, so stage 1 ends at
    ≥ 4 × the baseband rate). Stage 1 is a short equiripple low-pass whose stopbands
    cover only the bands that fold onto ±baseband/2 at its output; it runs on the real
    audio with the carrier folded into its taps (a complex band-pass), so the mixing
    itself happens at the stage-1 rate, D1 times fewer samples. Stage 2 is the sharp
    Kaiser low-pass that sets the flat band (``PASSBAND_EDGE``) and the ≥ 60 dB stopband
    (``STOPBAND_EDGE``). Both are linear phase and together form one centred FIR of
    2·M·D + 1 taps at the input rate (``taps``), so output j is at time j / baseband_rate_hz
    and is released once that FIR's window is complete: outputs lag the input by
    ``delay_samples`` (M) baseband samples; :meth:`flush` releases them.

    Each stage is one float32 matrix product over all channels (:class:`_PolyphaseFir`),
    and the mixing phase comes from an absolute sample counter, so any block sizes give
    the batch result.
    """

    def __init__(
        self, sample_rate_hz: float, carrier_hz: float, baseband_rate_hz: float = DEFAULT_BASEBAND_RATE_HZ
    ) -> None:
        if baseband_rate_hz <= 0 or sample_rate_hz % baseband_rate_hz:
            raise ValueError(
                f"baseband rate {baseband_rate_hz:g} Hz must divide the sample rate {sample_rate_hz:g} Hz "
                "(use 48, 96 or 192 kHz audio)"
            )
        guard_hz = max(_NYQUIST_GUARD_HZ, baseband_rate_hz / 2)
        if not 0 <= carrier_hz <= sample_rate_hz / 2 - guard_hz:  # 0 Hz: a plain decimating low-pass (the playback's)
            raise ValueError(
                f"sample rate {sample_rate_hz:g} Hz is too low for a {carrier_hz:g} Hz carrier: "
                f"it needs at least {2 * (carrier_hz + guard_hz):g} Hz"
            )
        self._rate_hz, self._carrier_hz, self._baseband_hz = int(sample_rate_hz), float(carrier_hz), int(baseband_rate_hz)
        self._decim = self._rate_hz // self._baseband_hz
        decim2 = next(d for d in range(min(4, self._decim), self._decim + 1) if self._decim % d == 0)
        decim1 = self._decim // decim2
        # Stage 2 gets the taps a Kaiser design needs for the stopband target at its rate; the
        # latency is the whole number of baseband samples that holds both stages' half-lengths
        # (stage 2 then grows to fill it).
        width_hz = (STOPBAND_EDGE - PASSBAND_EDGE) * baseband_rate_hz
        numtaps2, beta = signal.kaiserord(_STOPBAND_DB, width_hz / (sample_rate_hz / decim1 / 2))
        lowpass1 = _alias_band_lowpass(self._rate_hz, decim1, baseband_rate_hz)
        min_half2 = -(-(numtaps2 - 1) // 2)  # stage-2 half-length the design needs, in stage-1 samples
        self._delay = -(-(decim1 * min_half2 + len(lowpass1) // 2) // self._decim)
        half2 = (self._delay * self._decim - len(lowpass1) // 2) // decim1
        lowpass2 = signal.firwin(
            2 * half2 + 1,
            (PASSBAND_EDGE + STOPBAND_EDGE) / 2 * baseband_rate_hz,
            window=("kaiser", beta),
            fs=sample_rate_hz / decim1,
        )
        # the whole cascade as one centred FIR at the input rate, for analysis and references
        upsampled2 = np.zeros(decim1 * (len(lowpass2) - 1) + 1)
        upsampled2[::decim1] = lowpass2
        cascade = np.convolve(lowpass1, upsampled2)
        pad = self._delay * self._decim - len(cascade) // 2
        self._taps = np.pad(cascade, pad)
        self._taps.flags.writeable = False
        # Stage-1 output k is at input sample n = D1·k: Σ_i h1[i] · 2x[n − c + i] e^{−jω(n − c + i)}
        # = e^{−jωn} Σ_i g[i] x[n − c + i] with g[i] = 2 h1[i] e^{−jω(i − c)}, c = the centre tap.
        self._radians_per_sample = 2 * np.pi * self._carrier_hz / self._rate_hz
        centre1 = len(lowpass1) // 2
        bandpass1 = 2 * lowpass1 * np.exp(-1j * self._radians_per_sample * (np.arange(len(lowpass1)) - centre1))
        self._stage1 = _PolyphaseFir(bandpass1, decim1)
        self._stage2 = _PolyphaseFir(lowpass2, decim2)
        self._decim1, self._half1, self._half2 = decim1, centre1, half2
        ratio = self._carrier_hz / self._rate_hz
        self._cycles_per_sample = ratio
        self._cycles_per_split = (ratio * _PHASE_SPLIT) % 1.0
        self._phasor_steps = np.zeros(0, dtype=np.complex128)
        self.reset()

    @property
    def sample_rate_hz(self) -> int:
        return self._rate_hz

    @property
    def carrier_hz(self) -> float:
        return self._carrier_hz

    @property
    def baseband_rate_hz(self) -> int:
        return self._baseband_hz

    @property
    def decimation(self) -> int:
        """Input samples per baseband sample."""
        return self._decim

    @property
    def stage_decimations(self) -> tuple[int, int]:
        """(D1, D2): stage 1 decimates by D1 with the short filter, stage 2 by D2 with the sharp one."""
        return self._stage1.decim, self._stage2.decim

    @property
    def taps(self) -> np.ndarray:
        """(2·M·D + 1,) both stages as one centred low-pass FIR at the input rate, unit DC gain
        (read-only): its group delay is ``delay_samples`` baseband samples."""
        return self._taps

    @property
    def delay_samples(self) -> int:
        """Latency in baseband samples: the group delay of the FIR, withheld until :meth:`flush`."""
        return self._delay

    @property
    def samples_in(self) -> int:
        """Input samples per channel processed since the stream began."""
        return self._n_in

    @property
    def settle_samples(self) -> int:
        """Outputs before this index saw the stream switch on (their FIR window reaches before
        the first input sample), so they ramp up instead of showing the steady field."""
        return 2 * self._delay

    def reset(self) -> None:
        """Start a new stream: zero history, sample counter at 0."""
        self._n_in = 0
        self._n_out = 0
        self._n_channels: int | None = None
        # Stage 2's first window starts at stage-1 sample −half2, whose stage-1 window starts
        # at input sample −D1·half2 − half1: the silence before the stream, as zeros.
        self._next_stage1 = -self._half2
        self._history_in = np.zeros((0, self._decim1 * self._half2 + self._half1), dtype=np.float32)
        self._history1 = np.zeros((0, 0), dtype=np.complex64)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Demodulate the next block of audio.

        block: (n_channels, m) real, any m ≥ 0. Returns (n_channels, k) complex64, the
        baseband samples that became complete; concatenated over calls they equal
        :func:`demodulate` of the concatenated audio, sample for sample.
        """
        x = check_audio(block, convert=False)
        if self._n_channels is None:
            self._n_channels = x.shape[0]
            self._history_in = np.zeros((x.shape[0], self._history_in.shape[1]), dtype=np.float32)
            self._history1 = np.zeros((x.shape[0], 0), dtype=np.complex64)
        elif x.shape[0] != self._n_channels:
            raise ValueError(f"block has {x.shape[0]} channels; this stream has {self._n_channels}")
        self._n_in += x.shape[1]
        return self._advance(x, self._n_in)

    def flush(self) -> np.ndarray:
        """End the stream: the last ``delay_samples`` outputs (input assumed zero after the end).

        Returns (n_channels, k) complex64 and resets the demodulator for a new stream.
        """
        if self._n_channels is None:
            return np.zeros((0, 0), dtype=np.complex64)
        padding = self._delay * self._decim
        tail = self._advance(np.zeros((self._n_channels, padding), dtype=np.float32), self._n_in + padding)
        self.reset()
        return tail

    def _advance(self, x: np.ndarray, n_in: int) -> np.ndarray:
        """Feed (channels, m) real input, ``n_in`` samples in all → the outputs now due.

        Releases as many outputs as the single FIR of ``taps`` completes (its window ends
        M·D samples after an output's time).
        """
        n_have = self._history_in.shape[1] + x.shape[1]
        n1 = max(0, (n_have - self._stage1.n_taps) // self._stage1.decim + 1)
        buffer = _join(self._history_in, x, self._stage1.span(n1))
        self._history_in = buffer[:, self._stage1.decim * n1 : n_have].copy()
        stage1 = self._stage1(buffer, n1) * self._mixing_phasor(self._next_stage1, n1)
        self._next_stage1 += n1
        n_due = max(0, -(-n_in // self._decim) - self._delay) - self._n_out
        buffer = _join(self._history1, stage1, self._stage2.span(n_due))
        self._history1 = buffer[:, self._stage2.decim * n_due : self._history1.shape[1] + n1].copy()
        self._n_out += n_due
        return self._stage2(buffer, n_due)

    def _mixing_phasor(self, first: int, count: int) -> np.ndarray:
        """e^{−jωn} at stage-1 samples first … first + count − 1 (n = D1 · index), complex64.

        The first phase comes from the absolute sample counter split in two, so it stays
        exact however long the stream runs; the rest is that phasor times a table of
        e^{−jω·D1·k}, k < count, made once per block length."""
        if len(self._phasor_steps) < count:
            steps = self._decim1 * np.arange(count, dtype=np.int64)
            self._phasor_steps = np.exp(-2j * np.pi * ((self._cycles_per_sample * steps) % 1.0))
        n = self._decim1 * first
        cycles = (self._cycles_per_split * (n // _PHASE_SPLIT) + self._cycles_per_sample * (n % _PHASE_SPLIT)) % 1.0
        return (np.exp(-2j * np.pi * cycles) * self._phasor_steps[:count]).astype(np.complex64)


class _PolyphaseFir:
    """FIR filter and decimate by ``decim`` as one float32 matrix product over all channels.

    ``y[k] = Σ_i taps[i] · x[k·decim + i]`` for (channels, n) x (windows start at x[0]).
    x is cut into rows of B outputs' worth of input (S = B · decim samples); a block of B
    outputs then reads Q consecutive rows, so Z = rows @ M once, and block t = Σ_q Z[t + q, q].
    Every input sample is read once, by BLAS on large matrices, where a product per tap or
    per decimation phase ran on small ones. Complex taps (on real input) give (re, im)
    float32 pairs; complex input (with real taps) is filtered as its real and imaginary
    parts, two real channels each, so no multiply is spent on a zero imaginary tap.
    """

    _MAX_OUTPUTS_PER_ROW = 20  # measured: the 75-tap stage 2 runs fastest at its full 18 (16: 1.2× slower)

    def __init__(self, taps: np.ndarray, decim: int) -> None:
        self.n_taps, self.decim = len(taps), decim
        self._per_row = max(1, min(self.n_taps // decim, self._MAX_OUTPUTS_PER_ROW))
        row = decim * self._per_row
        self._rows_per_block = -(-(decim * (self._per_row - 1) + self.n_taps) // row)
        self._complex_taps = np.iscomplexobj(taps)
        window = np.zeros((self._rows_per_block * row, self._per_row), dtype=taps.dtype)
        for b in range(self._per_row):
            window[b * decim : b * decim + self.n_taps, b] = taps
        m = window.reshape(self._rows_per_block, row, self._per_row).transpose(1, 0, 2)  # (S, Q, B)
        matrix = np.stack([m.real, m.imag], -1) if self._complex_taps else m
        self._matrix = np.ascontiguousarray(matrix.reshape(row, -1), np.float32)

    def span(self, n_out: int) -> int:
        """Input samples that computing ``n_out`` outputs reads (zero padding included)."""
        return (-(-n_out // self._per_row) + self._rows_per_block - 1) * self._per_row * self.decim

    def __call__(self, x: np.ndarray, n_out: int) -> np.ndarray:
        """x: (channels, ≥ span(n_out)) float32 (complex64 if the taps are real)
        → (channels, n_out) complex64."""
        n_blocks = -(-n_out // self._per_row)
        n_rows = n_blocks + self._rows_per_block - 1
        flat = x[:, : n_rows * self._per_row * self.decim]
        if np.iscomplexobj(flat):  # (channels, n) complex → (re rows, then im rows) real
            flat = flat.view(np.float32).reshape(x.shape[0], -1, 2).transpose(2, 0, 1).reshape(2 * x.shape[0], -1)
        rows = flat.reshape(flat.shape[0], n_rows, -1)
        z = (rows @ self._matrix).reshape(flat.shape[0], n_rows, self._rows_per_block, -1)
        out = z[:, :n_blocks, 0].copy()
        for q in range(1, self._rows_per_block):
            out += z[:, q : q + n_blocks, q]
        if self._complex_taps:
            return out.view(np.complex64).reshape(x.shape[0], -1)[:, :n_out]
        result = np.empty((x.shape[0], n_out), dtype=np.complex64)
        result.real, result.imag = np.split(out.reshape(flat.shape[0], -1)[:, :n_out], 2)
        return result


def _join(history: np.ndarray, new: np.ndarray, min_length: int) -> np.ndarray:
    """history then new along time, in history's dtype, zero-padded to at least ``min_length``."""
    n = history.shape[1] + new.shape[1]
    out = np.empty((history.shape[0], max(n, min_length)), dtype=history.dtype)
    out[:, : history.shape[1]] = history
    out[:, history.shape[1] : n] = new
    out[:, n:] = 0
    return out


def _alias_band_lowpass(rate_hz: int, decim: int, baseband_rate_hz: float) -> np.ndarray:
    """Stage-1 low-pass for decimation by ``decim``: flat to ±baseband/2, ≥ 110 dB down only
    in the bands that fold onto that band at rate/decim (m · rate/decim ± baseband/2); the
    rest stage 2 removes. Equiripple with 7 taps per decimation step: 110–112 dB at 48–192
    kHz. Loud music reaches the mics near full scale and lies in those bands (a 30.9 kHz
    carrier at 96 kHz folds 5–8 and 17–20 kHz onto it), so the rejection must span the
    ADC's range over the band's noise: with 5 taps per step (82 dB) a tuning room's music
    stood 6.5–8.3 dB over the noise in the Doppler band with no speaker distortion at all
    (docs/benchmarks-frontend.md, eighth pass).
    """
    if decim == 1:
        return np.ones(1)
    half_band_hz, out_rate_hz = baseband_rate_hz / 2, rate_hz / decim
    bands, gains = [0.0, half_band_hz], [1.0]
    for m in range(1, decim // 2 + 1):
        bands += [m * out_rate_hz - half_band_hz, min(m * out_rate_hz + half_band_hz, rate_hz / 2)]
        gains.append(0.0)
    taps = signal.remez(2 * (_STAGE1_TAPS_PER_STEP * decim // 2) + 1, bands, gains, fs=rate_hz)
    return taps / taps.sum()


def demodulate(
    audio: np.ndarray,
    sample_rate_hz: float,
    carrier_hz: float,
    baseband_rate_hz: float = DEFAULT_BASEBAND_RATE_HZ,
) -> np.ndarray:
    """Whole-recording demodulation: audio (n_channels, n) float → (n_channels, n // D) complex64.

    Sample j is at time j / baseband_rate_hz (FIR delay compensated), so it compares
    sample by sample with a directly rendered baseband. It streams the recording through
    a :class:`Demodulator` in 1 s blocks: one code path with live input, bounded memory.
    """
    x = check_audio(audio)
    demod = Demodulator(sample_rate_hz, carrier_hz, baseband_rate_hz)
    step = int(BATCH_BLOCK_S * sample_rate_hz)
    parts = [demod.process(x[:, i : i + step]) for i in range(0, x.shape[1], step)]
    parts.append(demod.flush())
    return np.concatenate(parts, axis=1)[:, : x.shape[1] // demod.decimation]
