"""PNG plots people would rather look at than read."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from uspd.physics import power_to_db  # noqa: E402

DYNAMIC_RANGE_DB = 50.0  # colour scale: from a little under the noise floor up by this much
_BELOW_FLOOR_DB = 6.0
MOTION_COLOURS = {"none": "#d9d9d9", "minor": "#f4a259", "major": "#c0392b"}  # the same in every plot
NONHUMAN_COLOUR, IDLE_COLOUR = "#3b7dd8", "#ffffff"


def plot_doppler(
    power: np.ndarray,
    times_s: np.ndarray,
    velocity_m_s: np.ndarray,
    out_png: Path,
    title: str = "",
    motion: np.ndarray | None = None,
    nonhuman: np.ndarray | None = None,
) -> None:
    """Doppler spectrogram (time × radial velocity, dB) with optional ground-truth strips.

    power: (n_frames, n_velocity). The colour scale starts just under the median (the
    noise floor in almost every frame and bin), so a weak scene shows noise as dark
    rather than filling the scale; plots of different scenes share the scale's span.
    motion / nonhuman: per-frame words from the labels (human motion class; '+'-joined
    non-human kinds or 'none').
    """
    db = power_to_db(power).T
    bottom = np.median(db) - _BELOW_FLOOR_DB
    strips = [s for s in (motion, nonhuman) if s is not None]
    fig, axes = plt.subplots(
        1 + len(strips), 1, figsize=(11, 5 + 0.4 * len(strips)), sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": [10] + [1] * len(strips)}, layout="constrained",
    )
    ax = axes[0, 0]
    mesh = ax.pcolormesh(times_s, velocity_m_s, db, vmin=bottom, vmax=bottom + DYNAMIC_RANGE_DB,
                         shading="nearest", cmap="magma", rasterized=True)
    ax.set_ylabel("radial velocity (m/s, + approaching)")
    limit = float(np.abs(velocity_m_s).max())
    ax.set_ylim(-limit, limit)
    ax.set_title(title)
    fig.colorbar(mesh, ax=ax, label=f"power (dB, floor ≈ {bottom + _BELOW_FLOOR_DB:.0f})")
    extent = (times_s[0], times_s[-1], 0, 1) if len(times_s) else (0, 1, 0, 1)
    row = 1
    if motion is not None:
        names = list(MOTION_COLOURS)
        codes = np.array([names.index(w) if w in names else 0 for w in motion])
        axes[row, 0].imshow(codes[None], aspect="auto", extent=extent, interpolation="nearest",
                            cmap=ListedColormap(list(MOTION_COLOURS.values())), vmin=0, vmax=len(names) - 1)
        _strip_axis(axes[row, 0], "person")
        row += 1
    if nonhuman is not None:
        active = np.array([w != "none" for w in nonhuman], dtype=int)
        axes[row, 0].imshow(active[None], aspect="auto", extent=extent, interpolation="nearest",
                            cmap=ListedColormap([IDLE_COLOUR, NONHUMAN_COLOUR]), vmin=0, vmax=1)
        _strip_axis(axes[row, 0], "other")
        kinds = sorted({k for w in nonhuman if w != "none" for k in w.split("+")})
        if kinds:
            axes[row, 0].text(0.005, 0.5, ", ".join(kinds), transform=axes[row, 0].transAxes,
                              va="center", fontsize=8, color="black")
    if strips:
        handles = [Patch(color=c, label=f"person: {n}") for n, c in MOTION_COLOURS.items()] if motion is not None else []
        if nonhuman is not None:
            handles.append(Patch(color=NONHUMAN_COLOUR, label="non-human mover or sound active"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel("time (s)")
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


def _strip_axis(ax, name: str) -> None:
    ax.set_yticks([])
    ax.set_ylabel(name, rotation=0, ha="right", va="center")
