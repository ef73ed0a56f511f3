"""Doppler spectrogram with a radial-velocity axis (carrier- and rate-independent)."""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy import signal

from uspd.config import FrontendConfig
from uspd.frontend.music import ConjugatePairCanceller, MusicCanceller, PlaybackCanceller, squared_norm
from uspd.physics import radial_speed_m_s

_TONE_TRACK_S = 2.0  # the steady tone level follows slow drifts (temperature, gain) this fast


class DopplerSpectrogram:
    """Clutter high-pass, Hann STFT cropped to ±max speed, music-distortion cancellers
    (:class:`~uspd.frontend.music.PlaybackCanceller` first where the device gives its
    playback, then :class:`~uspd.frontend.music.MusicCanceller` with 3 or more mics or
    :class:`~uspd.frontend.music.ConjugatePairCanceller` with fewer), power averaged over mics.

    ``process`` keeps the filter state and unframed samples between blocks, so feeding a
    recording block by block gives the same frames as ``compute`` on all of it.

    Frames without a steady pilot tone come out as all zeros, the "no data" mark the
    detectors skip: when the tone's level (the baseband's mean, the direct path) jumps by
    more than ``tone_jump_db`` in any quarter of a frame — the tone paused, stopped or came
    back — switching makes broadband Doppler that is not motion, and the clutter filter
    rings for a while after. (HVAC turbulence moves the level by up to ~5 dB, slowly: 6 dB
    in a quarter frame is a switch.)
    A new steady level (the emitter turned down) is adopted after ``tone_adopt_s``.
    """

    def __init__(self, config: FrontendConfig, *, carrier_hz: float, baseband_rate_hz: float, speed_of_sound_m_s: float):
        self.rate_hz = baseband_rate_hz
        self.frame = int(round(config.frame_s * baseband_rate_hz))
        self.hop = int(round(config.hop_s * baseband_rate_hz))
        freqs = np.fft.fftshift(np.fft.fftfreq(self.frame, 1.0 / baseband_rate_hz))
        velocity = radial_speed_m_s(freqs, carrier_hz, speed_of_sound_m_s)
        keep = np.abs(velocity) <= config.max_speed_m_s
        self.velocity_m_s = velocity[keep]
        self._keep_fft = np.fft.fftshift(np.arange(self.frame))[keep]  # kept bins, in FFT (unshifted) order
        self._sos = signal.butter(2, config.clutter_cutoff_hz, "highpass", fs=baseband_rate_hz, output="sos")
        self._window = signal.windows.hann(self.frame, sym=False).astype(np.float32)
        self._tone_jump_db = config.tone_jump_db
        self._settle_frames = int(np.ceil(config.tone_settle_s / config.hop_s))
        self._adopt_frames = int(np.ceil(config.tone_adopt_s / config.hop_s))
        self._tone_alpha = 1.0 - np.exp(-config.hop_s / _TONE_TRACK_S)
        self.canceller = MusicCanceller(config.music, n_bins=len(self.velocity_m_s), hop_s=config.hop_s)
        self.pair_canceller = ConjugatePairCanceller(config.music, n_bins=len(self.velocity_m_s), hop_s=config.hop_s)
        self.playback_canceller = PlaybackCanceller(config.music, rate_hz=baseband_rate_hz)
        self.reset()

    @property
    def takes_playback(self) -> bool:
        """Whether :meth:`process` uses a ``playback`` (callers need not derive it otherwise)."""
        return self.playback_canceller.active()

    def reset(self, start_s: float = 0.0) -> None:
        """Start a new stream whose first sample is at ``start_s``."""
        self._zi = None
        self._pending = None
        self._consumed = int(round(start_s * self.rate_hz))  # samples before the pending buffer
        self._tone_ref_db: float | None = None  # the steady tone level, dB
        self._settle_left = 0  # frames still ringing after a level jump
        self._off_level_run = 0  # consecutive frames away from the steady level
        self.canceller.reset()
        self.pair_canceller.reset()
        self.playback_canceller.reset()

    def process(self, block: np.ndarray, part: np.ndarray | None = None,
                playback: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(n_mics, n) complex block → power (n_frames, n_velocity), frame end times (s).

        ``part`` (same shape, given with every block or never): one additive part of the
        blocks (the music alone, for measuring the canceller); its power after the same
        filtering and per-cell cancellation comes third.
        ``playback`` ((n_regressors, n), given with every block or never): what the device
        plays, as the playback canceller's regressors at the baseband rate (the baseband of
        the drive m and of m²: :meth:`uspd.sim.music.Music.drive_baseband`); None: nothing
        plays, or the device does not say."""
        n_mics = block.shape[0]
        if not self.takes_playback:
            playback = None
        empty = (np.zeros((0, len(self.velocity_m_s)), dtype=np.float32), np.zeros(0))
        empty = empty if part is None else (*empty, empty[0])
        if block.shape[-1] == 0:  # a short audio block may complete no baseband sample
            return empty
        if playback is not None:  # real, in the block's precision: a silent playback leaves the frames bit for bit
            playback = np.asarray(playback, dtype=block.real.dtype)
        inputs = np.concatenate([block] + [x for x in (part, playback) if x is not None])
        n_framed = n_mics + len(block) + (0 if part is None else len(part))  # the playback is not framed
        if self._zi is None:  # start in steady state on the first sample: no switch-on transient
            self._zi = signal.sosfilt_zi(self._sos)[:, None, :] * inputs[None, :, :1]
            self._pending = np.zeros((n_framed, 0), dtype=np.complex64)
        filtered, self._zi = signal.sosfilt(self._sos, inputs, axis=-1, zi=self._zi)
        if playback is not None:  # what the playback predicts leaves the mics and the music's part alike
            filtered, playback = filtered[: len(filtered) - len(playback)], filtered[len(filtered) - len(playback) :]
            filtered -= np.tile(self.playback_canceller.process(filtered[:n_mics], playback), (len(filtered) // n_mics, 1))
        # raw samples ride along below the filtered ones: the frame means give the tone level;
        # a measured part's filtered samples below those
        n_pending = self._pending.shape[1]
        buffer = np.empty((len(self._pending), n_pending + block.shape[1]), dtype=np.complex64)
        buffer[:, :n_pending] = self._pending
        buffer[:n_mics, n_pending:] = filtered[:n_mics]
        buffer[n_mics : 2 * n_mics, n_pending:] = block
        buffer[2 * n_mics :, n_pending:] = filtered[n_mics:]
        n_frames = max(0, (buffer.shape[1] - self.frame) // self.hop + 1)
        if n_frames == 0:
            self._pending = buffer
            return empty
        rows_bytes, sample_bytes = buffer.strides  # frames as a view: (rows, n_frames, frame), no copy
        frames = np.ndarray((len(buffer), n_frames, self.frame), buffer.dtype, buffer,
                            strides=(rows_bytes, self.hop * sample_bytes, sample_bytes))  # as_strided costs ~10 µs
        frames.flags.writeable = False
        raw = frames[n_mics : 2 * n_mics]
        canceller = next((c for c in (self.canceller, self.pair_canceller) if c.active(n_mics)), None)
        if canceller is None:
            spectra = scipy.fft.fft(frames[:n_mics] * self._window, axis=-1, workers=1).view(np.float32)
            # |X|² summed over mics in one pass over (re, im) pairs, then the kept bins
            squares = np.einsum("mfk,mfk->fk", spectra, spectra)
            power = (squares[:, 0::2] + squares[:, 1::2])[:, self._keep_fft] / n_mics
            part_cells = None if part is None else self._cells(frames[2 * n_mics :])
        else:
            static_field = raw[:, 0].mean(axis=-1) if canceller.basis is None else None  # the stream's first frame
            if part is None:
                cells = canceller.process(self._cells(frames[:n_mics]), static_field)
            else:
                cells, part_cells = canceller.process(self._cells(frames[:n_mics]), static_field,
                                                      part=self._cells(frames[2 * n_mics :]))
            power = _mean_power(cells)
        # tone level per quarter of each frame, so a switch anywhere inside a frame shows
        quarter = self.frame // 4
        # (means as sums over counts: np.mean's wrapper costs more than the sum at this size)
        quarters = raw[:, :, : 4 * quarter].reshape(n_mics, n_frames, 4, quarter).sum(axis=-1) / quarter
        tone_db = 10.0 * np.log10((quarters.real**2 + quarters.imag**2).sum(axis=0) / n_mics + 1e-30)  # (n_frames, 4)
        steady = self._steady_tone(tone_db)
        power[~steady] = 0.0
        ends = (self._consumed + np.arange(n_frames) * self.hop + self.frame) / self.rate_hz
        drop = n_frames * self.hop
        self._pending, self._consumed = buffer[:, drop:], self._consumed + drop
        if part is None:
            return power, ends
        part_power = _mean_power(part_cells)
        part_power[~steady] = 0.0
        return power, ends, part_power

    def _cells(self, frames: np.ndarray) -> np.ndarray:
        """(n_mics, n_frames, frame) → the kept bins' STFT cells in the canceller's layout,
        (n_velocity, n_frames, n_mics), C-contiguous (one gather, no extra copy)."""
        spectra = scipy.fft.fft(frames * self._window, axis=-1, workers=1)
        cells = np.empty((len(self._keep_fft), *spectra.shape[1::-1]), dtype=spectra.dtype)
        return np.take(spectra.transpose(2, 1, 0), self._keep_fft, axis=0, out=cells)

    def _steady_tone(self, tone_db: np.ndarray) -> np.ndarray:
        """Per frame: is the pilot tone at its steady level, with the clutter filter settled?

        tone_db: (n_frames, 4) level of each quarter frame. A sequential state machine on
        a few numbers per frame: plain Python floats, which beat NumPy calls at this size.
        """
        valid = [True] * len(tone_db)
        for i, quarters_db in enumerate(tone_db.tolist()):
            level_db = sum(quarters_db) / len(quarters_db)
            if self._tone_ref_db is None:
                self._tone_ref_db = level_db
            if max(abs(q - self._tone_ref_db) for q in quarters_db) > self._tone_jump_db:
                self._off_level_run += 1
                self._settle_left = self._settle_frames
                if self._off_level_run >= self._adopt_frames:  # a new steady level, not a glitch
                    self._tone_ref_db, self._off_level_run = level_db, 0
                valid[i] = False
                continue
            self._off_level_run = 0
            self._tone_ref_db += self._tone_alpha * (level_db - self._tone_ref_db)
            if self._settle_left > 0:
                self._settle_left -= 1
                valid[i] = False
        return np.array(valid, dtype=bool)

    def compute(self, baseband: np.ndarray, start_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """A whole recording at once (its first sample at ``start_s``): same frames as streaming."""
        self.reset(start_s)
        out = self.process(baseband)
        self.reset()
        return out


def _mean_power(cells: np.ndarray) -> np.ndarray:
    """STFT cells (n_velocity, n_frames, n_mics) → power averaged over the mics, (n_frames, n_velocity)."""
    squares = squared_norm(cells)
    return np.divide(squares.T, cells.shape[-1], out=np.empty(squares.shape[::-1], dtype=squares.dtype))
