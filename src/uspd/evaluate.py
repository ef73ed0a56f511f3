"""The evaluation harness: held-out simulated rooms → one or more detection chains → metrics.

Every scene is drawn from the scenario catalog with a seed of at least
:data:`HELD_OUT_SEED_START`; **training and tuning must use seeds below it**, so no room
evaluated here was ever seen by a model. Each scene is rendered with the fast baseband
renderer block by block, streamed through the :class:`DopplerSpectrogram` and the
:class:`Detection` chain exactly as a live device would run, and compared with the
simulator's per-hop ground truth (:func:`label_scene` with frame = hop).

What is measured (the report states the same definitions):

- **Detection by distance.** An *event* is a contiguous ground-truth span of major
  (resp. minor) motion. It is detected when the chain reports *any* motion (minor or
  major) in a frame of the span or up to :data:`TOLERANCE_S` after it: a user cares that
  motion was seen, not which class it got. Its distance is the person's median torso
  distance to the device over the span.
- **Latency.** From an *arrival* (the first frame of major motion in each stretch of
  ground-truth presence: someone entering) to the first frame the chain reports motion,
  and to the first frame it reports occupied; arrivals never seen before the person
  leaves are counted as missed. Also from the onset of every major and minor event to
  the first motion frame within it (or the tolerance after it).
- **False alarms per hour** in empty rooms, per distractor: motion onsets (frames where
  the chain's motion turns on from none; it turns off only after ``release_frames``
  without one, so a flickering score is one onset) and ``occupied`` events, after the first
  :data:`WARMUP_S` of each scene (a device runs for days and settles once; every scene
  here starts it afresh). Zero alarms in T hours is not a rate of zero: the one-sided
  95 % Poisson upper bound is given (≈ 3 / T). Beside them, the share of that time with
  motion shown: a flag stuck on raises no onsets.
- **Presence.** Over the ground-truth occupied time of human scenes, the fraction of
  frames the chain also says occupied; after each departure in ``visit`` scenes, the
  delay until it says vacant.
- **DET.** Detection rate (major and minor events) against false-alarm onsets per hour
  as the score threshold sweeps. The sweep replays the cached per-frame scores through
  threshold + the presence machine's debounce (``confirm_frames`` on, ``release_frames``
  off), the detector alone without the presence machine's context-dependent sensitivity,
  so it costs no re-rendering. The chain's own operating point (defaults, with context) is
  marked beside it.
- **False alarms at equal detection.** From the sweep: for each level in
  :data:`EQUAL_DETECTION_LEVELS`, the fewest false-alarm onsets per hour at any threshold
  where the detector still detects that share of walking events within
  :data:`RANGE_GOAL_M`. Detectors are compared there, not at their own thresholds, which
  sit at different detection rates.
- **The hardest walks.** The walking events within :data:`RANGE_GOAL_M` that the fewest
  thresholds of the sweep detect, with their scene, unit and distance: the failures behind
  the high equal-detection levels, named so they can be rendered and looked at.

**Calibrated units** (``calibrated``): each scene's unit is first calibrated in its room as
``uspd calibrate`` does at installation — probes rendered in the room with nothing moving or
sounding — and the scene then plays the chosen carrier and level, as ``uspd run`` would.
Without it every scene plays the carrier and level its scenario draws.

Scenes are independent: any number of worker processes gives the same numbers. Several
detectors (label → config) are judged on the same rendered frames in one run; the
comparison report puts their tables side by side and their DET curves on one plot.

>>> settings = EvaluationSettings(hours=1.0, scenes_per_kind=12, workers=2)
>>> summaries = evaluate(settings, {"baseline": baseline_config, "neural": Config()})
>>> write_comparison(summaries, Path("eval"))        # or write_report(summaries["neural"], …)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from uspd.calibrate import DeviceProfile, SimulatedProber, calibrate
from uspd.config import Config
from uspd.detect.pipeline import Decisions, Detection
from uspd.parallel import map_jobs
from uspd.plot import MOTION_COLOURS
from uspd.sim.device import ARRAY_PRESETS
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_chains_doppler, scene_spectrogram
from uspd.sim.scenarios import build_scene
from uspd.sim.scene import Scene

HELD_OUT_SEED_START = 1_000_000  # evaluation seeds start here; training must use seeds below it
WARMUP_S = 5.0  # the detector's floor settles from the first frame: alarms before this are not counted
TOLERANCE_S = 0.5  # detection may trail the end of a motion span by this much (window + debounce)
DISTANCE_EDGES_M = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, np.inf)
EMPTY_SCENE_S = 120.0  # target length of one empty-room scene: H hours are many different rooms
HUMAN_SCENE_S = {  # fixed length per kind: long enough for the script, short enough to be cheap
    "walk_in": 20.0,
    "walk_through": 20.0,
    "music_with_walk": 20.0,
    "seated_reading": 30.0,
    "still_person": 20.0,
    "visit": 360.0,  # leaves by 0.8 × length, so ≥ 60 s remain to see the departure timer
}
VACANCY_KINDS = ("visit",)  # scenes whose departures are followed long enough to time vacancy
DISTRACTORS = {  # report row → the empty-room scenarios it covers (scenes alternate among them)
    "quiet": ("empty_quiet",),
    "desk fan": ("empty_fan",),
    "ceiling fan": ("ceiling_fan",),
    "curtain": ("curtain_draft",),
    "music": ("music_loud_empty",),
    "HVAC": ("hvac",),
    "interferer": ("interferer",),
    "pet (cat, dog)": ("cat", "dog"),
    "robot vacuum": ("robot_vacuum",),
    "door draft": ("door_draft",),
    "pest repeller": ("pest_repeller",),
    "keys, paper": ("keys_paper",),
}
RARE_EVENT_HOMES = "rare-event homes"
OPT_IN_ROWS = {  # asked for by name only: not in the default rows, nor in the training set's empty rooms
    RARE_EVENT_HOMES: ("rare_events_home",),  # the long-tail loop's corpus: hours where confusers come rarely
}
ROWS = DISTRACTORS | OPT_IN_ROWS
ROW_SCENE_S = {RARE_EVENT_HOMES: 3600.0}  # an hour per room, as the loop's corpora, so the events stay rare
DET_THRESHOLDS = tuple(np.round(np.linspace(0.02, 0.98, 49), 2))
RANGE_GOAL_M = 4.0  # walking within this distance must be detected (the product's range goal)
EQUAL_DETECTION_LEVELS = (0.95, 0.97, 0.99)  # walking detection within RANGE_GOAL_M where detectors are compared
HARDEST_WALKS = 10  # the report lists this many walks within RANGE_GOAL_M that need the lowest thresholds


@dataclass(frozen=True)
class EvaluationSettings:
    """What to evaluate; the numbers depend on everything here except ``workers``."""

    hours: float = 2.0  # simulated hours of empty-room distractor scenes, split evenly over ``distractors``
    scenes_per_kind: int = 10  # scenes of each human kind in HUMAN_SCENE_S
    seed_offset: int = 0  # first seed is HELD_OUT_SEED_START + this: a fresh held-out draw
    array: str | None = None  # mic array preset for every scene; None: as each scenario draws it
    distractors: tuple[str, ...] = tuple(DISTRACTORS)  # rows of ROWS the hours are split over
    calibrated: bool = False  # calibrate each unit in its empty room first; play its carrier and level
    workers: int = 1

    def __post_init__(self) -> None:
        if self.hours < 0 or self.scenes_per_kind < 0:
            raise ValueError("hours and scenes per kind must not be negative")
        if self.hours == 0 and self.scenes_per_kind == 0:
            raise ValueError("nothing to evaluate: give some hours of empty rooms or some human scenes")
        if self.seed_offset < 0:
            raise ValueError(f"seed offset must be ≥ 0 to stay in the held-out range, got {self.seed_offset}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.array is not None and self.array not in ARRAY_PRESETS:
            raise ValueError(f"unknown mic array '{self.array}'; presets: {', '.join(ARRAY_PRESETS)}")
        unknown = [name for name in self.distractors if name not in ROWS]
        if unknown or not self.distractors:
            problem = f"unknown distractor {unknown[0]!r}" if unknown else "no distractors chosen"
            raise ValueError(f"{problem}; choose among: {', '.join(ROWS)} (or a scenario in one)")


def distractor_rows(names: list[str]) -> tuple[str, ...]:
    """Report rows of ROWS for names that are rows ("desk fan") or scenarios in one
    ("empty_fan"), in the report's order; unknown names are left for the settings to reject."""
    wanted = set(names)
    rows = [row for row, scenarios in ROWS.items() if row in wanted or wanted & set(scenarios)]
    known = set(ROWS) | {scenario for scenarios in ROWS.values() for scenario in scenarios}
    return tuple(rows) + tuple(name for name in names if name not in known)


