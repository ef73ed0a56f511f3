"""Where live Doppler frames come from: a simulated scene, a WAV file or a sound card.

Every source yields blocks of ``(power (n_frames, n_velocity), frame_end_s (n_frames,))``
on its ``velocity_m_s`` axis, exactly what :class:`~uspd.detect.pipeline.Detection`
takes, so the live chain does not care where the frames came from.

- :class:`SimulatedSource` renders a scenario block by block. By default it renders
  complex *baseband* and feeds it straight to the Doppler spectrogram: it skips carrier
  demodulation, which a real device needs but which adds nothing to a simulation and
  costs most of the time (a simulated day runs in minutes instead of hours).
  ``passband=True`` renders real multichannel audio and runs the full front end instead.
  With ``[duty_cycle] enabled`` (baseband only) it renders through a tone gate that its
  ``cycler`` switches (:func:`~uspd.live.run.run_live` shows it every block's decisions)
  and hands out no-data frames while the tone is off (:class:`~uspd.emission.GatedFrames`).
- :class:`WavSource` streams a recording through the front end (a replay of a real room),
  with what the speaker was fed beside it when given (the playback canceller's input).
- :class:`~uspd.live.soundcard.SoundCardSource` plays the tone and records the mics.

``paced`` says whether the source itself runs in real time (a sound card); the others
are paced by :func:`~uspd.live.run.run_live` to ``--speed`` or run as fast as they can.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from uspd.calibrate import SimulatedProber
from uspd.config import Config
from uspd.emission import DutyCycler, GatedFrames, ToneGate
from uspd.frontend.demod import BATCH_BLOCK_S
from uspd.frontend.stream import DEFAULT_SPEED_OF_SOUND_M_S, FrontEnd
from uspd.sim.render import iter_baseband, iter_doppler, iter_passband, playback_baseband, scene_spectrogram
from uspd.sim.scene import Scene

if TYPE_CHECKING:
    from uspd.calibrate import Calibration
    from uspd.live.recheck import PeriodicRecheck

FrameBlock = tuple[np.ndarray, np.ndarray]


class Source(Protocol):
    name: str  # recorded with each journaled event
    velocity_m_s: np.ndarray  # (n_velocity,) radial speed of each power column, + approaching
    duration_s: float | None  # None: until stopped
    paced: bool  # True: blocks arrive in real time by themselves
    carrier_hz: float  # the pilot tone the frames come from
    level_dbfs: float | None  # its drive level (None: a recording's, not known)
    calibration: Calibration | None  # the unit's saved calibration the tone follows, if any

    def blocks(self) -> Iterator[FrameBlock]: ...


class SimulatedSource:
    """A simulated scene as a live device would see it (baseband by default, see module doc)."""

    paced = False

    def __init__(self, scene: Scene, config: Config, *, passband: bool = False,
                 calibration: Calibration | None = None, recheck: PeriodicRecheck | None = None) -> None:
        duty = config.duty_cycle
        if passband and (duty.enabled or recheck is not None):
            raise ValueError("duty-cycling and re-checks run on the baseband simulation; leave out --passband")
        if calibration is not None:  # the unit was calibrated: it plays at its carrier and level
            scene = dataclasses.replace(scene, carrier_hz=calibration.carrier_hz, level_dbfs=calibration.level_dbfs)
        self.calibration = calibration
        self.scene = scene
        self.config = config
        self.passband = passband
        self.recheck = recheck
        self.tone_gate = ToneGate(duty.ramp_s) if duty.enabled or recheck is not None else None
        self.cycler = DutyCycler(duty, self.tone_gate, hold_s=config.presence.hold_s) if duty.enabled else None
        self.rendered_s = 0.0  # end of the audio rendered so far: the scheduler's switches start there
        self.name = f"simulated:{scene.name}:{scene.seed}"
        self.duration_s = scene.duration_s
        self.carrier_hz, self.level_dbfs = scene.carrier_hz, scene.level_dbfs
        if passband:
            self._front = FrontEnd(scene.device.hardware.sample_rate_hz, scene.carrier_hz, config.frontend,
                                   baseband_rate_hz=config.simulation.baseband_rate_hz,
                                   speed_of_sound=scene.speed_of_sound_m_s)
            self.velocity_m_s = self._front.velocity_m_s
        else:
            self._spectrogram = scene_spectrogram(scene, config)
            self.velocity_m_s = self._spectrogram.velocity_m_s

    def blocks(self) -> Iterator[FrameBlock]:
        if self.tone_gate is not None:
            frames = GatedFrames(self._spectrogram, self.tone_gate, self.config.duty_cycle.settle_s)
            while True:  # restarted after each re-check, at its level
                for block in iter_baseband(self.scene, self.config.simulation, start_s=self.rendered_s,
                                           tone_gate=self.tone_gate):
                    self.rendered_s = block.start_s + block.signal.shape[-1] / block.sample_rate_hz
                    playback = playback_baseband(self.scene, block) if self._spectrogram.takes_playback else None
                    yield frames.process(block.signal, block.start_s, playback)
                    if self._recheck_due():
                        break
                else:
                    return
                self._run_recheck()
        if not self.passband:
            yield from iter_doppler(self.scene, self.config, self._spectrogram)
            return
        for block in iter_passband(self.scene, self.config.simulation):
            yield self._front.process(block.signal, block.reference)  # the unit knows what it plays
        yield self._front.flush()

    def _recheck_due(self) -> bool:
        """A re-check is due and the tone is steadily on (a duty-cycled tone is left to its scheduler)."""
        gate, now_s = self.tone_gate, self.rendered_s
        return (self.recheck is not None and self.recheck.due(now_s) and now_s < self.scene.duration_s
                and (self.cycler is None or self.cycler.mode == "continuous")
                and gate.steadily_on(now_s))

    def _run_recheck(self) -> None:
        """Pause the tone, probe the room from now (:class:`~uspd.live.recheck.PeriodicRecheck`),
        resume at the (new) calibration's level."""
        now_s = self.rendered_s
        self.tone_gate.switch(now_s, False)
        pause_s = self.recheck.run(SimulatedProber(self.scene, self.config.simulation, at_s=now_s), now_s)
        self.tone_gate.switch(now_s + pause_s, True)
        if self.recheck.calibration.carrier_hz == self.carrier_hz:  # a new carrier waits for the next start
            self.calibration = self.recheck.calibration
            self.level_dbfs = self.calibration.level_dbfs
            self.scene = dataclasses.replace(self.scene, level_dbfs=self.level_dbfs)


