"""Export the trained network to ONNX (float32) and quantize it to int8 for onnxruntime.

The exported graph is the streaming step: inputs ``features`` (1, n_bins, n_frames, any
n_frames ≥ 1) and ``state0…`` (each convolution's past inputs); outputs ``probabilities``
(1, classes, n_frames) and ``next_state0…``. One hop or a whole recording per call, the
same numbers. Metadata (feature grid, classes, training command) travel inside the file,
so the run-time detector refuses a model made for other features.

Quantization is static (QDQ, int8 weights per channel, int8 activations) and covers the
convolutions, where all the multiply-adds are; the softmax, residual additions and state
concatenations stay float, so scores move smoothly with their input. It is calibrated on
feature frames of training scenes fed through the float model hop block by hop block, so
the state inputs see the values they take live.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from uspd.detect.features import MAX_SPEED_M_S, N_BINS
from uspd.detect.neural import CLASSES
from uspd.model.data import SceneData
from uspd.model.network import MotionNet

OPSET = 17
CALIBRATION_BLOCK_FRAMES = 50  # hops per calibration call (1 s)


class _Streaming(torch.nn.Module):
    """The network with a softmax on its logits: what the detector runs."""

    def __init__(self, net: MotionNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, *next_state = self.net(features, *state)
        return (torch.softmax(logits, dim=1), *next_state)


def state_names(net: MotionNet) -> list[str]:
    return [f"state{i}" for i in range(len(net.state_shapes()))]


def export_onnx(net: MotionNet, path: Path, metadata: dict[str, str]) -> Path:
    """Write the float32 streaming graph to ``path`` with ``metadata`` (plus the feature
    grid and classes) in its metadata properties."""
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.cpu().eval()
    names = state_names(net)
    example = (torch.zeros(1, N_BINS, 8), *net.initial_state())
    torch.onnx.export(
        _Streaming(net), example, str(path), input_names=["features", *names],
        output_names=["probabilities", *(f"next_{n}" for n in names)],
        dynamic_axes={"features": {2: "frames"}, "probabilities": {2: "frames"}},
        opset_version=OPSET, dynamo=False,
    )
    _set_metadata(path, metadata)
    return path


def _set_metadata(path: Path, metadata: dict[str, str]) -> None:
    model = onnx.load(str(path))
    props = {"n_bins": str(N_BINS), "max_speed_m_s": str(MAX_SPEED_M_S), "classes": ",".join(CLASSES), **metadata}
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))


def calibration_inputs(fp32_path: Path, scenes: list[SceneData]) -> list[dict[str, np.ndarray]]:
    """Model inputs as the detector feeds them: each scene in 1 s blocks, the state carried."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(fp32_path), providers=["CPUExecutionProvider"])
    state_inputs = [i for i in session.get_inputs() if i.name.startswith("state")]
    feeds = []
    for scene in scenes:
        state = {i.name: np.zeros(i.shape, dtype=np.float32) for i in state_inputs}
        for a in range(0, len(scene), CALIBRATION_BLOCK_FRAMES):
            feed = {"features": scene.features[a:a + CALIBRATION_BLOCK_FRAMES].T[None].astype(np.float32), **state}
            feeds.append(feed)
            outputs = session.run(None, feed)
            state = {i.name: value for i, value in zip(state_inputs, outputs[1:])}
    return feeds


def quantize_int8(fp32_path: Path, int8_path: Path, calibration_scenes: list[SceneData]) -> Path:
    """Static int8 quantization of ``fp32_path`` calibrated on ``calibration_scenes``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
            self._feeds = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    quantize_static(
        str(fp32_path), str(int8_path), Reader(calibration_inputs(fp32_path, calibration_scenes)),
        quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        per_channel=True, op_types_to_quantize=["Conv"],
    )
    metadata = {p.key: p.value for p in onnx.load(str(fp32_path)).metadata_props}
    _set_metadata(int8_path, {**metadata, "quantization": "int8 static QDQ convolutions, per-channel weights"})
    return int8_path


def save_model(net: MotionNet, out_dir: Path, name: str, metadata: dict[str, str],
               calibration_scenes: list[SceneData]) -> tuple[Path, Path]:
    """``name.fp32.onnx`` and ``name.int8.onnx`` in ``out_dir`` (the int8 one is what the
    detector runs by default)."""
    fp32 = export_onnx(net, out_dir / f"{name}.fp32.onnx", metadata)
    return fp32, quantize_int8(fp32, out_dir / f"{name}.int8.onnx", calibration_scenes)


def calibration_subset(scenes: list[SceneData], n: int = 40, seed: int = 0) -> list[SceneData]:
    """A seeded sample of scenes for int8 calibration."""
    rng = np.random.default_rng(seed)
    return [scenes[i] for i in sorted(rng.choice(len(scenes), min(n, len(scenes)), replace=False))]