@dataclass(frozen=True)
class SceneJob:
    group: str  # human kind (scenario name) or distractor row
    name: str  # scenario
    seed: int
    duration_s: float
    array: str | None
    calibrated: bool = False  # play the carrier and level a calibration in the empty room chooses

    @property
    def is_human(self) -> bool:
        return self.group in HUMAN_SCENE_S


@dataclass(frozen=True)
class SceneFrames:
    """Per-frame chain outputs beside ground truth, arrays of shape (n_frames,): all the
    metrics and the threshold sweep need, so nothing is rendered twice."""

    job: SceneJob
    array: str  # the mic array the scene actually has
    carrier_hz: float
    level_dbfs: float  # the tone's emission level
    time_s: np.ndarray  # frame end
    score: np.ndarray  # detector score
    moving: np.ndarray  # bool: the chain reports motion (minor or major)
    occupied: np.ndarray  # bool: the chain's state after the frame
    truth_motion: np.ndarray  # str: none | minor | major
    truth_occupied: np.ndarray  # bool
    distance_m: np.ndarray  # nearest person's torso distance, NaN if nobody

    @property
    def hours(self) -> float:
        return self.job.duration_s / 3600.0

    @property
    def alarm_hours(self) -> float:
        """The time false alarms are counted over: after the warm-up."""
        return max(self.job.duration_s - WARMUP_S, 0.0) / 3600.0


def plan_scenes(settings: EvaluationSettings) -> list[SceneJob]:
    """The held-out scenes: ``scenes_per_kind`` of each human kind, then the distractor
    hours split evenly over the chosen rows of ROWS, in scenes of about EMPTY_SCENE_S (ROW_SCENE_S
    where a row sets its own)."""
    first_seed = HELD_OUT_SEED_START + settings.seed_offset
    jobs = [
        SceneJob(kind, kind, first_seed + i, duration_s, settings.array, settings.calibrated)
        for kind, duration_s in HUMAN_SCENE_S.items()
        for i in range(settings.scenes_per_kind)
    ]
    row_s = settings.hours * 3600.0 / len(settings.distractors)
    if row_s > 0:
        for group in settings.distractors:
            names = ROWS[group]
            n_scenes = max(1, round(row_s / ROW_SCENE_S.get(group, EMPTY_SCENE_S)))
            jobs += [SceneJob(group, names[i % len(names)], first_seed + i, row_s / n_scenes, settings.array,
                              settings.calibrated) for i in range(n_scenes)]
    return jobs


def run_scene(job: SceneJob, configs: dict[str, Config], scene: Scene | None = None) -> dict[str, SceneFrames]:
    """Render one scene block by block (once) and stream it through every configured chain
    (detectors side by side; chains with the same front-end settings share its frames);
    align truth to frames. ``scene``: the job's scene already built (or altered)."""
    render_config = next(iter(configs.values()))  # the simulation is shared
    if scene is None:
        scene = build_scene(job.name, job.seed, duration_s=job.duration_s, array=job.array)
    if job.calibrated:
        scene = calibrated_scene(scene, job, render_config)
    hop_s = render_config.frontend.hop_s
    spectrograms = {c.frontend: scene_spectrogram(scene, c) for c in configs.values()}
    detections = {label: Detection(c, spectrograms[c.frontend].velocity_m_s) for label, c in configs.items()}
    parts: dict[str, list[Decisions]] = {label: [] for label in configs}
    for frames in iter_chains_doppler(scene, render_config.simulation, spectrograms):
        for label, detection in detections.items():
            parts[label].append(detection.process(*frames[configs[label].frontend]))
    truth = label_scene(scene, hop_s)
    decided = {label: Decisions.concatenate(p) for label, p in parts.items()}
    keep, row = truth.rows_at(next(iter(decided.values())).time_s, hop_s)  # every chain decides at the same hops
    frames = {}
    for label, decisions in decided.items():
        frames[label] = SceneFrames(
            job=job, array=scene.device.array, carrier_hz=scene.carrier_hz, level_dbfs=scene.level_dbfs,
            time_s=decisions.time_s[keep], score=decisions.score[keep].astype(np.float32),
            moving=decisions.motion[keep] != "none", occupied=decisions.occupied[keep].astype(bool),
            truth_motion=truth.motion[row], truth_occupied=truth.occupied[row].astype(bool),
            distance_m=truth.person_distance_m[row].astype(np.float32),
        )
    return frames


