"""Doppler spectrogram with a radial-velocity axis (carrier- and rate-independent)."""

from __future__ import annotations

import numpy as np
from scipy import signal

from uspd.config import FrontendConfig
from uspd.physics import radial_speed_m_s


class DopplerSpectrogram:
    """Clutter high-pass, Hann STFT, power averaged over mics, cropped to ±max speed.

    ``process`` keeps the filter state and unframed samples between blocks, so feeding a
    recording block by block gives the same frames as ``compute`` on all of it.
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
        self.reset()

    def reset(self, start_s: float = 0.0) -> None:
        """Start a new stream whose first sample is at ``start_s``."""
        self._zi = None
        self._pending = None
        self._consumed = int(round(start_s * self.rate_hz))  # samples before the pending buffer

    def process(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n_mics, n) complex block → power (n_frames, n_velocity), frame end times (s)."""
        if block.shape[-1] == 0:  # a short audio block may complete no baseband sample
            return np.zeros((0, len(self.velocity_m_s)), dtype=np.float32), np.zeros(0)
        if self._zi is None:  # start in steady state on the first sample: no switch-on transient
            self._zi = signal.sosfilt_zi(self._sos)[:, None, :] * block[None, :, :1]
            self._pending = np.zeros((block.shape[0], 0), dtype=np.complex64)
        filtered, self._zi = signal.sosfilt(self._sos, block, axis=-1, zi=self._zi)
        buffer = np.concatenate([self._pending, filtered.astype(np.complex64)], axis=1)
        n_frames = max(0, (buffer.shape[1] - self.frame) // self.hop + 1)
        starts = np.arange(n_frames) * self.hop
        frames = np.stack([buffer[:, s : s + self.frame] for s in starts], axis=1) if n_frames else np.zeros(
            (buffer.shape[0], 0, self.frame), np.complex64)
        spectra = np.fft.fftshift(np.fft.fft(frames * self._window, axis=-1), axes=-1)
        power = (np.abs(spectra) ** 2).mean(axis=0)[:, self._keep].astype(np.float32)
        ends = (self._consumed + starts + self.frame) / self.rate_hz
        drop = n_frames * self.hop
        self._pending, self._consumed = buffer[:, drop:], self._consumed + drop
        return power, ends

    def compute(self, baseband: np.ndarray, start_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """A whole recording at once (its first sample at ``start_s``): same frames as streaming."""
        self.reset(start_s)
        out = self.process(baseband)
        self.reset()
        return out
