"""Tune the presence machine's thresholds for one detector on tuning seeds, fairly.

    python benchmarks/tune_presence.py --detector neural --out docs/evaluation/presence-tuning-neural.md

The presence thresholds live on the detector's score scale, so each detector needs its
own. This renders the evaluation's scene plan (every human kind, every distractor row)
with tuning seeds from 1000 (never the held-out seeds ≥ 1,000,000, never a training
set's), runs the detector once per scene and caches its scores, then replays every
candidate presence setting through the presence machine and scores it with the
evaluation's own summary. A candidate qualifies if it raises no more false `occupied`
events per hour than the current setting and sees as much walking; the best qualifying
one by presence over occupied time is printed; a setting worth taking goes into the
config's defaults by hand, and `uspd evaluate` then judges it on held-out rooms.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from uspd.config import Config, PresenceConfig
from uspd.detect.pipeline import DETECTORS, LEAVING_M_S
from uspd.detect.presence import Presence
from uspd.evaluate import HELD_OUT_SEED_START, EvaluationSettings, SceneFrames, SceneJob, plan_scenes, summarize
from uspd.parallel import map_jobs
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_doppler, scene_spectrogram
from uspd.sim.scenarios import build_scene

TUNING_SEED = 1000
GRID = {  # candidate settings; every ordered combination is replayed
    "minor_threshold": (0.2, 0.25, 0.3, 0.35, 0.45, 0.55, 0.65),
    "sensitive_threshold": (0.1, 0.15, 0.25),
    "minor_occupy_s": (1.0, 1.5, 2.0),
    "major_threshold": (0.5, 0.6, 0.7, 0.8),
}


@dataclass(frozen=True)
class Scored:
    """One tuning scene's detector scores beside its ground truth, aligned to the hops."""

    job: SceneJob
    array: str
    carrier_hz: float
    level_dbfs: float
    time_s: np.ndarray
    score: np.ndarray
    leaving: np.ndarray
    truth_motion: np.ndarray
    truth_occupied: np.ndarray
    distance_m: np.ndarray


def _score(job: SceneJob, detector: str, model: Path | None = None) -> Scored:
    config = Config() if model is None else Config.model_validate({"detect": {"model": str(model)}})
    scene = build_scene(job.name, job.seed, duration_s=job.duration_s, array=job.array)
    spectrogram = scene_spectrogram(scene, config)
    chain = DETECTORS[detector](config, spectrogram.velocity_m_s)
    parts = [(chain.process(power), times) for power, times in iter_doppler(scene, config, spectrogram)]
    time_s = np.concatenate([t for _, t in parts])
    score = np.concatenate([f.score for f, _ in parts])
    leaving = np.concatenate([f.centroid_m_s for f, _ in parts]) < -LEAVING_M_S
    truth = label_scene(scene, config.frontend.hop_s)
    keep, row = truth.rows_at(time_s, config.frontend.hop_s)
    return Scored(job, scene.device.array, scene.carrier_hz, scene.level_dbfs, time_s[keep], score[keep],
                  leaving[keep], truth.motion[row], truth.occupied[row].astype(bool), truth.person_distance_m[row])


def _replay(scene: Scored, presence: PresenceConfig) -> SceneFrames:
    motion, occupied, _ = Presence(presence).process(scene.time_s, scene.score, scene.leaving)
    return SceneFrames(scene.job, scene.array, scene.carrier_hz, scene.level_dbfs, scene.time_s,
                       scene.score.astype(np.float32), motion != "none", occupied.astype(bool), scene.truth_motion,
                       scene.truth_occupied, scene.distance_m.astype(np.float32))


def _judge(scenes: list[Scored], presence: PresenceConfig, settings: EvaluationSettings) -> dict:
    summary = summarize([_replay(s, presence) for s in scenes], settings, Config(presence=presence))
    everything = summary["false_alarms"][-1]
    return {
        "walking": summary["detection"]["major"]["rate"],
        "minor": summary["detection"]["minor"]["rate"],
        "onsets_per_h": everything["motion"]["per_hour"],
        "occupied_per_h": everything["occupied"]["per_hour"],
        "presence": summary["presence"]["all_human_scenes"]["occupied_accuracy"],
        "per_kind": {kind: v["occupied_accuracy"] for kind, v in summary["presence"]["per_kind"].items()},
    }


def _row(name: str, r: dict) -> str:
    kinds = " | ".join(f"{v:.0%}" if v is not None else "–" for v in r["per_kind"].values())
    return (f"| {name} | {r['walking']:.1%} | {r['minor']:.1%} | {r['onsets_per_h']:.0f} | "
            f"{r['occupied_per_h']:.1f} | {r['presence']:.1%} | {kinds} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="neural")
    parser.add_argument("--model", type=Path, default=None, help="the neural detector's ONNX file (default: the shipped one)")
    parser.add_argument("--scenes-per-kind", type=int, default=8)
    parser.add_argument("--hours", type=float, default=1.0, help="hours of empty-room distractor scenes")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    settings = EvaluationSettings(hours=args.hours, scenes_per_kind=args.scenes_per_kind)
    jobs = [replace(job, seed=job.seed - HELD_OUT_SEED_START + TUNING_SEED) for job in plan_scenes(settings)]
    assert max(job.seed for job in jobs) < HELD_OUT_SEED_START
    scenes = map_jobs(partial(_score, detector=args.detector, model=args.model), jobs, args.workers, cost=lambda job: job.duration_s,
                      on_done=lambda job, _: print(f"scored {job.name} {job.seed}", flush=True))

    current = Config().presence
    baseline = _judge(scenes, current, settings)
    candidates = []
    for values in itertools.product(*GRID.values()):
        update = dict(zip(GRID, values))
        if not update["sensitive_threshold"] <= update["minor_threshold"] <= update["major_threshold"]:
            continue
        candidate = PresenceConfig.model_validate({**current.model_dump(), **update})
        candidates.append((update, _judge(scenes, candidate, settings)))
        print(update, {k: v for k, v in candidates[-1][1].items() if k != "per_kind"}, flush=True)
    qualified = [(u, r) for u, r in candidates
                 if r["occupied_per_h"] <= baseline["occupied_per_h"] and r["walking"] >= baseline["walking"]]
    qualified.sort(key=lambda c: (-c[1]["presence"], c[1]["occupied_per_h"], c[1]["onsets_per_h"]))

    hours = sum(s.job.duration_s for s in scenes if not s.job.is_human) / 3600.0
    header = ("| setting | walking seen | minor seen | false onsets / h | false occupied / h | presence | "
              + " | ".join(baseline["per_kind"]) + " |")
    lines = [
        f"Presence tuning for the `{args.detector}` detector on tuning seeds from {TUNING_SEED}: "
        f"{args.scenes_per_kind} scenes per human kind, {hours:.2f} h of empty rooms. Command: "
        f"`python benchmarks/tune_presence.py --detector {args.detector}"
        f"{'' if args.model is None else f' --model {args.model}'} --scenes-per-kind {args.scenes_per_kind} "
        f"--hours {args.hours:g}`.",
        "",
        f"Current setting: {', '.join(f'{k} {getattr(current, k):g}' for k in GRID)}. Candidates that raise no "
        "more false `occupied` per hour and see as much walking, best presence first "
        f"({len(qualified)} of {len(candidates)} qualify; the 10 best shown):",
        "",
        header,
        "|---|" + "---:|" * (5 + len(baseline["per_kind"])),
        _row("current", baseline),
        *(_row(", ".join(f"{k} {v:g}" for k, v in u.items()), r) for u, r in qualified[:10]),
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
