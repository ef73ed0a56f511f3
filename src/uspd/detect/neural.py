"""The neural motion detector at run time: Doppler frames → features → ONNX network →
class probabilities → one motion score per hop.

The network (trained by ``uspd train``, see :mod:`uspd.model`) is causal and carries its
own state between calls, so a recording processed in one call and a live stream fed one
hop at a time give the same scores. Only onnxruntime and NumPy are needed here; torch is
for training.

The score handed to the presence machine is the expected motion level — 0 for none (or a
non-human mover), ½ for minor, 1 for major — so the presence thresholds keep their
meaning: a confident seated page turn scores ~0.5 (minor), a walk ~1 (major).

>>> detector = NeuralDetector(front.velocity_m_s, hop_s=0.02)   # the shipped model
>>> frames = detector.process(power)                            # .score, .centroid_m_s, .probabilities
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import signal

from uspd.detect.features import DB_SCALE, N_BINS, DopplerFeatures, grid_m_s

CLASSES = ("none", "minor", "major", "nonhuman")  # network outputs, in this order
DEFAULT_MODEL = "motion.fp32.onnx"  # in uspd/models; motion.int8.onnx beside it (see docs/detector.md)
CENTROID_DB = 6.0  # grid bins this far over their floor weigh in the Doppler centroid
NOTCH_M_S = 0.15  # slower bins are clutter and breathing: left out of the centroid
CENTROID_S = 0.5  # memory of the Doppler centroid (leaving hint)


def default_model_path() -> Path:
    return Path(str(resources.files("uspd") / "models" / DEFAULT_MODEL))


def model_file(model_path: Path | str | None) -> Path:
    """The network file a ``[detect] model`` setting names: the shipped one when unset."""
    return Path(model_path) if model_path is not None else default_model_path()


def motion_score(probabilities: np.ndarray) -> np.ndarray:
    """Class probabilities (n_frames, classes) → expected motion level in [0, 1]."""
    return probabilities[:, CLASSES.index("major")] + 0.5 * probabilities[:, CLASSES.index("minor")]


@dataclass(frozen=True)
class NeuralFrames:
    """Per-frame outputs of shape (n_frames,) or (n_frames, classes)."""

    score: np.ndarray
    centroid_m_s: np.ndarray  # radial velocity of the recent Doppler energy (m/s); + approaching
    probabilities: np.ndarray


class NeuralDetector:
    """Streaming detector over Doppler power frames (n_frames, n_velocity).

    State: the feature floor and the network's convolution state. A frame without data
    (tone paused) scores 0 and restarts a ``warmup_s`` during which scores stay 0, as the
    feature floor re-learns the room.
    """

    def __init__(self, velocity_m_s: np.ndarray, hop_s: float, model_path: Path | None = None,
                 warmup_s: float = 1.0, threads: int = 1) -> None:
        import onnxruntime

        path = model_file(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"no model at {path}: make one with `uspd mine` or use --detector baseline")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if int(meta.get("n_bins", -1)) != N_BINS or meta.get("classes") != ",".join(CLASSES):
            raise ValueError(f"{path} was made for other features or classes ({meta}); retrain it with `uspd train`")
        self.model_path = path
        inputs = self.session.get_inputs()
        self._state_inputs = [i for i in inputs if i.name.startswith("state")]
        self._features = DopplerFeatures(velocity_m_s, hop_s)
        self._grid = grid_m_s()
        self._outside = np.abs(self._grid) >= NOTCH_M_S
        self._warmup_frames = int(np.ceil(warmup_s / hop_s))
        self._alpha = 1.0 - np.exp(-hop_s / CENTROID_S)
        self.reset()

    def reset(self) -> None:
        self._features.reset()
        self._state = {i.name: np.zeros(i.shape, dtype=np.float32) for i in self._state_inputs}
        self._blind = self._warmup_frames
        self._moment, self._energy = 0.0, 0.0

    def process(self, power: np.ndarray) -> NeuralFrames:
        x, missing = self._features.process(power)
        n = len(x)
        if n == 0:
            return NeuralFrames(np.zeros(0), np.zeros(0), np.zeros((0, len(CLASSES)), dtype=np.float32))
        outputs = self.session.run(None, {"features": x.T[None], **self._state})
        probabilities = outputs[0][0].T
        self._state = {i.name: value for i, value in zip(self._state_inputs, outputs[1:])}
        score = motion_score(probabilities).astype(float)
        score[self._blind_frames(missing)] = 0.0
        return NeuralFrames(score, self._centroid(x), probabilities)

    def _centroid(self, x: np.ndarray) -> np.ndarray:
        """Radial velocity of the last ``CENTROID_S`` of Doppler energy: bins well over their
        floor, weighted by their excess, averaged with an exponential memory. The
        network's score fades over a few hops after a person walks out, when their
        Doppler is already gone; those hops still read as leaving."""
        weight = np.clip(x[:, self._outside] * DB_SCALE - CENTROID_DB, 0.0, None)
        moment, energy = weight @ self._grid[self._outside], weight.sum(axis=1)
        # exponential memory y_i = α·x_i + (1 − α)·y_{i−1}, carried across calls as the filter state
        state = (1.0 - self._alpha) * np.array([[self._moment], [self._energy]])
        (moment, energy), _ = signal.lfilter([self._alpha], [1.0, self._alpha - 1.0], [moment, energy], zi=state)
        self._moment, self._energy = float(moment[-1]), float(energy[-1])
        return np.divide(moment, energy, out=np.zeros(len(x)), where=energy > 1e-3)

    def _blind_frames(self, missing: np.ndarray) -> np.ndarray:
        """(n_frames,) True where the score is held at 0: frames without data, and the
        warm-up after the stream's start or a gap (``_blind`` frames with data still to go)."""
        index = np.arange(len(missing))
        last_gap = np.maximum.accumulate(np.where(missing, index, -1))
        left = np.where(last_gap >= 0, self._warmup_frames - (index - last_gap - 1), self._blind - index)
        blind = missing | (left > 0)
        self._blind = self._warmup_frames if missing[-1] else max(int(left[-1]) - 1, 0)
        return blind
