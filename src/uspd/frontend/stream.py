"""Audio → Doppler frames, one code path for recordings and live sound cards.

:class:`FrontEnd` chains the streaming :class:`~uspd.frontend.demod.Demodulator` and
:class:`~uspd.frontend.spectrogram.DopplerSpectrogram`. It withholds the demodulator's
first ``settle_samples`` outputs, which ramp up from the silence assumed before the
stream began: fed to the clutter filter they would ring as a bright blob at 0 m/s.
Frame times stay absolute (seconds since the first audio sample).

>>> front = FrontEnd(96000, carrier_hz=34000.0, config=FrontendConfig())
>>> for block in stream:                       # (n_channels, m) float, any m
...     power, frame_end_s = front.process(block)

Where the device knows what its speaker plays besides the tone (music; the player's own
stream), ``process(block, playback=…)`` takes it sample for sample with the mics: its
baseband and its square's are the playback canceller's regressors
(:class:`~uspd.frontend.music.PlaybackCanceller`).
"""

from __future__ import annotations

import numpy as np

from uspd.config import FrontendConfig, SimulationConfig
from uspd.frontend.demod import BATCH_BLOCK_S, Demodulator, check_audio
from uspd.frontend.spectrogram import DopplerSpectrogram
from uspd.physics import speed_of_sound_m_s

DEFAULT_SPEED_OF_SOUND_M_S = float(speed_of_sound_m_s(20.0))  # room air when nothing better is known


class FrontEnd:
    """Streaming real audio → (power (n_frames, n_velocity), frame end times in s)."""

    def __init__(
        self,
        sample_rate_hz: float,
        carrier_hz: float,
        config: FrontendConfig,
        *,
        baseband_rate_hz: float = SimulationConfig().baseband_rate_hz,
        speed_of_sound: float = DEFAULT_SPEED_OF_SOUND_M_S,
    ) -> None:
        self.demodulator = Demodulator(sample_rate_hz, carrier_hz, baseband_rate_hz)
        self.playback_demodulator: Demodulator | None = None  # made once a playback comes
        self.spectrogram = DopplerSpectrogram(
            config, carrier_hz=carrier_hz, baseband_rate_hz=baseband_rate_hz, speed_of_sound_m_s=speed_of_sound
        )
        self.reset()

    @property
    def velocity_m_s(self) -> np.ndarray:
        """(n_velocity,) radial speed of each power column, positive approaching."""
        return self.spectrogram.velocity_m_s

    def reset(self) -> None:
        self.demodulator.reset()
        if self.playback_demodulator is not None:
            self.playback_demodulator.reset()
        settle = self.demodulator.settle_samples
        self.spectrogram.reset(start_s=settle / self.demodulator.baseband_rate_hz)
        self._to_skip = settle

    def process(self, block: np.ndarray, playback: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Next audio block (n_channels, m) → the Doppler frames it completed. ``playback``
        (m,): what the speaker played besides the tone during the block (given with every
        block or never), full-scale units."""
        return self._frames(self.demodulator.process(block), self.regressors(playback))

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """End of stream: frames from the demodulator's withheld tail that end within the
        audio (the tail beyond it is the filter's zero padding); then ready for a new stream."""
        end_s = self.demodulator.samples_in / self.demodulator.sample_rate_hz
        playback = None if self.playback_demodulator is None else self.playback_demodulator.flush().real
        power, times = self._frames(self.demodulator.flush(), playback)
        self.reset()
        keep = times <= end_s + 1e-9
        return power[keep], times[keep]

    def regressors(self, playback: np.ndarray | None) -> np.ndarray | None:
        """The playback's baseband and its square's (2, n), aligned with the mics'; None when
        there is none or the canceller is off."""
        if playback is None or not self.spectrogram.takes_playback:
            return None
        if self.playback_demodulator is None:  # at 0 Hz: a plain decimating low-pass, with the mics' delay
            self.playback_demodulator = Demodulator(self.demodulator.sample_rate_hz, 0.0, self.demodulator.baseband_rate_hz)
        drive = np.asarray(playback, dtype=np.float32).reshape(1, -1)
        return self.playback_demodulator.process(np.concatenate([drive, drive * drive])).real

    def _frames(self, baseband: np.ndarray, playback: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        skip = min(self._to_skip, baseband.shape[1])
        self._to_skip -= skip
        return self.spectrogram.process(baseband[:, skip:], playback=None if playback is None else playback[:, skip:])


def doppler_frames(
    audio: np.ndarray, sample_rate_hz: float, carrier_hz: float, config: FrontendConfig, **front_end_kw
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A whole recording (n_channels, n) → power, frame end times (s), velocity axis (m/s)."""
    x = check_audio(audio)
    front = FrontEnd(sample_rate_hz, carrier_hz, config, **front_end_kw)
    step = int(BATCH_BLOCK_S * sample_rate_hz)
    parts = [front.process(x[:, i : i + step]) for i in range(0, x.shape[1], step)]
    velocity = front.velocity_m_s
    parts.append(front.flush())
    return np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts]), velocity
