"""Can the network's own P(non-human) veto motion? Scores gated by it on the validation rooms,
swept over the alarm threshold: false motion onsets per hour in empty rooms against event
detection, plain score and gated scores side by side.

Pets and the robot vacuum make most of the shipped model's false alarms, and the network
has a non-human class. Gating multiplies the motion score by (1 − k·g), clipped to [0, 1],
where g is an exponential average (time constant τ) of either P(non-human) itself
("scale") or its share of P(non-human) + P(minor) + P(major) ("share"). A gate earns its
place only if, at equal major-motion detection, it has fewer false onsets than the plain
score at a higher threshold.

    python benchmarks/nonhuman_gate.py --per-kind 24 --workers 2 --cache ~/.cache/uspd
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import signal

from uspd.config import Config
from uspd.detect.neural import CLASSES, default_model_path, motion_score
from uspd.model.data import SEED_RANGES, labeled_set
from uspd.model.loop import LoopSettings, cached_render, stage_metrics
from validate_models import onnx_probabilities

THRESHOLDS = (0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9)
GATES = ((None, 0.0, 0.0), ("scale", 0.5, 1.0), ("scale", 0.5, 2.0), ("share", 0.5, 1.0), ("share", 2.0, 1.0),
         ("share", 2.0, 2.0))  # (kind, τ in s, k); None: the plain score


def gated_score(probabilities: np.ndarray, gate: str | None, tau_s: float, k: float, hop_s: float) -> np.ndarray:
    """Motion score (n_frames,) times (1 − k·g), g the averaged non-human evidence (see module docstring)."""
    score = motion_score(probabilities).astype(float)
    if gate is None:
        return score
    alpha = 1.0 - np.exp(-hop_s / tau_s)

    def average(x: np.ndarray) -> np.ndarray:
        return signal.lfilter([alpha], [1.0, alpha - 1.0], x)

    nonhuman = average(probabilities[:, CLASSES.index("nonhuman")])
    if gate == "share":
        human = average(probabilities[:, CLASSES.index("minor")] + probabilities[:, CLASSES.index("major")])
        nonhuman = nonhuman / (nonhuman + human + 1e-6)
    return score * np.clip(1.0 - k * nonhuman, 0.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--per-kind", type=int, default=24, help="validation scenes per human kind and distractor")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "uspd")
    args = parser.parse_args()
    config = Config()
    hop_s = config.frontend.hop_s
    validation = cached_render(labeled_set(args.per_kind, SEED_RANGES["validation"]), config, args.cache, args.workers)
    probabilities = onnx_probabilities(args.model, validation)
    print(f"Validation rooms, {args.per_kind} per kind (seeds {SEED_RANGES['validation']:,}…), {args.model.name}: "
          "false motion onsets per hour in empty rooms / major events detected, at each alarm threshold "
          f"({LoopSettings().confirm_frames} frames).\n")
    print("| gate | τ (s) | k | " + " | ".join(f"≥ {t}" for t in THRESHOLDS) + " |")
    print("|---|---:|---:|" + "---:|" * len(THRESHOLDS))
    for gate, tau_s, k in GATES:
        scores = [np.where(scene.missing, 0.0, gated_score(p, gate, tau_s, k, hop_s))
                  for scene, p in zip(validation, probabilities)]
        cells = []
        for threshold in THRESHOLDS:
            m = stage_metrics(scores, validation, replace(LoopSettings(), alarm_threshold=threshold), hop_s)
            cells.append(f"{m['false_onsets_per_hour']:.0f} / {100 * m['major_detected']:.1f} %")
        settings = f"{gate} | {tau_s:g} | {k:g}" if gate else "none (shipped) | – | –"
        print(f"| {settings} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
