"""Routines: presence events and quiet spells → MQTT messages, webhooks, commands.

A routine (``[[routines]]`` in the config or in ``live.routines_file``; see
``docs/live.md``) names a trigger — ``motion`` (of a ``kind``), ``occupied``, ``vacant`` or
``no_motion_for`` ``seconds`` — an optional ``cooldown_s`` and ``active_hours`` window,
and its actions. Time has two faces: *stream time* (seconds since the source began,
what events carry and what cooldowns and quiet spells are measured in) and *wall time*
(what ``active_hours`` and the journal use), joined by a :class:`Timeline`. Tests and
simulated runs pass a timeline that starts wherever they like, so nothing here reads
the system clock.

Actions never block detection: webhooks and commands run on one worker thread, MQTT
messages are queued by the MQTT link; each has a journal row from ``pending`` to
``delivered`` or ``failed``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import queue
import string
import subprocess
import threading
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from uspd.config import CommandAction, Config, ConfigError, MqttAction, Routine, WebhookAction, config_from_dict
from uspd.detect.pipeline import Decisions
from uspd.detect.presence import Event
from uspd.live.journal import Journal

if TYPE_CHECKING:
    from uspd.live.mqtt import MqttLink

_ERROR_CHARS = 300  # of a failed command's stderr kept in the journal


@dataclass(frozen=True)
class Timeline:
    """Stream seconds → wall time: the stream's first sample was at ``start``."""

    start: datetime

    def wall(self, time_s: float) -> datetime:
        return self.start + timedelta(seconds=float(time_s))


