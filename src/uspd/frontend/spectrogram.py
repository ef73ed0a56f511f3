"""Doppler spectrogram with a radial-velocity axis (carrier- and rate-independent)."""

from __future__ import annotations

import numpy as np
from scipy import signal

from uspd.config import FrontendConfig
from uspd.frontend.music import MusicCanceller
from uspd.physics import radial_speed_m_s

_TONE_TRACK_S = 2.0  # the steady tone level follows slow drifts (temperature, gain) this fast


class DopplerSpectrogram:
    """Clutter high-pass, Hann STFT cropped to ±max speed, music-distortion canceller
    (:class:`~uspd.frontend.music.MusicCanceller`, 3 or more mics), power averaged over mics.

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
        self._keep = np.abs(velocity) <= config.max_speed_m_s
        self.velocity_m_s = velocity[self._keep]
        self._sos = signal.butter(2, config.clutter_cutoff_hz, "highpass", fs=baseband_rate_hz, output="sos")
        self._window = signal.windows.hann(self.frame, sym=False).astype(np.float32)
        self._tone_jump_db = config.tone_jump_db
        self._settle_frames = int(np.ceil(config.tone_settle_s / config.hop_s))
        self._adopt_frames = int(np.ceil(config.tone_adopt_s / config.hop_s))
        self._tone_alpha = 1.0 - np.exp(-config.hop_s / _TONE_TRACK_S)
        self.canceller = MusicCanceller(config.music, n_bins=int(self._keep.sum()), hop_s=config.hop_s)
        self.reset()

    def reset(self, start_s: float = 0.0) -> None:
        """Start a new stream whose first sample is at ``start_s``."""
        self._zi = None
        self._pending = None
        self._consumed = int(round(start_s * self.rate_hz))  # samples before the pending buffer
        self._tone_ref_db: float | None = None  # the steady tone level, dB
        self._settle_left = 0  # frames still ringing after a level jump
        self._off_level_run = 0  # consecutive frames away from the steady level
        self.canceller.reset()

    def process(self, block: np.ndarray, part: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(n_mics, n) complex block → power (n_frames, n_velocity), frame end times (s).

        ``part`` (same shape, given with every block or never): one additive part of the
        blocks (the music alone, for measuring the canceller); its power after the same
        filtering and per-cell cancellation comes third."""
        n_mics = block.shape[0]
        if block.shape[-1] == 0:  # a short audio block may complete no baseband sample
            empty = np.zeros((0, len(self.velocity_m_s)), dtype=np.float32)
            return (empty, np.zeros(0)) if part is None else (empty, np.zeros(0), empty)
        inputs = block if part is None else np.concatenate([block, part])
        if self._zi is None:  # start in steady state on the first sample: no switch-on transient
            self._zi = signal.sosfilt_zi(self._sos)[:, None, :] * inputs[None, :, :1]
            self._pending = np.zeros((n_mics + len(inputs), 0), dtype=np.complex64)
        filtered, self._zi = signal.sosfilt(self._sos, inputs, axis=-1, zi=self._zi)
        # raw samples ride along below the filtered ones: the frame means give the tone level
        rows = [filtered[:n_mics], block] + ([] if part is None else [filtered[n_mics:]])
        buffer = np.concatenate([self._pending, np.concatenate(rows).astype(np.complex64)], axis=1)
        n_frames = max(0, (buffer.shape[1] - self.frame) // self.hop + 1)
        starts = np.arange(n_frames) * self.hop
        frames = np.stack([buffer[:, s : s + self.frame] for s in starts], axis=1) if n_frames else np.zeros(
            (buffer.shape[0], 0, self.frame), np.complex64)
        raw = frames[n_mics : 2 * n_mics]
        spectra = np.fft.fftshift(np.fft.fft(frames[:n_mics] * self._window, axis=-1), axes=-1)[..., self._keep]
        static_field = raw[:, 0].mean(axis=-1) if n_frames else None  # read on the stream's first frame
        if part is None:
            spectra = self.canceller.process(spectra, static_field)
        else:
            part_spectra = np.fft.fftshift(np.fft.fft(frames[2 * n_mics :] * self._window, axis=-1), axes=-1)[..., self._keep]
            spectra, part_spectra = self.canceller.process(spectra, static_field, part=part_spectra)
        power = (np.abs(spectra) ** 2).mean(axis=0).astype(np.float32)
        # tone level per quarter of each frame, so a switch anywhere inside a frame shows
        quarters = raw[:, :, : self.frame // 4 * 4].reshape(n_mics, n_frames, 4, self.frame // 4).mean(axis=-1)
        tone_db = 10.0 * np.log10((np.abs(quarters) ** 2).mean(axis=0) + 1e-30)  # (n_frames, 4)
        steady = self._steady_tone(tone_db)
        power[~steady] = 0.0
        ends = (self._consumed + starts + self.frame) / self.rate_hz
        drop = n_frames * self.hop
        self._pending, self._consumed = buffer[:, drop:], self._consumed + drop
        if part is None:
            return power, ends
        part_power = (np.abs(part_spectra) ** 2).mean(axis=0).astype(np.float32)
        part_power[~steady] = 0.0
        return power, ends, part_power

    def _steady_tone(self, tone_db: np.ndarray) -> np.ndarray:
        """Per frame: is the pilot tone at its steady level, with the clutter filter settled?

        tone_db: (n_frames, 4) level of each quarter frame.
        """
        valid = np.ones(len(tone_db), dtype=bool)
        for i, quarters_db in enumerate(tone_db):
            level_db = float(quarters_db.mean())
            if self._tone_ref_db is None:
                self._tone_ref_db = level_db
            if np.abs(quarters_db - self._tone_ref_db).max() > self._tone_jump_db:
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
        return valid

    def compute(self, baseband: np.ndarray, start_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """A whole recording at once (its first sample at ``start_s``): same frames as streaming."""
        self.reset(start_s)
        out = self.process(baseband)
        self.reset()
        return out
