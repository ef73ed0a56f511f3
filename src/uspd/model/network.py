"""The motion network: a small causal temporal convolution net over Doppler feature frames.

Velocity bins are the input channels; time is the convolution axis. A causal input
convolution mixes the spectrum of the last ``kernel`` frames, then residual blocks of a
dilated depthwise convolution (per channel, over time) and a pointwise one (across
channels) widen the view to ``receptive_frames`` (2.6 s at the defaults: a walking cycle,
a fan's steady pattern, a curtain's sway) while each hop costs ~24 k multiply-adds.

Causal means a frame's output uses only that frame and earlier ones, so the same network
runs over a whole recording (training, files) or one hop at a time with its state: every
convolution keeps the last (kernel − 1)·dilation inputs it saw. ``forward`` takes and
returns that state explicitly (zeros at a stream's start, the same as zero padding), which
is what the ONNX export carries between hops.
"""

from __future__ import annotations

import torch
from torch import nn

from uspd.detect.features import N_BINS
from uspd.detect.neural import CLASSES


class MotionNet(nn.Module):
    def __init__(self, n_bins: int = N_BINS, channels: int = 48, kernel: int = 3,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)) -> None:
        super().__init__()
        self.config = {"n_bins": n_bins, "channels": channels, "kernel": kernel, "dilations": list(dilations)}
        self.kernel = kernel
        self.dilations = (1, *dilations)  # the input convolution, then each block
        self.input = nn.Conv1d(n_bins, channels, kernel)
        self.depthwise = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d, groups=channels) for d in dilations)
        self.pointwise = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in dilations)
        self.head = nn.Conv1d(channels, len(CLASSES), 1)

    @property
    def receptive_frames(self) -> int:
        return 1 + sum((self.kernel - 1) * d for d in self.dilations)

    def state_shapes(self, batch: int = 1) -> list[tuple[int, int, int]]:
        """Shape of each convolution's state: (batch, its input channels, past frames)."""
        inputs = [self.input.in_channels] + [self.input.out_channels] * len(self.depthwise)
        return [(batch, c, (self.kernel - 1) * d) for c, d in zip(inputs, self.dilations)]

    def initial_state(self, batch: int = 1, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        return [torch.zeros(shape, device=device) for shape in self.state_shapes(batch)]

    def forward(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Features (batch, n_bins, n_frames) and the state → logits (batch, classes,
        n_frames) and the next state (every tensor of :meth:`state_shapes`)."""
        state = state or tuple(self.initial_state(x.shape[0], x.device))
        new_state = []

        def causal(conv: nn.Conv1d, inputs: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
            joined = torch.cat([past, inputs], dim=2)
            new_state.append(joined[:, :, joined.shape[2] - past.shape[2]:])
            return conv(joined)

        h = torch.relu(causal(self.input, x, state[0]))
        for depthwise, pointwise, past in zip(self.depthwise, self.pointwise, state[1:]):
            h = h + torch.relu(pointwise(torch.relu(causal(depthwise, h, past))))
        return (self.head(h), *new_state)

    def macs_per_frame(self) -> int:
        """Multiply-adds per hop (convolutions; additions of biases and residuals not counted)."""
        c, k = self.input.out_channels, self.kernel
        blocks = len(self.depthwise) * (c * k + c * c)
        return self.input.in_channels * c * k + blocks + c * len(CLASSES)

