"""Shipped or candidate ONNX models on the loop's validation rooms, through the chain as it
now runs: false motion onsets per hour per distractor scenario and event detection, with the
loop's own rules (`uspd.model.loop.stage_metrics`). This is how a retrained model is chosen
without looking at held-out seeds.

Validation rooms have their own seeds (100,000…, never trained on, never held out); the
loop's own validation uses 6 scenes per kind, this uses more (default 24: 6.7 h, ~10 min
to render on 2 cores, then cached). ``--misses`` also lists every walking event a model
missed, with what the network thought it was. ``--equal-detection`` sweeps the alarm
threshold and compares the models where they detect the same share of walking events: a
model that is merely more sensitive at 0.35 does not win by that.

    python benchmarks/validate_models.py src/uspd/models/motion.fp32.onnx other/motion.fp32.onnx \
        --per-kind 24 --workers 2 --cache ~/.cache/uspd

``--config`` renders them through another chain (every model alike), e.g. with the
playback canceller on for a network trained on its frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnxruntime

from uspd.config import ConfigError, load_config
from uspd.detect.neural import CLASSES, motion_score
from uspd.evaluate import DET_THRESHOLDS, TOLERANCE_S, at_equal_detection, debounce, events_hit, spans
from uspd.model.data import SEED_RANGES, SceneData, labeled_set
from uspd.model.loop import LoopSettings, cached_render, stage_metrics


def network_outputs(path: Path, blocks: list[np.ndarray]) -> list[np.ndarray]:
    """The ONNX network's class probabilities (n_frames, classes) for each feature block
    (N_BINS, n_frames), each block from a fresh network state."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    fresh = {i.name: np.zeros(i.shape, np.float32) for i in session.get_inputs() if i.name.startswith("state")}
    return [session.run(None, {"features": block[None].astype(np.float32), **fresh})[0][0].T for block in blocks]


def onnx_probabilities(path: Path, scenes: list[SceneData]) -> list[np.ndarray]:
    """Class probabilities (n_frames, classes) of every scene, each from a fresh network state."""
    return network_outputs(path, [scene.features.T for scene in scenes])


def scene_scores(scenes: list[SceneData], probabilities: list[np.ndarray]) -> list[np.ndarray]:
    """Motion score per frame of every scene (0 where data is missing)."""
    return [np.where(~scene.missing, motion_score(p), 0.0) for scene, p in zip(scenes, probabilities)]


def missed_walks(scenes: list[SceneData], probabilities: list[np.ndarray], settings: LoopSettings,
                 hop_s: float) -> list[str]:
    """Markdown rows, one per walking event the model missed (by :func:`stage_metrics`'s rule):
    where and how far, what non-human activity the simulator had on, the highest score and
    the mean class probabilities from the event's start to its end plus the tolerance."""
    rows = []
    tolerance = int(round(TOLERANCE_S / hop_s))
    for scene, p, score in zip(scenes, probabilities, scene_scores(scenes, probabilities)):
        moving = debounce(score >= settings.alarm_threshold, settings.confirm_frames, settings.release_frames)
        start, stop = spans(scene.target == CLASSES.index("major"))
        for a, b, hit in zip(start, stop, events_hit(start, stop, moving, tolerance)):
            if hit:
                continue
            span = slice(a, min(b + tolerance, len(score)))
            others = ", ".join(sorted(set(scene.nonhuman[a:b].tolist()) - {"none"})) or "–"
            mean = " / ".join(f"{value:.2f}" for value in p[span].mean(axis=0))
            rows.append(f"| {scene.spec.name} {scene.spec.seed} | {a * hop_s:.1f} | {(b - a) * hop_s:.1f} "
                        f"| {np.nanmedian(scene.distance_m[a:b]):.1f} | {others} | {score[span].max():.2f} | {mean} |")
    return rows


