"""PNG plots people would rather look at than read."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from uspd.physics import power_to_db  # noqa: E402


def plot_doppler(power, times_s, velocity_m_s, out_png: Path, title: str = "", labels=None) -> None:
    """Doppler spectrogram (time × radial velocity, dB) with an optional ground-truth strip."""
    db = power_to_db(power).T
    top = np.percentile(db, 99.9)
    rows = 2 if labels is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(11, 5), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [8, 1][:rows]})
    ax = axes[0, 0]
    mesh = ax.pcolormesh(times_s, velocity_m_s, db, vmin=top - 60, vmax=top, shading="nearest", cmap="magma")
    ax.set_ylabel("radial velocity (m/s, + approaching)")
    ax.set_title(title)
    fig.colorbar(mesh, ax=axes[:, 0], label="power (dB)")
    if labels is not None:
        names = sorted(set(labels))
        codes = np.array([names.index(w) for w in labels])
        strip = axes[1, 0]
        strip.imshow(codes[None, :], aspect="auto", cmap="tab10", vmin=0, vmax=9, interpolation="nearest",
                     extent=(times_s[0], times_s[-1], 0, 1))
        strip.set_yticks([])
        strip.set_ylabel("truth", rotation=0, ha="right")
        for i, name in enumerate(names):
            strip.text(times_s[np.argmax(codes == i)], 0.5, name, va="center", fontsize=8, color="white")
    axes[-1, 0].set_xlabel("time (s)")
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
