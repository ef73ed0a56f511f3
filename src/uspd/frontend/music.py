"""Music-distortion canceller: remove what the speaker's nonlinearity adds to the Doppler band.

Music played through the device's own speaker modulates the pilot tone (intermodulation
f0 ± f_music, cone Doppler): the *emitted* envelope carries sidebands exactly where
Doppler lives. Everything the speaker emits reaches microphone k through the static room
(direct path, walls, furniture), so in every frequency bin f of the Doppler STFT the
distortion is H_k(f)·E(f): one signal E seen through one vector of transfer functions,
the same in every frame while the room stands still (rank one across the mics). A
person's reflections arrive from elsewhere, with another vector across the mics.

Per bin the canceller keeps a unit vector h(f), the distortion's relative transfer
function across the mics, and removes from each STFT cell its component in the
distortion's subspace U(f) (h first, then up to ``rank`` − 1 further directions):

    y = x − β · U Uᴴx,   β = ramp of the cell's coherence c = |hᴴx|² / |x|²

β is 0 below ``gate_coherence[0]`` and 1 above ``gate_coherence[1]``. Measured on tuning
rooms (7-mic array, seeds < 1,000,000; benchmarks/music_coherence.py, docs/music/coherence.md):
distortion cells have c ≥ 0.96 (5th percentile), a walking person's cells a median of
0.10 (99th percentile 0.63), noise 0.11 (99th percentile 0.55). So the gate takes the
distortion out and leaves people and noise alone, and without music the Doppler frames
stay what the detector was trained on.

h(f) starts as the static field (the baseband's mean over the first frame: H(0), mostly
the direct path), which alone removes 15–21 dB of distortion. Wall reflections turn H(f)
with frequency and an 80 ms frame does not hold the whole room response, so the
distortion spans a few dimensions per bin: its best 1, 2, 3 directions leave
−25…−32, −31…−39, −34…−45 dB of it (tuning rooms, same benchmark). So U(f) follows the
top eigenvectors of the covariance of *teaching* cells — those with c ≥ ``adapt_coherence``
against this bin's h or a neighbouring bin's (H(f) turns smoothly, so learning spreads
from the bins near 0 Hz where h(0) holds). The covariance is updated once per
``update_s`` on the stream's own frame count, from the period's cells summed at once, so
any block sizes give the frames of one whole-recording pass (streaming == batch).

With fewer than ``min_mics`` mics this canceller does not run: two mics leave one
dimension after the projection, and a person broadside to a laptop's pair (equal paths to
both mics, like the speaker below them) would vanish with the music. There
:class:`ConjugatePairCanceller` uses another dimension the distortion has: the music is a
real signal, so the sidebands at +f and −f are tied (rank one on [X(f), X*(−f)]).

>>> canceller = MusicCanceller(config, n_bins=120, hop_s=0.02)
>>> cells = canceller.process(cells, static_field)   # (n_bins, n_frames, n_mics) complex
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
from scipy import signal

from uspd.config import MusicCancellerConfig


_ONE_SIDED_MARGIN = 1e-3  # the share off a cell's stronger side below which it counts as one-sided
_PULSING_CV = 0.3  # a lopsided line's power varies this much (std / mean) from frame to frame: music's, not a steady tone's
_MIN_SAMPLES_PER_WEIGHT = 5  # samples of playback per fitted weight before the playback canceller acts
_SETTLED_SAMPLES_PER_WEIGHT = 20  # … and after this many it refits every update_s, not every _LEARNING_UPDATE_S
_LEARNING_UPDATE_S = 0.25
_RIDGE = 1e-6  # the playback fit's ridge, relative to its regressors' mean power


class _PeriodicCanceller:
    """What both cancellers share: cells are cancelled one update period at a time, the
    periods on the stream's absolute frame count, and the subspace is re-learned at the end
    of each from the period's cells summed at once, so any block sizes give the frames of
    one whole-recording pass. Subclasses give ``_cancel`` and ``_update``.

    State: ``basis`` (n_bins, dims, rank), the distortion's subspace per bin, once started;
    its covariance; the current period's cells; the frame count.
    """

    def __init__(self, config: MusicCancellerConfig, *, n_bins: int, hop_s: float) -> None:
        self.config = config
        self.n_bins = n_bins
        self._update_frames = max(1, int(round(config.update_s / hop_s)))
        self._alpha = hop_s / config.adapt_s  # weight of one frame's cells in the covariance
        self.reset()

    def reset(self) -> None:
        self.basis: np.ndarray | None = None
        self._covariance: np.ndarray | None = None
        self._taught: list[np.ndarray] = []  # this period's cells (the teaching ones, where a selection applies)
        self._frames = 0  # frames since the stream began

    def _by_period(self, cells: np.ndarray, part: np.ndarray | None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Cancel cells (n_bins, n_frames, dims) one update period at a time, the periods on
        the stream's absolute frame count (the basis is fixed inside one); update at each end."""
        n_frames = cells.shape[1]
        out = np.empty_like(cells)
        part_out = None if part is None else np.empty_like(part)
        done = 0
        while done < n_frames:
            take = min(n_frames - done, self._update_frames - self._frames % self._update_frames)
            period = slice(done, done + take)
            out[:, period], removal = self._cancel(cells[:, period])
            if part is not None:
                part_out[:, period] = part[:, period] - removal(part[:, period])
            done += take
            self._frames += take
            if self._frames % self._update_frames == 0:
                self._update()
        return out if part is None else (out, part_out)


