"""The long-tail loop: a seed model mines rare confusing events from unlabeled hours, a
rare-event model collects more of them from fresh hours, the detector is retrained.

1. **Seed**: train on the small labeled set (every human kind and every distractor, a
   few scenes each).
2. **Mine**: score corpus A — hours of ``rare_events_home`` rooms where a fan, a gust,
   a pet, a vacuum, an interferer, music or keys come by now and then — and keep the
   stretches where the seed model fires or is unsure (score ≥ ``mine_threshold``, below
   the presence machine's minor threshold), with context either side.
3. **Rare-event model**: train on the labeled set plus the mined stretches; it knows the
   rare events better than the seed did. **Collect** from corpus B every stretch where
   it or the seed fires, or where it sees a non-human event (P(non-human) ≥
   ``collect_nonhuman`` for ``collect_s``): it captures events the seed never fired on.
4. **Final**: retrain on the labeled set plus everything mined and collected.

The simulator's ground truth plays the annotator: labels of a mined stretch are looked up
only after mining chose it (corpus scenes are scored from features alone). Validation
rooms (their own seeds) measure every stage: false motion onsets per hour in empty rooms
and major/minor event detection.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from uspd.config import PLAYBACK_SETTINGS, Config, PresenceConfig
from uspd.detect.features import N_BINS
from uspd.detect.neural import CLASSES, motion_score
from uspd.evaluate import TOLERANCE_S, WARMUP_S, debounce, events_hit, onsets, spans
from uspd.model.data import (DISTRACTOR_SCENE_S, MUSIC_SCENARIOS, SEED_RANGES, SceneData, SceneSpec, labeled_set,
                             load_scenes, render_scenes, save_scenes, single_mic_music)
from uspd.model.network import MotionNet
from uspd.model.train import TrainSettings, predict, train
from uspd.sim.scenarios import build_scene

CORPUS_SCENARIO = "rare_events_home"
FEATURES_VERSION = 2  # bump when features or labels change: cached renders are keyed by it (2: capped first floor)


@dataclass(frozen=True)
class LoopSettings:
    labeled_per_kind: int = 24
    validation_per_kind: int = 6
    corpus_a_hours: float = 8.0
    corpus_b_hours: float = 8.0
    corpus_scene_s: float = 1800.0  # many rooms rather than few long ones
    mine_threshold: float = 0.15  # seed fires or is unsure: the presence machine's sensitive threshold
    collect_nonhuman: float = 0.5  # the rare-event model's P(non-human) that marks an event …
    collect_s: float = 1.0  # … held this long
    context_s: float = 2.0  # kept either side of a mined stretch
    raw_music: bool = False  # the labeled set's music scenes also without the music canceller (see run_loop)
    single_mic_music: int = 0  # more rooms per music scenario on one mic, after the labeled set's seeds
    single_mic_music_walks: int = 0  # more music_with_walk rooms on one mic, after those
    pet_scene_s: float = DISTRACTOR_SCENE_S  # length of the labeled set's pet scenes (validation keeps the default)
    alarm_threshold: float = 0.35  # validation: motion = score ≥ this (fixed, so loop reports stay comparable) …
    confirm_frames: int = PresenceConfig().confirm_frames  # … for this many frames, held through …
    release_frames: int = PresenceConfig().release_frames  # … gaps shorter than this: as the presence machine shows it
    train: TrainSettings = field(default_factory=TrainSettings)
    workers: int = 1

    def __post_init__(self) -> None:
        if self.pet_scene_s <= 0:
            raise ValueError(f"pet scenes must last a positive time, got {self.pet_scene_s:g} s")
        if min(self.single_mic_music, self.single_mic_music_walks) < 0:
            raise ValueError("single-mic music rooms must be 0 or more, got "
                             f"{self.single_mic_music} and {self.single_mic_music_walks} walks")


@dataclass(frozen=True)
class Mined:
    """A stretch of a corpus scene chosen by mining, [start, stop) in frames."""

    scene: int
    start: int
    stop: int


def corpus(hours: float, first_seed: int, scene_s: float) -> list[SceneSpec]:
    n = max(1, int(round(hours * 3600.0 / scene_s)))
    return [SceneSpec(CORPUS_SCENARIO, first_seed + i, scene_s) for i in range(n)]


def cached_render(specs: list[SceneSpec], config: Config, cache_dir: Path | None, workers: int,
                  on_done: Callable[[SceneSpec, SceneData], None] | None = None) -> list[SceneData]:
    """Render ``specs`` (or load them: the cache is keyed by the specs, the simulation and
    front-end config and :data:`FEATURES_VERSION`).

    With the playback canceller on, a scene without music has the frames of the chain
    without it (no playback, nothing to predict): those come from that chain's render
    (cached for the whole list), and only the scenes with music are rendered anew."""
    music = config.frontend.music
    if music.enabled and music.playback:
        with_music = {spec for spec in specs if _has_music(spec)}
        if with_music:
            plain = config.with_music(playback=False)

            def done_plain(spec: SceneSpec, data: SceneData) -> None:  # music scenes report once, when rendered anew
                if on_done and spec not in with_music:
                    on_done(spec, data)

            scenes = _cached_render(specs, plain, cache_dir, workers, done_plain)
            ordered = [spec for spec in specs if spec in with_music]
            replaced = dict(zip(ordered, _cached_render(ordered, config, cache_dir, workers, on_done)))
            return [replaced.get(spec, scene) for spec, scene in zip(specs, scenes)]
    return _cached_render(specs, config, cache_dir, workers, on_done)


def _has_music(spec: SceneSpec) -> bool:
    return build_scene(spec.name, spec.seed, duration_s=spec.duration_s, array=spec.array).music is not None


def _cached_render(specs: list[SceneSpec], config: Config, cache_dir: Path | None, workers: int,
                   on_done: Callable[[SceneSpec, SceneData], None] | None) -> list[SceneData]:
    spec_keys = [{k: v for k, v in asdict(s).items() if not (k == "array" and v is None)} for s in specs]
    # the playback canceller's settings change no frame while it is off: caches from before it stay valid
    frontend = config.frontend.model_dump(exclude=None if config.frontend.music.playback else {"music": set(PLAYBACK_SETTINGS)})
    key = json.dumps([spec_keys, config.simulation.model_dump(), frontend, FEATURES_VERSION],
                     sort_keys=True)  # a drawn array adds nothing to the key, so caches from before the field stay valid
    path = cache_dir / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz" if cache_dir else None
    if path is not None and path.is_file():
        scenes = load_scenes(path)
        if on_done:
            for scene in scenes:
                on_done(scene.spec, scene)
        return scenes
    scenes = render_scenes(specs, config, workers, on_done)
    if path is not None:
        save_scenes(scenes, path)
    return scenes


def single_mic_sets(settings: LoopSettings) -> dict[str, list[SceneSpec]]:
    """The labeled set's extra single-mic music rooms by progress stage, seeds after the
    labeled set's. Walks are rendered apart from the music rooms, so those keep their
    cache: 36 rooms of each music scenario hold 36 min of music labeled "none" against
    12 min of walking under it, and more walks weigh the canceller's residue against the
    motion it must not hide."""
    first = SEED_RANGES["labeled"] + settings.labeled_per_kind
    sets = {"rendering more music on one mic": single_mic_music(settings.single_mic_music, first),
            "rendering more walks under music on one mic": single_mic_music(
                settings.single_mic_music_walks, first + settings.single_mic_music, ("music_with_walk",))}
    return {stage: specs for stage, specs in sets.items() if specs}


def scores(model: MotionNet, scenes: list[SceneData]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per scene: the motion score and P(non-human), per frame (0 where data is missing)."""
    out = []
    for scene, probabilities in zip(scenes, predict(model, scenes)):
        keep = ~scene.missing
        out.append((np.where(keep, motion_score(probabilities), 0.0),
                    np.where(keep, probabilities[:, CLASSES.index("nonhuman")], 0.0)))
    return out