def calibrated_scene(scene: Scene, job: SceneJob, config: Config) -> Scene:
    """The job's scene at the carrier and level that calibrating its unit chooses, probed in
    the room as installed: nothing moving, no sound, music or air turbulence. Rebuilt at
    that carrier, so what sounds near the carrier (interferers, keys) follows it: the same
    room and unit (drawn before the carrier), while its people and distractors are drawn
    afresh (a pinned carrier leaves one draw less before them)."""
    empty = dataclasses.replace(scene, movers=(), sources=(), modulators=(), music=None)
    choice = calibrate(SimulatedProber(empty, config.simulation), DeviceProfile.of(scene.device), config.calibration,
                       device_id=f"sim:evaluate:{job.name}:{job.seed}")
    scene = build_scene(job.name, job.seed, duration_s=job.duration_s, array=job.array, carrier_hz=choice.carrier_hz)
    return dataclasses.replace(scene, level_dbfs=choice.level_dbfs)


def run_scenes(
    jobs: list[SceneJob], configs: dict[str, Config], workers: int = 1,
    on_scene: Callable[[SceneJob], None] | None = None,
) -> dict[str, list[SceneFrames]]:
    """Every job's frames per chain label, in job order whatever the number of workers."""
    results = map_jobs(partial(run_scene, configs=configs), jobs, workers, cost=lambda job: job.duration_s,
                       on_done=(lambda job, _: on_scene(job)) if on_scene else None)
    return {label: [r[label] for r in results] for label in configs}


