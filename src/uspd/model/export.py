"""Export the trained network to ONNX (float32) and quantize it to int8 for onnxruntime.

The exported graph is the streaming step: inputs ``features`` (1, n_bins, n_frames, any
n_frames ≥ 1) and ``state0…`` (each convolution's past inputs); outputs ``probabilities``
(1, classes, n_frames) and ``next_state0…``. One hop or a whole recording per call, the
same numbers. Metadata (feature grid, classes, training command) travel inside the file,
so the run-time detector refuses a model made for other features.

Quantization covers the convolutions, where all the multiply-adds are: int8 weights
(ConvInteger) and activations quantized per call with their own range. Dynamic ranges
suit a streaming net whose inputs swing from a quiet room to a person at arm's length
(static ranges calibrated on training rooms put the probabilities 3–5× further from
the float model's); softmax,
residual additions and state concatenations stay float, so scores move smoothly.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch

from uspd.detect.features import MAX_SPEED_M_S, N_BINS
from uspd.detect.neural import CLASSES
from uspd.model.network import MotionNet

OPSET = 17


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


def quantize_int8(fp32_path: Path, int8_path: Path) -> Path:
    """Int8 convolutions: weights quantized once, activations per call (dynamic ranges)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QUInt8, op_types_to_quantize=["Conv"])
    metadata = {p.key: p.value for p in onnx.load(str(fp32_path)).metadata_props}
    _set_metadata(int8_path, {**metadata, "quantization": "int8 convolutions (ConvInteger), dynamic activation ranges"})
    return int8_path


def save_model(net: MotionNet, out_dir: Path, name: str, metadata: dict[str, str]) -> tuple[Path, Path]:
    """``name.fp32.onnx`` (what the detector runs by default: exact whatever the block
    size) and ``name.int8.onnx`` in ``out_dir``."""
    fp32 = export_onnx(net, out_dir / f"{name}.fp32.onnx", metadata)
    return fp32, quantize_int8(fp32, out_dir / f"{name}.int8.onnx")