def stretches(flag: np.ndarray, context: int, skip: int) -> list[tuple[int, int]]:
    """Runs of True (after the first ``skip`` frames), padded by ``context`` each side and
    joined where they overlap."""
    flag = flag.copy()
    flag[:skip] = False
    merged: list[list[int]] = []
    for a, b in zip(*spans(flag)):
        a, b = max(a - context, 0), min(b + context, len(flag))
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def mine(flags: list[np.ndarray], context: int, skip: int) -> list[Mined]:
    return [Mined(i, a, b) for i, flag in enumerate(flags) for a, b in stretches(flag, context, skip)]


def category(scene: SceneData, m: Mined) -> str:
    """What a mined stretch turned out to be (ground truth, looked up after mining): the
    non-human kinds most active over it, or 'nothing' when no event was going on."""
    kinds, counts = np.unique(scene.nonhuman[m.start:m.stop], return_counts=True)
    busy = [(c, k) for k, c in zip(kinds, counts) if k != "none"]
    return max(busy)[1] if busy else "nothing"


def captured_events(found: list[Mined], scenes: list[SceneData], skip: int) -> dict[str, list[int]]:
    """Per non-human kind: [events in the corpus, events a stretch of ``found`` overlaps].
    An event is a run of frames (after the first ``skip``) where the kind is active in
    the ground truth — looked up after mining."""
    counts: dict[str, list[int]] = {}
    for i, scene in enumerate(scenes):
        covered = np.zeros(len(scene), bool)
        for m in found:
            if m.scene == i:
                covered[m.start:m.stop] = True
        combos = [str(c) for c in np.unique(scene.nonhuman)]
        for kind in {k for combo in combos for k in combo.split("+")} - {"none"}:
            active = np.isin(scene.nonhuman, [c for c in combos if kind in c.split("+")])
            active[:skip] = False
            total = counts.setdefault(kind, [0, 0])
            for a, b in zip(*spans(active)):
                total[0] += 1
                total[1] += int(covered[a:b].any())
    return dict(sorted(counts.items()))


