"""Things that move in a room, as point scatterers with physically motivated motion.

Each mover is a frozen dataclass of plain numbers, strings and tuples (its
``dataclasses.asdict`` is JSON) and a deterministic function of absolute time: random
behaviour comes from the ``seed`` field, as seeded sinusoid sums on absolute time or as
schedules drawn once from the seed, so the renderer may evaluate any block of times in
any order. Every ``sample`` classmethod draws a plausible instance for a room.

- :class:`Person`: a script of :class:`Walk`, :class:`Stay` and :class:`Away` segments.
  Walking uses a 13-scatterer body with a gait in the spirit of Boulic,
  Magnenat-Thalmann & Thalmann (1990), the model behind the human micro-Doppler
  signatures of V. C. Chen: cadence tied to speed, feet planted during stance and swung
  at several times the walking speed, arms swinging against the legs, the torso bobbing
  and swaying. Staying adds breathing, postural sway and scheduled minor motions.
- :class:`DeskFan`, :class:`CeilingFan`: blades as rows of flat patches that spin up and
  coast down; blade faces and edges flash when they turn normal to the device.
- :class:`Curtain`, :class:`Door`: a draft sways a sheet on a wall or swings a panel.
- :class:`Cat`, :class:`Dog`: quadrupeds with seeded rest, walk, run and jump bouts.
- :class:`RobotVacuum`: straight runs, turns at walls, a spinning side brush.

Conventions: room coordinates (origin at a floor corner, z up, metres); body frames are
(forward, left, up) around a ground point and a heading (radians from +x towards +y).
Specular lobes use :data:`NOMINAL_WAVELENGTH_M`: movers are not told the carrier.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import ClassVar, Self

import numpy as np
from scipy import sparse

from uspd.sim.base import Motion, Mover, Scatterers, windows_near

NOMINAL_WAVELENGTH_M = 0.01
"""Wavelength for specular lobe widths (about 34 kHz in air); flashes at 20 kHz are ~1.7× wider."""
GRAVITY_M_S2 = 9.81
NEVER_S = 1.0e9
"""An off time that no scene reaches (JSON has no infinity)."""
_WALLS = ("x0", "x1", "y0", "y1")
Point3 = tuple[float, float, float]
"""Room size or a position, metres."""


# --------------------------------------------------------------------------------------
# Shared helpers: smooth steps, seeded noise, events, frames, routes, strides, glints
# --------------------------------------------------------------------------------------
def _clamp(x: np.ndarray | float, low: float, high: float) -> np.ndarray:
    """np.clip without its Python-level overhead (it is called on every block)."""
    return np.minimum(np.maximum(x, low), high)


def _ease(x: np.ndarray | float) -> np.ndarray:
    """0 → 1 raised-cosine step over [0, 1] (zero slope at both ends), clipped outside."""
    return 0.5 - 0.5 * np.cos(np.pi * _clamp(x, 0.0, 1.0))


def _bump(x: np.ndarray) -> np.ndarray:
    """0 → 1 → 0 over [0, 1] (sin²), zero outside: an out-and-back excursion."""
    return np.where((x > 0.0) & (x < 1.0), np.sin(np.pi * x) ** 2, 0.0)


def _wrap(angle_rad: np.ndarray | float) -> np.ndarray | float:
    return (angle_rad + np.pi) % (2.0 * np.pi) - np.pi


def _gate(t_s: np.ndarray, windows_s: tuple[tuple[float, float], ...], ramp_s: float) -> np.ndarray:
    """Smooth 0/1 envelope that is 1 inside any (on, off) window, with ramp_s edges."""
    out = np.zeros(t_s.shape)
    for on_s, off_s in windows_near(windows_s, t_s, ramp_s):
        out += _ease((t_s - on_s) / ramp_s) * (1.0 - _ease((t_s - off_s) / ramp_s))
    return np.minimum(out, 1.0)


@lru_cache(maxsize=256)
def _noise_components(
    seed: int, stream: int, low_hz: float, high_hz: float, channels: int, components: int
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng([seed, stream])
    freq = np.exp(rng.uniform(np.log(low_hz), np.log(high_hz), (channels, components, 1)))
    phase = rng.uniform(0.0, 2.0 * np.pi, (channels, components, 1))
    amp = rng.uniform(0.5, 1.0, (channels, components))
    amp *= np.sqrt(2.0 / np.sum(amp**2, axis=1, keepdims=True))
    return 2.0 * np.pi * freq, phase, amp


def _smooth_noise(
    t_s: np.ndarray, seed: int, stream: int, low_hz: float, high_hz: float, channels: int = 1, components: int = 6
) -> np.ndarray:
    """(channels, T) unit-RMS band-limited noise: a seeded sum of sinusoids on absolute time."""
    omega, phase, amp = _noise_components(seed, stream, low_hz, high_hz, channels, components)
    return np.einsum("cn,cnt->ct", amp, np.cos(omega * t_s + phase))


def _span_s(t_s: np.ndarray) -> tuple[float, float]:
    """First and last of the query times (0, 0 when there are none)."""
    return (float(t_s.min()), float(t_s.max())) if t_s.size else (0.0, 0.0)


def _poisson_events(
    seed: int, stream: int, t_lo: float, t_hi: float, rate_per_s: float, n_attributes: int,
    lookback_s: float, block_s: float = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Start times and uniform attributes of Poisson events drawn per absolute time block,
    so every query window sees the same events (events starting up to lookback_s earlier
    are included)."""
    if rate_per_s <= 0.0 or t_hi < t_lo:
        return np.zeros(0), np.zeros((0, n_attributes))
    starts, attributes = [], []
    for block in range(int(np.floor((t_lo - lookback_s) / block_s)), int(np.floor(t_hi / block_s)) + 1):
        rng = np.random.default_rng([seed, stream, block + 2**40])
        n = rng.poisson(rate_per_s * block_s)
        starts.append(block * block_s + rng.uniform(0.0, block_s, n))
        attributes.append(rng.uniform(size=(n, n_attributes)))
    return np.concatenate(starts), np.concatenate(attributes)


