"""Music-distortion canceller: remove what the speaker's nonlinearity adds to the Doppler band.

Music played through the device's own speaker modulates the pilot tone (intermodulation
f0 ± f_music, cone Doppler): the *emitted* envelope carries sidebands exactly where
Doppler lives. Everything the speaker emits reaches microphone k through the static room
(direct path, walls, furniture), so in every frequency bin f of the Doppler STFT the
distortion is H_k(f)·E(f): one signal E seen through one vector of transfer functions,
the same in every frame while the room stands still (rank one across the mics). A
person's reflections arrive from elsewhere, with another vector across the mics.

Per bin the canceller keeps a unit vector h(f), the distortion's relative transfer
function across the mics, and removes each STFT cell's component along it:

    y = x − β · (hᴴx) · h,   β = ramp of the cell's coherence c = |hᴴx|² / |x|²

β is 0 below ``gate_coherence[0]`` and 1 above ``gate_coherence[1]``. Measured on tuning
scenes (7-mic array, seeds < 1,000,000; docs/music.md): distortion cells have c ≥ 0.95
(5th percentile), a walking person's cells a median of 0.12 (99th percentile 0.5–0.65),
isotropic noise Beta(1, N−1) (c > 0.6 in 0.4 % of cells). So the gate takes the
distortion out and leaves people and noise, and without music the Doppler frames stay
what the detector was trained on.

h(f) starts as the static field (the baseband's mean over the first frame: H(0), mostly
the direct path), which alone removes 15–18 dB of distortion. Wall reflections make H(f)
turn with frequency, so h(f) then follows the principal eigenvector of the covariance of
distortion-dominated cells (c ≥ ``adapt_coherence``), which reaches ~25 dB. It is
updated once per ``update_s`` on the stream's own frame count, so any block sizes give
the frames of one whole-recording pass (streaming == batch).

With fewer than ``min_mics`` mics the canceller passes frames through unchanged: two mics
leave one dimension after the projection, and a person broadside to a laptop's pair
(equal paths to both mics, like the speaker below them) would vanish with the music.

>>> canceller = MusicCanceller(config, n_bins=120, hop_s=0.02)
>>> spectra = canceller.process(spectra, static_field)   # (n_mics, n_frames, n_bins) complex
"""

from __future__ import annotations

import numpy as np

from uspd.config import MusicCancellerConfig

_POWER_STEPS = 3


class MusicCanceller:
    """Per-bin rank-one spatial canceller on STFT cells (see the module docstring).

    State: ``h`` (n_bins, n_mics) unit vectors, the covariance of distortion-dominated
    cells, and the sums of the current update period.
    """

    def __init__(self, config: MusicCancellerConfig, *, n_bins: int, hop_s: float) -> None:
        self.config = config
        self.n_bins = n_bins
        self._gate_lo, self._gate_hi = config.gate_coherence
        self._update_frames = max(1, int(round(config.update_s / hop_s)))
        self._alpha = hop_s / config.adapt_s  # weight of one qualifying frame in the covariance
        self.reset()

    def reset(self) -> None:
        self.h: np.ndarray | None = None  # (n_bins, n_mics) complex unit vectors
        self._covariance: np.ndarray | None = None  # (n_bins, n_mics, n_mics)
        self._sum: np.ndarray | None = None  # Σ x̂x̂ᴴ of qualifying cells this period
        self._count = np.zeros(self.n_bins)  # qualifying cells per bin this period
        self._frames = 0  # frames since the stream began

    def active(self, n_mics: int) -> bool:
        return self.config.enabled and n_mics >= self.config.min_mics

    def process(self, spectra: np.ndarray, static_field: np.ndarray) -> np.ndarray:
        """spectra: (n_mics, n_frames, n_bins) complex STFT cells after clutter removal;
        static_field: (n_mics,) the raw baseband's mean over the first frame, read only on
        the stream's first call. Returns the cells with the distortion removed (same shape)."""
        n_mics, n_frames, _ = spectra.shape
        if not self.active(n_mics) or n_frames == 0:
            return spectra
        if self.h is None:
            self._start(np.asarray(static_field, dtype=np.complex128))
        out = np.empty_like(spectra)
        done = 0
        while done < n_frames:  # periods on the absolute frame count: h is fixed inside one
            take = min(n_frames - done, self._update_frames - self._frames % self._update_frames)
            out[:, done : done + take] = self._cancel(spectra[:, done : done + take])
            done += take
            self._frames += take
            if self._frames % self._update_frames == 0:
                self._update()
        return out

    def _start(self, static_field: np.ndarray) -> None:
        n_mics = len(static_field)
        norm = np.linalg.norm(static_field)
        h0 = static_field / norm if norm > 0 else np.full(n_mics, 1 / np.sqrt(n_mics), dtype=complex)
        self.h = np.repeat(h0[None], self.n_bins, axis=0)
        self._covariance = np.einsum("bi,bj->bij", self.h, self.h.conj())
        self._sum = np.zeros_like(self._covariance)

    def _cancel(self, x: np.ndarray) -> np.ndarray:
        """One update period's cells (n_mics, n_frames, n_bins) → cancelled; accumulates
        the qualifying cells' outer products."""
        along = np.einsum("bm,mtb->tb", self.h.conj(), x)  # hᴴx
        energy = np.einsum("mtb,mtb->tb", x, x.conj()).real
        coherence = np.abs(along) ** 2 / np.maximum(energy, np.finfo(np.float32).tiny)
        beta = np.clip((coherence - self._gate_lo) / (self._gate_hi - self._gate_lo), 0.0, 1.0)
        out = x - (beta * along)[None] * self.h.T[:, None, :]
        teach = coherence >= self.config.adapt_coherence
        if teach.any():
            unit = x * (teach / np.sqrt(np.maximum(energy, np.finfo(np.float32).tiny)))[None]  # 0 where not teaching
            self._sum += np.einsum("itb,jtb->bij", unit, unit.conj())
            self._count += teach.sum(axis=0)
        return out.astype(x.dtype, copy=False)

    def _update(self) -> None:
        """End of a period: fold its qualifying cells into the covariance, h → its top eigenvector."""
        seen = self._count > 0
        if seen.any():
            weight = 1.0 - (1.0 - self._alpha) ** self._count[seen]
            mean = self._sum[seen] / self._count[seen, None, None]
            self._covariance[seen] += weight[:, None, None] * (mean - self._covariance[seen])
            # power iteration from the last h: the covariance is close to rank one and drifts
            # slowly, so a few steps per update track its top eigenvector
            h = self.h[seen]
            for _ in range(_POWER_STEPS):
                h = np.einsum("bij,bj->bi", self._covariance[seen], h)
                h /= np.linalg.norm(h, axis=-1, keepdims=True)
            self.h[seen] = h
        self._sum[:] = 0
        self._count[:] = 0