def equal_detection(scores: list[np.ndarray], scenes: list[SceneData], levels: list[float], hop_s: float) -> list[str]:
    """Per level of walking (major) detection: the fewest false onsets per hour of any
    threshold of the evaluation's sweep that reaches it (the evaluation's rule, on all
    walking events), as "rate (threshold)", "–" if none does."""
    sweep = [stage_metrics(scores, scenes, LoopSettings(alarm_threshold=float(t)), hop_s) for t in DET_THRESHOLDS]
    curve = {"thresholds": list(DET_THRESHOLDS), "major_detected": [m["major_detected"] for m in sweep],
             "false_alarms_per_hour": [m["false_onsets_per_hour"] for m in sweep]}
    return ["–" if point["threshold"] is None else f"{point['false_alarms_per_hour']:.1f} ({point['threshold']:.2f})"
            for point in at_equal_detection(curve, tuple(levels), rate="major_detected")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--per-kind", type=int, default=24, help="validation scenes per human kind and distractor")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "uspd")
    parser.add_argument("--misses", action="store_true", help="list every walking event each model missed")
    parser.add_argument("--equal-detection", type=float, nargs="+", metavar="SHARE",
                        help="also compare at these shares of walking events detected (e.g. 0.9 0.95)")
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML config whose chain renders the rooms (e.g. docs/music/playback.toml)")
    args = parser.parse_args()
    try:
        config = load_config(args.config)
    except ConfigError as err:
        parser.error(str(err))
    hop_s, loop = config.frontend.hop_s, LoopSettings()
    validation = cached_render(labeled_set(args.per_kind, SEED_RANGES["validation"]), config, args.cache, args.workers)
    probabilities = {path: onnx_probabilities(path, validation) for path in args.models}  # each network run once
    rows = {path: stage_metrics(scene_scores(validation, p), validation, loop, hop_s)
            for path, p in probabilities.items()}
    scenarios = list(next(iter(rows.values()))["false_onsets_per_hour_by_scenario"])
    hours = next(iter(rows.values()))["empty_hours"]
    print(f"Validation rooms: {args.per_kind} per kind (seeds {SEED_RANGES['validation']:,}…), {hours:.2f} h without "
          f"human motion; false motion onsets per hour, events detected (score ≥ {loop.alarm_threshold:g} for "
          f"{loop.confirm_frames} frames, held through gaps shorter than {loop.release_frames}).\n")
    print("| model | " + " | ".join(scenarios) + " | **all** | major detected | minor detected |")
    print("|---|" + "---:|" * (len(scenarios) + 3))
    for path, m in rows.items():
        by_scenario = m["false_onsets_per_hour_by_scenario"]
        print(f"| {path} | " + " | ".join(f"{by_scenario[s]:.0f}" for s in scenarios)
              + f" | **{m['false_onsets_per_hour']:.1f}** | {100 * m['major_detected']:.1f} % | {100 * m['minor_detected']:.1f} % |")
    if args.equal_detection:
        levels = sorted(args.equal_detection)
        print("\nAt equal walking detection: false motion onsets per hour (threshold) of the sweep's best threshold "
              "that detects at least this share of walking events.\n")
        print("| model | " + " | ".join(f"≥ {100 * level:g} %" for level in levels) + " |")
        print("|---|" + "---:|" * len(levels))
        for path, p in probabilities.items():
            print(f"| {path} | " + " | ".join(equal_detection(scene_scores(validation, p), validation, levels, hop_s)) + " |")
    for path in args.models if args.misses else ():
        print(f"\nWalking events {path} missed (mean probabilities {' / '.join(CLASSES)}, from the start to the "
              f"end + {TOLERANCE_S:g} s):\n")
        print("| scene, seed | start (s) | length (s) | distance (m) | non-human activity | highest score | mean probabilities |")
        print("|---|---:|---:|---:|---|---:|---|")
        print("\n".join(missed_walks(validation, probabilities[path], loop, hop_s)))


if __name__ == "__main__":
    main()
