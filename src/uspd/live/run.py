"""The live chain: Doppler frames → detection → journal → MQTT states and routines.

:class:`LiveChain` is the part shared by every source: it runs the same
:class:`~uspd.detect.pipeline.Detection` as ``uspd detect`` (so live decisions equal a
recording's), writes each event to the journal *before* anything reacts to it, then
publishes the Home Assistant states and fires the routines. :func:`run_live` drives a
source through it, paced to real time (or ``speed`` × real time, or as fast as possible)
unless the source is a sound card, which sets its own pace.

Consumers of the per-frame outputs (the web dashboard) join ``chain.listeners``; each gets
every block's Doppler power, decisions and firings. Settings change without a restart:
:meth:`LiveChain.update_settings` may be called from any thread, and the chain applies the
new presence settings, routines and duty-cycle periods between two blocks, keeping its state.

>>> chain = LiveChain(config, source.velocity_m_s, journal=journal, timeline=timeline, source_name=source.name)
>>> summary = run_live(source, chain, speed=None)        # as fast as possible
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from uspd.config import Config, DutyCycleConfig, PresenceConfig, Routine
from uspd.detect.pipeline import Decisions, Detection
from uspd.detect.presence import Event
from uspd.emission import duty_stats
from uspd.live.journal import Journal
from uspd.live.mqtt import HomeAssistantStates, MqttLink
from uspd.live.routines import ActionRunner, Firing, RoutineEngine, Timeline
from uspd.live.sources import Source

_GAP_HOPS = 1.5  # a step between frames longer than this many hops means frames were dropped
_PRUNE_EVERY_S = 3600.0


@dataclass
class LiveStatus:
    """What the live view shows; updated after every block."""

    history_frames: int
    recent_events: int
    time_s: float = 0.0
    occupied: bool = False
    motion: str = "none"
    score: float = 0.0
    frames: int = 0
    dropped_frames: int = 0
    events: int = 0
    firings: int = 0
    mqtt: str = "off"
    emission: str = "continuous"  # the tone's duty-cycle mode: continuous | off | probe
    duty_pct: float = 100.0  # share of the stream so far with the tone on
    scores: deque = field(init=False)
    recent: deque = field(init=False)  # (Event, wall time) or (Firing, wall time)

    def __post_init__(self) -> None:
        self.scores = deque(maxlen=self.history_frames)
        self.recent = deque(maxlen=self.recent_events)


Listener = Callable[[np.ndarray, Decisions, list[Firing]], None]  # (power (n, n_velocity), decisions, firings)


class LiveChain:
    """Detection + journal + MQTT states + routines over one stream of frames."""

    def __init__(self, config: Config, velocity_m_s: np.ndarray, *, journal: Journal, timeline: Timeline,
                 source_name: str, mqtt: MqttLink | None = None, routines: list[Routine] = (),
                 history_frames: int = 3000) -> None:
        self.config = config
        self.journal = journal
        self.timeline = timeline
        self.source_name = source_name
        self.detection = Detection(config, velocity_m_s)
        self.mqtt = mqtt
        self.states = HomeAssistantStates(mqtt) if mqtt is not None else None
        live = config.live
        self.runner = ActionRunner(journal, mqtt, timeout_s=live.action_timeout_s, retries=live.action_retries,
                                   backoff_s=live.retry_backoff_s, routines=list(routines)) if routines else None
        self._routines = list(routines)  # as loaded; ``enabled`` can change live (update_settings)
        self.engine = RoutineEngine([r for r in self._routines if r.enabled], timeline, self.runner, journal=journal,
                                    source_name=source_name)
        self.status = LiveStatus(history_frames, config.live.view_events)
        self._hop_s = config.frontend.hop_s
        self._last_time_s: float | None = None
        self._pruned_at = -np.inf  # monotonic seconds of the last journal pruning
        self._prune_journal()
        if self.states is not None:
            self.states.start()
        self.listeners: list[Listener] = []
        self._settings_lock = threading.Lock()
        self._pending_settings: tuple[PresenceConfig, dict[str, bool], DutyCycleConfig] | None = None

    def process(self, power: np.ndarray, time_s: np.ndarray) -> Decisions:
        """One block of Doppler frames → its decisions, after journaling and delivering them."""
        self._apply_settings()
        decisions = self.detection.process(power, time_s)
        firings = self.handle(decisions)
        for listener in self.listeners:
            listener(power, decisions, firings)
        return decisions

    def update_settings(self, presence: PresenceConfig, routines_on: dict[str, bool],
                        duty_cycle: DutyCycleConfig | None = None) -> None:
        """New presence settings, routines switched on or off by name and new duty-cycle
        periods, from any thread; applied before the next block. Presence keeps its state (an
        occupied room stays occupied under a new hold time); routines keep the definitions
        they started with; the duty-cycle scheduler takes its periods from ``config``."""
        with self._settings_lock:
            self._pending_settings = (presence, dict(routines_on), duty_cycle or self.config.duty_cycle)

    def _apply_settings(self) -> None:
        with self._settings_lock:
            pending, self._pending_settings = self._pending_settings, None
        if pending is not None:
            presence, routines_on, duty_cycle = pending
            self.config = self.config.model_copy(update={"presence": presence, "duty_cycle": duty_cycle})
            self.detection.presence.config = presence
            self._routines = [r.model_copy(update={"enabled": routines_on.get(r.name, r.enabled)}) for r in self._routines]
            self.engine.routines = [r for r in self._routines if r.enabled]

    def handle(self, decisions: Decisions) -> list[Firing]:
        """Journal the block's events, then publish states and fire routines."""
        ids = [self.journal.record_event(event, self.timeline.wall(event.time_s), self.source_name)
               for event in decisions.events]
        if self.states is not None:
            self.states.process(decisions, ids)
        firings = self.engine.process(decisions, ids)
        self._update_status(decisions, firings)
        self._prune_journal()
        return firings

    def _prune_journal(self) -> None:
        """Keep the journal to ``live.journal_keep_days`` (checked once an hour of running)."""
        if time.monotonic() - self._pruned_at < _PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        self.journal.prune(datetime.now(timezone.utc) - timedelta(days=self.config.live.journal_keep_days))

    def close(self) -> None:
        """Wait for the webhooks and commands due now; retries not yet due stay pending in
        the journal for the next run."""
        if self.runner is not None:
            self.runner.close()

    def _update_status(self, decisions: Decisions, firings: list[Firing]) -> None:
        status = self.status
        n = len(decisions.time_s)
        if n:
            steps = np.diff(np.r_[self._last_time_s if self._last_time_s is not None else decisions.time_s[0],
                                  decisions.time_s])
            status.dropped_frames += int(np.sum(np.maximum(np.round(steps / self._hop_s) - 1, 0)[steps > _GAP_HOPS * self._hop_s]))
            self._last_time_s = float(decisions.time_s[-1])
            status.time_s = self._last_time_s
            status.score = float(decisions.score[-1])
            status.motion = str(decisions.motion[-1])
            status.occupied = bool(decisions.occupied[-1])
            status.scores.extend(decisions.score.tolist())
            status.frames += n
        status.events += len(decisions.events)
        status.firings += len(firings)
        timed: list[tuple[float, Event | Firing]] = [(e.time_s, e) for e in decisions.events]
        timed += [(f.time_s, f) for f in firings]
        for time_s, item in sorted(timed, key=lambda pair: pair[0]):
            status.recent.append((item, self.timeline.wall(time_s)))
        if self.mqtt is not None:
            status.mqtt = self.mqtt.status