# --------------------------------------------------------------------------------------
# Metrics on per-frame arrays
# --------------------------------------------------------------------------------------
def spans(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices [start, stop) of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], np.asarray(active, dtype=np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def onsets(active: np.ndarray) -> np.ndarray:
    """Frames where ``active`` turns on; before the stream it was off."""
    return spans(active)[0]


def debounce(over: np.ndarray, confirm_frames: int, release_frames: int = 1) -> np.ndarray:
    """True from the ``confirm_frames``-th consecutive True on, until the ``release_frames``-th
    consecutive frame that confirms nothing, as the presence machine shows motion."""
    over = np.asarray(over, dtype=bool)
    count = np.concatenate([[0], np.cumsum(over)])
    confirmed = np.zeros(over.shape, dtype=bool)
    confirmed[confirm_frames - 1 :] = count[confirm_frames:] - count[:-confirm_frames] == confirm_frames
    seen = np.concatenate([[0], np.cumsum(confirmed)])  # confirmed frames in the last release_frames
    return seen[1:] - seen[np.maximum(np.arange(1, len(seen)) - release_frames, 0)] > 0


def events_hit(start: np.ndarray, stop: np.ndarray, detected: np.ndarray, tolerance_frames: int) -> np.ndarray:
    """(n_events,) bool: some detected frame lies in [start, stop + tolerance_frames)."""
    count = np.concatenate([[0], np.cumsum(detected)])
    end = np.minimum(stop + tolerance_frames, len(detected))
    return count[end] - count[start] > 0


def rate_by_distance(distance_m: np.ndarray, detected: np.ndarray) -> list[dict]:
    """Events and detection rate per DISTANCE_EDGES_M bin (rate None where no events)."""
    bins = np.digitize(distance_m, DISTANCE_EDGES_M[1:-1])
    rows = []
    for b, (lo, hi) in enumerate(zip(DISTANCE_EDGES_M[:-1], DISTANCE_EDGES_M[1:])):
        hits = detected[bins == b]
        rows.append({
            "bin": f"{lo:g}–{hi:g} m" if np.isfinite(hi) else f"{lo:g}+ m",
            "lo_m": lo, "hi_m": hi if np.isfinite(hi) else None,
            "events": int(hits.size), "detected": int(hits.sum()),
            "rate": float(hits.mean()) if hits.size else None,
        })
    return rows


def first_after_s(start: np.ndarray, stop: np.ndarray, active: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """(n,) seconds from each start to the first active frame in [start, stop); NaN if none."""
    delays = np.full(len(start), np.nan)
    for k, (a, b) in enumerate(zip(start, stop)):
        hit = np.flatnonzero(active[a:b])
        if hit.size:
            delays[k] = time_s[a + hit[0]] - time_s[a]
    return delays


def arrivals(truth_motion: np.ndarray, truth_occupied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First major-motion frame of each ground-truth presence span, and that span's end."""
    first, end = [], []
    for a, b in zip(*spans(truth_occupied)):
        major = np.flatnonzero(truth_motion[a:b] == "major")
        if major.size:
            first.append(a + major[0])
            end.append(b)
    return np.array(first, dtype=int), np.array(end, dtype=int)


def delay_summary(delays_s: np.ndarray) -> dict:
    """Median and 95th percentile of the delays seen; NaN entries count as missed."""
    seen = delays_s[np.isfinite(delays_s)]
    return {
        "n": int(seen.size), "missed": int(delays_s.size - seen.size),
        "median_s": float(np.median(seen)) if seen.size else None,
        "p95_s": float(np.percentile(seen, 95)) if seen.size else None,
    }


def poisson_upper_95(count: int) -> float:
    """One-sided 95 % upper bound on a Poisson mean after ``count`` events (3.0 for none)."""
    return float(stats.chi2.ppf(0.95, 2 * (count + 1)) / 2)


def rate_per_hour(count: int, hours: float) -> dict:
    return {
        "count": int(count), "per_hour": count / hours if hours else None,
        "upper95_per_hour": poisson_upper_95(count) / hours if hours else None,
    }


def false_onset_frames(active: np.ndarray, truth_occupied: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """Frame indices of the onsets of ``active`` after the warm-up where nobody is in the room."""
    starts = onsets(active)
    return starts[~truth_occupied[starts] & (time_s[starts] > WARMUP_S)]


def false_onsets(active: np.ndarray, truth_occupied: np.ndarray, time_s: np.ndarray) -> int:
    """How many false onsets (:func:`false_onset_frames`)."""
    return len(false_onset_frames(active, truth_occupied, time_s))


def alarm_frames(scenes: list[SceneFrames]) -> list[np.ndarray]:
    """Per scene, the frames false alarms are counted over: after the warm-up, nobody in the room."""
    return [(s.time_s > WARMUP_S) & ~s.truth_occupied for s in scenes]


def shown_share(counted: list[np.ndarray], moving: list[np.ndarray]) -> float | None:
    """The share of the counted frames (:func:`alarm_frames`) with motion shown: onsets alone
    would praise a flag stuck on."""
    frames = sum(int(c.sum()) for c in counted)
    return sum(int(m[c].sum()) for m, c in zip(moving, counted)) / frames if frames else None


def false_alarm_row(scenes: list[SceneFrames]) -> dict:
    """False motion onsets and `occupied` events per hour over empty-room scenes, the share
    of their time with motion shown, and how many rooms the onsets come from (a rate made
    by one loud room says less than the same rate over many)."""
    hours = sum(s.alarm_hours for s in scenes)
    per_room = [false_onsets(s.moving, s.truth_occupied, s.time_s) for s in scenes]
    return {
        "hours": hours,
        "motion": rate_per_hour(sum(per_room), hours),
        "occupied": rate_per_hour(sum(false_onsets(s.occupied, s.truth_occupied, s.time_s) for s in scenes), hours),
        "motion_shown": shown_share(alarm_frames(scenes), [s.moving for s in scenes]),
        "rooms": {"scenes": len(scenes), "with_onsets": sum(n > 0 for n in per_room),
                  "worst_onsets": max(per_room, default=0)},
    }


# --------------------------------------------------------------------------------------
# The summary: every number of the report
# --------------------------------------------------------------------------------------
def event_distance_m(distance_m: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Each event's distance: the person's median torso distance over its span [start, stop)."""
    return np.array([np.nanmedian(distance_m[a:b]) for a, b in zip(start, stop)], dtype=float)


def motion_events(scenes: list[SceneFrames], kind: str, tolerance_frames: int) -> dict:
    distances, hits, delays = [], [], []
    for s in scenes:
        start, stop = spans(s.truth_motion == kind)
        hits.append(events_hit(start, stop, s.moving, tolerance_frames))
        distances.append(event_distance_m(s.distance_m, start, stop))
        delays.append(first_after_s(start, np.minimum(stop + tolerance_frames, len(s.moving)), s.moving, s.time_s))
    distance_m, detected = np.concatenate([np.zeros(0), *distances]), np.concatenate([np.zeros(0, bool), *hits])
    return {
        "events": int(detected.size), "detected": int(detected.sum()),
        "rate": float(detected.mean()) if detected.size else None,
        "by_distance": rate_by_distance(distance_m, detected),
        "latency": delay_summary(np.concatenate([np.zeros(0), *delays])),
    }


def _latency(scenes: list[SceneFrames]) -> dict:
    motion, occupied = [], []
    for s in scenes:
        start, stop = arrivals(s.truth_motion, s.truth_occupied)
        motion.append(first_after_s(start, stop, s.moving, s.time_s))
        occupied.append(first_after_s(start, stop, s.occupied, s.time_s))
    return {"motion": delay_summary(np.concatenate([np.zeros(0), *motion])),
            "occupied": delay_summary(np.concatenate([np.zeros(0), *occupied]))}


def _false_alarms(scenes: list[SceneFrames], distractors: tuple[str, ...]) -> list[dict]:
    """One row per chosen distractor, then one for all of them together."""
    def row(distractor: str, names: tuple[str, ...], mine: list[SceneFrames]) -> dict:
        return {"distractor": distractor, "scenarios": list(names), "scenes": len(mine)} | false_alarm_row(mine)

    empty = [s for s in scenes if not s.job.is_human]
    rows = [row(group, ROWS[group], [s for s in empty if s.job.group == group]) for group in distractors]
    return rows + [row("all distractors", tuple(sorted({s.job.name for s in empty})), empty)]


def _presence(scenes: list[SceneFrames], hop_s: float) -> dict:
    def accuracy(group: list[SceneFrames]) -> dict:
        truth = np.concatenate([np.zeros(0, bool), *(s.truth_occupied for s in group)])
        said = np.concatenate([np.zeros(0, bool), *(s.occupied for s in group)])
        return {
            "scenes": len(group), "occupied_s": float(truth.sum() * hop_s),
            "occupied_accuracy": float(said[truth].mean()) if truth.any() else None,
            "agreement": float((said == truth).mean()) if truth.size else None,
        }

    delays, not_occupied = [], 0
    for s in scenes:
        if s.job.group not in VACANCY_KINDS:
            continue
        for leave in spans(s.truth_occupied)[1]:
            if leave == len(s.time_s):
                continue  # still there when the scene ends
            if not s.occupied[leave - 1]:
                not_occupied += 1  # a missed visit: its vacancy delay means nothing
                continue
            delays.append(first_after_s(np.array([leave]), np.array([len(s.time_s)]), ~s.occupied, s.time_s))
    vacancy = delay_summary(np.concatenate([np.zeros(0), *delays]))
    vacancy["censored"] = vacancy.pop("missed")  # still occupied when the scene ended
    vacancy["not_occupied_at_departure"] = not_occupied
    human = [s for s in scenes if s.job.is_human]
    return {
        "per_kind": {kind: accuracy([s for s in human if s.job.group == kind]) for kind in HUMAN_SCENE_S},
        "all_human_scenes": accuracy(human),
        "vacancy_delay": vacancy,
    }


def walks(scene: SceneFrames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scene's walking (major) events: start, stop and distance (m)."""
    start, stop = spans(scene.truth_motion == "major")
    return start, stop, event_distance_m(scene.distance_m, start, stop)


def det_curve(scenes: list[SceneFrames], confirm_frames: int, release_frames: int, tolerance_frames: int,
              thresholds: tuple[float, ...] = DET_THRESHOLDS) -> dict:
    """Event detection rates on human scenes, and false-alarm onsets per hour and the share of
    time with motion shown on empty scenes, per score threshold (threshold + debounce: see
    the module docstring). Also, per walking event within RANGE_GOAL_M (scene order, then
    time), the highest threshold of the sweep that detects it (None: none does)."""
    human = [s for s in scenes if s.job.is_human]
    empty = [s for s in scenes if not s.job.is_human]
    major = [walks(s) for s in human]  # the same events, in the same order, as hardest_walks lists
    events = {"major": [(a, b) for a, b, _ in major], "minor": [spans(s.truth_motion == "minor") for s in human]}
    near = np.concatenate([np.zeros(0, bool)] + [distance_m < RANGE_GOAL_M for _, _, distance_m in major])
    hours = sum(s.alarm_hours for s in empty)
    counted = alarm_frames(empty)
    curve: dict[str, list] = {"thresholds": list(thresholds), "major_rate": [], "minor_rate": [],
                              "major_near_rate": [], "false_alarms_per_hour": [], "motion_shown": []}
    near_hits = np.zeros((len(thresholds), int(near.sum())), dtype=bool)
    for i, threshold in enumerate(thresholds):
        moving = {id(s): debounce(s.score >= threshold, confirm_frames, release_frames) for s in scenes}
        for kind, per_scene in events.items():
            hits = np.concatenate([np.zeros(0, bool)] + [events_hit(a, b, moving[id(s)], tolerance_frames)
                                                         for s, (a, b) in zip(human, per_scene)])
            curve[f"{kind}_rate"].append(float(hits.mean()) if hits.size else None)
            if kind == "major":
                curve["major_near_rate"].append(float(hits[near].mean()) if near.any() else None)
                near_hits[i] = hits[near]
        alarms = sum(false_onsets(moving[id(s)], s.truth_occupied, s.time_s) for s in empty)
        curve["false_alarms_per_hour"].append(alarms / hours if hours else None)
        curve["motion_shown"].append(shown_share(counted, [moving[id(s)] for s in empty]))
    curve["major_near_events"] = int(near.sum())
    curve["near_walk_threshold"] = [max((t for t, hit in zip(thresholds, column) if hit), default=None)
                                    for column in near_hits.T]
    curve["at_equal_detection"] = at_equal_detection(curve)
    return curve


def hardest_walks(human: list[SceneFrames], near_walk_threshold: list[float | None], tolerance_frames: int,
                  count: int = HARDEST_WALKS) -> list[dict]:
    """The ``count`` walking events within RANGE_GOAL_M that the fewest thresholds detect
    (``near_walk_threshold``: det_curve's, in the same order), lowest first: where the
    detector fails walks, the scenes that hold its high-detection points down."""
    near_walks = []
    for s in human:
        start, stop, distance_m = walks(s)
        near = distance_m < RANGE_GOAL_M
        chain = events_hit(start, stop, s.moving, tolerance_frames)
        near_walks += [{"scenario": s.job.name, "seed": s.job.seed, "array": s.array, "carrier_hz": s.carrier_hz,
                        "level_dbfs": s.level_dbfs, "start_s": float(s.time_s[a]), "end_s": float(s.time_s[b - 1]),
                        "distance_m": float(d), "chain_detected": bool(hit)}
                       for a, b, d, hit in zip(start[near], stop[near], distance_m[near], chain[near])]
    for walk, threshold in zip(near_walks, near_walk_threshold, strict=True):
        walk["highest_threshold"] = threshold
    return sorted(near_walks, key=lambda w: -1.0 if w["highest_threshold"] is None else w["highest_threshold"])[:count]


def at_equal_detection(curve: dict, levels: tuple[float, ...] = EQUAL_DETECTION_LEVELS,
                       rate: str = "major_near_rate") -> list[dict]:
    """Per level: the sweep's point with the fewest false alarms per hour (the higher
    threshold on a tie) among those whose ``rate`` — by default the share of walking events
    within RANGE_GOAL_M — reaches the level: its threshold, rate, false alarms and, where
    the curve has it, motion shown (None where no threshold reaches the level)."""
    rows = []
    for level in levels:
        reached = [i for i, value in enumerate(curve[rate])
                   if value is not None and value >= level and curve["false_alarms_per_hour"][i] is not None]
        best = min(reached, key=lambda i: (curve["false_alarms_per_hour"][i], -curve["thresholds"][i]), default=None)
        at = {key: None if best is None or key not in curve else curve[key][best]
              for key in (rate, "false_alarms_per_hour", "motion_shown")}
        rows.append({"level": level, "threshold": None if best is None else curve["thresholds"][best], **at})
    return rows


def summarize(scenes: list[SceneFrames], settings: EvaluationSettings, config: Config) -> dict:
    """Every number of the report, JSON-ready."""
    hop_s = config.frontend.hop_s
    tolerance_frames = int(round(TOLERANCE_S / hop_s))
    human = [s for s in scenes if s.job.is_human]
    detection = {kind: motion_events(human, kind, tolerance_frames) for kind in ("major", "minor")}
    false_alarms = _false_alarms(scenes, settings.distractors)
    det = det_curve(scenes, config.presence.confirm_frames, config.presence.release_frames, tolerance_frames)
    det["chain_operating_point"] = {
        "false_alarms_per_hour": false_alarms[-1]["motion"]["per_hour"],
        "major_rate": detection["major"]["rate"], "minor_rate": detection["minor"]["rate"],
    }
    det["hardest_walks"] = hardest_walks(human, det.pop("near_walk_threshold"), tolerance_frames)
    return {
        "settings": {
            "hours": settings.hours, "scenes_per_kind": settings.scenes_per_kind,
            "seed_offset": settings.seed_offset, "held_out_seed_start": HELD_OUT_SEED_START,
            "array": settings.array, "distractors": list(settings.distractors), "calibrated": settings.calibrated,
            "tolerance_s": TOLERANCE_S,
            "warmup_s": WARMUP_S, "hop_s": hop_s, "human_scene_s": HUMAN_SCENE_S, "empty_scene_target_s": EMPTY_SCENE_S,
        },
        "config": config.model_dump(mode="json"),
        "totals": {
            "scenes": len(scenes), "human_scenes": len(human),
            "human_hours": sum(s.hours for s in human),
            "empty_hours": sum(s.hours for s in scenes if not s.job.is_human),
            "alarm_hours": sum(s.alarm_hours for s in scenes if not s.job.is_human),
        },
        "detection": detection,
        "latency": _latency(human),
        "false_alarms": false_alarms,
        "presence": _presence(scenes, hop_s),
        "det": det,
        "scenes": [{"scenario": s.job.name, "group": s.job.group, "seed": s.job.seed, "duration_s": s.job.duration_s,
                    "array": s.array, "carrier_hz": s.carrier_hz, "level_dbfs": s.level_dbfs,
                    "false_onsets": None if s.job.is_human else false_onsets(s.moving, s.truth_occupied, s.time_s)}
                   for s in scenes],
    }


def evaluate(settings: EvaluationSettings, configs: dict[str, Config],
             on_scene: Callable[[SceneJob], None] | None = None) -> dict[str, dict]:
    """Plan the held-out scenes, run them through every chain (label → config; the scenes
    rendered once) and summarise each: label → summary."""
    frames = run_scenes(plan_scenes(settings), configs, settings.workers, on_scene)
    return {label: summarize(frames[label], settings, configs[label]) for label in configs}


# --------------------------------------------------------------------------------------
# Report: report.json, report.md, det.png, detection_by_distance.png
# --------------------------------------------------------------------------------------
def write_report(summary: dict, out_dir: Path, command: str = "") -> list[Path]:
    """Write the JSON (every number), the two plots (when there are human scenes to plot) and
    the markdown that shows them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"command": command, **summary}
    report_json, report_md = out_dir / "report.json", out_dir / "report.md"
    report_json.write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")
    plots = []
    if _has_people(summary):
        plots = [out_dir / "detection_by_distance.png", out_dir / "det.png"]
        _plot_distance(summary["detection"], plots[0])
        _plot_det({summary["config"]["detect"]["detector"]: summary}, plots[1])
    report_md.write_text(_markdown(summary))
    return [report_json, *plots, report_md]


def _has_people(summary: dict) -> bool:
    """Detection rates exist to plot (a run of empty rooms alone has only false alarms)."""
    return summary["totals"]["human_scenes"] > 0


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _sec(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _rate(entry: dict) -> str:
    if entry["per_hour"] is None:
        return "–"
    if entry["count"] == 0:
        return f"0 (< {entry['upper95_per_hour']:.2g})"
    return f"{entry['per_hour']:.3g} (< {entry['upper95_per_hour']:.3g})"


_EQUAL_DETECTION_TEXT = (
    "At equal detection: of the sweep's thresholds that detect at least the given share of the {near} walking "
    "(major) events within {range_m:g} m, the one with the fewest false-alarm onsets per hour (– where no threshold "
    "of the sweep reaches it).")


def _rooms(row: dict) -> str:
    rooms = row["rooms"]
    return f"{rooms['with_onsets']} of {rooms['scenes']} ({rooms['worst_onsets']})"


def _threshold(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _per_hour(row: dict) -> str:
    return "–" if row["false_alarms_per_hour"] is None else f"{row['false_alarms_per_hour']:.3g}"


def _markdown(summary: dict) -> str:
    st, totals, det = summary["settings"], summary["totals"], summary["det"]
    lines = [
        "# uspd evaluation report",
        "",
        f"Produced by `{summary['command']}`." if summary["command"] else "",
        "",
        f"{totals['human_scenes']} human scenes ({totals['human_hours']:.2f} h) and "
        f"{totals['scenes'] - totals['human_scenes']} empty-room scenes ({totals['empty_hours']:.2f} h), held-out "
        f"seeds from {st['held_out_seed_start'] + st['seed_offset']:,} (training uses seeds below "
        f"{st['held_out_seed_start']:,}); mic array: {st['array'] or 'as each scenario draws it'}. Fast baseband "
        f"renderer → streaming Doppler spectrogram → {summary['config']['detect']['detector']} detector → presence "
        "machine, against per-hop ground truth.",
        "",
        "## Motion detection by distance",
        "",
        "An event is a contiguous ground-truth span of major (or minor) motion; it is detected when the chain reports "
        f"any motion within the span or {st['tolerance_s']:g} s after it. Distance: the person's median torso distance "
        "over the span.",
        "",
        "| distance | major: events | major: detected | minor: events | minor: detected |",
        "|---|---:|---:|---:|---:|",
    ]
    major, minor = summary["detection"]["major"], summary["detection"]["minor"]
    for a, b in zip(major["by_distance"], minor["by_distance"]):
        lines.append(f"| {a['bin']} | {a['events']} | {_pct(a['rate'])} | {b['events']} | {_pct(b['rate'])} |")
    lines.append(f"| **all** | {major['events']} | {_pct(major['rate'])} | {minor['events']} | {_pct(minor['rate'])} |")
    motion, occupied = summary["latency"]["motion"], summary["latency"]["occupied"]
    lines += [
        "", "![detection by distance](detection_by_distance.png)" if _has_people(summary) else "", "",
        "## Latency",
        "",
        "From an arrival (first frame of ground-truth major motion in each stretch of presence) to the chain's first "
        "motion frame and to its first occupied frame; missed: not seen before the person left or the scene ended.",
        "",
        "| to | arrivals seen | missed | median | p95 |",
        "|---|---:|---:|---:|---:|",
        f"| motion | {motion['n']} | {motion['missed']} | {_sec(motion['median_s'])} | {_sec(motion['p95_s'])} |",
        f"| occupied | {occupied['n']} | {occupied['missed']} | {_sec(occupied['median_s'])} | "
        f"{_sec(occupied['p95_s'])} |",
        "",
        "From the onset of every ground-truth motion event (the spans above) to the chain's first motion frame "
        "within it (or the tolerance after it):",
        "",
        "| event | seen | missed | median | p95 |",
        "|---|---:|---:|---:|---:|",
        *(f"| {kind} | {d['n']} | {d['missed']} | {_sec(d['median_s'])} | {_sec(d['p95_s'])} |"
          for kind, d in (("major", major["latency"]), ("minor", minor["latency"]))),
        "",
        "## False alarms per hour in empty rooms",
        "",
        "Motion onsets (the chain's motion turning on from none) and `occupied` events while nobody is in the room, "
        f"counted after the first {st['warmup_s']:g} s of each scene (the detector settling; hours exclude it). "
        "In brackets: the one-sided 95 % Poisson upper bound (≈ 3 / hours when no alarm was seen). Motion shown: the "
        "share of that time the chain showed motion (a flag stuck on raises no onsets).",
        "",
        "| distractor | scenarios | scenes | hours | motion onsets | per hour | rooms with onsets (worst room's) | "
        "occupied events | per hour | motion shown |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["false_alarms"]:
        lines.append(
            f"| {row['distractor']} | {', '.join(row['scenarios'])} | {row['scenes']} | {row['hours']:.3g} | "
            f"{row['motion']['count']} | {_rate(row['motion'])} | {_rooms(row)} | {row['occupied']['count']} | "
            f"{_rate(row['occupied'])} | {_pct(row['motion_shown'])} |"
        )
    presence = summary["presence"]
    lines += [
        "",
        "## Presence",
        "",
        "Occupied accuracy: the fraction of ground-truth occupied frames the chain also calls occupied. "
        "Agreement: the fraction of all frames of the scene kind where chain and truth agree.",
        "",
        "| scene kind | scenes | occupied time | occupied accuracy | agreement |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, row in (*presence["per_kind"].items(), ("**all human scenes**", presence["all_human_scenes"])):
        lines.append(f"| {kind} | {row['scenes']} | {row['occupied_s']:.0f} s | {_pct(row['occupied_accuracy'])} | "
                     f"{_pct(row['agreement'])} |")
    vacancy = presence["vacancy_delay"]
    lines += [
        "",
        f"Vacancy delay after a departure (visit scenes): median {_sec(vacancy['median_s'])}, p95 "
        f"{_sec(vacancy['p95_s'])} over {vacancy['n']} departures; {vacancy['censored']} still occupied when the "
        f"scene ended; {vacancy['not_occupied_at_departure']} departures the chain never saw as occupied.",
        "",
        "## DET: detection rate against false alarms",
        "",
        "The score threshold sweeps from 0.02 to 0.98; each point replays the cached scores through threshold + "
        f"{summary['config']['presence']['confirm_frames']} frames to confirm a motion and "
        f"{summary['config']['presence']['release_frames']} to end one (the detector alone, without the presence "
        "machine's context-dependent sensitivity). The marker is the chain's own operating point.",
        "",
        "![DET curve](det.png)" if _has_people(summary) else "",
        "",
        "| threshold | major detected | minor detected | false alarms per hour |",
        "|---:|---:|---:|---:|",
    ]
    for i, threshold in enumerate(det["thresholds"]):
        if i % 4 == 0:
            fa = det["false_alarms_per_hour"][i]
            lines.append(f"| {threshold:.2f} | {_pct(det['major_rate'][i])} | {_pct(det['minor_rate'][i])} | "
                         f"{'–' if fa is None else f'{fa:.3g}'} |")
    if _has_people(summary):
        lines += ["", _EQUAL_DETECTION_TEXT.format(near=det["major_near_events"], range_m=RANGE_GOAL_M), "",
                  "| walking detected within range | threshold | detected | false alarms per hour | motion shown |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| ≥ {_pct(row['level'])} | {_threshold(row['threshold'])} | {_pct(row['major_near_rate'])} | {_per_hour(row)} | "
                  f"{_pct(row['motion_shown'])} |" for row in det["at_equal_detection"]]
        lines += _hardest_walks_markdown(det["hardest_walks"])
    lines += ["", "Every number, the config and the list of scenes are in [report.json](report.json).", ""]
    return "\n".join(lines)


def _hardest_walks_markdown(walks: list[dict]) -> list[str]:
    lines = ["", f"## The hardest walks within {RANGE_GOAL_M:g} m", "",
             "The walking events within range that the fewest thresholds of the sweep detect, lowest first: where "
             "the detector fails walks, and the scenes that hold down its detection at the high levels above. Highest "
             "threshold: the highest of the sweep that still detects the walk (– none does); the chain: whether the "
             "chain, with its own thresholds and context, reported motion during it. To look at one: `uspd simulate "
             "SCENARIO --seed SEED --duration SECONDS --baseband --out walk.npz` (the scene lengths are in report.json's "
             "settings), then `uspd plot walk.npz`; that renders the drawn carrier and level, which a calibrated "
             "unit replaces with its calibration's.", "",
             "| scene (seed) | mics | carrier | level | distance | walk | highest threshold | the chain |",
             "|---|---|---:|---:|---:|---|---:|---|"]
    lines += [f"| {w['scenario']} ({w['seed']}) | {w['array']} | {w['carrier_hz'] / 1000:.1f} kHz | "
              f"{w['level_dbfs']:.1f} dBFS | {w['distance_m']:.1f} m | {w['start_s']:.1f}–{w['end_s']:.1f} s | "
              f"{_threshold(w['highest_threshold'])} | "
              f"{'detected' if w['chain_detected'] else '**missed**'} |" for w in walks]
    return lines


def _plot_distance(detection: dict, out_png: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    for offset, kind in ((-0.2, "major"), (0.2, "minor")):
        rows = detection[kind]["by_distance"]
        x = np.arange(len(rows)) + offset
        rates = [np.nan if r["rate"] is None else 100 * r["rate"] for r in rows]
        ax.bar(x, np.nan_to_num(rates), width=0.4, color=MOTION_COLOURS[kind], label=f"{kind} motion")
        for xi, rate, row in zip(x, rates, rows):
            ax.text(xi, (0 if np.isnan(rate) else rate) + 1, f"n={row['events']}", ha="center", fontsize=7)
    ax.set_xticks(np.arange(len(rows)), [r["bin"] for r in rows])
    ax.set_ylim(0, 110)
    ax.set_xlabel("person's distance to the device")
    ax.set_ylabel("events detected (%)")
    ax.legend(loc="lower left")
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------
# Several detectors on the same scenes: one table, one DET plot
# --------------------------------------------------------------------------------------


def write_comparison(summaries: dict[str, dict], out_dir: Path, command: str = "") -> list[Path]:
    """Each detector's full report in ``out_dir/<label>/``, then side by side in
    ``out_dir``: report.md (detection by distance, latency, false alarms per distractor,
    presence) and det.png (every detector's DET curves on one plot, when there are human scenes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [p for label, summary in summaries.items() for p in write_report(summary, out_dir / label, command)]
    report_md = out_dir / "report.md"
    plots = []
    if _has_people(next(iter(summaries.values()))):
        plots = [out_dir / "det.png"]
        _plot_det(summaries, plots[0])
    report_md.write_text(_comparison_markdown(summaries, command))
    return paths + plots + [report_md]


def _comparison_markdown(summaries: dict[str, dict], command: str) -> str:
    labels = list(summaries)
    first = summaries[labels[0]]
    st, totals = first["settings"], first["totals"]
    header = "| | " + " | ".join(labels) + " |"
    rule = "|---|" + "---:|" * len(labels)

    def row(name: str, cell) -> str:
        return f"| {name} | " + " | ".join(cell(summaries[label]) for label in labels) + " |"

    lines = [
        "# Detectors compared on held-out rooms", "",
        f"Made by `{command}`." if command else "", "",
        f"The same {totals['scenes']} scenes for every detector: {totals['human_scenes']} with people "
        f"({totals['human_hours']:.2f} h) and {totals['empty_hours']:.2f} h of empty rooms with distractors; seeds from "
        f"{st['held_out_seed_start'] + st['seed_offset']:,} (held out: training uses seeds below "
        f"{st['held_out_seed_start']:,}). Definitions as in each detector's own report "
        f"({', '.join(f'[{label}]({label}/report.md)' for label in labels)}).", "",
        "## Detection", "", header, rule,
        row("major (walking) events detected", lambda s: _pct(s["detection"]["major"]["rate"])),
    ]
    for i, bin_row in enumerate(first["detection"]["major"]["by_distance"]):
        lines.append(row(f"… at {bin_row['bin']} (n = {bin_row['events']})",
                         lambda s, i=i: _pct(s["detection"]["major"]["by_distance"][i]["rate"])))
    lines.append(row("minor events detected", lambda s: _pct(s["detection"]["minor"]["rate"])))
    for i, bin_row in enumerate(first["detection"]["minor"]["by_distance"]):
        lines.append(row(f"… at {bin_row['bin']} (n = {bin_row['events']})",
                         lambda s, i=i: _pct(s["detection"]["minor"]["by_distance"][i]["rate"])))
    lines += [
        "", "## Latency (median / p95)", "", header, rule,
        row("arrival → motion", lambda s: f"{_sec(s['latency']['motion']['median_s'])} / "
            f"{_sec(s['latency']['motion']['p95_s'])}"),
        row("arrival → occupied", lambda s: f"{_sec(s['latency']['occupied']['median_s'])} / "
            f"{_sec(s['latency']['occupied']['p95_s'])}"),
        row("vacancy after leaving", lambda s: f"{_sec(s['presence']['vacancy_delay']['median_s'])} / "
            f"{_sec(s['presence']['vacancy_delay']['p95_s'])}"),
        "", "## False motion onsets per hour in empty rooms (95 % upper bound)", "", header, rule,
    ]
    for i, fa in enumerate(first["false_alarms"]):
        lines.append(row(f"{fa['distractor']} ({fa['hours']:.2g} h)", lambda s, i=i: _rate(s["false_alarms"][i]["motion"])))
    lines.append(row("**false `occupied` events, all**", lambda s: _rate(s["false_alarms"][-1]["occupied"])))
    lines.append(row("**empty-room time with motion shown, all**", lambda s: _pct(s["false_alarms"][-1]["motion_shown"])))
    lines.append(row("**rooms with a false onset, all (the worst room's onsets)**", lambda s: _rooms(s["false_alarms"][-1])))
    lines += ["", "## Presence over occupied time", "", header, rule]
    for kind in first["presence"]["per_kind"]:
        lines.append(row(kind, lambda s, kind=kind: _pct(s["presence"]["per_kind"][kind]["occupied_accuracy"])))
    lines.append(row("**all human scenes**", lambda s: _pct(s["presence"]["all_human_scenes"]["occupied_accuracy"])))
    if _has_people(first):
        reference = labels[0]
        lines += ["", f"## False alarms at equal walking detection within {RANGE_GOAL_M:g} m", "",
                  _EQUAL_DETECTION_TEXT.format(near=first["det"]["major_near_events"], range_m=RANGE_GOAL_M)
                  + f" In brackets: the threshold, how many times fewer false alarms than {reference}, and the "
                  "share of empty-room time with motion shown there.", "",
                  header, rule]
        for i, level in enumerate(EQUAL_DETECTION_LEVELS):
            base = first["det"]["at_equal_detection"][i]["false_alarms_per_hour"]
            lines.append(row(f"≥ {_pct(level)}", lambda s, i=i, base=base: _equal_detection_cell(
                s["det"]["at_equal_detection"][i], None if s is first else base)))
        lines += ["", "## DET", "", "Major (solid) and minor (dashed) motion events detected against false-alarm "
                  "onsets per hour, threshold swept, a colour per detector; ★ each chain at its config.", "", "![DET](det.png)",
                  ""]
    return "\n".join(lines)


def _equal_detection_cell(point: dict, reference_per_hour: float | None) -> str:
    """'rate (threshold, ratio×; motion shown)': the ratio is the reference's rate over this one's, where
    both are defined and this one is not 0."""
    if point["false_alarms_per_hour"] is None:
        return "not reached"
    mine = point["false_alarms_per_hour"]
    ratio = f", {reference_per_hour / mine:.1f}×" if reference_per_hour is not None and mine > 0 else ""
    return f"{_per_hour(point)} ({_threshold(point['threshold'])}{ratio}; {_pct(point['motion_shown'])})"


def _plot_det(summaries: dict[str, dict], out_png: Path) -> None:
    """DET curves of one or more detectors (label → summary) on one plot: a colour per
    detector, solid for major and dashed for minor motion."""
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    alarm_hours = next(iter(summaries.values()))["totals"]["alarm_hours"]
    colours = plt.get_cmap("tab10").colors
    for i, (label, summary) in enumerate(summaries.items()):
        det, colour = summary["det"], colours[i % len(colours)]
        fa = np.array([np.nan if v is None else v for v in det["false_alarms_per_hour"]])
        for kind, style in (("major", "-"), ("minor", "--")):
            rate = np.array([np.nan if v is None else 100 * v for v in det[f"{kind}_rate"]])
            ax.plot(fa, rate, style, lw=1.5 if kind == "major" else 0.9, color=colour, label=f"{label}: {kind}")
            point = det["chain_operating_point"]
            if point["false_alarms_per_hour"] is not None and point[f"{kind}_rate"] is not None:
                ax.plot(point["false_alarms_per_hour"], 100 * point[f"{kind}_rate"], "*", ms=10,
                        color=colour, markeredgecolor="black")
    if alarm_hours:
        ax.set_xscale("symlog", linthresh=1.0 / alarm_hours)
        ax.axvline(3.0 / alarm_hours, color="grey", lw=0.8, ls=":", label="95 % bound at 0 alarms")
    ax.set_xlabel(f"false-alarm onsets per hour (empty rooms, {alarm_hours:.3g} h)")
    ax.set_ylabel("events detected (%)")
    ax.set_ylim(0, 102)
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
