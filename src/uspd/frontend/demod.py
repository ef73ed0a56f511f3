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
from numpy.lib.stride_tricks import as_strided
from scipy import signal

from uspd.config import SimulationConfig

DEFAULT_BASEBAND_RATE_HZ = SimulationConfig().baseband_rate_hz
PASSBAND_EDGE = 0.4
"""The decimation filter is flat (±0.1 dB) to ±this × baseband rate …"""
STOPBAND_EDGE = 0.5
"""… and attenuates ≥ 60 dB beyond ±this × baseband rate, so fast Doppler cannot alias."""
_STOPBAND_DB = 70.0  # Kaiser design target; 69.4 dB measured, leaving margin over 60 dB
_NYQUIST_GUARD_HZ = 2000.0  # room kept between carrier and Nyquist for Doppler and the mixing image
_MAX_CHANNELS = 64  # more "channels" than this means a (samples, channels) array was passed
_MIN_TONE_DB = 20.0  # a pilot tone stands at least this far above the local floor
_FLOOR_SPAN_HZ = 2000.0  # the local floor is the median PSD within this distance of the peak
_PHASE_SPLIT = 1 << 20  # splits the sample counter so the mixing phase stays exact for days
BATCH_BLOCK_S = 1.0  # whole recordings stream through in blocks of this length: bounded memory


class NoPilotToneError(ValueError):
    """The recording holds no stationary ultrasonic tone to demodulate."""


def check_audio(audio: np.ndarray, *, complex_ok: bool = False, require_signal: bool = False) -> np.ndarray:
    """Validate multichannel audio once, with errors a user can act on.

    audio: (n_channels, n) or (n,) for one channel. Returns (n_channels, n) float64
    (complex128 where ``complex_ok``). ``require_signal`` rejects all-zero recordings,
    which only a dead or muted microphone produces.
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
    """Streaming mixer and polyphase decimator: real audio blocks → aligned complex baseband.

    The low-pass is a linear-phase Kaiser FIR (``firwin``) with 2·M·D + 1 taps, D the
    decimation: its group delay is exactly M baseband samples, which are dropped, so
    output sample j is at time j / baseband_rate_hz in every call sequence. The price is
    latency: outputs lag the input by ``delay_samples`` baseband samples; :meth:`flush`
    releases them at the end of a stream. The filter runs as one matrix product per
    block of D input samples (each input row is multiplied once), and the mixing phase
    comes from an absolute sample counter, so any block sizes give the batch result.
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
        if not 0 < carrier_hz <= sample_rate_hz / 2 - guard_hz:
            raise ValueError(
                f"sample rate {sample_rate_hz:g} Hz is too low for a {carrier_hz:g} Hz carrier: "
                f"it needs at least {2 * (carrier_hz + guard_hz):g} Hz"
            )
        self._rate_hz, self._carrier_hz, self._baseband_hz = int(sample_rate_hz), float(carrier_hz), int(baseband_rate_hz)
        self._decim = self._rate_hz // self._baseband_hz
        width_hz = (STOPBAND_EDGE - PASSBAND_EDGE) * baseband_rate_hz
        numtaps, beta = signal.kaiserord(_STOPBAND_DB, width_hz / (sample_rate_hz / 2))
        self._delay = -(-(numtaps - 1) // (2 * self._decim))
        self._taps = signal.firwin(
            2 * self._delay * self._decim + 1,
            (PASSBAND_EDGE + STOPBAND_EDGE) / 2 * baseband_rate_hz,
            window=("kaiser", beta),
            fs=sample_rate_hz,
        )
        self._taps.flags.writeable = False
        # Taps (symmetric, so reversal is a no-op) as rows of D, front-padded so that
        # window k spans input rows k … k + 2M and ends on the last sample of a row.
        padded = np.concatenate([np.zeros(self._decim - 1), self._taps])
        self._row_taps = padded.reshape(-1, self._decim).T  # (D, 2M + 1)
        ratio = self._carrier_hz / self._rate_hz
        self._cycles_per_sample = ratio
        self._cycles_per_split = (ratio * _PHASE_SPLIT) % 1.0
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
    def taps(self) -> np.ndarray:
        """(n_taps,) the low-pass FIR at the input rate, unit DC gain (read-only)."""
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
        self._n_channels: int | None = None
        self._to_drop = self._delay
        self._partial = np.zeros((2, 0, self._decim - 1))  # (re/im, channels, < D samples)
        self._products = np.zeros((2, 0, 2 * self._delay, 2 * self._delay + 1))

    def process(self, block: np.ndarray) -> np.ndarray:
        """Demodulate the next block of audio.

        block: (n_channels, m) real, any m ≥ 0. Returns (n_channels, k) complex64, the
        baseband samples that became complete; concatenated over calls they equal
        :func:`demodulate` of the concatenated audio, sample for sample.
        """
        x = check_audio(block)
        if self._n_channels is None:
            self._n_channels = x.shape[0]
            self._partial = np.zeros((2, x.shape[0], self._decim - 1))
            self._products = np.zeros((2, x.shape[0]) + self._products.shape[2:])
        elif x.shape[0] != self._n_channels:
            raise ValueError(f"block has {x.shape[0]} channels; this stream has {self._n_channels}")
        n = np.arange(self._n_in, self._n_in + x.shape[1], dtype=np.int64)
        self._n_in += x.shape[1]
        cycles = (self._cycles_per_split * (n // _PHASE_SPLIT) + self._cycles_per_sample * (n % _PHASE_SPLIT)) % 1.0
        phase = 2 * np.pi * cycles
        mixed = np.stack([2 * x * np.cos(phase), -2 * x * np.sin(phase)])  # 2·x·exp(−jθ) as (re, im)
        return self._decimate(mixed)

    def flush(self) -> np.ndarray:
        """End the stream: the last ``delay_samples`` outputs (input assumed zero after the end).

        Returns (n_channels, k) complex64 and resets the demodulator for a new stream.
        """
        if self._n_channels is None:
            return np.zeros((0, 0), dtype=np.complex64)
        tail = self._decimate(np.zeros((2, self._n_channels, self._delay * self._decim)))
        self.reset()
        return tail

    def _decimate(self, mixed: np.ndarray) -> np.ndarray:
        """FIR-filter and decimate (re/im, channels, m) float64 → (channels, k) complex64."""
        buf = np.concatenate([self._partial, mixed], axis=-1)
        n_rows = buf.shape[-1] // self._decim
        rows = buf[..., : n_rows * self._decim].reshape(buf.shape[:2] + (n_rows, self._decim))
        self._partial = buf[..., n_rows * self._decim :]
        products = np.concatenate([self._products, rows @ self._row_taps], axis=2)  # (2, ch, 2M + rows, 2M + 1)
        self._products = products[:, :, n_rows:]
        # Output k sums the taps' diagonal: products[..., k + q, q] over q.
        s0, s1, s2, s3 = products.strides
        diagonals = as_strided(
            products, shape=(2, products.shape[1], n_rows, products.shape[3]), strides=(s0, s1, s2, s2 + s3),
            writeable=False,
        )
        out = diagonals.sum(axis=-1)
        drop = min(self._to_drop, n_rows)
        self._to_drop -= drop
        return (out[0, :, drop:] + 1j * out[1, :, drop:]).astype(np.complex64)


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
