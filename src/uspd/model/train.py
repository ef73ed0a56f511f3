"""Training the motion network on rendered scenes (CPU; a GPU is used if torch sees one).

Each epoch cuts every training scene into crops of ``crop_frames`` at a random offset;
each crop is preceded by ``context_frames`` of the scene before it (zeros at the scene's
start, the same as a fresh stream's state), which the loss skips, so every scored frame
sees the full receptive field as it would live. The loss is class-weighted cross entropy
(weights ∝ frequency^-½: human motion is a small share of frames) over frames with data.

The checkpoint kept is the epoch with the fewest false alarms on validation rooms (frames
of empty-room scenes scoring over the minor threshold) among those that still detect at
least ``min_major_recall`` of major-motion frames (or, if none does, the best at that) —
false alarms first, as a presence sensor's users judge it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from uspd.detect.neural import CLASSES, motion_score
from uspd.model.data import SceneData
from uspd.model.network import MotionNet

IGNORE = -1  # target of frames the loss skips


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 24
    batch: int = 32
    crop_frames: int = 256
    context_frames: int = 128  # ≥ the network's receptive field − 1
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    minor_threshold: float = 0.35  # validation: a frame this high counts as motion
    min_major_recall: float = 0.8  # validation frames (edges included): checkpoints below it are kept only if none reach it


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    train_loss: float
    major_recall: float  # validation major-motion frames at or over the minor threshold
    minor_recall: float
    false_frames_per_hour: float  # validation frames without human motion over the threshold
    seconds: float


def crops(scenes: list[SceneData], crop: int, context: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every scene cut at a random offset → inputs (n, n_bins, context + crop) float32 and
    targets (n, context + crop) int64 with IGNORE on context and missing frames."""
    xs, ys = [], []
    for scene in scenes:
        n, n_bins = scene.features.shape
        x = np.concatenate([np.zeros((context, n_bins), np.float16), scene.features])
        y = np.concatenate([np.full(context, IGNORE), np.where(scene.missing, IGNORE, scene.target)])
        for start in range(-int(rng.integers(crop)), n, crop):
            a, b = max(start, 0), min(start + crop, n)
            window_x = x[a:b + context]
            window_y = y[a:b + context].copy()
            window_y[:context] = IGNORE
            pad = crop + context - len(window_x)
            xs.append(np.pad(window_x, ((0, pad), (0, 0))))
            ys.append(np.pad(window_y, (0, pad), constant_values=IGNORE))
    return np.stack(xs).transpose(0, 2, 1).astype(np.float32), np.stack(ys).astype(np.int64)


def class_weights(scenes: list[SceneData]) -> torch.Tensor:
    counts = np.bincount(np.concatenate([s.target[~s.missing] for s in scenes]), minlength=len(CLASSES))
    weights = (counts.sum() / np.maximum(counts, 1)) ** 0.5
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def predict(model: MotionNet, scenes: list[SceneData], device: torch.device | str = "cpu") -> list[np.ndarray]:
    """Class probabilities (n_frames, classes) of every scene, each run from a fresh state."""
    model.eval()
    out = []
    with torch.no_grad():
        for scene in scenes:
            x = torch.as_tensor(scene.features.T[None].astype(np.float32), device=device)
            out.append(torch.softmax(model(x)[0], dim=1)[0].T.cpu().numpy())
    return out


def validate(model: MotionNet, scenes: list[SceneData], threshold: float,
             device: torch.device | str = "cpu") -> tuple[float, float, float]:
    """Major recall, minor recall and false frames per hour of data at ``threshold``."""
    over, truth = [], []
    for scene, probabilities in zip(scenes, predict(model, scenes, device)):
        keep = ~scene.missing
        over.append(motion_score(probabilities)[keep] >= threshold)
        truth.append(scene.target[keep])
    over, truth = np.concatenate(over), np.concatenate(truth)
    human = (truth == CLASSES.index("minor")) | (truth == CLASSES.index("major"))
    hours = len(truth) * 0.02 / 3600.0

    def recall(label: str) -> float:
        mask = truth == CLASSES.index(label)
        return float(over[mask].mean()) if mask.any() else float("nan")

    return recall("major"), recall("minor"), float((over & ~human).sum() / hours)


def train(train_scenes: list[SceneData], validation: list[SceneData], settings: TrainSettings = TrainSettings(),
          on_epoch: Callable[[EpochReport], None] | None = None) -> tuple[MotionNet, list[EpochReport]]:
    """Train from ``settings.seed``; return the kept checkpoint and every epoch's report."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = MotionNet().to(device)
    weights = class_weights(train_scenes).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.epochs * _batches(train_scenes, settings))
    best, best_key, reports = copy.deepcopy(model.state_dict()), None, []
    for epoch in range(settings.epochs):
        started = time.perf_counter()
        model.train()
        x, y = crops(train_scenes, settings.crop_frames, settings.context_frames, rng)
        order = rng.permutation(len(x))
        losses = []
        for i in range(0, len(order), settings.batch):
            batch = order[i:i + settings.batch]
            logits = model(torch.as_tensor(x[batch], device=device))[0]
            loss = F.cross_entropy(logits, torch.as_tensor(y[batch], device=device), weight=weights, ignore_index=IGNORE)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule.last_epoch + 1 < schedule.total_steps:
                schedule.step()
            losses.append(loss.item())
        major, minor, false_per_h = validate(model, validation, settings.minor_threshold, device)
        report = EpochReport(epoch, float(np.mean(losses)), major, minor, false_per_h, time.perf_counter() - started)
        reports.append(report)
        if on_epoch:
            on_epoch(report)
        meets = major >= settings.min_major_recall
        key = (not meets, false_per_h if meets else -major, -minor)  # unmet: the best recall so far
        if best_key is None or key < best_key:
            best, best_key = copy.deepcopy(model.state_dict()), key
    model.load_state_dict(best)
    return model.cpu().eval(), reports


def _batches(scenes: list[SceneData], settings: TrainSettings) -> int:
    """An upper bound on batches per epoch (crops vary a little with the random offsets)."""
    crops_max = sum(len(s) // settings.crop_frames + 2 for s in scenes)
    return -(-crops_max // settings.batch)
