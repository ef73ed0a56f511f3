"""Shoebox room: walls with ultrasonic absorption, furniture, and image sources.

Coordinates: origin at a floor corner, x ∈ [0, Lx], y ∈ [0, Ly], z ∈ [0, Lz] (z up), metres.

Image sources (Allen & Berkley 1979): along each axis an image of a point p is
``(1 − 2q)·p + 2·n·L`` with q ∈ {0, 1}, n ∈ ℤ; it has met the wall at 0 ``|n − q|`` times and
the wall at L ``|n|`` times. The reflection order is the total count over the three axes,
and the image's amplitude gain is the product of √(1 − α) over the walls it met. The same
table serves the speaker, every microphone and every moving scatterer, so wall
"repetitions" of a moving person come out of the geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import product

import numpy as np

WALLS = ("x0", "x1", "y0", "y1", "z0", "z1")
"""Wall order used everywhere: x=0, x=Lx, y=0, y=Ly, floor, ceiling."""

_MATERIAL_FREQS_HZ = (20e3, 32e3, 40e3, 48e3)
MATERIALS: dict[str, tuple[float, float, float, float]] = {
    # Energy absorption coefficient α at the frequencies above. Hard surfaces reflect
    # ultrasound well; porous ones absorb more as frequency rises (values in line with
    # published ultrasonic absorption of building materials and textiles).
    "plaster": (0.04, 0.05, 0.06, 0.07),
    "concrete": (0.02, 0.03, 0.03, 0.04),
    "glass": (0.03, 0.03, 0.04, 0.04),
    "wood": (0.10, 0.12, 0.14, 0.15),
    "tile": (0.02, 0.03, 0.03, 0.03),
    "carpet": (0.55, 0.65, 0.70, 0.75),
    "curtain": (0.60, 0.70, 0.75, 0.80),
    "bookshelf": (0.30, 0.35, 0.40, 0.45),
    "acoustic_panel": (0.85, 0.90, 0.90, 0.92),
}


def material_absorption(material: str, frequency_hz: float) -> float:
    """Energy absorption coefficient α of a named material at a frequency."""
    try:
        table = MATERIALS[material]
    except KeyError:
        raise ValueError(f"unknown wall material '{material}'; known: {', '.join(MATERIALS)}") from None
    return float(np.interp(frequency_hz, _MATERIAL_FREQS_HZ, table))


@dataclass(frozen=True)
class Furniture:
    """A static point scatterer (sofa back, table edge, shelf, lamp)."""

    position_m: tuple[float, float, float]
    cross_section_m2: float


@dataclass(frozen=True)
class Room:
    size_m: tuple[float, float, float]
    wall_materials: tuple[str, str, str, str, str, str] = ("plaster",) * 4 + ("wood", "plaster")
    furniture: tuple[Furniture, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.size_m) != 3 or min(self.size_m) <= 0:
            raise ValueError(f"room size must be three positive lengths in metres, got {self.size_m}")
        if len(self.wall_materials) != 6:
            raise ValueError("a shoebox room needs six wall materials (x0, x1, y0, y1, floor, ceiling)")
        for material in self.wall_materials:
            material_absorption(material, 30e3)  # validates the name
        for item in self.furniture:
            if not self.contains(item.position_m):
                raise ValueError(f"furniture at {item.position_m} is outside the room of size {self.size_m} m")

    def contains(self, point_m, margin_m: float = 0.0) -> bool:
        p = np.asarray(point_m, dtype=float)
        return bool(np.all(p >= margin_m) and np.all(p <= np.asarray(self.size_m) - margin_m))

    def absorption(self, frequency_hz: float) -> np.ndarray:
        """(6,) energy absorption of the walls, in :data:`WALLS` order."""
        return np.array([material_absorption(m, frequency_hz) for m in self.wall_materials])

    def images(self, max_order: int, frequency_hz: float) -> "ImageTable":
        return ImageTable.build(np.asarray(self.size_m, dtype=float), max_order, self.absorption(frequency_hz))


@dataclass(frozen=True)
class ImageTable:
    """Every image of order ≤ max_order, independent of which point is imaged.

    sign: (n_images, 3) ±1 per axis (−1 where the image is mirrored).
    offset_m: (n_images, 3), so image = sign·p + offset.
    order: (n_images,) reflection count; image 0 is the point itself.
    gain: (n_images,) amplitude reflection gain Π √(1 − α_wall).
    """

    sign: np.ndarray
    offset_m: np.ndarray
    order: np.ndarray
    gain: np.ndarray

    @classmethod
    def build(cls, size_m: np.ndarray, max_order: int, absorption: np.ndarray) -> "ImageTable":
        reflection = np.sqrt(1.0 - absorption)
        rows = []
        per_axis = [
            [(q, n) for q in (0, 1) for n in range(-max_order, max_order + 1)] for _ in range(3)
        ]
        for combo in product(*per_axis):
            hits = np.array([[abs(n - q), abs(n)] for q, n in combo])  # (3 axes, walls at 0 and L)
            order = int(hits.sum())
            if order > max_order:
                continue
            sign = [1 - 2 * q for q, _ in combo]
            offset = [2 * n * size_m[a] for a, (_, n) in enumerate(combo)]
            gain = float(np.prod(reflection ** hits.reshape(-1)))
            rows.append((order, sign, offset, gain))
        rows.sort(key=lambda r: r[0])  # image 0 = the point itself
        return cls(
            sign=np.array([r[1] for r in rows], dtype=float),
            offset_m=np.array([r[2] for r in rows], dtype=float),
            order=np.array([r[0] for r in rows], dtype=int),
            gain=np.array([r[3] for r in rows], dtype=float),
        )

    def __len__(self) -> int:
        return len(self.order)

    def positions(self, point_m: np.ndarray) -> np.ndarray:
        """Images of ``point_m`` (..., 3) → (..., n_images, 3)."""
        return np.asarray(point_m)[..., None, :] * self.sign + self.offset_m

    @cached_property
    def max_order(self) -> int:
        return int(self.order.max())