def cut(scene: SceneData, m: Mined, lead_in: int) -> SceneData:
    """The stretch as a training scene, with ``lead_in`` frames before it marked missing so
    the network's state is warm where the loss starts (missing frames carry no loss)."""
    a = max(m.start - lead_in, 0)
    missing = scene.missing[a:m.stop].copy()
    missing[:m.start - a] = True
    return SceneData(replace(scene.spec, name=f"{scene.spec.name}[{m.start}:{m.stop}]"),
                     scene.features[a:m.stop], missing, scene.target[a:m.stop], scene.nonhuman[a:m.stop],
                     scene.distance_m[a:m.stop])


def stage_metrics(scene_scores: list[np.ndarray], validation: list[SceneData], settings: LoopSettings,
                  hop_s: float) -> dict:
    """A model's motion scores on the validation rooms (one array per scene) → false motion
    onsets per hour on the empty ones (all, and per scenario) and major/minor event
    detection on the others, at the alarm threshold with the presence debounce."""
    tolerance = int(round(TOLERANCE_S / hop_s))
    skip = int(round(WARMUP_S / hop_s))
    hits = {"major": [], "minor": []}
    alarms, empty_frames = {}, {}
    for scene, score in zip(validation, scene_scores):
        moving = debounce(score >= settings.alarm_threshold, settings.confirm_frames, settings.release_frames)
        human = scene.target == CLASSES.index("major")
        human |= scene.target == CLASSES.index("minor")
        if not human.any():
            name = scene.spec.name
            alarms[name] = alarms.get(name, 0) + len(onsets(moving[skip:]))
            empty_frames[name] = empty_frames.get(name, 0) + max(len(scene) - skip, 0)
            continue
        for kind in hits:
            start, stop = spans(scene.target == CLASSES.index(kind))
            hits[kind].append(events_hit(start, stop, moving, tolerance))
    hours = sum(empty_frames.values()) * hop_s / 3600.0
    events = {kind: np.concatenate(h) if h else np.zeros(0, bool) for kind, h in hits.items()}
    rates = {kind: float(hit.mean()) if hit.size else None for kind, hit in events.items()}
    return {"false_onsets_per_hour": sum(alarms.values()) / hours if hours else None, "empty_hours": hours,
            "false_onsets_per_hour_by_scenario": {name: alarms[name] / (frames * hop_s / 3600.0)
                                                  for name, frames in sorted(empty_frames.items()) if frames},
            "major_detected": rates["major"], "minor_detected": rates["minor"]}


@dataclass
class LoopResult:
    seed: MotionNet
    rare: MotionNet
    final: MotionNet
    report: dict