class MusicCanceller(_PeriodicCanceller):
    """Per-bin gated subspace canceller on STFT cells (see the module docstring).

    State: ``basis`` (n_bins, n_mics, rank), the distortion's subspace per bin (``h`` its
    first column); the energy-weighted covariance of teaching cells; the current update
    period's teaching cells; the frame count.
    """

    def reset(self) -> None:
        super().reset()
        self._learned = np.zeros(self.n_bins, dtype=bool)  # the covariance holds cells (not h(0) alone)
        self._teaching = np.zeros(self.n_bins, dtype=int)  # this period's teaching cells per bin

    @property
    def h(self) -> np.ndarray | None:
        """(n_bins, n_mics) the distortion's direction per bin (unit vectors), once started."""
        return None if self.basis is None else self.basis[..., 0]

    def active(self, n_mics: int) -> bool:
        return self.config.enabled and n_mics >= self.config.min_mics

    def process(self, cells: np.ndarray, static_field: np.ndarray | None,
                part: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """cells: (n_bins, n_frames, n_mics) complex STFT cells after clutter removal (mics
        last: every bin's projections are then one batched matrix product, ~10× faster than
        an einsum over the mics); static_field: (n_mics,) the raw baseband's mean over the
        first frame, read only on the stream's first call. Returns the cells with the
        distortion removed (same shape).

        ``part``: cells of one additive part of ``cells`` (the music-only part, for
        measuring suppression), put through the same per-cell operation, returned second."""
        _, n_frames, n_mics = cells.shape
        if not self.active(n_mics) or n_frames == 0:
            return cells if part is None else (cells, part)
        if self.basis is None:
            self._start(np.asarray(static_field, dtype=np.complex128))
        return self._by_period(cells, part)

    def _start(self, static_field: np.ndarray) -> None:
        n_mics = len(static_field)
        norm = np.linalg.norm(static_field)
        h0 = static_field / norm if norm > 0 else np.full(n_mics, 1 / np.sqrt(n_mics), dtype=complex)
        rank = min(self.config.rank, n_mics - 2)  # leave ≥ 2 dimensions for everything else
        self.basis = np.zeros((self.n_bins, n_mics, rank), dtype=np.complex128)
        self.basis[..., 0] = h0  # further directions stay zero (nothing removed) until learned
        self._set_basis()
        self._covariance = np.zeros((self.n_bins, n_mics, n_mics), dtype=np.complex128)

    def _cancel(self, x: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """One update period's cells (n_bins, n_frames, n_mics) → cancelled, and the removal
        β·UUᴴ(·) these cells got, as a function; keeps the teaching cells."""
        rank = self.basis.shape[-1]
        along = _complex_product(x, self._analysis)  # Uᴴx and the neighbouring bins' hᴴx (for teaching): (n_bins, n_frames, rank + 2)
        energy = np.maximum(squared_norm(x), np.finfo(np.float32).tiny)
        pairs = along.view(np.float32) ** 2
        along_squared = pairs[..., 0::2] + pairs[..., 1::2]  # |·|² without np.abs's square root
        coherence = along_squared[..., 0] / energy
        beta = _gain(coherence, self.config.gate_coherence)[..., None]

        def removal(cells: np.ndarray) -> np.ndarray:
            return _complex_product(beta * _complex_product(cells, self._analysis[..., : 2 * rank]), self._synthesis)

        out = x - _complex_product(beta * along[..., :rank], self._synthesis) if beta.any() else x
        # Teaching cells: coherent with this bin's direction or a neighbour's. H(f) turns
        # smoothly with f, so learning spreads out from the bins near 0 Hz, where h(0) holds,
        # into rooms whose wall reflections turn it far from h(0) at higher f.
        best = np.maximum(np.maximum(along_squared[..., 0], along_squared[..., rank]), along_squared[..., rank + 1]) / energy
        teaching = best >= self.config.adapt_coherence
        self._teaching += np.count_nonzero(teaching, axis=1)
        self._taught.append(np.where(teaching[..., None], x, 0))
        return out, removal

    def _set_basis(self) -> None:
        """The matrices each period's cells are multiplied by, in :func:`_real_form`:
        ``_analysis`` the conjugate basis, then the left and the right neighbour's h (zero
        beyond the band's edges), complex (n_bins, n_mics, rank + 2); ``_synthesis`` the
        basis transposed, complex (n_bins, rank, n_mics), which maps the removed components
        back onto the mics."""
        h = self.basis[..., 0]
        neighbours = np.zeros((self.n_bins, h.shape[1], 2), dtype=complex)
        neighbours[1:, :, 0], neighbours[:-1, :, 1] = h[:-1], h[1:]
        self._analysis = _real_form(np.concatenate([self.basis, neighbours], axis=-1).conj())
        self._synthesis = _real_form(self.basis.transpose(0, 2, 1))

    def _update(self) -> None:
        """End of a period: fold its teaching cells into the covariance; the basis becomes its
        top eigenvectors (h the first). The period's cells are summed at once, whatever blocks
        brought them: the minor eigenvectors are nearly degenerate, and a sum in another order
        would turn them."""
        taught = np.concatenate(self._taught, axis=1)  # (n_bins, n_frames, n_mics)
        self._taught = []
        count, self._teaching = self._teaching, np.zeros_like(self._teaching)
        seen = count > 0
        if seen.any():
            # summed in this einsum's order over (mics, frames, bins): summed in a matrix product's
            # order instead, the nearly degenerate minor eigenvectors turn and music frames move by
            # up to 0.6 % of their peak; once a second, this order costs little
            cells = np.ascontiguousarray(taught[seen].transpose(2, 1, 0))
            mean = np.einsum("itb,jtb->bij", cells, cells.conj()) / count[seen, None, None]
            weight = np.where(self._learned[seen], 1.0 - (1.0 - self._alpha) ** count[seen], 1.0)
            self._covariance[seen] += weight[:, None, None] * (mean - self._covariance[seen])
            self._learned |= seen
            vectors = np.linalg.eigh(self._covariance[seen])[1]  # ascending eigenvalues
            self.basis[seen] = vectors[..., ::-1][..., : self.basis.shape[-1]]
            self._set_basis()


class ConjugatePairCanceller(_PeriodicCanceller):
    """The canceller for 1–2 mics, on conjugate pairs of bins: v(f) = [X(f), X*(−f)].

    Two mics leave the multi-mic canceller too few dimensions, and one mic none, but the
    distortion has a second structure: the speaker's envelope is 1 + a(t) + j·φ(t) with
    a (amplitude nonlinearity) and φ (cone Doppler) real signals driven by the same music,
    so at ±f its spectrum is H(±f)·(A ± jΦ)·M(±f) with M(−f) = M(f)*. In
    v(f) = [X(f), X*(−f)] (mics of +f, then the mics of −f conjugated) the distortion is
    M(f) times one fixed vector per bin: rank one, as across a mic array (widely linear
    processing of an improper signal). A mover's Doppler lies on one side of 0 Hz,
    along [x, 0]; noise has no relation between ±f.

    The room's multipath within an 80 ms frame spreads the distortion over more than one
    direction, so per bin the canceller removes a subspace U of as many directions as the
    device has mics (1 on one mic, 2 on a laptop's pair): what is left has the dimension
    of one side of 0 Hz, where a mover lies. (On tuning laptops: 8.7 dB suppression with
    one direction, 16.2 dB with two.)

    Per bin v's covariance over all cells (time constant ``adapt_s``) gives U (its top
    eigenvectors) and the share of the energy in U; a bin is cancelled only while that
    share is ≥ ``pair_dominance`` (a fixed relation between ±f holds: music, not noise or
    a passing person) and U also holds ``pair_persistence`` of the cells weighted alike
    (the relation lasts: on tuning rooms, jingling keys' loud clicks, each rank one,
    otherwise opened laptops' bins and raised false alarms, 14 against 1 in an hour), and,
    on two mics, the bin's ±f halves correlate (squared canonical correlation of the
    unit-weighted cells ≥ ``pair_tie``): two directions in four dimensions also hold any
    one sound from one direction, its +f and −f each seen coherently by both mics but
    unrelated to each other, and then remove all of it (jingling keys next door, held out:
    15 false onsets in 4.9 h of laptop rooms without this test, 0 without the canceller;
    on one mic a U that is one side alone removes nothing through the gate; on tuning rooms
    music's cancelled bins correlate at a median of 0.3–0.45, keys' at ≤ 0.05 in 95 %;
    unrelated sides reach ~m²/N by chance over N cells, ~0.02 over the covariance's memory).

    U can be lopsided (A ± jΦ nearly cancel on one side: on tuning rooms 1 bin in 10 puts
    < 10 % on one side), so the gate does not read the coherence c = |Uᴴv|²/|v|² alone,
    which a mover on U's strong side also reaches, but how much of the cell's energy off
    its own stronger side (share u) U explains:

        g = (c − u) / (1 − u)   (distortion: c ≈ 1, g ≈ 1; a mover: u ≈ 1, c ≤ u, g ≤ 0)

    and removal ramps from ``pair_gate[0]`` to ``pair_gate[1]``. Tuning rooms (single mic,
    music_with_walk, seeds 1–6, cells ≥ 10 dB over the noise): g > 0.8 for 87 % of
    distortion cells, 1.1 % of a person's.
    Some bins' distortion is lopsided: nearly all its energy lies on one side of 0 Hz
    (≥ ``pair_lopsided``; on a tuning laptop −f stood 20 dB over +f). There g ≈ 0 for its
    own cells, so nothing is removed, and once the other bins are clean the lone line left,
    pulsing with the music, looks like a mover to the network (that room: 100 false onsets
    in 2 min, 7 with the canceller off). A bin that stays lasting, lopsided and pulsing (its
    strong side's power varies from frame to frame by ``_PULSING_CV``: music's lines 1–2, an
    interferer's steady tone ≤ 0.02, which the detector's floor takes anyway) for
    ``pair_lopsided_s`` is gated instead on the plain coherence with U's first direction, as
    the multi-mic canceller gates (``gate_coherence``), and only that direction is removed:
    all of U would take the side's noise too, and the hole made the network fire as the line
    went. It needs no tie between ±f, which a lopsided bin cannot show; an unrelated sound at
    ±f (the tie test's case) is not lopsided. The wait keeps movers that hold one velocity
    for a while (a walker for seconds, a robot vacuum for tens of seconds) from making a bin
    lopsided themselves; it is a hysteresis (a count up while lopsided, down while not;
    gated from full until empty), so a quiet bar does not bring the line back for a wait.
    Tuning: docs/music.md, "Lopsided bins".
    Until the first update (``update_s``) nothing is cancelled.
    """

    def __init__(self, config: MusicCancellerConfig, *, n_bins: int, hop_s: float) -> None:
        super().__init__(config, n_bins=n_bins, hop_s=hop_s)
        centre = n_bins // 2  # the velocity axis is symmetric about 0 Hz (odd n_bins)
        self._positive = np.arange(centre + 1, n_bins)
        self._negative = 2 * centre - self._positive  # their mirrors at −f, same order
        self._lopsided_wait = max(1, int(np.ceil(config.pair_lopsided_s / config.update_s - 1e-9)))  # in updates

    def reset(self) -> None:
        super().reset()
        self._cancelled = np.zeros(self.n_bins // 2, dtype=bool)  # bins (f > 0) where a distortion holds
        self._lopsided_count = np.zeros(self.n_bins // 2, dtype=int)  # updates lopsided less those not, 0 … the wait
        self._lopsided = np.zeros(self.n_bins // 2, dtype=bool)  # gated on the plain coherence with U's first direction

    def active(self, n_mics: int) -> bool:
        return self.config.enabled and self.config.pair and n_mics < self.config.min_mics

    def process(self, cells: np.ndarray, static_field: np.ndarray | None = None,
                part: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """As :meth:`MusicCanceller.process`; the static field is not needed (the direction
        is learned from the pairs alone). The 0 Hz bin passes unchanged."""
        _, n_frames, n_mics = cells.shape
        if not self.active(n_mics) or n_frames == 0:
            return cells if part is None else (cells, part)
        if self.basis is None:
            self.basis = np.zeros((len(self._positive), 2 * n_mics, n_mics), dtype=np.complex128)
            self._covariance = np.zeros((2, len(self._positive), 2 * n_mics, 2 * n_mics), dtype=np.complex128)
        if part is None:
            return self._unpair(cells, self._by_period(self._pair(cells), None))
        out, part_out = self._by_period(self._pair(cells), self._pair(part))
        return self._unpair(cells, out), self._unpair(part, part_out)

    def _pair(self, cells: np.ndarray) -> np.ndarray:
        """(n_bins, n_frames, n_mics) → v per bin above 0 Hz, (n_bins // 2, n_frames, 2 n_mics)."""
        return np.concatenate([cells[self._positive], cells[self._negative].conj()], axis=-1)

    def _unpair(self, cells: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        n_mics = cells.shape[-1]
        out = cells.copy()
        out[self._positive], out[self._negative] = pairs[..., :n_mics], pairs[..., n_mics:].conj()
        return out

    def _cancel(self, v: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """Cells of one period → cancelled; computed on the cancelled bins alone (without
        music, none or a few): elsewhere the gain is 0 and the cells pass as they are."""
        self._taught.append(v)
        bins = np.flatnonzero(self._cancelled)
        if len(bins) == 0:
            return v, np.zeros_like
        basis = self.basis[bins].astype(np.complex64)  # (n_cancelled, dims, rank)
        analysis, synthesis = basis.conj(), basis.transpose(0, 2, 1)  # batched matrix products, not einsums: 6× faster
        cells = v[bins]
        along = cells @ analysis
        n_mics = v.shape[-1] // 2
        positive, negative = squared_norm(cells[..., :n_mics]), squared_norm(cells[..., n_mics:])
        energy = np.maximum(positive + negative, np.finfo(np.float32).tiny)
        along_squared = along.real**2 + along.imag**2  # per direction of U
        coherence = along_squared.sum(axis=-1) / energy
        one_sided = np.maximum(positive, negative) / energy
        # a cell with ≥ 99.9 % of its energy on one side is a mover's whatever U says: below
        # that, c − u and 1 − u are both rounding noise (a clean tone's cell, 0/0)
        two_sided = (coherence - one_sided) / np.maximum(1.0 - one_sided, _ONE_SIDED_MARGIN)
        beta = _gain(two_sided, self.config.pair_gate)[..., None]  # one gain for all of U's directions …
        lopsided = self._lopsided[bins]
        if lopsided.any():  # … but on lopsided bins for the first alone
            beta = np.repeat(beta, basis.shape[-1], axis=-1)
            first = along_squared[lopsided, :, 0] / energy[lopsided]
            beta[lopsided, :, 0] = _gain(first, self.config.gate_coherence)
            beta[lopsided, :, 1:] = 0.0

        def removed(coefficients: np.ndarray) -> np.ndarray:  # β·U·(Uᴴ·) back onto the pair
            return (beta * coefficients) @ synthesis

        def removal(pairs: np.ndarray) -> np.ndarray:
            out = np.zeros_like(pairs)
            out[bins] = removed(pairs[bins] @ analysis)
            return out

        out = v.copy()
        out[bins] -= removed(along)
        return out, removal

    def _update(self) -> None:
        """End of a period: fold its cells into each bin's two covariances (forgetting with
        ``adapt_s``), energy-weighted and with every cell scaled to unit energy; U the
        first's top eigenvectors. A bin is cancelled where U's directions hold
        ``pair_dominance`` of the energy and ``pair_persistence`` of the unit cells: a tie
        between ±f that lasts, as music's does, not one or two loud transients (a jingle
        of keys, a click: each alone is rank one, and energy weighting lets it dominate);
        and, lopsided or not, where the class docstring's gate for lopsided bins holds."""
        v = np.concatenate(self._taught, axis=1)
        self._taught = []
        energy = squared_norm(v)
        n_mics = v.shape[-1] // 2
        plus_cells = squared_norm(v[..., :n_mics])  # each cell's energy at +f; at −f the rest
        # Σ v·vᴴ, plain and with each cell weighted by 1 / |v|² (scaled to unit energy), as
        # batched matrix products: an einsum over the cells took 5× as long
        unit_weight = np.divide(1.0, energy, out=np.zeros_like(energy), where=energy > 0)[..., None]
        conjugate = v.conj()
        means = np.stack([x.transpose(0, 2, 1) @ conjugate for x in (v, v * unit_weight)]) / v.shape[1]
        first = self._frames <= self._update_frames
        weight = 1.0 if first else 1.0 - (1.0 - self._alpha) ** v.shape[1]
        self._covariance += weight * (means - self._covariance)
        values, vectors = np.linalg.eigh(self._covariance[0])  # ascending eigenvalues
        rank = self.basis.shape[-1]
        self.basis[:] = vectors[..., ::-1][..., :rank]
        # lasting: U holds pair_dominance of the energy and, checked only where it does (from the
        # eigenvalues alone), pair_persistence of the unit cells; the tie test below, only where it lasts
        lasting = _top_share(values, rank) >= self.config.pair_dominance
        unit_values = np.linalg.eigvalsh(self._covariance[1, lasting])
        lasting[lasting] = _top_share(unit_values, rank) >= self.config.pair_persistence
        by_dimension = np.einsum("bdd->bd", self._covariance[0]).real  # energy: the mics at +f, then at −f
        plus_side = by_dimension[:, :n_mics].sum(axis=-1) / np.maximum(by_dimension.sum(axis=-1), np.finfo(float).tiny)
        strong = np.where(plus_side[:, None] >= 0.5, plus_cells, energy - plus_cells)
        pulsing = strong.std(axis=1) >= _PULSING_CV * strong.mean(axis=1)  # this period's frames on the bin's strong side
        lopsided = lasting & (np.maximum(plus_side, 1.0 - plus_side) >= self.config.pair_lopsided) & pulsing
        self._lopsided_count = np.clip(self._lopsided_count + np.where(lopsided, 1, -1), 0, self._lopsided_wait)
        self._lopsided = (self._lopsided & (self._lopsided_count > 0)) | (self._lopsided_count == self._lopsided_wait)
        tied = lasting.copy()
        if rank > 1:  # one direction per side can fill U only here (a one-sided U on one mic removes nothing)
            tied[lasting] = _squared_canonical_correlation(self._covariance[1, lasting], rank) >= self.config.pair_tie
        self._cancelled = tied | self._lopsided


class PlaybackCanceller:
    """Removes what the device's own playback predicts, where the device knows what it plays.

    The speaker's distortion is a fixed function of its drive m (the music, full-scale
    units; uspd.sim.music's docstring): to second order the emitted envelope is
    1 + L1[m] + L2[m²] + …, L1 the intermodulation 2·c2·m and the cone's Doppler j·k·x (x a
    low-pass of m), L2 the compression 3·c3·m². Through the static room each mic's baseband
    then holds the regressors — the baseband of m and of m², real — each through a fixed
    filter: the room's echoes and the cone's response, tens of ms. Per mic the canceller
    fits those filters (``playback_filter_s`` long, complex taps) by least squares on the
    clutter-filtered baseband and subtracts their prediction before the STFT.

    Why in time and not per Doppler bin: a bin's fit on the regressors' own STFT cells
    assumes the response is short against the 80 ms frame; with 50 ms responses it leaves
    the distortion 16.9–19.4 dB down, where the filters leave it 42–75 dB down (three tuning
    rooms, noise-free distortion fitted to the simulator's emitted envelope).

    The filters are refit at the end of each period (periods on the stream's sample count,
    from the period's samples gathered at once, so any block sizes give one whole-recording
    pass; 0.25 s while learning, then ``update_s``) from covariances that forget with
    ``playback_adapt_s`` of playback: silence is no evidence, so the filters outlast the
    pauses between songs. People and noise do not correlate with the playback, so the fit
    does not learn them, and with nothing playing the regressors are zero: frames without
    music are untouched by construction.
    A mic's filters act only once the covariance holds ``_MIN_SAMPLES_PER_WEIGHT`` samples
    of playback per weight (a fit on a song's first moments extrapolates wildly) and while
    they explain ``playback_explained`` of that mic's energy (else they fit chance).
    """

    def __init__(self, config: MusicCancellerConfig, *, rate_hz: float) -> None:
        self.config = config
        self.taps = max(1, int(round(config.playback_filter_s * rate_hz)))
        self._rate_hz = rate_hz
        self.reset()

    def reset(self) -> None:
        self._samples = 0  # since the stream began
        self._next_update = self._period_samples(learning=True)  # the sample count at which the current period ends
        self._history: np.ndarray | None = None  # the last taps − 1 playback samples
        self._dims = 0  # fitted weights per mic: regressors × taps, known with the first playback
        self._period_history: np.ndarray | None = None  # … as the period began
        self._gathered: list[tuple[np.ndarray, np.ndarray]] = []  # this period's (mics, playback) samples
        self._filters: np.ndarray | None = None  # (n_regressors, n_mics, taps), zero for a mic that does not fit
        self._gram: np.ndarray | None = None  # Σ zzᵀ over samples, z the regressors' lagged samples
        self._cross: np.ndarray | None = None  # Σ z xᵀ (n_regressors · taps, n_mics)
        self._energy: np.ndarray | None = None  # Σ |x|² per mic while playing
        self._playing = 0.0  # samples with playback in the covariance (forgetting alike)

    def active(self) -> bool:
        return self.config.enabled and self.config.playback

    def process(self, x: np.ndarray, playback: np.ndarray) -> np.ndarray:
        """x (n_mics, n) complex and playback (n_regressors, n) real, both clutter-filtered
        baseband → the prediction to subtract from x, (n_mics, n)."""
        if self._history is None:
            self._history = np.zeros((len(playback), self.taps - 1))
            self._dims = len(playback) * self.taps
        predicted = np.zeros(x.shape, dtype=np.complex128)
        done = 0
        while done < x.shape[1]:
            take = min(x.shape[1] - done, self._next_update - self._samples)
            segment = slice(done, done + take)
            lagged = np.concatenate([self._history, playback[:, segment].real.astype(np.float64)], axis=1)
            if self._filters is not None and lagged.any():  # Σ over regressors of each one through its filter to each mic
                predicted[:, segment] = signal.oaconvolve(lagged[:, None, :], self._filters, mode="valid", axes=-1).sum(axis=0)
            if not self._gathered:
                self._period_history = self._history
            self._gathered.append((x[:, segment].copy(), lagged[:, self.taps - 1 :]))  # the caller subtracts in place
            self._history = lagged[:, lagged.shape[1] - (self.taps - 1) :]
            done += take
            self._samples += take
            if self._samples == self._next_update:
                self._update()
                self._next_update += self._period_samples(learning=self._playing < _SETTLED_SAMPLES_PER_WEIGHT * self._dims)
        return predicted

    def _period_samples(self, learning: bool) -> int:
        """Update periods: short while the fit is still learning (a song's first seconds
        would otherwise pass uncancelled), then ``update_s`` (each refit costs a solve)."""
        return max(1, int(round((_LEARNING_UPDATE_S if learning else self.config.update_s) * self._rate_hz)))

    def _update(self) -> None:
        """End of a period: fold its samples into the covariances; refit every mic's filters."""
        x = np.concatenate([g[0] for g in self._gathered], axis=1).astype(np.complex128)
        lagged = np.concatenate([self._period_history] + [g[1] for g in self._gathered], axis=1)
        self._gathered = []
        playing = np.any(lagged[:, self.taps - 1 :] != 0, axis=0)
        if not playing.any():  # only playback is evidence about the filters: silence keeps them (the room stands still)
            return
        forget = np.exp(-np.count_nonzero(playing) / self._rate_hz / self.config.playback_adapt_s)
        if self._gram is None:
            self._gram = np.zeros((self._dims, self._dims))
            self._cross = np.zeros((self._dims, len(x)), dtype=np.complex128)
            self._energy = np.zeros(len(x))
        self._gram = forget * self._gram + _lag_gram(lagged, self.taps)
        self._cross = forget * self._cross + _lag_cross(lagged, x)
        self._energy = forget * self._energy + (x.real[:, playing] ** 2 + x.imag[:, playing] ** 2).sum(axis=1)
        self._playing = forget * self._playing + np.count_nonzero(playing)
        if self._playing < _MIN_SAMPLES_PER_WEIGHT * self._dims:
            self._filters = None
            return
        ridge = _RIDGE * np.trace(self._gram) / self._dims + np.finfo(float).tiny
        stacked = np.concatenate([self._cross.real, self._cross.imag], axis=1)  # real system, complex right-hand sides
        factor = scipy.linalg.cho_factor(self._gram + ridge * np.eye(self._dims), check_finite=False)
        solved = scipy.linalg.cho_solve(factor, stacked, check_finite=False)  # solve()'s LAPACK calls, less its condition estimate
        filters = solved[:, : len(x)] + 1j * solved[:, len(x) :]
        explained = np.einsum("dk,dk->k", self._cross.conj(), filters).real
        fits = explained >= self.config.playback_explained * np.maximum(self._energy, np.finfo(float).tiny)
        # (n_regressors, n_mics, taps): tap l weighs the regressor l samples back
        self._filters = np.where(fits, filters, 0.0).reshape(-1, self.taps, len(x)).transpose(0, 2, 1) if fits.any() else None


def _lag_gram(lagged: np.ndarray, taps: int) -> np.ndarray:
    """Σ_t z zᵀ over a period, z(t) each regressor at lags 0 … taps − 1 (the rows in
    regressor-major order), from lagged (n_regressors, taps − 1 + n) real, without forming
    z (a (n_regressors · taps, n) matrix product, ~10× the cost): with H_ij[a, b] =
    Σ_t p_i[a + t] p_j[b + t], the first row and column are correlations (FFT), and
    H[a + 1, b + 1] = H[a, b] + p_i[a + n] p_j[b + n] − p_i[a] p_j[b] fills the rest."""
    n_regs, last = len(lagged), taps - 1
    n = lagged.shape[1] - last
    # first[i, j, b] = Σ_t p_i[t] p_j[b + t] = H_ij[0, b]; H_ij[a, 0] = first[j, i, a]
    first = signal.fftconvolve(lagged[None, :, :], lagged[:, None, n - 1 :: -1], mode="valid", axes=-1)
    h = np.empty((n_regs, n_regs, taps, taps))
    h[:, :, 0, :] = first
    h[:, :, :, 0] = first.transpose(1, 0, 2)
    head, tail = lagged[:, :last], lagged[:, n : n + last]
    step = np.einsum("ia,jb->ijab", tail, tail) - np.einsum("ia,jb->ijab", head, head)
    for k in range(1, taps):
        h[:, :, k, k:] = h[:, :, k - 1, k - 1 : last] + step[:, :, k - 1, k - 1 :]
        h[:, :, k + 1 :, k] = h[:, :, k:last, k - 1] + step[:, :, k:, k - 1]
    # lag l reads p[last − l + t]: reverse both window axes, regressor-major rows
    return h[:, :, ::-1, ::-1].transpose(0, 2, 1, 3).reshape(n_regs * taps, n_regs * taps)


def _lag_cross(lagged: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ_t z(t) x(t)ᵀ (n_regressors · taps, n_mics) for z as in :func:`_lag_gram`, by FFT."""
    n_regs, taps = len(lagged), lagged.shape[1] - x.shape[1] + 1
    # [i, k, a] = Σ_t p_i[a + t] x_k[t]
    by_window = signal.fftconvolve(lagged[:, None, :], x[None, :, ::-1], mode="valid", axes=-1)
    return by_window[:, :, ::-1].transpose(0, 2, 1).reshape(n_regs * taps, x.shape[0])


def _gain(coherence: np.ndarray, gate: tuple[float, float]) -> np.ndarray:
    """The removal gain β: 0 up to ``gate[0]``, rising linearly to 1 at ``gate[1]``."""
    lo, hi = gate
    return np.clip((coherence - lo) / (hi - lo), 0.0, 1.0)


def _top_share(values: np.ndarray, rank: int) -> np.ndarray:
    """(…, dims) ascending eigenvalues → (…,) the share of their sum in the top ``rank``."""
    return values[..., -rank:].sum(axis=-1) / np.maximum(values.sum(axis=-1), np.finfo(float).tiny)


def _squared_canonical_correlation(covariance: np.ndarray, m: int) -> np.ndarray:
    """(n, 2m, 2m) covariances of [a, b] (a, b of m dims each) → (n,) the largest squared
    canonical correlation between a and b: the share of one side that the other predicts
    at best (1 for a fixed linear tie, ~m²/cells for unrelated ones, 0 where a side is
    empty). Rank m of 2m cannot tell a tie from two unrelated sides that each hold one
    direction (a sound from one direction on two mics), this can."""
    ridge = 1e-9 * np.trace(covariance, axis1=-2, axis2=-1).real[:, None, None] * np.eye(m) + 1e-300 * np.eye(m)
    a, b, ab = covariance[:, :m, :m] + ridge, covariance[:, m:, m:] + ridge, covariance[:, :m, m:]
    predicts = np.linalg.solve(a, ab) @ np.linalg.solve(b, ab.conj().transpose(0, 2, 1))
    return np.linalg.eigvals(predicts).real.max(axis=-1)


def squared_norm(cells: np.ndarray) -> np.ndarray:
    """Σ |x|² over the mics of cells (n_bins, n_frames, n_mics) complex64 → (n_bins, n_frames)
    float32: the (re, im) pairs squared, then summed by one matrix product with ones (BLAS;
    ~2× faster than an einsum over the pairs, and no complex temporaries)."""
    pairs = cells.view(np.float32)
    squares = np.multiply(pairs, pairs)
    return squares @ np.ones(pairs.shape[-1], dtype=np.float32)


def _real_form(matrices: np.ndarray) -> np.ndarray:
    """Complex matrices (…, m, k) → float32 (…, 2m, 2k) acting on (re, im)-interleaved rows:
    [re, im] · [[A.re, A.im], [−A.im, A.re]] per element, so a complex product becomes one
    real one (:func:`_complex_product`), ~2× faster in NumPy's batched matmul."""
    *batch, m, k = matrices.shape
    out = np.empty((*batch, m, 2, k, 2), dtype=np.float32)
    out[..., 0, :, 0], out[..., 0, :, 1] = matrices.real, matrices.imag
    out[..., 1, :, 0], out[..., 1, :, 1] = -matrices.imag, matrices.real
    return out.reshape(*batch, 2 * m, 2 * k)


def _complex_product(x: np.ndarray, real_form: np.ndarray) -> np.ndarray:
    """x (…, n, m) complex64 @ the complex matrices whose :func:`_real_form` is given →
    (…, n, k) complex64."""
    return (np.ascontiguousarray(x).view(np.float32) @ real_form).view(np.complex64)
