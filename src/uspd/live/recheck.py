"""The calibration's periodic re-check while running (``[calibration] recheck_every_h``).

Every ``recheck_every_h`` of stream time the live tone pauses for one probe at the
calibrated carrier, compared with the saved one as ``uspd calibrate --recheck`` does
(:func:`~uspd.calibrate.recheck`). Unchanged: one log line, the tone resumes. Drifted:
the unit calibrates again in the same pause, saves the result, logs one line, and the
tone resumes at the new level; a new carrier would change the Doppler frames' velocity
axis under the running detector, so it and its level apply from the next start (the
line says so). The source does the pausing: :class:`~uspd.live.sources.SimulatedSource`
renders the pause, :class:`~uspd.live.soundcard.SoundCardSource` plays the probes through
its running stream.
"""

from __future__ import annotations

from collections.abc import Callable

from uspd.calibrate import Calibration, CalibrationStore, DeviceProfile, Prober, calibrate, recheck
from uspd.config import CalibrationConfig


class PeriodicRecheck:
    """When a re-check is due, and what one does (see the module doc)."""

    def __init__(self, calibration: Calibration, profile: DeviceProfile, config: CalibrationConfig,
                 store: CalibrationStore, log: Callable[[str], None],
                 accept: Callable[[Calibration], None] | None = None) -> None:
        """``accept`` raises on a re-calibration that must not be saved (a card whose mics no
        longer hear its speaker: :func:`~uspd.live.soundcard_calibration.check_speaker_heard`)."""
        if config.recheck_every_h is None:
            raise ValueError("calibration.recheck_every_h is not set")
        self.calibration, self.profile, self.config, self.store, self.log = calibration, profile, config, store, log
        self.accept = accept
        self.every_s = config.recheck_every_h * 3600.0
        self.next_s = self.every_s

    @property
    def probe_s(self) -> float:
        return self.config.probe_on_s + self.config.probe_off_s

    def due(self, now_s: float) -> bool:
        return now_s >= self.next_s

    def run(self, prober: Prober, now_s: float) -> float:
        """Re-check (and re-calibrate on drift) with ``prober`` at stream time ``now_s``;
        returns the seconds the probes took (the tone's pause). The next is due ``every_s`` after it."""
        drift = recheck(self.calibration, prober, self.config)
        summary = (f"calibration re-check at {now_s:.0f} s: echoes {100 * drift.echo_change:.0f} % changed, direct path "
                   f"{drift.coupling_change_db:+.1f} dB, floor {drift.floor_change_db:+.1f} dB")
        pause_s = self.probe_s
        if not drift.drifted:
            self.log(f"{summary}: unchanged")
        else:
            old = self.calibration
            new = calibrate(prober, self.profile, self.config, old.device_id)
            if self.accept is not None:
                self.accept(new)
            self.calibration = new
            self.store.save(new)
            later = "" if new.carrier_hz == old.carrier_hz else " (the new carrier and its level apply from the next start)"
            self.log(f"{summary}: {drift.reason}; re-calibrated to {new.carrier_hz / 1000:g} kHz at "
                     f"{new.level_dbfs:.1f} dBFS{later}")
            pause_s *= 1 + len(self.profile.candidate_carriers(self.config))
        self.resumed(now_s + pause_s)
        return pause_s

    def resumed(self, at_s: float) -> None:
        """The tone resumed at stream time ``at_s``: the next re-check is due ``every_s`` later."""
        self.next_s = at_s + self.every_s