def _event_sum(
    t_s: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray, shape: Callable[[int, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Σ_k shape(k, t − start_k) over events, each touching only its own [start, start + duration)."""
    order = np.argsort(t_s, kind="stable")
    sorted_t = t_s[order]
    total = np.zeros(t_s.shape)
    lo = np.searchsorted(sorted_t, starts_s, "left")
    hi = np.searchsorted(sorted_t, starts_s + durations_s, "left")
    for k in np.flatnonzero(hi > lo):
        total[lo[k] : hi[k]] += shape(k, sorted_t[lo[k] : hi[k]] - starts_s[k])
    out = np.empty_like(total)
    out[order] = total
    return out


def _to_world(local_m: np.ndarray, heading_rad: np.ndarray, ground_xy_m: np.ndarray) -> np.ndarray:
    """Body frame (..., T, 3) = (forward, left, up) → room coordinates, per-time heading."""
    cos_h, sin_h = np.cos(heading_rad), np.sin(heading_rad)
    out = np.empty(local_m.shape)
    out[..., 0] = ground_xy_m[:, 0] + cos_h * local_m[..., 0] - sin_h * local_m[..., 1]
    out[..., 1] = ground_xy_m[:, 1] + sin_h * local_m[..., 0] + cos_h * local_m[..., 1]
    out[..., 2] = local_m[..., 2]
    return out


_GRID_HZ = 500.0
"""Knot rate for smooth motion (bodies, pets): evaluated there, interpolated in between."""


def _on_grid(t_s: np.ndarray, evaluate: Callable[[np.ndarray], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Evaluate smooth motion at the absolute knots k/_GRID_HZ around t_s and interpolate
    (Catmull-Rom: continuous velocity, error ~µm for body motion). Several times cheaper
    than exact evaluation at kHz rates, and every block of times sees the same knots.
    ``evaluate`` returns arrays with time on axis 1."""
    x = t_s * _GRID_HZ
    k = np.floor(x).astype(np.int64)
    f = (x - k)[:, None]
    if len(t_s) and k.max() - k.min() + 4 <= 4 * len(t_s):  # dense: one contiguous run of knots
        knots = np.arange(k.min() - 1, k.max() + 3)
        at = k - knots[0]
    else:  # sparse (or empty): only the knots next to each time
        knots, inverse = np.unique(np.concatenate([k - 1, k, k + 1, k + 2]), return_inverse=True)
        at = inverse[len(t_s) : 2 * len(t_s)]
    f2, f3 = f * f, f * f * f
    weights = np.hstack([0.5 * (2 * f2 - f3 - f), 0.5 * (3 * f3 - 5 * f2 + 2),
                         0.5 * (4 * f2 - 3 * f3 + f), 0.5 * (f3 - f2)])
    columns = at[:, None] + np.arange(-1, 3)
    interpolate = sparse.csr_matrix(
        (weights.ravel(), columns.ravel(), np.arange(0, 4 * len(t_s) + 1, 4)), shape=(len(t_s), len(knots))
    )
    out = []
    for values in evaluate(knots / _GRID_HZ):
        rows = np.moveaxis(values, 1, 0)  # time first: one row per knot
        mixed = interpolate @ rows.reshape(len(knots), int(np.prod(rows.shape[1:])))
        out.append(np.moveaxis(mixed.reshape((len(t_s),) + rows.shape[1:]), 0, 1))
    return tuple(out)


def _wall_frame(wall: str, room_size_m: Point3) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Origin, along-wall unit vector, inward normal (all 3-D) and length of a side wall."""
    lx, ly, _ = room_size_m
    frames = {
        "x0": ((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), ly),
        "x1": ((lx, 0.0, 0.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0), ly),
        "y0": ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), lx),
        "y1": ((0.0, ly, 0.0), (1.0, 0.0, 0.0), (0.0, -1.0, 0.0), lx),
    }
    if wall not in frames:
        raise ValueError(f"unknown wall '{wall}'; side walls are {', '.join(_WALLS)}")
    origin, along, inward, length = frames[wall]
    return np.asarray(origin), np.asarray(along), np.asarray(inward), float(length)


def _nearest_wall(room_size_m: Point3, point_m: tuple[float, ...]) -> str:
    lx, ly, _ = room_size_m
    x, y = point_m[0], point_m[1]
    return _WALLS[int(np.argmin([x, lx - x, y, ly - y]))]


def _floor_point(
    rng: np.random.Generator, room_size_m: Point3, margin_m: float,
    avoid_xy_m: tuple[tuple[float, ...], ...] = (), clearance_m: float = 0.0,
) -> tuple[float, float]:
    """A random (x, y) at least margin_m from the walls and, if it can, clearance_m from avoid_xy_m."""
    lx, ly, _ = room_size_m
    for _ in range(50):
        xy = (float(rng.uniform(margin_m, lx - margin_m)), float(rng.uniform(margin_m, ly - margin_m)))
        if all(np.hypot(xy[0] - a[0], xy[1] - a[1]) >= clearance_m for a in avoid_xy_m):
            return xy
    return xy


def random_door_xy(rng: np.random.Generator, room_size_m: Point3, device_m: Point3) -> tuple[float, float]:
    """A doorway point 0.4 m inside a side wall other than the device's: where people enter."""
    wall = str(rng.choice([w for w in _WALLS if w != _nearest_wall(room_size_m, device_m)]))
    origin, along, inward, length = _wall_frame(wall, room_size_m)
    point = origin + along * rng.uniform(0.6, length - 0.6) + inward * 0.4
    return float(point[0]), float(point[1])


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _turn_rad(before: np.ndarray, after: np.ndarray) -> float:
    """Unsigned change of direction between two 2-D vectors."""
    return abs(float(_wrap(np.arctan2(after[1], after[0]) - np.arctan2(before[1], before[0]))))


def _ramped_arc(
    tau_s: np.ndarray, length_m: np.ndarray | float, speed_m_s: np.ndarray | float, ramp_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance and speed along a run: raised-cosine acceleration over ramp_s, cruise,
    symmetric deceleration (needs length ≥ speed·ramp_s; callers cap the speed)."""
    duration = length_m / speed_m_s + ramp_s
    tau = _clamp(tau_s, 0.0, duration)

    def ramp(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = _clamp(x, 0.0, ramp_s)
        return (0.5 * speed_m_s * (x - ramp_s / np.pi * np.sin(np.pi * x / ramp_s)),
                0.5 * speed_m_s * (1.0 - np.cos(np.pi * x / ramp_s)))

    s_up, v_up = ramp(tau)
    s_down, v_down = ramp(duration - tau)
    rising, falling = tau < ramp_s, tau > duration - ramp_s
    distance = np.where(rising, s_up, np.where(falling, length_m - s_down, speed_m_s * (tau - 0.5 * ramp_s)))
    speed = np.where(rising, v_up, np.where(falling, v_down, speed_m_s))
    return distance, speed


_MAX_TURN_RAD = np.radians(120.0)


class _Route:
    """A walk through 2-D points: corners rounded by averaging the polyline over ±corner_m
    of arc length (exact, via its piecewise-quadratic integral), speed ramped up and down.
    The ends stay exactly on the first and last points, so routes chain continuously."""

    def __init__(self, points_xy_m: np.ndarray, speed_m_s: float, ramp_s: float, corner_m: float) -> None:
        points = np.asarray(points_xy_m, dtype=float)
        legs = np.diff(points, axis=0)
        lengths = np.linalg.norm(legs, axis=1)
        if len(points) < 2 or np.any(lengths < 0.01):
            raise ValueError(f"a route needs consecutive points at least 1 cm apart, got {points.tolist()}")
        dirs = legs / lengths[:, None]
        turns = np.abs(_wrap(np.diff(np.arctan2(dirs[:, 1], dirs[:, 0]))))
        if np.any(turns > _MAX_TURN_RAD):
            raise ValueError(
                f"a route turns by {np.degrees(turns.max()):.0f}° at a waypoint; nobody walks through a turn sharper "
                f"than {np.degrees(_MAX_TURN_RAD):.0f}° — end the walk there and start another"
            )
        self.length_m = float(lengths.sum())
        self.window_m = max(min(corner_m, lengths[0], lengths[-1]), 0.005)
        extension = self.window_m + 1.0
        self._vertex = np.vstack([points[0] - extension * dirs[0], points[:-1], points[-1]])
        self._dir = np.vstack([dirs[0], dirs, dirs[-1]])
        seg_len = np.concatenate([[extension], lengths, [np.inf]])
        self._start = np.concatenate([[-extension], np.cumsum(seg_len[:-1]) - extension])
        finite = np.where(np.isfinite(seg_len), seg_len, 0.0)[:, None]
        steps = self._vertex * finite + 0.5 * self._dir * finite**2
        self._integral0 = np.vstack([np.zeros(2), np.cumsum(steps[:-1], axis=0)])
        self.ramp_s = ramp_s
        self.speed_m_s = min(speed_m_s, self.length_m / ramp_s)
        self.duration_s = self.length_m / self.speed_m_s + ramp_s

    def _segment(self, s_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = _clamp(np.searchsorted(self._start, s_m, "right") - 1, 0, len(self._start) - 1)
        return k, (s_m - self._start[k])[:, None]

    def _raw(self, s_m: np.ndarray) -> np.ndarray:
        k, u = self._segment(s_m)
        return self._vertex[k] + self._dir[k] * u

    def _integral(self, s_m: np.ndarray) -> np.ndarray:
        k, u = self._segment(s_m)
        return self._integral0[k] + self._vertex[k] * u + 0.5 * self._dir[k] * u**2

    def point(self, s_m: np.ndarray) -> np.ndarray:
        """(T, 2) position on the rounded path at arc length s."""
        w = self.window_m
        return (self._integral(s_m + w) - self._integral(s_m - w)) / (2.0 * w)

    def heading(self, s_m: np.ndarray) -> np.ndarray:
        """(T,) direction of travel on the rounded path."""
        w = self.window_m
        d = self._raw(s_m + w) - self._raw(s_m - w)
        return np.arctan2(d[:, 1], d[:, 0])

    def arc(self, tau_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Arc length and speed at time tau_s since the route began."""
        return _ramped_arc(tau_s, self.length_m, self.speed_m_s, self.ramp_s)

    def body_heading(self, s_m: np.ndarray, tau_s: np.ndarray, start_heading_rad: float, turn_s: float) -> np.ndarray:
        """Path heading, turned into smoothly from start_heading_rad over the first turn_s."""
        path = self.heading(s_m)
        first = float(self.heading(np.zeros(1))[0])
        return path + _wrap(start_heading_rad - first) * (1.0 - _ease(tau_s / turn_s))


def _stride(cycle: np.ndarray, swing_fraction: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foot position relative to its hip, in strides along the direction of travel, and lift
    (0..1), at gait phase ``cycle``. The foot is planted for 1 − swing of the cycle (moving
    back at walking speed relative to the body, so it rests on the ground), then swung one
    stride forward; the offset averages to zero over a cycle."""
    u = cycle - np.floor(cycle)
    stance = 1.0 - swing_fraction
    q = _clamp((u - stance) / swing_fraction, 0.0, 1.0)
    offset = 0.5 * stance - u + 0.5 * (1.0 - np.cos(np.pi * q))
    lift = np.where(u > stance, np.sin(np.pi * q) ** 2, 0.0)
    return offset, lift


def _lobe(component2: np.ndarray, size_m: float, inverse_distance2: np.ndarray, spread_rad: float = 0.0) -> np.ndarray:
    """Specular lobe of a patch along one of its axes, from the squared component of the
    unit vector to the device along that axis (the squared sine of the off-normal angle)
    and 1/distance²: 1 on the patch normal. The width is diffraction, λ/(2·size), in the far
    field and the patch's angular size, size/(2·distance), near it; a curved patch (normals
    spread over ±spread_rad) returns a wider but proportionally weaker lobe."""
    width2 = (NOMINAL_WAVELENGTH_M / (2.0 * size_m)) ** 2 + (0.5 * size_m) ** 2 * inverse_distance2
    if spread_rad == 0.0:
        return np.exp(-0.5 * component2 / width2)
    curved2 = width2 + spread_rad**2
    return np.sqrt(width2 / curved2) * np.exp(-0.5 * component2 / curved2)


def _unit_towards(listener_m: np.ndarray, points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (…, 3) from points to the listener, and distances (…)."""
    d = np.asarray(listener_m, dtype=float) - points_m
    r = np.maximum(np.linalg.norm(d, axis=-1), 1e-3)
    return d / r[..., None], r


def _groups(index: np.ndarray) -> list[tuple[int, slice | np.ndarray]]:
    """(value, selector) per distinct value of a per-time index: slices when the times come
    in order (the usual case, and cheap for day-long label arrays), masks otherwise."""
    if len(index) and np.all(index[1:] >= index[:-1]):
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(index)) + 1, [len(index)]])
        return [(int(index[a]), slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]
    return [(int(i), index == i) for i in np.unique(index)]


def _window_motion(active: np.ndarray) -> np.ndarray:
    return np.where(active, Motion.MOVING, Motion.NONE).astype(np.int8)


# --------------------------------------------------------------------------------------
# Person
# --------------------------------------------------------------------------------------
PERSON_SCATTERERS = (
    "head", "chest", "abdomen", "upper_arm_r", "upper_arm_l", "forearm_r", "forearm_l",
    "thigh_r", "thigh_l", "shin_r", "shin_l", "foot_r", "foot_l",
)
_HEAD, _CHEST, _ABDOMEN = 0, 1, 2
_UPPER_ARM, _FOREARM, _THIGH, _SHIN, _FOOT = (3, 4), (5, 6), (7, 8), (9, 10), (11, 12)
_SIDES = (-1.0, 1.0)  # right, left: sign of the body-frame lateral axis
_LIMB_CROSS_SECTION_M2 = {  # ultrasonic backscatter of a 1.75 m adult; the torso is a field
    _HEAD: 0.002, _UPPER_ARM[0]: 0.0008, _UPPER_ARM[1]: 0.0008, _FOREARM[0]: 0.0006, _FOREARM[1]: 0.0006,
    _THIGH[0]: 0.0015, _THIGH[1]: 0.0015, _SHIN[0]: 0.001, _SHIN[1]: 0.001, _FOOT[0]: 0.0005, _FOOT[1]: 0.0005,
}
_SWING_FRACTION = 0.42  # of the gait cycle, per foot
_STANCE_SHIFT = -0.1  # strides: the foot lands ~0.3 m ahead of the hip and pushes off well behind it
_LEG_REACH = 0.99  # fraction of thigh + shank the hip-ankle distance may reach (heel rises beyond)
_TURN_S = 0.8  # turning on the spot into a new walking direction
_FADE_S = 0.6  # a person emerging through (or vanishing behind) the door frame
_MINOR_KINDS = ("reach", "page", "type", "shift", "head", "legs")
_MINOR_PROBABILITY = (0.25, 0.15, 0.15, 0.2, 0.15, 0.1)
_MINOR_PEAK_SPEED_M_S = 0.8  # cap for drawn excursions: minor motion is slow


@dataclass(frozen=True)
class Walk:
    """Walk from where the person is through ``waypoints_m`` (x, y), stopping at the last."""

    waypoints_m: tuple[tuple[float, float], ...]
    speed_m_s: float = 1.2


@dataclass(frozen=True)
class Stay:
    """Stand or sit (``posture``) where the last walk ended, facing its direction: breathing,
    swaying a little, with minor motions at ``minor_per_min``. A seated stay sits down and
    stands up within its duration (``transition_s`` each) when a standing phase is next to it."""

    duration_s: float
    posture: str = "stand"
    minor_per_min: float = 2.0
    transition_s: float = 2.0


@dataclass(frozen=True)
class Away:
    """Outside the room, parked behind the door where the last walk ended: no echo."""

    duration_s: float


Segment = Walk | Stay | Away


_SEGMENT_FRACTIONS = {  # of body height (Winter, Biomechanics and Motor Control of Human Movement)
    "thigh_m": 0.245, "shank_m": 0.246, "ankle_m": 0.039, "hip_half_width_m": 0.052,
    "shoulder_half_width_m": 0.129, "upper_arm_m": 0.186, "forearm_hand_m": 0.254,
    "abdomen_m": 0.07, "chest_m": 0.19, "shoulder_m": 0.29, "head_m": 0.40,  # above the hips
}


@dataclass(frozen=True)
class _Anatomy:
    """Body segment lengths scaled from height."""

    height_m: float
    thigh_m: float
    shank_m: float
    ankle_m: float
    hip_half_width_m: float
    shoulder_half_width_m: float
    upper_arm_m: float
    forearm_hand_m: float
    abdomen_m: float
    chest_m: float
    shoulder_m: float
    head_m: float

    @classmethod
    def of_height(cls, height_m: float) -> _Anatomy:
        return cls(height_m, **{name: f * height_m for name, f in _SEGMENT_FRACTIONS.items()})

    @property
    def hip_height_m(self) -> float:
        """Standing hip-joint height, knees just off straight."""
        return _LEG_REACH * (self.thigh_m + self.shank_m) + self.ankle_m


@dataclass
class _Pose:
    """Body configuration per time: body frame at ground_xy/heading, joint angles in rad."""

    ground_xy: np.ndarray  # (T, 2)
    heading: np.ndarray  # (T,)
    pelvis: np.ndarray  # (T, 3) hip-joint midpoint, body frame
    tilt: np.ndarray  # (T,) trunk forward lean
    shoulder: np.ndarray  # (T, 2) upper-arm forward angle from vertical (right, left)
    elbow: np.ndarray  # (T, 2) forearm flexion relative to the upper arm
    ankle: np.ndarray  # (T, 2, 3) ankles, body frame
    sitting: np.ndarray  # (T,) 0 standing … 1 seated
    gait: np.ndarray  # (T,) 0 standing … 1 walking at cruise speed

    @classmethod
    def empty(cls, n: int) -> _Pose:
        return cls(np.zeros((n, 2)), np.zeros(n), np.zeros((n, 3)), np.zeros(n), np.zeros((n, 2)),
                   np.zeros((n, 2)), np.zeros((n, 2, 3)), np.zeros(n), np.zeros(n))


@dataclass(frozen=True)
class _Planned:
    """One segment placed in time, with where it starts and how it joins its neighbours."""

    segment: Segment
    start_s: float
    end_s: float
    xy_m: tuple[float, float]
    heading_rad: float
    route: _Route | None
    enter: bool  # walk that fades in from absence
    leave: bool  # walk that fades out into absence
    sit_in: bool  # seated stay that starts by sitting down
    stand_out: bool  # seated stay that ends by standing up


@dataclass(frozen=True)
class _MinorEvents:
    """Non-overlapping minor motions: body-frame excursions of scatterer groups."""

    start_s: np.ndarray
    end_s: np.ndarray
    kind: np.ndarray  # index into _MINOR_KINDS
    amplitude_m: np.ndarray
    frequency_hz: np.ndarray  # oscillating kinds (typing)
    direction: np.ndarray  # (n, 3) body frame
    weights: np.ndarray  # (n, 13) how much each scatterer follows

    def _locate(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Latest event started by each time, time since its start, its length, and whether it is on."""
        j = _clamp(np.searchsorted(self.start_s, t_s, "right") - 1, 0, len(self.start_s) - 1)
        tau = t_s - self.start_s[j]
        length = self.end_s[j] - self.start_s[j]
        return j, tau, length, (tau >= 0.0) & (tau < length)

    def active(self, t_s: np.ndarray) -> np.ndarray:
        """(T,) bool: a minor motion is under way."""
        return self._locate(t_s)[3] if len(self.start_s) else np.zeros(t_s.shape, dtype=bool)

    def displacement(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-scatterer weights (13, T) and body-frame displacement (T, 3); None when idle."""
        if not self.active(t_s).any():
            return None
        j, tau, length, active = self._locate(t_s)
        oscillating = self.kind[j] == _MINOR_KINDS.index("type")
        envelope = _ease(tau / 0.3) * _ease((length - tau) / 0.3)
        profile = np.where(oscillating, envelope * np.sin(2 * np.pi * self.frequency_hz[j] * tau), _bump(tau / length))
        magnitude = np.where(active, profile * self.amplitude_m[j], 0.0)
        return self.weights[j].T, magnitude[:, None] * self.direction[j]


def _draw_minor_events(rng: np.random.Generator, t_lo: float, t_hi: float, rate_per_min: float) -> list[tuple]:
    """Minor motions as a renewal process in [t_lo, t_hi): reach for a cup, turn a page,
    type, shift posture, turn the head, move the legs. Excursions are sin² out-and-back
    bumps whose peak speed stays under _MINOR_PEAK_SPEED_M_S."""
    events: list[tuple] = []
    if rate_per_min <= 0.0:
        return events
    t = t_lo + rng.exponential(60.0 / rate_per_min)
    while True:
        kind = int(rng.choice(len(_MINOR_KINDS), p=_MINOR_PROBABILITY))
        side = int(rng.integers(2))
        lateral = _SIDES[side]
        weights = np.zeros(13)
        frequency = 0.0
        name = _MINOR_KINDS[kind]
        if name == "reach":
            amplitude, angle = rng.uniform(0.12, 0.35), rng.uniform(0.0, 0.8)
            direction = (np.cos(angle), lateral * np.sin(angle), rng.uniform(-0.1, 0.4))
            weights[[_FOREARM[side], _UPPER_ARM[side], _CHEST, _HEAD]] = (1.0, 0.4, 0.08, 0.06)
            shortest = max(0.8, np.pi * amplitude / _MINOR_PEAK_SPEED_M_S)
            duration = rng.uniform(shortest, shortest + 1.5)
        elif name == "page":
            amplitude = rng.uniform(0.08, 0.2)
            direction = (0.2, -lateral, 0.3)
            weights[[_FOREARM[side], _UPPER_ARM[side]]] = (1.0, 0.25)
            shortest = max(0.4, np.pi * amplitude / _MINOR_PEAK_SPEED_M_S)
            duration = rng.uniform(shortest, shortest + 0.6)
        elif name == "type":
            amplitude, frequency, duration = rng.uniform(0.004, 0.012), rng.uniform(3.0, 7.0), rng.uniform(2.0, 12.0)
            direction = (0.0, 0.0, 1.0)
            weights[[_FOREARM[0], _FOREARM[1]]] = (1.0, -1.0)  # hands alternate
        elif name == "shift":
            amplitude, angle, duration = rng.uniform(0.03, 0.12), rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 3.0)
            direction = (np.cos(angle), np.sin(angle), -0.2)
            weights[[_HEAD, _CHEST, _ABDOMEN]] = (1.2, 1.0, 0.6)
            weights[[*_UPPER_ARM, *_FOREARM, *_THIGH]] = (1.0, 1.0, 0.8, 0.8, 0.2, 0.2)
        elif name == "head":
            amplitude, angle, duration = rng.uniform(0.02, 0.06), rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 2.0)
            direction = (np.cos(angle), np.sin(angle), rng.uniform(-0.5, 0.5))
            weights[_HEAD] = 1.0
        else:  # legs: cross, uncross, stretch
            amplitude = rng.uniform(0.05, 0.2)
            direction = (1.0, 0.0, rng.uniform(0.0, 0.6))
            weights[[_FOOT[side], _SHIN[side], _THIGH[side]]] = (1.0, 0.7, 0.3)
            shortest = max(0.8, np.pi * amplitude / _MINOR_PEAK_SPEED_M_S)
            duration = rng.uniform(shortest, shortest + 1.5)
        if t + duration > t_hi:
            return events
        direction = np.asarray(direction) / np.linalg.norm(direction)
        events.append((t, t + duration, kind, amplitude, frequency, direction, weights))
        t += duration + rng.exponential(60.0 / rate_per_min)


@dataclass(frozen=True)
class Person(Mover):
    """A person following a script of segments: walk, stay (stand or sit), be away.

    Segments start at ``start_s`` from ``start_xy_m`` / ``start_heading_rad`` and chain:
    each begins where the previous ended. Before the first segment the person is in its
    initial state; after the last one its final state persists (standing at the end of a
    walk, staying on, or away). Minor motions are drawn from ``seed`` per stay.
    """

    kind: ClassVar[str] = "person"
    is_person: ClassVar[bool] = True

    segments: tuple[Segment, ...]
    start_xy_m: tuple[float, float]
    start_heading_rad: float = 0.0
    start_s: float = 0.0
    height_m: float = 1.75
    seed: int = 0
    torso_cross_section_m2: float = 0.0075
    reflectivity_db: float = 0.0
    breathing_hz: float = 0.25
    breathing_amplitude_m: float = 0.004
    seat_height_m: float = 0.45

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a person needs at least one segment")
        if not 1.2 <= self.height_m <= 2.2:
            raise ValueError(f"person height {self.height_m} m is outside 1.2–2.2 m")
        for i, seg in enumerate(self.segments):
            prev = self.segments[i - 1] if i else None
            nxt = self.segments[i + 1] if i + 1 < len(self.segments) else None
            if isinstance(seg, Walk):
                if not 0.1 <= seg.speed_m_s <= 3.0:
                    raise ValueError(f"walking speed {seg.speed_m_s} m/s is outside 0.1–3 m/s")
            elif isinstance(seg, Stay):
                if seg.posture not in ("stand", "sit"):
                    raise ValueError(f"posture must be 'stand' or 'sit', got '{seg.posture}'")
                if isinstance(prev, Away) or isinstance(nxt, Away):
                    raise ValueError("a person must walk between being away and staying in the room")
            elif isinstance(seg, Away):
                if seg.duration_s < 0:
                    raise ValueError("an away segment cannot have negative duration")
            else:
                raise TypeError(f"segments must be Walk, Stay or Away, got {type(seg).__name__}")
        self._plan  # places the segments now, so an impossible route fails here, not mid-render

    # -- convenience scripts --------------------------------------------------------------
    @classmethod
    def walk_in(
        cls, door_xy_m: tuple[float, float], spot_xy_m: tuple[float, float], duration_s: float, *,
        enter_s: float = 1.0, via_m: tuple[tuple[float, float], ...] = (), speed_m_s: float = 1.2,
        posture: str = "stand", minor_per_min: float = 2.0, leave_s: float | None = None, **body,
    ) -> Person:
        """Enter by the door at enter_s, walk (via points) to a spot and stand or sit there;
        with leave_s, walk back out at that time."""
        inbound = Walk((*via_m, spot_xy_m), speed_m_s)
        arrive_s = enter_s + cls._walk_duration(door_xy_m, inbound)
        segments: list[Segment] = [Away(enter_s), inbound]
        minimum_stay_s = 5.0 if posture == "sit" else 1.0
        if leave_s is None:
            segments.append(Stay(max(duration_s - arrive_s, minimum_stay_s), posture, minor_per_min))
        else:
            outbound = Walk((*via_m[::-1], door_xy_m), speed_m_s)
            segments += [Stay(max(leave_s - arrive_s, minimum_stay_s), posture, minor_per_min), outbound,
                         Away(max(duration_s - leave_s, 0.0))]
        heading = np.arctan2(inbound.waypoints_m[0][1] - door_xy_m[1], inbound.waypoints_m[0][0] - door_xy_m[0])
        return cls(tuple(segments), tuple(door_xy_m), float(heading), **body)

    @classmethod
    def walk_through(
        cls, door_xy_m: tuple[float, float], exit_xy_m: tuple[float, float], duration_s: float, *,
        enter_s: float = 1.0, via_m: tuple[tuple[float, float], ...] = (), speed_m_s: float = 1.2, **body,
    ) -> Person:
        """Enter by one door, walk (via points) to another exit, and leave."""
        walk = Walk((*via_m, exit_xy_m), speed_m_s)
        rest_s = max(duration_s - enter_s - cls._walk_duration(door_xy_m, walk), 0.0)
        heading = np.arctan2(walk.waypoints_m[0][1] - door_xy_m[1], walk.waypoints_m[0][0] - door_xy_m[0])
        return cls((Away(enter_s), walk, Away(rest_s)), tuple(door_xy_m), float(heading), **body)

    @classmethod
    def seated(cls, spot_xy_m: tuple[float, float], heading_rad: float, duration_s: float, *,
               minor_per_min: float = 3.0, **body) -> Person:
        """Seated the whole time (feet at spot, facing heading), with minor motions."""
        return cls((Stay(duration_s, "sit", minor_per_min),), tuple(spot_xy_m), heading_rad, **body)

    @classmethod
    def still(cls, spot_xy_m: tuple[float, float], heading_rad: float, duration_s: float, *,
              posture: str = "sit", **body) -> Person:
        """Sitting or standing without minor motions: breathing and postural sway only."""
        return cls((Stay(duration_s, posture, 0.0),), tuple(spot_xy_m), heading_rad, **body)

    @classmethod
    def sample(
        cls, rng: np.random.Generator, room_size_m: Point3, device_m: Point3,
        duration_s: float, *, mode: str = "walk_in", door_xy_m: tuple[float, float] | None = None, **kw,
    ) -> Self:
        """A random person in ``mode``: walk_in, visit (in, stay, out), walk_through, seated, still.
        Keyword arguments override the drawn body and script parameters."""
        body = cls.draw_body(rng)
        door = door_xy_m or random_door_xy(rng, room_size_m, device_m)
        spot = _floor_point(rng, room_size_m, 0.7, (tuple(device_m[:2]), door), 1.0)
        speed = float(rng.uniform(0.6, 1.6))
        posture = "sit" if rng.uniform() < 0.5 else "stand"
        wander = rng.uniform() < 0.4  # detour via another point (round the table)

        def via(start: tuple[float, float], end: tuple[float, float]) -> tuple[tuple[float, float], ...]:
            point = _floor_point(rng, room_size_m, 0.6, (start, end), 0.8)
            gentle = _turn_rad(np.subtract(point, start), np.subtract(end, point)) < np.radians(100.0)
            return (point,) if wander and gentle else ()

        enter_s = float(rng.uniform(0.5, max(0.6, 0.3 * duration_s)))
        script = dict(enter_s=enter_s, via_m=via(door, spot), speed_m_s=speed)
        body_kw = {k: kw.pop(k) for k in list(kw) if k in body}
        body.update(body_kw)
        if mode == "walk_in":
            script.update(posture=posture, minor_per_min=float(rng.uniform(1.0, 4.0)))
            return cls.walk_in(door, spot, duration_s, **{**script, **kw}, **body)
        if mode == "visit":
            arrive = script["enter_s"] + 10.0
            script.update(posture=posture, minor_per_min=float(rng.uniform(1.0, 4.0)),
                          leave_s=float(rng.uniform(arrive, max(arrive + 5.0, 0.8 * duration_s))))
            return cls.walk_in(door, spot, duration_s, **{**script, **kw}, **body)
        if mode == "walk_through":
            exit_xy = random_door_xy(rng, room_size_m, device_m)
            while np.hypot(exit_xy[0] - door[0], exit_xy[1] - door[1]) < 1.5:
                exit_xy = random_door_xy(rng, room_size_m, device_m)
            script["via_m"] = via(door, exit_xy)
            return cls.walk_through(door, exit_xy, duration_s, **{**script, **kw}, **body)
        heading = float(rng.uniform(-np.pi, np.pi))
        if mode == "seated":
            rate = float(rng.uniform(1.0, 5.0))
            return cls.seated(spot, heading, duration_s, **{"minor_per_min": rate, **kw}, **body)
        if mode == "still":
            return cls.still(spot, heading, duration_s, **{"posture": posture, **kw}, **body)
        raise ValueError(f"unknown person mode '{mode}'; use walk_in, visit, walk_through, seated or still")

    @staticmethod
    def draw_body(rng: np.random.Generator) -> dict:
        """A random adult's body: the keyword arguments of everything but the script."""
        return dict(
            height_m=float(rng.uniform(1.5, 1.95)), seed=int(rng.integers(2**31)),
            torso_cross_section_m2=float(rng.uniform(0.005, 0.01)), reflectivity_db=float(rng.uniform(-4.0, 4.0)),
            breathing_hz=float(rng.uniform(0.2, 0.33)), breathing_amplitude_m=float(rng.uniform(0.003, 0.006)),
            seat_height_m=float(rng.uniform(0.42, 0.5)),
        )

    @staticmethod
    def _walk_duration(from_xy_m: tuple[float, float], walk: Walk) -> float:
        return _Route(np.array([from_xy_m, *walk.waypoints_m]), walk.speed_m_s, 0.5, 0.4).duration_s

    # -- plan -----------------------------------------------------------------------------
    @cached_property
    def _anatomy(self) -> _Anatomy:
        return _Anatomy.of_height(self.height_m)

    @cached_property
    def _plan(self) -> tuple[tuple[_Planned, ...], np.ndarray, _MinorEvents]:
        """Segments placed in time with their geometry, and every minor motion drawn."""
        planned: list[_Planned] = []
        xy, heading, t = tuple(map(float, self.start_xy_m)), float(self.start_heading_rad), float(self.start_s)
        events: list[tuple] = []
        segs = self.segments
        for i, seg in enumerate(segs):
            prev = segs[i - 1] if i else None
            nxt = segs[i + 1] if i + 1 < len(segs) else None
            route = None
            sit_in = stand_out = False
            if isinstance(seg, Walk):
                route = _Route(np.array([xy, *seg.waypoints_m]), seg.speed_m_s, 0.5, 0.4)
                duration = route.duration_s
            else:
                duration = float(seg.duration_s)
            if isinstance(seg, Stay) and seg.posture == "sit":
                sit_in = prev is not None and not (isinstance(prev, Stay) and prev.posture == "sit")
                stand_out = nxt is not None and not (isinstance(nxt, Stay) and nxt.posture == "sit")
                if duration < seg.transition_s * (sit_in + stand_out):
                    raise ValueError(f"a {duration:.1f} s seated stay is too short to sit down and stand up")
            walking = isinstance(seg, Walk)
            planned.append(_Planned(seg, t, t + duration, xy, heading, route, walking and isinstance(prev, Away),
                                    walking and isinstance(nxt, Away), sit_in, stand_out))
            if isinstance(seg, Stay):
                lo = t + (seg.transition_s if sit_in else 0.0)
                hi = t + duration - (seg.transition_s if stand_out else 0.0)
                events += _draw_minor_events(np.random.default_rng([self.seed, 1, i]), lo, hi, seg.minor_per_min)
            if route is not None:
                end = route.point(np.array([route.length_m]))[0]
                xy, heading = (float(end[0]), float(end[1])), float(route.heading(np.array([route.length_m]))[0])
            t += duration
        columns = list(zip(*events)) if events else [()] * 7
        minor = _MinorEvents(
            np.array(columns[0], dtype=float), np.array(columns[1], dtype=float), np.array(columns[2], dtype=int),
            np.array(columns[3], dtype=float), np.array(columns[4], dtype=float),
            np.array(columns[5], dtype=float).reshape(-1, 3), np.array(columns[6], dtype=float).reshape(-1, 13),
        )
        return tuple(planned), np.array([p.start_s for p in planned]), minor

    @property
    def minor_events(self) -> tuple[tuple[float, float, str], ...]:
        """(start_s, end_s, kind) of every scheduled minor motion."""
        ev = self._plan[2]
        return tuple((float(a), float(b), _MINOR_KINDS[k]) for a, b, k in zip(ev.start_s, ev.end_s, ev.kind))

    def _locate(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        planned, starts, _ = self._plan
        idx = _clamp(np.searchsorted(starts, t_s, "right") - 1, 0, len(planned) - 1)
        return idx, t_s - starts[idx]

    def _schedule(self, t_s: np.ndarray, with_minor: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Motion codes, presence and echo gain (door-frame fade) from the script alone."""
        planned, _, minor = self._plan
        idx, tau = self._locate(t_s)
        motion = np.zeros(t_s.shape, dtype=np.int8)
        present = np.ones(t_s.shape, dtype=bool)
        gain = np.ones(t_s.shape)
        for i, m in _groups(idx):
            p = planned[i]
            tt, length = tau[m], p.end_s - p.start_s
            if isinstance(p.segment, Away):
                present[m], gain[m] = False, 0.0
            elif isinstance(p.segment, Walk):
                motion[m] = np.where((tt >= 0) & (tt < length), Motion.MAJOR, Motion.NONE)
                fade = np.ones(tt.shape)
                if p.enter:
                    fade *= _ease(tt / _FADE_S)
                if p.leave:
                    fade *= 1.0 - _ease((tt - length + _FADE_S) / _FADE_S)
                gain[m] = fade
            else:
                tr = p.segment.transition_s
                moving = (p.sit_in & (tt >= 0) & (tt < tr)) | (p.stand_out & (tt >= length - tr) & (tt < length))
                motion[m] = np.where(moving, Motion.MAJOR, Motion.NONE)
        if with_minor:
            motion[minor.active(t_s) & (motion == Motion.NONE)] = Motion.MINOR
        return motion, present, gain

    # -- pose -----------------------------------------------------------------------------
    def _pose(self, t_s: np.ndarray) -> _Pose:
        planned, _, _ = self._plan
        idx, tau = self._locate(t_s)
        pose = _Pose.empty(len(t_s))
        for i, m in _groups(idx):
            if isinstance(planned[i].segment, Walk):
                self._walk_pose(pose, m, tau[m], planned[i])
            else:
                self._stay_pose(pose, m, tau[m], planned[i])
        # postural sway (forward, lateral) of a standing or seated body; walking takes over from it
        sway = _smooth_noise(t_s, self.seed, 2, 0.1, 0.7, channels=2)
        pose.pelvis[:, :2] += ((0.004 - 0.0025 * pose.sitting) * (1.0 - pose.gait) * sway).T
        return pose

    def _walk_pose(self, pose: _Pose, m: np.ndarray, tau: np.ndarray, p: _Planned) -> None:
        """Gait: cadence from speed (Boulic: cycle length 1.346·√(v·H_t)), stance feet planted,
        pelvis bobbing (2×/cycle) and swaying (1×/cycle), arms swinging against the legs."""
        body, route = self._anatomy, p.route
        s, speed = route.arc(tau)
        a = speed / route.speed_m_s  # gait amplitude: 0 standing … 1 cruising
        leg_m = body.hip_height_m
        relative_speed = route.speed_m_s / leg_m
        cycle_m = 1.346 * np.sqrt(relative_speed) * leg_m
        phase = s / cycle_m
        pose.ground_xy[m] = route.point(s)
        pose.heading[m] = route.body_heading(s, tau, p.heading_rad, _TURN_S)
        pose.gait[m] = a
        bob = 2 * np.pi * 2 * (phase - 0.3)
        pose.pelvis[m] = np.stack([
            -0.02 * relative_speed * a * np.sin(bob) / 2,  # slowest at mid-stance
            -0.032 * a * np.cos(2 * np.pi * (phase - 0.3)),  # over the stance foot
            leg_m - 0.01 * a + 0.015 * relative_speed * a * np.cos(bob),
        ], axis=-1)
        pose.tilt[m] = 0.02 + a * (0.02 + 0.02 * relative_speed)
        swing = np.cos(2 * np.pi * phase)
        arm = min(0.45, 0.1 + 0.17 * relative_speed) * a
        pose.shoulder[m] = np.stack([-arm * swing, arm * swing], axis=-1)
        pose.elbow[m] = 0.15 + a[:, None] * (0.1 + 0.3 * np.stack([1 - swing, 1 + swing], axis=-1) / 2)
        for k, (side, lead) in enumerate(zip(_SIDES, (0.0, 0.5))):
            offset, lift = _stride(phase + lead, _SWING_FRACTION)
            pose.ankle[m, k] = np.stack([
                a * cycle_m * (offset + _STANCE_SHIFT), np.full(tau.shape, side * body.hip_half_width_m),
                body.ankle_m + 0.06 * body.height_m / 1.75 * a * lift,
            ], axis=-1)

    def _stay_pose(self, pose: _Pose, m: np.ndarray, tau: np.ndarray, p: _Planned) -> None:
        """Standing or seated (feet fixed at the spot, hips back on the seat); sitting down
        and standing up blend the two with a forward trunk lean at mid-transition."""
        body, seg = self._anatomy, p.segment
        length = p.end_s - p.start_s
        if isinstance(seg, Stay) and seg.posture == "sit":
            tr = seg.transition_s
            down = _ease(tau / tr) if p.sit_in else np.ones(tau.shape)
            up = _ease((tau - length + tr) / tr) if p.stand_out else np.zeros(tau.shape)
            sit = down * (1.0 - up)
            lean = 0.6 * (np.sin(np.pi * _clamp(tau / tr, 0, 1)) * p.sit_in
                          + np.sin(np.pi * _clamp((tau - length + tr) / tr, 0, 1)) * p.stand_out)
        else:
            sit, lean = np.zeros(tau.shape), np.zeros(tau.shape)
        stand_pelvis = np.array([0.0, 0.0, body.hip_height_m])
        sit_pelvis = np.array([-0.95 * body.thigh_m, 0.0, self.seat_height_m + 0.09])
        pose.ground_xy[m] = p.xy_m
        pose.heading[m] = p.heading_rad
        pose.pelvis[m] = stand_pelvis + sit[:, None] * (sit_pelvis - stand_pelvis)
        pose.tilt[m] = 0.02 + 0.06 * sit + lean
        pose.shoulder[m] = (0.35 * sit)[:, None]
        pose.elbow[m] = (0.15 + 1.1 * sit)[:, None]
        pose.sitting[m] = sit
        for k, side in enumerate(_SIDES):
            pose.ankle[m, k] = np.stack([np.zeros(tau.shape), side * body.hip_half_width_m * (1 + 0.3 * sit),
                                         np.full(tau.shape, body.ankle_m)], axis=-1)

    def _body_points(self, pose: _Pose) -> np.ndarray:
        """(13, T, 3) scatterers in the body frame: trunk from pelvis and lean, arms from
        angles, knees by two-link inverse kinematics from hip to ankle (bending forward)."""
        body = self._anatomy
        n = len(pose.heading)
        up = np.stack([np.sin(pose.tilt), np.zeros(n), np.cos(pose.tilt)], axis=-1)
        pts = np.empty((13, n, 3))
        pts[_HEAD] = pose.pelvis + body.head_m * up
        pts[_CHEST] = pose.pelvis + body.chest_m * up
        pts[_ABDOMEN] = pose.pelvis + body.abdomen_m * up
        for k, side in enumerate(_SIDES):
            shoulder = pose.pelvis + body.shoulder_m * up
            shoulder[:, 1] += side * body.shoulder_half_width_m
            upper = _vertical_plane_dir(pose.shoulder[:, k])
            fore = _vertical_plane_dir(pose.shoulder[:, k] + pose.elbow[:, k])
            pts[_UPPER_ARM[k]] = shoulder + 0.5 * body.upper_arm_m * upper
            pts[_FOREARM[k]] = shoulder + body.upper_arm_m * upper + 0.6 * body.forearm_hand_m * fore
            hip = pose.pelvis.copy()
            hip[:, 1] += side * body.hip_half_width_m
            toe = pose.ankle[:, k]
            knee, ankle = _leg(hip, toe, body.thigh_m, body.shank_m)
            pts[_THIGH[k]] = 0.5 * (hip + knee)
            pts[_SHIN[k]] = 0.5 * (knee + ankle)
            pts[_FOOT[k]] = toe + (0.05, 0.0, -0.02)  # the planted forefoot stays put while the heel rises
        return pts

    @cached_property
    def _breathing_phases(self) -> np.ndarray:
        return np.random.default_rng([self.seed, 3]).uniform(0, 2 * np.pi, 3)

    def _breathing_m(self, t_s: np.ndarray) -> np.ndarray:
        """(T,) chest wall excursion: breathing with slowly wandering rate and depth."""
        slow = self._breathing_phases
        phase = (2 * np.pi * self.breathing_hz * t_s + 0.8 * np.sin(2 * np.pi * 0.011 * t_s + slow[0])
                 + 0.5 * np.sin(2 * np.pi * 0.027 * t_s + slow[1]))
        return self.breathing_amplitude_m * (1.0 + 0.15 * np.sin(2 * np.pi * 0.017 * t_s + slow[2])) * np.sin(phase)

    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        listener = np.asarray(listener_m, dtype=float)
        positions, sigma = _on_grid(np.asarray(t_s, dtype=float), lambda knots: self._exact(knots, listener))
        return Scatterers(positions, np.maximum(sigma, 0.0))

    def _exact(self, t_s: np.ndarray, listener_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pose = self._pose(t_s)
        local = self._body_points(pose)
        breath = self._breathing_m(t_s)
        local[_CHEST, :, 0] += breath
        local[_ABDOMEN, :, 0] += 0.6 * breath
        minor = self._plan[2].displacement(t_s)
        if minor is not None:
            weights, displacement = minor
            local += weights[:, :, None] * displacement[None]
        positions = _to_world(local, pose.heading, pose.ground_xy)
        gain = self._schedule(t_s, with_minor=False)[2]
        scale = (self.height_m / 1.75) ** 2 * 10 ** (self.reflectivity_db / 10) * gain
        sigma = np.empty((13, len(t_s)))
        for index, value in _LIMB_CROSS_SECTION_M2.items():
            sigma[index] = value * scale
        # the torso is broad: strongest seen from the front or back (mild aspect dependence)
        to_listener, _ = _unit_towards(listener_m, positions[_CHEST])
        facing = np.abs(to_listener[:, 0] * np.cos(pose.heading) + to_listener[:, 1] * np.sin(pose.heading))
        torso = self.torso_cross_section_m2 * scale * (0.55 + 0.45 * facing)
        sigma[_CHEST], sigma[_ABDOMEN] = 0.6 * torso, 0.4 * torso
        return positions, sigma

    def motion(self, t_s: np.ndarray) -> np.ndarray:
        return self._schedule(np.asarray(t_s, dtype=float))[0]

    def present(self, t_s: np.ndarray) -> np.ndarray:
        return self._schedule(np.asarray(t_s, dtype=float))[1]

    def body_center_m(self, t_s: np.ndarray) -> np.ndarray:
        t_s = np.asarray(t_s, dtype=float)
        pose = self._pose(t_s)
        up = np.stack([np.sin(pose.tilt), np.zeros(len(t_s)), np.cos(pose.tilt)], axis=-1)
        centre = pose.pelvis + 0.5 * (self._anatomy.chest_m + self._anatomy.abdomen_m) * up
        return _to_world(centre, pose.heading, pose.ground_xy)


def _soft_max(x: np.ndarray, y: np.ndarray, softness: float) -> np.ndarray:
    """max(x, y) with the corner rounded over ±softness, so velocities have no jumps."""
    return 0.5 * (x + y + np.sqrt((x - y) ** 2 + softness**2))


def _vertical_plane_dir(angle_rad: np.ndarray) -> np.ndarray:
    """Unit vector in the body's sagittal plane, angle forward from straight down."""
    return np.stack([np.sin(angle_rad), np.zeros(angle_rad.shape), -np.cos(angle_rad)], axis=-1)


def _leg(hip: np.ndarray, ankle: np.ndarray, thigh_m: float, shank_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Knee (bending forward, by two-link inverse kinematics) and ankle. Where the planted
    ankle is out of reach the heel rises, rolling the foot over the forefoot, instead of
    the leg locking straight (whose knee would move infinitely fast)."""
    reach_m = _LEG_REACH * (thigh_m + shank_m)
    horizontal2 = np.sum((ankle[:, :2] - hip[:, :2]) ** 2, axis=-1)
    lowest = hip[:, 2] - np.sqrt(np.maximum(reach_m**2 - horizontal2, 0.0))
    ankle = ankle.copy()
    ankle[:, 2] = _soft_max(ankle[:, 2], lowest, 0.03)
    v = ankle - hip
    d = np.linalg.norm(v, axis=-1)
    u = v / d[:, None]
    d = _clamp(d, abs(thigh_m - shank_m) + 1e-6, reach_m)
    along = (thigh_m**2 - shank_m**2 + d**2) / (2 * d)
    out = np.sqrt(np.maximum(thigh_m**2 - along**2, 0.0))
    forward = np.array([1.0, 0.0, 0.0]) - u[:, :1] * u  # forward, made perpendicular to the leg
    forward /= np.maximum(np.linalg.norm(forward, axis=-1), 1e-9)[:, None]
    return hip + along[:, None] * u + out[:, None] * forward, ankle


# --------------------------------------------------------------------------------------
# Fans
# --------------------------------------------------------------------------------------
def _spin(
    t_s: np.ndarray, on_s: float, off_s: float, omega_rad_s: float, up_s: float, down_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotor angle and rate: first-order spin-up from on_s; after off_s a coast-down under
    air drag (time constant down_s) plus bearing friction, which stops it in finite time."""
    run = _clamp(t_s - on_s, 0.0, off_s - on_s)
    rising = 1.0 - np.exp(-run / up_s)
    angle = omega_rad_s * (run - up_s * rising)
    rate = omega_rad_s * rising
    rate_at_off = omega_rad_s * (1.0 - np.exp(-(off_s - on_s) / up_s))
    friction = 0.05 * omega_rad_s  # rate the bearing alone would take away per down_s
    stop_s = down_s * np.log1p(rate_at_off / friction)
    coast = _clamp(t_s - off_s, 0.0, stop_s)
    decay = np.exp(-coast / down_s)
    angle = angle + (rate_at_off + friction) * down_s * (1.0 - decay) - friction * coast
    return angle, np.where(t_s > off_s, np.maximum((rate_at_off + friction) * decay - friction, 0.0), rate)


@dataclass(frozen=True)
class _Rotor(Mover):
    """Blades of a fan, each a row of patches along its span (velocity ∝ radius, so the
    micro-Doppler is symmetric), plus the motor housing. A patch flashes when its face turns
    normal to the device (lobe width ~λ/chord, widened by camber; the pitch twists from root
    to tip); a blade's leading edge flashes when the blade lies across the line of sight.
    ``flash_cross_section_m2`` is a patch's flat-face peak. Subclasses place hub and axis."""

    n_blades: int = 4
    radius_m: float = 0.15
    rpm: float = 1000.0
    on_s: float = 0.0
    off_s: float = NEVER_S
    spin_up_s: float = 1.5
    spin_down_s: float = 4.0
    chord_m: float = 0.06
    camber_rad: float = 0.15
    root_pitch_rad: float = 0.6
    tip_pitch_rad: float = 0.35
    points_per_blade: int = 3
    flash_cross_section_m2: float = 0.02
    edge_cross_section_m2: float = 0.002
    diffuse_cross_section_m2: float = 3e-4
    hub_cross_section_m2: float = 0.003

    @abstractmethod
    def _disc(self, t_s: np.ndarray, angle_rad: np.ndarray) -> tuple[np.ndarray, ...]:
        """Blade-disc centre, axis, two in-plane unit vectors and the motor housing, each (T, 3)."""

    @property
    def _omega_rad_s(self) -> float:
        return 2.0 * np.pi * self.rpm / 60.0

    def _rotation(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _spin(t_s, self.on_s, self.off_s, self._omega_rad_s, self.spin_up_s, self.spin_down_s)

    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        t_s = np.asarray(t_s, dtype=float)
        angle, _ = self._rotation(t_s)
        centre, axis, e1, e2, housing = self._disc(t_s, angle)
        hub_m = 0.2 * self.radius_m
        segment_m = (self.radius_m - hub_m) / self.points_per_blade
        radius = (hub_m + segment_m * (np.arange(self.points_per_blade) + 0.5))[None, :, None]  # (1, P, 1)
        pitch = np.linspace(self.root_pitch_rad, self.tip_pitch_rad, self.points_per_blade)[None, :, None]
        offset = 2.0 * np.pi * np.arange(self.n_blades)[:, None] / self.n_blades  # (B, 1)
        cos_a, sin_a = np.cos(angle), np.sin(angle)
        cos_b = cos_a * np.cos(offset) - sin_a * np.sin(offset)  # (B, T), blade angles
        sin_b = sin_a * np.cos(offset) + cos_a * np.sin(offset)
        span = cos_b[..., None] * e1 + sin_b[..., None] * e2  # (B, T, 3)
        n = self.n_blades * self.points_per_blade
        positions = np.empty((n + 1, len(t_s), 3))
        blades = positions[:n].reshape(self.n_blades, self.points_per_blade, len(t_s), 3)
        np.multiply(radius[..., None], span[:, None], out=blades)
        blades += centre
        positions[n] = housing
        # geometry towards the device from per-time dot products (each blade is a rigid line)
        g = np.asarray(listener_m, dtype=float) - centre
        g1, g2 = np.einsum("tx,tx->t", g, e1), np.einsum("tx,tx->t", g, e2)
        g_span = (cos_b * g1 + sin_b * g2)[:, None]  # (B, 1, T)
        g_tangent = (cos_b * g2 - sin_b * g1)[:, None]
        inverse_distance2 = np.einsum("tx,tx->t", g, g) - 2 * radius * g_span
        inverse_distance2 += radius**2
        np.reciprocal(np.maximum(inverse_distance2, 1e-6, out=inverse_distance2), out=inverse_distance2)
        along_chord = np.cos(pitch) * g_tangent - np.sin(pitch) * np.einsum("tx,tx->t", g, axis)
        # a straight blade glints as a whole when it lies across the line of sight
        edge = _lobe((g_span - radius) ** 2 * inverse_distance2, self.radius_m - hub_m, inverse_distance2)
        face = _lobe(np.square(along_chord, out=along_chord) * inverse_distance2, self.chord_m, inverse_distance2,
                     self.camber_rad)
        face *= self.flash_cross_section_m2
        face += self.edge_cross_section_m2
        face *= edge
        face += self.diffuse_cross_section_m2
        sigma = np.empty((n + 1, len(t_s)))
        sigma[:n] = face.reshape(n, -1)
        sigma[n] = self.hub_cross_section_m2
        return Scatterers(positions, sigma)

    def motion(self, t_s: np.ndarray) -> np.ndarray:
        _, rate = self._rotation(np.asarray(t_s, dtype=float))
        return _window_motion(rate * self.radius_m > 0.1)

    @staticmethod
    def _switching(rng: np.random.Generator, duration_s: float) -> dict[str, float]:
        """Already running at the start, or switched on during the scene; sometimes off again."""
        on_s = -60.0 if rng.uniform() < 0.5 else float(rng.uniform(0.0, 0.5 * duration_s))
        off_s = float(rng.uniform(max(on_s, 0.0) + 0.3 * duration_s, duration_s)) if rng.uniform() < 0.3 else NEVER_S
        return {"on_s": on_s, "off_s": off_s}


@dataclass(frozen=True)
class DeskFan(_Rotor):
    """A desk or pedestal fan: the blade disc faces ``yaw_rad`` (tilted up by ``tilt_rad``)
    from a pivot; an oscillating head sweeps the disc ±sweep_amplitude_rad while on."""

    kind: ClassVar[str] = "desk_fan"

    pivot_m: Point3 = (1.0, 1.0, 0.8)
    yaw_rad: float = 0.0
    tilt_rad: float = 0.0
    head_offset_m: float = 0.12
    sweep_amplitude_rad: float = 0.0
    sweep_period_s: float = 15.0

    def _disc(self, t_s: np.ndarray, angle_rad: np.ndarray) -> tuple[np.ndarray, ...]:
        sweep_phase = 2.0 * np.pi * _clamp(t_s - self.on_s, 0.0, self.off_s - self.on_s) / self.sweep_period_s
        yaw = self.yaw_rad + self.sweep_amplitude_rad * np.sin(sweep_phase)
        cos_t, sin_t, zero = np.cos(self.tilt_rad), np.sin(self.tilt_rad), np.zeros(t_s.shape)
        axis = np.stack([cos_t * np.cos(yaw), cos_t * np.sin(yaw), np.full(t_s.shape, sin_t)], axis=-1)
        e1 = np.stack([-np.sin(yaw), np.cos(yaw), zero], axis=-1)
        e2 = np.cross(axis, e1)
        pivot = np.asarray(self.pivot_m)
        return pivot + self.head_offset_m * axis, axis, e1, e2, pivot + 0.4 * self.head_offset_m * axis

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Point3, device_m: Point3, duration_s: float, **kw) -> Self:
        """A desk or pedestal fan somewhere in the room, often oscillating."""
        radius = float(rng.uniform(0.1, 0.2))
        xy = _floor_point(rng, room_size_m, 0.2 + radius + 0.15, (tuple(device_m[:2]),), 0.8)
        into_room = float(np.arctan2(room_size_m[1] / 2 - xy[1], room_size_m[0] / 2 - xy[0]))  # blowing at people
        sweeping = rng.uniform() < 0.5
        fan = cls(
            n_blades=int(rng.integers(3, 6)), radius_m=radius, rpm=float(rng.uniform(600, 1500)),
            spin_up_s=float(rng.uniform(0.8, 2.5)), spin_down_s=float(rng.uniform(3.0, 8.0)),
            chord_m=float(rng.uniform(0.35, 0.55) * radius), camber_rad=float(rng.uniform(0.1, 0.3)),
            root_pitch_rad=float(rng.uniform(0.45, 0.7)), tip_pitch_rad=float(rng.uniform(0.2, 0.45)),
            flash_cross_section_m2=_log_uniform(rng, 0.01, 0.05), edge_cross_section_m2=_log_uniform(rng, 5e-4, 3e-3),
            diffuse_cross_section_m2=float(rng.uniform(1e-4, 4e-4)),
            hub_cross_section_m2=float(rng.uniform(1e-3, 4e-3)),
            pivot_m=(xy[0], xy[1], float(rng.uniform(0.3, 1.2))), yaw_rad=into_room + float(rng.uniform(-1.2, 1.2)),
            tilt_rad=float(rng.uniform(-0.15, 0.25)), head_offset_m=float(rng.uniform(0.08, 0.15)),
            sweep_amplitude_rad=float(rng.uniform(0.52, 0.79)) if sweeping else 0.0,
            sweep_period_s=float(rng.uniform(10.0, 20.0)), **cls._switching(rng, duration_s),
        )
        return dataclasses.replace(fan, **kw)


@dataclass(frozen=True)
class CeilingFan(_Rotor):
    """A ceiling fan: slow, long, slightly pitched flat blades under the ceiling, wobbling
    a few millimetres at the rotation rate as real ones do."""

    kind: ClassVar[str] = "ceiling_fan"

    hub_m: Point3 = (2.0, 2.0, 2.2)
    wobble_m: float = 0.002

    def _disc(self, t_s: np.ndarray, angle_rad: np.ndarray) -> tuple[np.ndarray, ...]:
        hub = np.asarray(self.hub_m)
        centre = hub + self.wobble_m * np.stack([np.cos(angle_rad), np.sin(angle_rad), np.zeros(t_s.shape)], axis=-1)
        shape = (len(t_s), 3)
        axis, e1, e2 = (np.broadcast_to(np.asarray(v, dtype=float), shape) for v in ((0, 0, 1), (1, 0, 0), (0, 1, 0)))
        return centre, axis, e1, e2, centre + (0.0, 0.0, 0.12)

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Point3, device_m: Point3, duration_s: float, **kw) -> Self:
        """A ceiling fan near the middle of the room, its blade tips clear of the walls."""
        lx, ly, lz = room_size_m
        radius = float(min(rng.uniform(0.5, 0.7), min(lx, ly) / 2 - 0.3))
        reach = radius + 0.25
        hub = (float(rng.uniform(reach, lx - reach)), float(rng.uniform(reach, ly - reach)),
               float(lz - rng.uniform(0.3, 0.45)))
        pitch = float(rng.uniform(0.14, 0.26))
        fan = cls(
            n_blades=int(rng.integers(3, 6)), radius_m=radius, rpm=float(rng.uniform(50, 200)),
            spin_up_s=float(rng.uniform(4.0, 10.0)), spin_down_s=float(rng.uniform(10.0, 25.0)),
            chord_m=float(rng.uniform(0.1, 0.15)), camber_rad=float(rng.uniform(0.0, 0.05)), root_pitch_rad=pitch,
            tip_pitch_rad=pitch - float(rng.uniform(0.0, 0.05)), points_per_blade=4,
            flash_cross_section_m2=_log_uniform(rng, 0.01, 0.05), edge_cross_section_m2=_log_uniform(rng, 2e-3, 1e-2),
            diffuse_cross_section_m2=float(rng.uniform(2e-4, 6e-4)),
            hub_cross_section_m2=float(rng.uniform(3e-3, 8e-3)), hub_m=hub, wobble_m=float(rng.uniform(0.001, 0.004)),
            **cls._switching(rng, duration_s),
        )
        return dataclasses.replace(fan, **kw)


# --------------------------------------------------------------------------------------
# Curtain and door: things on a wall that a draft moves
# --------------------------------------------------------------------------------------
def _draft_windows(rng: np.random.Generator, duration_s: float) -> tuple[tuple[float, float], ...]:
    """One or two drafts (window open, air conditioning cycling) within a scene."""
    windows = []
    for _ in range(int(rng.integers(1, 3))):
        on_s = float(rng.uniform(-0.2, 0.7) * duration_s)
        windows.append((on_s, on_s + float(rng.uniform(0.2, 0.8) * duration_s)))
    return tuple(sorted(windows))


@dataclass(frozen=True)
class Curtain(Mover):
    """A curtain in front of a window: a rows × columns grid of scatterers hanging from a
    rail at ``top_m``, ``gap_m`` in front of ``wall``, displaced along the wall normal by a
    draft. The sway is a seeded sum of travelling waves (0.05–1 Hz) across the width,
    largest at the hem, with gusts; without a draft, convection leaves millimetres."""

    VISIBLE_SWAY_M: ClassVar[float] = 0.002
    """Draft sway labelled as motion: 2 mm turns a 32–40 kHz echo's phase by > 2 rad, a
    clear Doppler trace (at 1 cm the label missed sway 10–20 dB above the noise)."""

    kind: ClassVar[str] = "curtain"

    room_size_m: Point3 = (5.0, 4.0, 2.6)
    wall: str = "x1"
    centre_along_m: float = 2.0
    width_m: float = 1.6
    bottom_m: float = 0.5
    top_m: float = 2.3
    gap_m: float = 0.1
    rows: int = 3
    columns: int = 4
    sway_amplitude_m: float = 0.04
    still_amplitude_m: float = 0.002
    drafts_s: tuple[tuple[float, float], ...] = ()
    gust_rate_per_min: float = 1.0
    cross_section_m2: float = 0.01
    seed: int = 0

    _MODES: ClassVar[int] = 10
    _RAMP_S: ClassVar[float] = 3.0
    _GUST_MAX_S: ClassVar[float] = 4.0

    def __post_init__(self) -> None:
        _, _, _, length = _wall_frame(self.wall, self.room_size_m)
        if self.centre_along_m - self.width_m / 2 < 0 or self.centre_along_m + self.width_m / 2 > length:
            raise ValueError(
                f"a {self.width_m} m curtain centred at {self.centre_along_m} m does not fit on wall {self.wall}"
            )

    @cached_property
    def _sheet(self) -> tuple[np.ndarray, ...]:
        """Rest positions (N, 3), hem-weighted sway gain (N,), and mode coefficients."""
        rng = np.random.default_rng([self.seed, 21])
        origin, along, inward, _ = _wall_frame(self.wall, self.room_size_m)
        u = (np.arange(self.columns) + 0.5) / self.columns * self.width_m - self.width_m / 2
        z = self.bottom_m + (np.arange(self.rows) + 0.5) / self.rows * (self.top_m - self.bottom_m)
        uu, zz = (a.ravel() for a in np.meshgrid(u, z))
        folds = 0.02 * np.sin(2 * np.pi * uu / 0.15 + rng.uniform(0, 2 * np.pi))  # pleats, static
        rest = origin + (self.centre_along_m + uu)[:, None] * along + zz[:, None] * (0, 0, 1)
        hem = 0.3 + 0.7 * (self.top_m - zz) / (self.top_m - self.bottom_m)  # the rail holds the top
        omega = 2 * np.pi * np.exp(rng.uniform(np.log(0.05), np.log(1.0), self._MODES))
        phase = rng.uniform(0, 2 * np.pi, self._MODES)
        wavenumber = rng.uniform(-1.5, 1.5, self._MODES) * 2 * np.pi / self.width_m
        amplitude = rng.uniform(0.5, 1.0, self._MODES) * (omega / omega.min()) ** -0.5  # slow modes carry more
        amplitude *= np.sqrt(2.0 / np.sum(amplitude**2))
        spatial = wavenumber[None, :] * uu[:, None]  # (N, M)
        coef_cos, coef_sin = amplitude * np.cos(spatial), amplitude * np.sin(spatial)
        return rest, inward, self.gap_m + folds, hem, omega, phase, coef_cos, coef_sin

    def _amplitude_m(self, t_s: np.ndarray) -> np.ndarray:
        """Sway amplitude: draft envelope × (1 + gusts); gusts blow only in a draft."""
        draft = _gate(t_s, self.drafts_s, self._RAMP_S)
        starts, attrs = _poisson_events(self.seed, 22, *_span_s(t_s),
                                        self.gust_rate_per_min / 60.0, 2, self._GUST_MAX_S)
        durations = 1.0 + 3.0 * attrs[:, 0] if len(starts) else np.zeros(0)
        gust = _event_sum(t_s, starts, durations, lambda k, tau: (0.5 + 1.5 * attrs[k, 1]) * _bump(tau / durations[k]))
        return self.sway_amplitude_m * draft * (1.0 + gust)

    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        t_s = np.asarray(t_s, dtype=float)
        positions, = _on_grid(t_s, lambda knots: (self._positions(knots),))
        return Scatterers(positions, np.full(positions.shape[:2], self.cross_section_m2 / positions.shape[0]))

    def _positions(self, t_s: np.ndarray) -> np.ndarray:
        rest, inward, offset, hem, omega, phase, coef_cos, coef_sin = self._sheet
        argument = omega[:, None] * t_s + phase[:, None]  # (M, T)
        wave = coef_cos @ np.cos(argument) - coef_sin @ np.sin(argument)  # (N, T), unit RMS
        amplitude = self.still_amplitude_m + self._amplitude_m(t_s)
        normal = np.maximum(offset[:, None] + hem[:, None] * amplitude * wave, 0.01)  # the window stops the cloth
        return rest[:, None, :] + normal[..., None] * inward

    def motion(self, t_s: np.ndarray) -> np.ndarray:
        """Moving while the draft sways the hem by more than ``VISIBLE_SWAY_M``."""
        return _window_motion(self._amplitude_m(np.asarray(t_s, dtype=float)) >= self.VISIBLE_SWAY_M)

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Point3, device_m: Point3, duration_s: float, **kw) -> Self:
        """A curtained window on a wall other than the device's, with a draft or two."""
        wall = str(rng.choice([w for w in _WALLS if w != _nearest_wall(room_size_m, device_m)]))
        length = _wall_frame(wall, room_size_m)[3]
        width = float(rng.uniform(1.0, min(2.5, length - 0.6)))
        top = float(min(rng.uniform(2.0, 2.4), room_size_m[2] - 0.1))
        curtain = cls(
            room_size_m=tuple(map(float, room_size_m)), wall=wall,
            centre_along_m=float(rng.uniform(width / 2 + 0.2, length - width / 2 - 0.2)), width_m=width,
            bottom_m=float(rng.uniform(0.05, 0.9)), top_m=top, gap_m=float(rng.uniform(0.05, 0.15)),
            rows=3, columns=int(rng.integers(3, 6)), sway_amplitude_m=_log_uniform(rng, 0.01, 0.1),
            still_amplitude_m=float(rng.uniform(0.001, 0.003)), drafts_s=_draft_windows(rng, duration_s),
            gust_rate_per_min=float(rng.uniform(0.5, 3.0)), cross_section_m2=_log_uniform(rng, 0.005, 0.02),
            seed=int(rng.integers(2**31)),
        )
        return dataclasses.replace(curtain, **kw)


@dataclass(frozen=True)
class Door(Mover):
    """A hinged door panel on ``wall``, standing ajar at ``rest_angle_rad`` into the room.
    A draft makes it wander slowly (≤ ~0.3 rad/s) and now and then swing hard, slam-like,
    shut or open (clipped at the frame), then drift back. Both faces are flat and smooth:
    a panel patch flashes when its normal points at the device."""

    kind: ClassVar[str] = "door"

    room_size_m: Point3 = (5.0, 4.0, 2.6)
    wall: str = "y0"
    hinge_along_m: float = 1.0
    opens_towards: int = 1  # +1: the free edge lies towards larger along-wall coordinates
    width_m: float = 0.85
    height_m: float = 2.0
    rest_angle_rad: float = 0.3
    wander_amplitude_rad: float = 0.1
    drafts_s: tuple[tuple[float, float], ...] = ()
    slam_rate_per_min: float = 0.5
    flash_cross_section_m2: float = 0.1
    diffuse_cross_section_m2: float = 0.003
    columns: int = 2
    rows: int = 3
    seed: int = 0

    _RAMP_S: ClassVar[float] = 3.0
    _SLAM_MAX_S: ClassVar[float] = 7.0

    def __post_init__(self) -> None:
        _, _, _, length = _wall_frame(self.wall, self.room_size_m)
        free_edge = self.hinge_along_m + self.opens_towards * self.width_m
        edges = (self.hinge_along_m, free_edge)
        if self.opens_towards not in (-1, 1) or min(edges) < 0 or max(edges) > length:
            raise ValueError(
                f"a {self.width_m} m door hinged at {self.hinge_along_m} m does not fit on wall {self.wall}"
            )

    def _angles(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Opening angle (0 = shut) and how strongly it is being moved (for the label)."""
        draft = _gate(t_s, self.drafts_s, self._RAMP_S)
        wander = self.wander_amplitude_rad * draft * _smooth_noise(t_s, self.seed, 31, 0.02, 0.15)[0]
        starts, attrs = _poisson_events(self.seed, 32, *_span_s(t_s),
                                        self.slam_rate_per_min / 60.0, 4, self._SLAM_MAX_S)
        starts_draft = _gate(starts, self.drafts_s, self._RAMP_S) > 0.5  # slams need a draft
        starts, attrs = starts[starts_draft], attrs[starts_draft]
        attack, release = 0.3 + 0.3 * attrs[:, 0], 2.0 + 4.0 * attrs[:, 1]
        swing = np.where(attrs[:, 2] < 0.7, -1.0, 1.0) * self.rest_angle_rad * (0.8 + 0.6 * attrs[:, 3])

        def slam(k: int, tau: np.ndarray) -> np.ndarray:
            closing = _ease(tau / attack[k])
            return swing[k] * np.where(tau < attack[k], closing, 1.0 - _ease((tau - attack[k]) / release[k]))

        slams = _event_sum(t_s, starts, attack + release, slam)
        active = _event_sum(t_s, starts, attack + release, lambda k, tau: np.ones(tau.shape))
        angle = _clamp(self.rest_angle_rad + wander + slams, 0.0, 0.5 * np.pi)
        return angle, np.maximum(self.wander_amplitude_rad * draft, 0.1 * active)

    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        t_s = np.asarray(t_s, dtype=float)
        angle, _ = self._angles(t_s)
        origin, along, inward, _ = _wall_frame(self.wall, self.room_size_m)
        hinge = origin + self.hinge_along_m * along
        panel = np.cos(angle)[:, None] * (self.opens_towards * along) + np.sin(angle)[:, None] * inward  # (T, 3)
        patch_w, patch_h = self.width_m / self.columns, self.height_m / self.rows
        across, up = (a.ravel()[:, None] for a in np.meshgrid((np.arange(self.columns) + 0.5) * patch_w,
                                                               (np.arange(self.rows) + 0.5) * patch_h))
        positions = np.multiply(across[..., None], panel)
        positions += hinge
        positions[..., 2] += up
        # towards the device, from per-time dot products with the (horizontal, unit) panel direction
        g = np.asarray(listener_m, dtype=float) - hinge
        g_panel = panel @ g
        inverse_distance2 = 1.0 / (g @ g - 2 * across * g_panel - 2 * up * g[2] + across**2 + up**2)
        glint = (_lobe((g_panel - across) ** 2 * inverse_distance2, patch_w, inverse_distance2)
                 * _lobe((g[2] - up) ** 2 * inverse_distance2, patch_h, inverse_distance2))
        return Scatterers(positions, self.diffuse_cross_section_m2 + self.flash_cross_section_m2 * glint)

    def motion(self, t_s: np.ndarray) -> np.ndarray:
        return _window_motion(self._angles(np.asarray(t_s, dtype=float))[1] >= 0.01)

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Point3, device_m: Point3, duration_s: float, **kw) -> Self:
        """An ajar door in a wall other than the device's, in a draft."""
        wall = str(rng.choice([w for w in _WALLS if w != _nearest_wall(room_size_m, device_m)]))
        length = _wall_frame(wall, room_size_m)[3]
        width = float(rng.uniform(0.8, 0.9))
        towards = 1 if rng.uniform() < 0.5 else -1
        hinge = float(rng.uniform(0.2, length - width - 0.2)) + (width if towards < 0 else 0.0)
        door = cls(
            room_size_m=tuple(map(float, room_size_m)), wall=wall, hinge_along_m=hinge, opens_towards=towards,
            width_m=width, height_m=float(min(2.0, room_size_m[2] - 0.2)), rest_angle_rad=float(rng.uniform(0.05, 0.5)),
            wander_amplitude_rad=float(rng.uniform(0.03, 0.15)), drafts_s=_draft_windows(rng, duration_s),
            slam_rate_per_min=float(rng.uniform(0.1, 1.0)), flash_cross_section_m2=_log_uniform(rng, 0.02, 0.3),
            diffuse_cross_section_m2=float(rng.uniform(0.001, 0.004)), seed=int(rng.integers(2**31)),
        )
        return dataclasses.replace(door, **kw)


# --------------------------------------------------------------------------------------
# Pets
# --------------------------------------------------------------------------------------
_REST, _MOVE, _JUMP = 0, 1, 2
PET_SCATTERERS = ("body", "head", "leg_lh", "leg_lf", "leg_rh", "leg_rf")
_LEG_ALONG = (-1.0, 1.0, -1.0, 1.0)  # hind / fore
_LEG_SIDE = (1.0, 1.0, -1.0, -1.0)  # left / right
_WALK_LEAD = (0.0, 0.25, 0.5, 0.75)  # lateral-sequence walk: LH, LF, RH, RF
_RUN_LEAD = (0.0, 0.5, 0.5, 0.0)  # trot / gallop-like: diagonal pairs
_PET_TURN_S = 0.4


@dataclass(frozen=True)
class _Bout:
    """One stretch of a pet's day: resting, moving along a route, or jumping."""

    kind: int
    start_s: float
    end_s: float
    xy_m: tuple[float, float]
    z_m: float  # paw level: floor 0, or the top of a sofa, chair or sill
    heading_rad: float
    route: _Route | None = None
    to_xy_m: tuple[float, float] = (0.0, 0.0)
    to_z_m: float = 0.0
    to_heading_rad: float = 0.0
    turn_s: float = 0.0  # a jump starts by turning towards its target


@dataclass(frozen=True)
class Pet(Mover):
    """A four-legged pet wandering a room: long rests, walking bouts (0.3–1.2 m/s),
    occasional runs (up to 3 m/s) and jumps onto or off furniture, all drawn from ``seed``
    over ``duration_s`` (it rests afterwards). Six scatterers: body, head, four legs; the
    legs step with planted paws (walk: lateral sequence; run: diagonal pairs)."""

    room_size_m: Point3 = (5.0, 4.0, 2.6)
    start_xy_m: tuple[float, float] = (1.0, 1.0)
    start_heading_rad: float = 0.0
    duration_s: float = 60.0
    shoulder_height_m: float = 0.25
    cross_section_m2: float = 0.0015
    rest_mean_s: float = 30.0
    run_probability: float = 0.15
    jump_probability: float = 0.25
    seed: int = 0

    _BODY_PER_SHOULDER: ClassVar[float] = 1.8
    _SHOULDER_RANGE_M: ClassVar[tuple[float, float]] = (0.22, 0.28)
    _CROSS_SECTION_RANGE_M2: ClassVar[tuple[float, float]] = (0.001, 0.002)
    _PERCH_RANGE_M: ClassVar[tuple[float, float]] = (0.4, 0.9)
    _JUMP_PROBABILITY: ClassVar[float] = 0.25
    _BREATHING_HZ: ClassVar[float] = 0.4
    _SPLIT: ClassVar[tuple[float, ...]] = (0.5, 0.2, 0.075, 0.075, 0.075, 0.075)  # of σ, per PET_SCATTERERS

    @property
    def _margin_m(self) -> float:
        return 0.25 + 0.5 * self._BODY_PER_SHOULDER * self.shoulder_height_m

    def _inside(self, xy: np.ndarray) -> bool:
        lx, ly, _ = self.room_size_m
        m = self._margin_m
        return bool(m <= xy[0] <= lx - m and m <= xy[1] <= ly - m)

    @cached_property
    def _bouts(self) -> tuple[tuple[_Bout, ...], np.ndarray]:
        """The pet's schedule, drawn once from the seed: rest, then an activity, repeatedly."""
        rng = np.random.default_rng([self.seed, 41])
        xy, z, heading, t = np.asarray(self.start_xy_m, dtype=float), 0.0, float(self.start_heading_rad), 0.0
        bouts: list[_Bout] = []
        while t < self.duration_s:
            rest_s = max(2.0, rng.exponential(self.rest_mean_s))
            bouts.append(_Bout(_REST, t, t + rest_s, tuple(xy), z, heading))
            t += rest_s
            roll = rng.uniform()
            if z > 0 or roll < self.jump_probability:
                jump = self._draw_jump(rng, t, xy, z, heading)
                if jump is not None:
                    bouts.append(jump)
                    xy, z, heading, t = np.asarray(jump.to_xy_m), jump.to_z_m, jump.to_heading_rad, jump.end_s
                    continue
            running = roll > 1.0 - self.run_probability
            speed = float(rng.uniform(1.5, 3.0) if running else rng.uniform(0.3, 1.2))
            points = [xy]
            lx, ly, _ = self.room_size_m
            m = self._margin_m
            for _ in range(int(rng.integers(1, 4))):
                for _ in range(20):
                    candidate = np.array([rng.uniform(m, lx - m), rng.uniform(m, ly - m)])
                    leg = candidate - points[-1]
                    sharp = len(points) > 1 and _turn_rad(points[-1] - points[-2], leg) > np.radians(100.0)
                    if np.linalg.norm(leg) > (1.5 if running else 0.5) and not sharp:
                        points.append(candidate)
                        break
            if len(points) < 2 or z > 0:
                continue
            route = _Route(np.array(points), speed, 0.3 + 0.1 * running, 0.15 + 0.2 * speed)
            bouts.append(_Bout(_MOVE, t, t + route.duration_s, tuple(xy), z, heading, route))
            t += route.duration_s
            xy = points[-1]
            heading = float(route.heading(np.array([route.length_m]))[0])
        return tuple(bouts), np.array([b.start_s for b in bouts])

    def _draw_jump(self, rng: np.random.Generator, t: float, xy: np.ndarray, z: float, heading: float) -> _Bout | None:
        """Onto a perch (from the floor) or down (from a perch): turn on the spot, then a
        ballistic flight 0.4–0.9 m forward, straight ahead if the room allows it."""
        for attempt in range(20):
            to_heading = heading if attempt == 0 else float(rng.uniform(-np.pi, np.pi))
            target = xy + rng.uniform(0.4, 0.9) * np.array([np.cos(to_heading), np.sin(to_heading)])
            if self._inside(target):
                to_z = 0.0 if z > 0 else float(rng.uniform(*self._PERCH_RANGE_M))
                turn_s = abs(float(_wrap(to_heading - heading))) / 4.0
                flight_s = float(1.15 * np.sqrt(2 * (abs(to_z - z) + 0.1) / GRAVITY_M_S2))
                return _Bout(_JUMP, t, t + turn_s + flight_s, tuple(xy), z, heading, None, tuple(target), to_z,
                             heading + float(_wrap(to_heading - heading)), turn_s)
        return None

    def _state(self, t_s: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per time: ground (T, 2), paw level, heading, gait amplitude, stride phase, stride
        length, leg leads (T, 4) and swing fraction."""
        bouts, starts = self._bouts
        idx = _clamp(np.searchsorted(starts, t_s, "right") - 1, 0, len(bouts) - 1)
        tau = t_s - starts[idx]
        n = len(t_s)
        ground, level, heading = np.zeros((n, 2)), np.zeros(n), np.zeros(n)
        amplitude, phase, stride = np.zeros(n), np.zeros(n), np.ones(n)
        leads, swing = np.zeros((n, 4)), np.full(n, 0.4)
        leg_m = 0.9 * self.shoulder_height_m
        for i, m in _groups(idx):
            b, tt = bouts[i], tau[m]
            if b.kind == _MOVE:
                s, speed = b.route.arc(tt)
                ground[m] = b.route.point(s)
                heading[m] = b.route.body_heading(s, tt, b.heading_rad, _PET_TURN_S)
                amplitude[m] = speed / b.route.speed_m_s
                stride[m] = np.sqrt(b.route.speed_m_s * leg_m)  # Froude-like scaling of stride with speed
                phase[m] = s / stride[m]
                running = b.route.speed_m_s > 1.2
                leads[m] = _RUN_LEAD if running else _WALK_LEAD
                swing[m] = 0.62 if running else 0.4
                level[m] = b.z_m
            elif b.kind == _JUMP:
                flight_s = b.end_s - b.start_s - b.turn_s
                u = _clamp((tt - b.turn_s) / flight_s, 0.0, 1.0)
                ground[m] = np.asarray(b.xy_m) + u[:, None] * (np.asarray(b.to_xy_m) - b.xy_m)
                level[m] = b.z_m + (b.to_z_m - b.z_m) * u + 0.5 * GRAVITY_M_S2 * flight_s**2 * u * (1 - u)
                heading[m] = b.heading_rad + (b.to_heading_rad - b.heading_rad) * _ease(tt / max(b.turn_s, 1e-9))
            else:
                ground[m], level[m], heading[m] = b.xy_m, b.z_m, b.heading_rad
        return ground, level, heading, amplitude, phase, stride, leads, swing

    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        positions, = _on_grid(np.asarray(t_s, dtype=float), lambda knots: (self._positions(knots),))
        sigma = np.repeat(np.asarray(self._SPLIT)[:, None] * self.cross_section_m2, len(t_s), axis=1)
        return Scatterers(positions, sigma)

    def _positions(self, t_s: np.ndarray) -> np.ndarray:
        ground, level, heading, amplitude, phase, stride, leads, swing = self._state(t_s)
        h = self.shoulder_height_m
        half_length = 0.5 * self._BODY_PER_SHOULDER * h
        n = len(t_s)
        local = np.zeros((len(PET_SCATTERERS), n, 3))
        breathing = 0.004 * h * np.sin(2 * np.pi * (self._BREATHING_HZ * t_s + (self.seed % 997) / 997))
        local[0, :, 2] = level + 0.75 * h + 0.03 * h * amplitude * np.cos(4 * np.pi * phase) + breathing
        local[1, :, 0] = 1.1 * half_length
        local[1, :, 2] = level + 1.05 * h
        for k in range(4):
            offset, lift = _stride(phase + leads[:, k], swing)
            local[2 + k, :, 0] = 0.8 * half_length * _LEG_ALONG[k] + amplitude * stride * offset
            local[2 + k, :, 1] = 0.22 * h * _LEG_SIDE[k]
            local[2 + k, :, 2] = level + 0.3 * h + 0.35 * h * amplitude * lift  # lower leg, above the paw
        return _to_world(local, heading, ground)

    def motion(self, t_s: np.ndarray) -> np.ndarray:
        bouts, starts = self._bouts
        t_s = np.asarray(t_s, dtype=float)
        idx = _clamp(np.searchsorted(starts, t_s, "right") - 1, 0, len(bouts) - 1)
        kind = np.array([b.kind for b in bouts])[idx]
        end = np.array([b.end_s for b in bouts])[idx]
        return _window_motion((kind != _REST) & (t_s >= starts[idx]) & (t_s < end))

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Point3, device_m: Point3, duration_s: float, **kw) -> Self:
        """A pet of this kind somewhere on the floor, with its own temperament."""
        shoulder = float(rng.uniform(*cls._SHOULDER_RANGE_M))
        margin = 0.25 + 0.5 * cls._BODY_PER_SHOULDER * shoulder
        pet = cls(
            room_size_m=tuple(map(float, room_size_m)), start_xy_m=_floor_point(rng, room_size_m, margin),
            start_heading_rad=float(rng.uniform(-np.pi, np.pi)), duration_s=float(duration_s),
            shoulder_height_m=shoulder, cross_section_m2=float(rng.uniform(*cls._CROSS_SECTION_RANGE_M2)),
            rest_mean_s=float(rng.uniform(10.0, 90.0)), run_probability=float(rng.uniform(0.05, 0.3)),
            jump_probability=float(rng.uniform(0.3, 1.0) * cls._JUMP_PROBABILITY),
            seed=int(rng.integers(2**31)),
        )
        return dataclasses.replace(pet, **kw)


@dataclass(frozen=True)
class Cat(Pet):
    """A cat: small (σ ≈ 0.001–0.002 m²), jumps onto furniture often."""

    kind: ClassVar[str] = "cat"


@dataclass(frozen=True)
class Dog(Pet):
    """A 10–30 kg dog: σ ≈ 0.003–0.008 m², longer legs and stride, seldom on furniture."""

    kind: ClassVar[str] = "dog"

    shoulder_height_m: float = 0.5
    cross_section_m2: float = 0.005
    jump_probability: float = 0.05

    _BODY_PER_SHOULDER: ClassVar[float] = 1.4
    _SHOULDER_RANGE_M: ClassVar[tuple[float, float]] = (0.4, 0.62)
    _CROSS_SECTION_RANGE_M2: ClassVar[tuple[float, float]] = (0.003, 0.008)
    _PERCH_RANGE_M: ClassVar[tuple[float, float]] = (0.4, 0.5)
    _JUMP_PROBABILITY: ClassVar[float] = 0.05
    _BREATHING_HZ: ClassVar[float] = 0.3


# --------------------------------------------------------------------------------------
# Robot vacuum
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RobotVacuum(Mover):
    """A robot vacuum cleaning between ``start_s`` and ``end_s``: straight runs at
    ``speed_m_s`` until a wall (or, now and then, furniture) stops it, a turn on the spot
    back into the room, and a side brush spinning near its front edge. It stops where it
    is at ``end_s``. Scatterers: four points on the rim, the top, two brush tufts."""

    kind: ClassVar[str] = "robot_vacuum"

    room_size_m: Point3 = (5.0, 4.0, 2.6)
    dock_xy_m: tuple[float, float] = (0.3, 1.0)
    dock_heading_rad: float = 0.0
    start_s: float = 0.0
    end_s: float = 3600.0
    speed_m_s: float = 0.3
    turn_rate_rad_s: float = 1.5
    body_cross_section_m2: float = 0.004
    brush_cross_section_m2: float = 2e-4
    brush_rpm: float = 150.0
    seed: int = 0

    _RADIUS_M: ClassVar[float] = 0.17
    _MARGIN_M: ClassVar[float] = 0.25
    _RAMP_S: ClassVar[float] = 0.3
    _BATTERY_S: ClassVar[float] = 4 * 3600.0

    def __post_init__(self) -> None:
        if not 0.0 < self.end_s - self.start_s <= self._BATTERY_S:
            raise ValueError(f"a robot vacuum cleans for up to {self._BATTERY_S / 3600:.0f} h on a charge, "
                             f"got {self.start_s} s to {self.end_s} s")

    def _free_run_m(self, xy: np.ndarray, heading: float) -> float:
        """Distance along heading before the robot's centre reaches the margin box."""
        lx, ly, _ = self.room_size_m
        d = np.array([np.cos(heading), np.sin(heading)])
        limits = []
        for axis, size in ((0, lx), (1, ly)):
            if abs(d[axis]) > 1e-9:
                wall = size - self._MARGIN_M if d[axis] > 0 else self._MARGIN_M
                limits.append((wall - xy[axis]) / d[axis])
        return max(min(limits), 0.0)

    @cached_property
    def _legs(self) -> tuple[np.ndarray, ...]:
        """Pieces of the cleaning run as arrays: start, duration, start point, headings
        (from, to), run length and speed; a piece is a turn then a straight run."""
        rng = np.random.default_rng([self.seed, 51])
        xy, heading, t = np.asarray(self.dock_xy_m, dtype=float), float(self.dock_heading_rad), float(self.start_s)
        rows = []
        new_heading = heading
        while t < self.end_s:
            turn_s = abs(_wrap(new_heading - heading)) / self.turn_rate_rad_s
            free = self._free_run_m(xy, new_heading)
            length = free if rng.uniform() < 0.7 else free * rng.uniform(0.3, 1.0)  # furniture stops it early
            speed = min(self.speed_m_s, max(length, 1e-3) / self._RAMP_S)
            run_s = length / speed + self._RAMP_S
            turned = heading + _wrap(new_heading - heading)
            rows.append((t, turn_s, run_s, xy[0], xy[1], heading, turned, length, speed))
            t += turn_s + run_s
            heading = new_heading
            xy = xy + length * np.array([np.cos(heading), np.sin(heading)])
            for _ in range(50):  # bounce back into the room
                new_heading = float(_wrap(heading + np.pi + rng.uniform(-1.2, 1.2)))
                if self._free_run_m(xy, new_heading) > 0.3:
                    break
        return tuple(np.array(c) for c in zip(*rows))

    def _pose(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre (T, 2), heading and cleaning time at ``t_s`` (frozen outside the run)."""
        t = _clamp(t_s, self.start_s, self.end_s)
        start, turn, run, x0, y0, h0, h1, length, speed = self._legs
        j = _clamp(np.searchsorted(start, t, "right") - 1, 0, len(start) - 1)
        tau = t - start[j]
        heading = h0[j] + (h1[j] - h0[j]) * _ease(tau / np.maximum(turn[j], 1e-9))
        s, _ = _ramped_arc(tau - turn[j], length[j], speed[j], self._RAMP_S)
        centre = np.stack([x0[j] + s * np.cos(h1[j]), y0[j] + s * np.sin(h1[j])], axis=-1)
        return centre, heading, t - self.start_s

    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        t_s = np.asarray(t_s, dtype=float)
        centre, heading, cleaning_s = self._pose(t_s)
        r = self._RADIUS_M
        rim = np.array([[r, 0, 0.06], [0, r, 0.06], [0, -r, 0.06], [-r, 0, 0.06], [0, 0, 0.1]])
        brush = 2 * np.pi * self.brush_rpm / 60.0 * cleaning_s
        local = np.empty((7, len(t_s), 3))
        local[:5] = rim[:, None, :]
        for k, offset in enumerate((0.0, np.pi)):  # two tufts of the side brush, front right
            local[5 + k] = np.stack([0.6 * r + 0.07 * np.cos(brush + offset), -0.6 * r + 0.07 * np.sin(brush + offset),
                                     np.full(t_s.shape, 0.01)], axis=-1)
        sigma = np.empty((7, len(t_s)))
        sigma[:5] = self.body_cross_section_m2 / 5
        sigma[5:] = self.brush_cross_section_m2 / 2
        return Scatterers(_to_world(local, heading, centre), sigma)

    def motion(self, t_s: np.ndarray) -> np.ndarray:
        t_s = np.asarray(t_s, dtype=float)
        return _window_motion((t_s >= self.start_s) & (t_s < self.end_s))

    @classmethod
    def sample(cls, rng: np.random.Generator, room_size_m: Point3, device_m: Point3, duration_s: float, **kw) -> Self:
        """A robot leaving its dock by a wall, cleaning for part or all of the scene."""
        wall = str(rng.choice(_WALLS))
        origin, along, inward, length = _wall_frame(wall, room_size_m)
        dock = origin + along * rng.uniform(0.5, length - 0.5) + inward * (cls._MARGIN_M + 0.01)
        start = float(rng.uniform(0.0, 0.3 * duration_s))
        robot = cls(
            room_size_m=tuple(map(float, room_size_m)), dock_xy_m=(float(dock[0]), float(dock[1])),
            dock_heading_rad=float(np.arctan2(inward[1], inward[0])), start_s=start,
            end_s=min(float(rng.uniform(0.5 * (start + duration_s), duration_s) if rng.uniform() < 0.3 else start + 3600.0),
                      start + cls._BATTERY_S),
            speed_m_s=float(rng.uniform(0.2, 0.35)), turn_rate_rad_s=float(rng.uniform(1.0, 2.0)),
            body_cross_section_m2=_log_uniform(rng, 0.002, 0.006), brush_cross_section_m2=_log_uniform(rng, 1e-4, 4e-4),
            brush_rpm=float(rng.uniform(90.0, 200.0)), seed=int(rng.integers(2**31)),
        )
        return dataclasses.replace(robot, **kw)