class WavSource:
    """A WAV recording streamed through the front end in 1 s blocks (checked as ``uspd detect``
    checks it, and so is a ``playback``: :class:`~uspd.detect.file.PlaybackFile`)."""

    paced = False
    level_dbfs = None
    calibration = None

    def __init__(self, path: str | Path, config: Config, carrier_hz: float | None = None,
                 playback: str | Path | None = None) -> None:
        from uspd.detect.file import PlaybackFile, _find_carrier, _open, baseband_rate_for

        self.path = Path(path)
        with _open(self.path) as sound:
            self.sample_rate_hz, self.n_channels, n_samples = sound.samplerate, sound.channels, sound.frames
            self.carrier_hz = _find_carrier(sound, self.path) if carrier_hz is None else float(carrier_hz)
        # what the speaker was fed, read beside the mics (checked now, streamed by blocks())
        self._feed = None if playback is None else PlaybackFile.open(playback, self.path, self.sample_rate_hz,
                                                                     n_samples, config)
        self.warnings = () if self._feed is None else self._feed.warnings
        self.name = f"wav:{self.path.name}"
        self.duration_s = n_samples / self.sample_rate_hz
        self._front = FrontEnd(self.sample_rate_hz, self.carrier_hz, config.frontend,
                               baseband_rate_hz=baseband_rate_for(self.sample_rate_hz, config),
                               speed_of_sound=DEFAULT_SPEED_OF_SOUND_M_S)
        self.velocity_m_s = self._front.velocity_m_s

    def blocks(self) -> Iterator[FrameBlock]:
        import soundfile as sf

        step = max(1, int(round(BATCH_BLOCK_S * self.sample_rate_hz)))
        feed = self._feed
        try:
            for block in sf.blocks(str(self.path), blocksize=step, dtype="float64", always_2d=True):
                if not np.isfinite(block).all():
                    raise ValueError(f"{self.path} contains NaN or infinite samples")
                yield self._front.process(block.T, None if feed is None else feed.read(len(block)))
            yield self._front.flush()
        finally:  # also when the run stops early and the generator is closed
            if feed is not None:
                feed.close()
