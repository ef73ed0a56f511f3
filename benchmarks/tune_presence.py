"""Tune the presence machine's thresholds, and choose between networks, on tuning seeds.

    python benchmarks/tune_presence.py --detector neural --out docs/evaluation/presence-tuning-neural.md
    python benchmarks/tune_presence.py --model src/uspd/models/motion.fp32.onnx --model NEW.onnx \
        --scenes-per-kind 24 --hours 6 --workers 2
    python benchmarks/tune_presence.py ... --model NEW.onnx@docs/music/playback.toml   # its frames from that chain

The presence thresholds live on the detector's score scale, so each detector needs its
own. This renders the evaluation's scene plan (every human kind, every distractor row)
with tuning seeds from 1000 (never the held-out seeds ≥ 1,000,000, never a training
set's) once, runs each network on every scene and caches the scores, then replays every
candidate presence setting through the presence machine and scores it with the
evaluation's own summary.

The rule (docs/evaluation.md, "Presence thresholds for the network"): the reference is
the first network at the current setting. A (network, setting) pair qualifies if it is no
worse than the reference on every one of walking seen, minor motion seen, false motion
onsets per hour, false `occupied` per hour, presence over occupied time, and arrivals
never reported occupied. Among those, the fewest false `occupied` per hour wins, then the
fewest false onsets, then the best presence. A winner goes into the config's defaults
(and the package's model) by hand, and `uspd evaluate` then judges it on held-out rooms.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from uspd.config import Config, ConfigError, PresenceConfig, load_config
from uspd.detect.pipeline import DETECTORS, LEAVING_M_S
from uspd.detect.presence import Presence
from uspd.evaluate import HELD_OUT_SEED_START, EvaluationSettings, SceneFrames, SceneJob, plan_scenes, summarize
from uspd.parallel import map_jobs
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_chains_doppler, scene_spectrogram
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


@dataclass(frozen=True)
class Network:
    """A network and the chain its frames come from: ``--model PATH[@CONFIG.toml]``."""

    model: Path | None  # None: the shipped one
    chain: Path | None = None  # a config whose [frontend] makes its frames (e.g. the playback canceller on)

    @classmethod
    def parse(cls, text: str) -> Network:
        model, _, chain = text.rpartition("@") if text.endswith(".toml") and "@" in text else (text, "", "")
        return cls(Path(model), Path(chain) if chain else None)

    @property
    def name(self) -> str:
        return "shipped" if self.model is None else str(self.model) + (f" @ {self.chain}" if self.chain else "")

    def config(self) -> Config:
        config = load_config(self.chain)
        return config if self.model is None else config.model_copy(
            update={"detect": config.detect.model_copy(update={"model": str(self.model)})})


def _score(job: SceneJob, detector: str, networks: tuple[Network, ...]) -> list[Scored]:
    """Render the scene once and run each network over it, through its own chain (one entry
    per network, in order; networks on the same chain share its frames)."""
    scene = build_scene(job.name, job.seed, duration_s=job.duration_s, array=job.array)
    config = Config()
    configs = [network.config() for network in networks]
    spectrograms = {c.frontend: scene_spectrogram(scene, c) for c in configs}  # one per distinct chain
    velocity_m_s = next(iter(spectrograms.values())).velocity_m_s
    truth = label_scene(scene, config.frontend.hop_s)
    chains = [(DETECTORS[detector](c, velocity_m_s), c.frontend) for c in configs]
    parts = []
    for frames in iter_chains_doppler(scene, config.simulation, spectrograms):
        times = next(iter(frames.values()))[1]
        parts.append((times, [chain.process(frames[frontend][0]) for chain, frontend in chains]))
    time_s = np.concatenate([t for t, _ in parts])
    keep, row = truth.rows_at(time_s, config.frontend.hop_s)
    scored = []
    for i in range(len(chains)):
        score = np.concatenate([frames[i].score for _, frames in parts])
        leaving = np.concatenate([frames[i].centroid_m_s for _, frames in parts]) < -LEAVING_M_S
        scored.append(Scored(job, scene.device.array, scene.carrier_hz, scene.level_dbfs, time_s[keep], score[keep],
                             leaving[keep], truth.motion[row], truth.occupied[row].astype(bool),
                             truth.person_distance_m[row]))
    return scored


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
        "never_occupied": summary["latency"]["occupied"]["missed"],
        "arrival_median_s": summary["latency"]["occupied"]["median_s"],
        "per_kind": {kind: v["occupied_accuracy"] for kind, v in summary["presence"]["per_kind"].items()},
        "by_row": {row["distractor"]: (row["hours"], row["occupied"]["count"], row["motion"]["count"])
                   for row in summary["false_alarms"][:-1]},  # distractor → hours, false occupied, false onsets
    }


def qualifies(result: dict, reference: dict) -> bool:
    """No worse than the reference on every measure the rule names."""
    return (result["walking"] >= reference["walking"] and result["minor"] >= reference["minor"]
            and result["onsets_per_h"] <= reference["onsets_per_h"]
            and result["occupied_per_h"] <= reference["occupied_per_h"]
            and result["presence"] >= reference["presence"]
            and result["never_occupied"] <= reference["never_occupied"])


def rank_key(result: dict) -> tuple:
    """Fewest false `occupied`, then fewest false onsets, then best presence."""
    return result["occupied_per_h"], result["onsets_per_h"], -result["presence"]


def _row(name: str, setting: str, r: dict) -> str:
    kinds = " | ".join(f"{v:.0%}" if v is not None else "–" for v in r["per_kind"].values())
    arrival = "–" if r["arrival_median_s"] is None else f"{r['arrival_median_s']:.2f} s"
    return (f"| {name} | {setting} | {r['walking']:.1%} | {r['minor']:.1%} | {r['onsets_per_h']:.1f} | "
            f"{r['occupied_per_h']:.2f} | {r['presence']:.1%} | {r['never_occupied']} | {arrival} | {kinds} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="neural")
    parser.add_argument("--model", type=Network.parse, action="append", default=None, metavar="PATH[@CONFIG.toml]",
                        help="a neural detector's ONNX file, with the config whose [frontend] makes its frames after "
                             "@ (default: the package's); repeat to compare networks, the first is the reference "
                             "(default: the shipped one)")
    parser.add_argument("--scenes-per-kind", type=int, default=8)
    parser.add_argument("--hours", type=float, default=1.0, help="hours of empty-room distractor scenes")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--config", type=Path, default=None,
                        help="a TOML config whose [presence] is the current setting (default: the package's defaults)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    networks = tuple(args.model or [Network(None)])
    if args.detector != "neural" and args.model:
        parser.error("--model applies to the neural detector only")
    for network in networks:
        if network.model is not None and not network.model.is_file():
            parser.error(f"no network file at {network.model}")
    try:
        current = load_config(args.config).presence
        for network in networks:
            network.config()
    except ConfigError as err:
        parser.error(str(err))

    settings = EvaluationSettings(hours=args.hours, scenes_per_kind=args.scenes_per_kind)
    jobs = [replace(job, seed=job.seed - HELD_OUT_SEED_START + TUNING_SEED) for job in plan_scenes(settings)]
    assert max(job.seed for job in jobs) < HELD_OUT_SEED_START
    per_job = map_jobs(partial(_score, detector=args.detector, networks=networks), jobs, args.workers,
                       cost=lambda job: job.duration_s,
                       on_done=lambda job, _: print(f"scored {job.name} {job.seed}", flush=True))

    results = []  # (network, setting, result); the first is the reference
    for i, network in enumerate(networks):
        scenes = [scored[i] for scored in per_job]
        results.append((network.name, "current", _judge(scenes, current, settings)))
        for values in itertools.product(*GRID.values()):
            update = dict(zip(GRID, values))
            if not update["sensitive_threshold"] <= update["minor_threshold"] <= update["major_threshold"]:
                continue
            candidate = PresenceConfig.model_validate({**current.model_dump(), **update})
            setting = ", ".join(f"{k} {v:g}" for k, v in update.items())
            results.append((network.name, setting, _judge(scenes, candidate, settings)))
            print(results[-1][0], setting, {k: v for k, v in results[-1][2].items() if not isinstance(v, dict)},
                  flush=True)
    reference = results[0][2]
    qualified = sorted((r for r in results[1:] if qualifies(r[2], reference)), key=lambda r: rank_key(r[2]))

    hours = sum(job.duration_s for job in jobs if not job.is_human) / 3600.0
    command = " ".join(["python benchmarks/tune_presence.py", f"--detector {args.detector}",
                        *(f"--model {m.model}" + (f"@{m.chain}" if m.chain else "") for m in args.model or []),
                        *([f"--config {args.config}"] if args.config else []),
                        f"--scenes-per-kind {args.scenes_per_kind}", f"--hours {args.hours:g}"])
    header = ("| network | setting | walking seen | minor seen | false onsets / h | false occupied / h | presence | "
              "arrivals never occupied | arrival → occupied, median | " + " | ".join(reference["per_kind"]) + " |")
    lines = [
        f"Presence tuning for the `{args.detector}` detector on tuning seeds from {TUNING_SEED}: "
        f"{args.scenes_per_kind} scenes per human kind, {hours:.2f} h of empty rooms. Command: `{command}`.",
        "",
        f"Current setting: {', '.join(f'{k} {getattr(current, k):g}' for k in GRID)}. The reference is "
        f"{results[0][0]} at the current setting. Pairs no worse than it on walking seen, minor seen, false onsets, "
        "false `occupied`, presence and arrivals never occupied, fewest false `occupied` first, then fewest false "
        f"onsets, then best presence ({len(qualified)} of {len(results) - 1} qualify; the 10 best shown):",
        "",
        header,
        "|---|---|" + "---:|" * (7 + len(reference["per_kind"])),
        *(_row(name, setting, r) for name, setting, r in results if setting == "current"),
        *(_row(name, setting, r) for name, setting, r in qualified[:10]),
        "",
        "Where each network's false `occupied` events (and false motion onsets) come from at the current setting, "
        "per distractor row of the evaluation (counts):",
        "",
        "| distractor | hours | " + " | ".join(name for name, setting, _ in results if setting == "current") + " |",
        "|---|---:|" + "---:|" * len(networks),
        *(f"| {row} | {hours:.3g} | " + " | ".join(f"{r['by_row'][row][1]} ({r['by_row'][row][2]})"
                                                   for _, setting, r in results if setting == "current") + " |"
          for row, (hours, _, _) in reference["by_row"].items()),
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