def load_routines(config: Config, routines_file_data: dict | None = None) -> list[Routine]:
    """The config's routines plus those of ``live.routines_file`` (or ``routines_file_data``,
    that file's content about to be saved); names must be unique, and MQTT actions need a broker."""
    routines = list(config.routines)
    path = config.live.routines_file
    if path is not None:
        try:
            data = routines_file_data if routines_file_data is not None else tomllib.loads(Path(path).read_text())
        except OSError as err:
            raise ConfigError(f"cannot read the routines file {path}: {err.strerror or err}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"routines file {path} is not valid TOML: {err}") from None
        extra = sorted(set(data) - {"routines"})
        if extra:
            raise ConfigError(f"routines file {path} may only hold routines tables, found '{extra[0]}'")
        routines += config_from_dict({"routines": data.get("routines", [])}, source=str(path)).routines
    seen: set[str] = set()
    for routine in routines:
        if routine.name in seen:
            raise ConfigError(f"two routines are named '{routine.name}'; give each a unique name")
        seen.add(routine.name)
    if config.mqtt.host is None and any(a.type == "mqtt" for r in routines for a in r.actions):
        raise ConfigError("a routine publishes to MQTT but mqtt.host is not set")
    return routines


def in_hours(window: str | None, wall_time: datetime) -> bool:
    """Whether ``wall_time``'s time of day lies in ``"HH:MM-HH:MM"`` (start inclusive, end
    exclusive, wrapping midnight when the end is earlier; equal ends: all day)."""
    if window is None:
        return True
    start, end = ((int(part[:2]) * 60 + int(part[3:])) for part in window.split("-"))
    minute = wall_time.hour * 60 + wall_time.minute
    if start == end:
        return True
    return start <= minute < end if start < end else minute >= start or minute < end


@dataclass(frozen=True)
class Firing:
    """One routine fired: at stream time ``time_s`` for ``event`` (None: a quiet spell)."""

    routine: str
    time_s: float
    wall_time: datetime
    trigger: str
    event: Event | None
    event_id: int | None

    def fields(self) -> dict[str, str]:
        """The values templates expand ($routine, $event, ...)."""
        return {
            "routine": self.routine,
            "event": self.event.event if self.event else self.trigger,
            "kind": (self.event.kind or "") if self.event else "",
            "score": f"{self.event.score:.2f}" if self.event else "0.00",
            "time": self.wall_time.isoformat(timespec="seconds"),
            "time_s": f"{self.time_s:.2f}",
        }


class RoutineEngine:
    """Decides which routines fire; hands their actions to an :class:`ActionRunner`.

    A ``no_motion_for`` firing has no presence event behind it, so with a ``journal`` it gets
    an event row of its own (``no_motion_for``) before its actions run, like any event.
    """

    def __init__(self, routines: list[Routine], timeline: Timeline, runner: ActionRunner | None = None, *,
                 journal: Journal | None = None, source_name: str = "") -> None:
        self.routines = routines
        self.timeline = timeline
        self.runner = runner
        self.journal = journal
        self.source_name = source_name
        self._last_fired_s: dict[str, float] = {}
        self._last_motion_s = -np.inf  # stream time of the latest frame with motion
        self._quiet_fired: dict[str, float] = {}  # routine → the last motion its quiet spell was counted from

    def process(self, decisions: Decisions, event_ids: list[int | None] | None = None) -> list[Firing]:
        """One block of decisions (and the journal ids of its events) → the firings, in time order."""
        ids = event_ids or [None] * len(decisions.events)
        candidates: list[tuple[float, Routine, Event | None, int | None]] = []
        for event, event_id in zip(decisions.events, ids):
            for routine in self.routines:
                if _matches(routine, event):
                    candidates.append((event.time_s, routine, event, event_id))
        candidates += self._quiet_spells(decisions.time_s, decisions.motion != "none")
        candidates.sort(key=lambda c: c[0])
        firings = []
        for time_s, routine, event, event_id in candidates:
            wall = self.timeline.wall(time_s)
            last = self._last_fired_s.get(routine.name)
            if last is not None and time_s - last < routine.cooldown_s:
                continue
            if not in_hours(routine.active_hours, wall):
                continue
            self._last_fired_s[routine.name] = time_s
            if event is None and self.journal is not None:
                event_id = self.journal.record_quiet_spell(time_s, wall, self.source_name)
            firing = Firing(routine.name, time_s, wall, routine.trigger, event, event_id)
            firings.append(firing)
            if self.runner is not None:
                self.runner.run(routine, firing)
        return firings

    def _quiet_spells(self, times_s: np.ndarray, moving: np.ndarray) -> list[tuple[float, Routine, None, None]]:
        """``no_motion_for`` triggers in this block: the first frame ``seconds`` after the
        last motion frame; once per quiet spell, and only after some motion was seen."""
        quiet_rules = [r for r in self.routines if r.trigger == "no_motion_for"]
        if len(times_s) == 0:
            return []
        last_motion = np.maximum.accumulate(np.where(moving, times_s, self._last_motion_s))
        self._last_motion_s = float(last_motion[-1])
        out = []
        for routine in quiet_rules:
            due = np.flatnonzero((times_s - last_motion >= routine.seconds) & np.isfinite(last_motion))
            if len(due) == 0:
                continue
            since = last_motion[due]  # non-decreasing: one quiet spell per distinct value
            first = np.r_[since[0] != self._quiet_fired.get(routine.name, np.nan), since[1:] != since[:-1]]
            out += [(float(times_s[i]), routine, None, None) for i in due[first]]
            self._quiet_fired[routine.name] = float(since[-1])
        return out


def _matches(routine: Routine, event: Event) -> bool:
    if routine.trigger != event.event:
        return False
    return routine.trigger != "motion" or routine.kind in ("any", event.kind)


@dataclass(frozen=True)
class _Try:
    """One webhook or command delivery waiting for its next try."""

    delivery_id: int
    action: WebhookAction | CommandAction
    data: dict | list[str]  # the webhook's JSON body or the command's expanded argv
    tries: int  # made so far


class ActionRunner:
    """Runs routine actions: MQTT through the link's queue, webhooks and commands on a
    worker thread, each with a journal delivery row.

    A webhook or command that fails for a reason that may pass (network down, HTTP 5xx,
    429, a timeout, a non-zero exit) is tried again after ``backoff_s``, 2·``backoff_s``,
    4·``backoff_s``… up to ``retries`` more times; it stays ``pending`` meanwhile and ends
    ``failed`` only when the tries are spent or the failure is permanent (HTTP 4xx, no such
    program). Deliveries still pending when the runner stops — a retry not yet due, a crash —
    are picked up by the next runner over the same journal, so routines fire every time.
    """

    def __init__(self, journal: Journal, mqtt: MqttLink | None = None, *, timeout_s: float = 10.0,
                 retries: int = 3, backoff_s: float = 5.0, routines: list[Routine] = ()) -> None:
        self.journal = journal
        self.mqtt = mqtt
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.failures = 0
        self._queue: queue.Queue[_Try | None] = queue.Queue()
        self._unsettled = 0  # deliveries queued or waiting for a retry
        self._settled = threading.Condition()
        self._worker = threading.Thread(target=self._work, name="uspd-actions", daemon=True)
        self._worker.start()
        self._resume(routines)

    def run(self, routine: Routine, firing: Firing) -> None:
        fields = firing.fields()
        for action in routine.actions:
            if isinstance(action, MqttAction):
                if self.mqtt is None:
                    raise ConfigError(f"routine '{routine.name}' publishes to MQTT but mqtt.host is not set")
                self.mqtt.publish(_expand(action.topic, fields), _expand(action.payload, fields),
                                  retain=action.retain, event_id=firing.event_id, routine=routine.name)
                continue
            if isinstance(action, WebhookAction):
                data: dict | list[str] = {**fields, "score": float(fields["score"]), "time_s": firing.time_s}
                delivery = self.journal.add_delivery("webhook", action.url, data, event_id=firing.event_id,
                                                     routine=routine.name)
            else:
                data = [_expand(arg, fields) for arg in action.argv]
                delivery = self.journal.add_delivery("command", data, "", event_id=firing.event_id,
                                                     routine=routine.name)
            self._submit(_Try(delivery, action, data, 0))

    def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until every webhook and command has been delivered or has failed for good
        (retries included); False if ``timeout_s`` passed first."""
        with self._settled:
            return self._settled.wait_for(lambda: self._unsettled == 0, timeout=timeout_s)

    def close(self) -> None:
        """Finish the tries that are due now; retries not yet due stay pending in the journal."""
        self._queue.put(None)
        self._worker.join()

    def _resume(self, routines: list[Routine]) -> None:
        """Queue the journal's pending webhooks and commands (oldest first) with the action
        their routine configures now (its headers, its timeout)."""
        by_name = {routine.name: routine for routine in routines}
        for delivery in self.journal.pending("webhook") + self.journal.pending("command"):
            webhook = delivery.action == "webhook"
            data = json.loads(delivery.payload if webhook else delivery.target)  # the body, or the expanded argv
            action = _configured_action(by_name.get(delivery.routine), delivery.action,
                                        delivery.target if webhook else data[0])
            if action is None:
                self.journal.mark(delivery.id, "failed", f"routine '{delivery.routine}' no longer has this action",
                                  attempted=False)
                continue
            self._submit(_Try(delivery.id, action, data, delivery.attempts))

    def _submit(self, attempt: _Try) -> None:
        with self._settled:
            self._unsettled += 1
        self._queue.put(attempt)

    def _work(self) -> None:
        waiting: list[tuple[float, int, _Try]] = []  # (monotonic time due, order, try): retries
        order = itertools.count()
        while True:
            wait_s = waiting[0][0] - time.monotonic() if waiting else None
            if wait_s is not None and wait_s <= 0:
                attempt = heapq.heappop(waiting)[2]  # a due retry goes before newer work
            else:
                try:
                    attempt = self._queue.get(timeout=wait_s)
                except queue.Empty:
                    attempt = heapq.heappop(waiting)[2]
            if attempt is None:
                return
            error, permanent = self._deliver(attempt)
            tries = attempt.tries + 1
            if error and not permanent and tries <= self.retries:
                self.journal.mark(attempt.delivery_id, "pending", error)
                due = time.monotonic() + self.backoff_s * 2 ** (tries - 1)
                heapq.heappush(waiting, (due, next(order), _Try(attempt.delivery_id, attempt.action, attempt.data, tries)))
                continue
            if error:
                self.failures += 1
            self.journal.mark(attempt.delivery_id, "failed" if error else "delivered", error)
            with self._settled:
                self._unsettled -= 1
                self._settled.notify_all()

    def _deliver(self, attempt: _Try) -> tuple[str | None, bool]:
        """One try → (error or None, whether the error is permanent)."""
        if isinstance(attempt.action, WebhookAction):
            return self._webhook(attempt.action, attempt.data)
        return self._command(attempt.action, attempt.data)

    def _webhook(self, action: WebhookAction, body: dict) -> tuple[str | None, bool]:
        request = urllib.request.Request(
            action.url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "uspd", **action.headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=action.timeout_s or self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as err:
            return f"HTTP {err.code} {err.reason}", 400 <= err.code < 500 and err.code not in _HTTP_PASSING
        except (urllib.error.URLError, OSError) as err:
            return f"webhook failed: {getattr(err, 'reason', err)}", False
        return None, False

    def _command(self, action: CommandAction, argv: list[str]) -> tuple[str | None, bool]:
        timeout_s = action.timeout_s or self.timeout_s
        try:
            done = subprocess.run(argv, shell=False, timeout=timeout_s, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            return f"program not found: {argv[0]}", True
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout_s:g} s", False
        except OSError as err:
            return f"cannot run {argv[0]}: {err.strerror or err}", False
        if done.returncode != 0:
            return f"exit code {done.returncode}: {done.stderr.strip()[-_ERROR_CHARS:]}", False
        return None, False


_HTTP_PASSING = {408, 425, 429}  # client errors that a later try may not get


def _configured_action(routine: Routine | None, action_type: str, key: str) -> WebhookAction | CommandAction | None:
    """The action of ``routine`` that a journaled delivery came from (``key``: a webhook's URL,
    a command's program), or None if the routine no longer has one."""
    if routine is None:
        return None
    for action in routine.actions:
        if action_type == "webhook" and isinstance(action, WebhookAction) and action.url == key:
            return action
        if action_type == "command" and isinstance(action, CommandAction) and action.argv[0] == key:
            return action
    return None


def _expand(template: str, fields: dict[str, str]) -> str:
    return string.Template(template).substitute(fields)