def run_loop(settings: LoopSettings, config: Config, cache_dir: Path | None,
             progress: Callable[[str, float, float], None] = lambda stage, done, total: None) -> LoopResult:
    """The whole loop; ``progress(stage, done, total)`` is called as work advances."""
    hop_s = config.frontend.hop_s
    context = int(round(settings.context_s / hop_s))
    skip = int(round(WARMUP_S / hop_s))
    lead_in = settings.train.context_frames
    report: dict = {"settings": asdict(settings), "stages": {}}

    def render(stage: str, specs: list[SceneSpec], chain: Config = config) -> list[SceneData]:
        total, done = sum(s.duration_s for s in specs), [0.0]

        def tick(spec: SceneSpec, _: SceneData) -> None:
            done[0] += spec.duration_s
            progress(stage, done[0], total)

        started = time.perf_counter()
        scenes = cached_render(specs, chain, cache_dir, settings.workers, tick)
        report.setdefault("render_s", {})[stage] = time.perf_counter() - started
        return scenes

    def fit(stage: str, scenes: list[SceneData]) -> MotionNet:
        started = time.perf_counter()
        model, epochs = train(scenes, validation, settings.train,
                              on_epoch=lambda r: progress(f"training {stage}", r.epoch + 1, settings.train.epochs))
        report["stages"][stage] = {"train_frames": int(sum(len(s) for s in scenes)),
                                   "train_s": time.perf_counter() - started,
                                   "epochs": [asdict(r) for r in epochs],
                                   "validation": stage_metrics([score for score, _ in scores(model, validation)],
                                                                 validation, settings, hop_s)}
        return model

    labeled_specs = labeled_set(settings.labeled_per_kind, SEED_RANGES["labeled"], settings.pet_scene_s)
    labeled = render("rendering the labeled set", labeled_specs)
    if settings.raw_music:
        # The canceller leaves a residue of music in some rooms; a network that only saw
        # cancelled frames learns little of what music looks like and calls the residue
        # motion. The same music rooms without it show the raw distortion (model card:
        # "Retrained on today's chain").
        raw = config.with_music(enabled=False)
        labeled += render("rendering music without the canceller",
                          [spec for spec in labeled_specs if spec.name in MUSIC_SCENARIOS], raw)
    for stage, specs in single_mic_sets(settings).items():
        labeled += render(stage, specs)
    validation = render("rendering validation rooms", labeled_set(settings.validation_per_kind, SEED_RANGES["validation"]))
    seed = fit("seed", labeled)

    corpus_a = render("rendering corpus A", corpus(settings.corpus_a_hours, SEED_RANGES["corpus_a"], settings.corpus_scene_s))
    started = time.perf_counter()
    seed_a = scores(seed, corpus_a)
    score_s = time.perf_counter() - started
    mined_a = mine([s >= settings.mine_threshold for s, _ in seed_a], context, skip)
    rare = fit("rare", labeled + [cut(corpus_a[m.scene], m, lead_in) for m in mined_a])

    corpus_b = render("rendering corpus B", corpus(settings.corpus_b_hours, SEED_RANGES["corpus_b"], settings.corpus_scene_s))
    started = time.perf_counter()
    seed_b, rare_b = scores(seed, corpus_b), scores(rare, corpus_b)
    score_s += time.perf_counter() - started
    by_seed = mine([s >= settings.mine_threshold for s, _ in seed_b], context, skip)
    sustained = int(round(settings.collect_s / hop_s))
    collected = mine([(s >= settings.mine_threshold) | (r >= settings.mine_threshold)
                      | debounce(nh >= settings.collect_nonhuman, sustained)
                      for (s, _), (r, nh) in zip(seed_b, rare_b)], context, skip)
    final = fit("final", labeled + [cut(corpus_a[m.scene], m, lead_in) for m in mined_a]
                + [cut(corpus_b[m.scene], m, lead_in) for m in collected])

    def tally(found: list[Mined], scenes: list[SceneData]) -> dict:
        return {"stretches": len(found), "hours": sum(m.stop - m.start for m in found) * hop_s / 3600.0,
                "with_nothing_going_on": sum(category(scenes[m.scene], m) == "nothing" for m in found),
                "events_captured": captured_events(found, scenes, skip)}

    report["mining"] = {
        "corpus_a": {"scenes": len(corpus_a), "hours": sum(len(s) for s in corpus_a) * hop_s / 3600.0,
                     "events": captured_events([], corpus_a, skip), "seed_mined": tally(mined_a, corpus_a)},
        "corpus_b": {"scenes": len(corpus_b), "hours": sum(len(s) for s in corpus_b) * hop_s / 3600.0,
                     "events": captured_events([], corpus_b, skip),
                     "seed_alone_would_mine": tally(by_seed, corpus_b), "collected": tally(collected, corpus_b)},
        "scoring_s": score_s,
    }
    scored_hours = sum(len(s) for s in corpus_a) * hop_s / 3600.0 + 2 * sum(len(s) for s in corpus_b) * hop_s / 3600.0
    report["mining"]["scored_hours"] = scored_hours  # corpus B is scored by two models
    report["mining"]["hours_scored_per_s"] = scored_hours / score_s if score_s else None
    report["features"] = {"n_bins": N_BINS, "version": FEATURES_VERSION}
    return LoopResult(seed, rare, final, report)