@dataclass(frozen=True)
class RunSummary:
    stream_s: float
    wall_s: float
    frames: int
    dropped_frames: int
    events: list[Event]
    firings: int


def run_live(source: Source, chain: LiveChain, *, speed: float | None = 1.0, duration_s: float | None = None,
             on_block: Callable[[LiveStatus], None] | None = None,
             should_stop: Callable[[], bool] = lambda: False) -> RunSummary:
    """Drive ``source`` through ``chain`` until it ends, ``duration_s`` of stream time has
    passed or ``should_stop()``; ``speed``: stream seconds per wall second (None: as fast as
    possible; ignored for a paced source). ``on_block(status)`` after every block.

    A source with a duty-cycle scheduler (``source.cycler``, see :mod:`uspd.emission`) has it
    see each block's decisions; its switches start where the source's audio ends."""
    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    cycler = getattr(source, "cycler", None)
    if chain.config.duty_cycle.enabled and cycler is None:
        raise ValueError("duty_cycle.enabled works with a simulated source or a sound card (a recording cannot gate its tone)")
    started = time.monotonic()
    events: list[Event] = []
    for power, times in source.blocks():
        if duration_s is not None and len(times) and times[0] > duration_s:
            break
        if duration_s is not None:
            keep = times <= duration_s
            power, times = power[keep], times[keep]
        if len(times):
            decisions = chain.process(power, times)
            events += decisions.events
            if cycler is not None:
                cycler.config = chain.config.duty_cycle  # the dashboard may change its periods
                chain.status.emission = cycler.update(decisions, source.rendered_s)
                chain.status.duty_pct = duty_stats(cycler.gate, 0.0, source.rendered_s).duty_pct
        if on_block is not None:
            on_block(chain.status)
        if should_stop():
            break
        if speed is not None and not source.paced and len(times):
            ahead_s = times[-1] / speed - (time.monotonic() - started)
            if ahead_s > 0:
                time.sleep(ahead_s)
    chain.close()
    return RunSummary(chain.status.time_s, time.monotonic() - started, chain.status.frames,
                      chain.status.dropped_frames, events, chain.status.firings)