def write_loop_report(report: dict, out_dir: Path, command: str) -> list[Path]:
    """mining-report.json (every number) and mining-report.md (the tables)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"command": command, **report}
    json_path, md_path = out_dir / "mining-report.json", out_dir / "mining-report.md"
    json_path.write_text(json.dumps(report, indent=1) + "\n")

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f} %"

    mining = report["mining"]
    lines = [
        "# The long-tail loop", "", f"Made by `{command}`.", "",
        "## Each stage on validation rooms", "",
        f"Validation rooms have their own seeds ({SEED_RANGES['validation']:,}…); motion = score ≥ "
        f"{report['settings']['alarm_threshold']} for {report['settings']['confirm_frames']} frames, held through gaps "
        f"shorter than {report['settings']['release_frames']} frames.", "",
        "| stage | training frames | false motion onsets / h (empty rooms) | major detected | minor detected | training time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage, r in report["stages"].items():
        v = r["validation"]
        fa = "–" if v["false_onsets_per_hour"] is None else f"{v['false_onsets_per_hour']:.1f}"
        lines.append(f"| {stage} | {r['train_frames']:,} | {fa} | {pct(v['major_detected'])} | "
                     f"{pct(v['minor_detected'])} | {r['train_s']:.0f} s |")
    a, b = mining["corpus_a"], mining["corpus_b"]
    lines += ["", "## Rare events captured", "",
              "An event is a run of frames where a non-human kind is active in the simulator's ground truth, looked "
              "up after mining; it is captured when a kept stretch overlaps it. Corpus A is mined by the seed "
              "model; on corpus B, the seed alone is compared with the collection step (seed + rare-event model).", "",
              "| kind | A: events | A: mined by the seed | B: events | B: seed alone | B: collected |",
              "|---|---:|---:|---:|---:|---:|"]
    for kind in sorted(set(a["events"]) | set(b["events"])):
        cells = (a["events"].get(kind, [0, 0])[0], a["seed_mined"]["events_captured"].get(kind, [0, 0])[1],
                 b["events"].get(kind, [0, 0])[0], b["seed_alone_would_mine"]["events_captured"].get(kind, [0, 0])[1],
                 b["collected"]["events_captured"].get(kind, [0, 0])[1])
        lines.append(f"| {kind} | " + " | ".join(str(c) for c in cells) + " |")
    stretch_rows = (("stretches kept", "stretches"), ("… with nothing going on", "with_nothing_going_on"))
    for name, key in stretch_rows:
        lines.append(f"| **{name}** | | {a['seed_mined'][key]} | | {b['seed_alone_would_mine'][key]} | "
                     f"{b['collected'][key]} |")
    lines += [f"| **hours kept** | | {a['seed_mined']['hours']:.2f} | | {b['seed_alone_would_mine']['hours']:.2f} | "
              f"{b['collected']['hours']:.2f} |", "",
              f"Corpus A: {mining['corpus_a']['scenes']} scenes, {mining['corpus_a']['hours']:.1f} h; corpus B: "
              f"{mining['corpus_b']['scenes']} scenes, {mining['corpus_b']['hours']:.1f} h. Scoring: "
              f"{mining['scored_hours']:.1f} model-hours of audio in {mining['scoring_s']:.1f} s "
              f"({mining['hours_scored_per_s']:.0f} hours scored per second, features cached). Rendering, or loading "
              "from the cache: " + ", ".join(f"{k.removeprefix('rendering ')} {v:.0f} s" for k, v in report["render_s"].items())
              + ".", ""]
    md_path.write_text("\n".join(lines))
    return [json_path, md_path]
