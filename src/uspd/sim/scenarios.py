"""The scenario catalog: named, seeded, randomised scenes with ground truth.

Every scenario draws its room (size, wall materials, furniture), the device's place and
manufactured unit, the air (temperature, humidity), the carrier and the emission level
from the seed, then adds what happens in it. The same name and seed always give the same
scene; different seeds give different rooms, so a detector cannot learn one room.

    >>> scene = build_scene("walk_in", seed=3)
    >>> scene.duration_s
    20.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from uspd.sim.device import ARRAY_PRESETS, Device, Hardware
from uspd.sim.room import Furniture, Room
from uspd.sim.scene import Environment, Scene

_WALL_CHOICES = (("plaster", 0.55), ("glass", 0.15), ("bookshelf", 0.15), ("curtain", 0.1), ("wood", 0.05))
_FLOOR_CHOICES = (("wood", 0.45), ("tile", 0.25), ("carpet", 0.3))
_CEILING_CHOICES = (("plaster", 0.8), ("concrete", 0.15), ("acoustic_panel", 0.05))


@dataclass(frozen=True)
class Setting:
    """What every scenario starts from: an empty room with a device in it."""

    room: Room
    device: Device
    environment: Environment
    carrier_hz: float
    level_dbfs: float

    @property
    def size_m(self) -> tuple[float, float, float]:
        return self.room.size_m

    @property
    def device_m(self) -> tuple[float, float, float]:
        return self.device.position_m


@dataclass(frozen=True)
class Elements:
    movers: tuple = ()
    sources: tuple = ()
    modulators: tuple = ()
    music: object | None = None


Populate = Callable[[np.random.Generator, Setting, float], Elements]


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    description: str
    default_duration_s: float
    populate: Populate


SCENARIOS: dict[str, ScenarioSpec] = {}


def scenario(name: str, description: str, default_duration_s: float = 20.0) -> Callable[[Populate], Populate]:
    def register(populate: Populate) -> Populate:
        SCENARIOS[name] = ScenarioSpec(name, description, default_duration_s, populate)
        return populate

    return register


def _choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    names, weights = zip(*options)
    return str(rng.choice(names, p=np.asarray(weights) / sum(weights)))


def draw_setting(
    rng: np.random.Generator,
    *,
    sample_rate_hz: int | None = None,
    carrier_hz: float | None = None,
    array: str | None = None,
) -> Setting:
    """A random living space with the device on a shelf or table against the x = 0 wall."""
    size = (float(rng.uniform(3.5, 7.0)), float(rng.uniform(3.0, 6.0)), float(rng.uniform(2.4, 3.0)))
    walls = tuple(_choice(rng, _WALL_CHOICES) for _ in range(4)) + (
        _choice(rng, _FLOOR_CHOICES), _choice(rng, _CEILING_CHOICES),
    )
    furniture = tuple(
        Furniture(
            (float(rng.uniform(0.3, size[0] - 0.3)), float(rng.uniform(0.3, size[1] - 0.3)), float(rng.uniform(0.3, 1.2))),
            float(np.exp(rng.uniform(np.log(0.005), np.log(0.1)))),
        )
        for _ in range(int(rng.integers(3, 11)))
    )
    room = Room(size, walls, furniture)
    array = array or str(rng.choice(["smart_speaker_7", "smart_speaker_7", "laptop_2", "single"]))
    if array not in ARRAY_PRESETS:
        raise ValueError(f"unknown mic array '{array}'; presets: {', '.join(ARRAY_PRESETS)}")
    rate = sample_rate_hz or (48000 if array == "laptop_2" and rng.uniform() < 0.5 else 96000)
    hardware = Hardware.sample(rng, n_mics=len(ARRAY_PRESETS[array]), sample_rate_hz=rate)
    position = (float(rng.uniform(0.3, 0.5)), float(rng.uniform(0.25 * size[1], 0.75 * size[1])), float(rng.uniform(0.75, 1.4)))
    device = Device(position, array=array, yaw_deg=float(rng.uniform(-30, 30)), hardware=hardware)
    environment = Environment(temperature_c=float(rng.uniform(16, 28)), relative_humidity_pct=float(rng.uniform(25, 70)))
    if carrier_hz is None:
        low, high = (19000.0, 21500.0) if rate == 48000 else (30000.0, 40000.0)
        carrier_hz = float(np.round(rng.uniform(low, high), -2))
    return Setting(room, device, environment, carrier_hz, float(rng.uniform(-12.0, -3.0)))


def build_scene(
    name: str,
    seed: int,
    *,
    duration_s: float | None = None,
    sample_rate_hz: int | None = None,
    carrier_hz: float | None = None,
    array: str | None = None,
) -> Scene:
    """The scene ``name`` draws from ``seed`` (overrides pin the device, not the room)."""
    try:
        spec = SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario '{name}'; known: {', '.join(sorted(SCENARIOS))} (see `uspd simulate --list`)"
        ) from None
    duration = spec.default_duration_s if duration_s is None else float(duration_s)
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration} s")
    rng = np.random.default_rng([seed, _stable_hash(name)])
    setting = draw_setting(rng, sample_rate_hz=sample_rate_hz, carrier_hz=carrier_hz, array=array)
    elements = spec.populate(rng, setting, duration)
    return Scene(
        room=setting.room, device=setting.device, carrier_hz=setting.carrier_hz, duration_s=duration,
        level_dbfs=setting.level_dbfs, environment=setting.environment,
        movers=tuple(elements.movers), sources=tuple(elements.sources), modulators=tuple(elements.modulators),
        music=elements.music, name=name, seed=seed,
    )


def _stable_hash(text: str) -> int:
    """A per-scenario stream id that does not change between Python runs."""
    return int.from_bytes(text.encode(), "little") % (2**32)


@scenario("empty_quiet", "empty room, nothing moving: the false-alarm floor")
def _empty_quiet(rng: np.random.Generator, setting: Setting, duration_s: float) -> Elements:
    return Elements()


def _register_simple() -> None:
    """Scenarios that are the base setting plus elements drawn by their own ``sample``."""
    from uspd.sim.movers import Cat, CeilingFan, Curtain, DeskFan, Dog, Door, Person, RobotVacuum
    from uspd.sim.music import Music
    from uspd.sim.sources import AirflowHiss, HvacTurbulence, InterfererTone, KeysJingle, PaperCrinkle, PestRepeller

    def movers(*factories):
        def populate(rng: np.random.Generator, s: Setting, duration_s: float) -> Elements:
            return Elements(movers=tuple(f(rng, s, duration_s) for f in factories))
        return populate

    def person(mode: str):
        return lambda rng, s, d: Person.sample(rng, s.size_m, s.device_m, d, mode=mode)

    def sampled(cls):
        return lambda rng, s, d: cls.sample(rng, s.size_m, s.device_m, d)

    def with_sound(*factories, mover=None, music=False, hvac=False):
        def populate(rng: np.random.Generator, s: Setting, d: float) -> Elements:
            sources = tuple(cls.sample(rng, s.size_m, s.device_m, d, s.carrier_hz) for cls in factories)
            return Elements(
                movers=(mover(rng, s, d),) if mover else (),
                sources=sources,
                modulators=(HvacTurbulence.sample(rng, s.size_m, s.device_m, d, s.carrier_hz),) if hvac else (),
                music=Music.sample(rng, s.size_m, s.device_m, d, s.carrier_hz) if music else None,
            )
        return populate

    table = [
        ("walk_in", "a person enters through a door, walks to a spot and stays", movers(person("walk_in"))),
        ("walk_through", "a person crosses the room and leaves", movers(person("walk_through"))),
        ("visit", "a person walks in, stays a while and leaves", movers(person("visit"))),
        ("seated_reading", "a seated person with minor motions (page turns, typing, reaching)", movers(person("seated"))),
        ("still_person", "a person sitting still, only breathing", movers(person("still"))),
        ("empty_fan", "empty room, a desk fan running (maybe oscillating)", movers(sampled(DeskFan))),
        ("ceiling_fan", "empty room, a ceiling fan running", movers(sampled(CeilingFan))),
        ("curtain_draft", "empty room, a curtain swaying in a draft", movers(sampled(Curtain))),
        ("door_draft", "empty room, a door swung by a draft", movers(sampled(Door))),
        ("cat", "empty of people, a cat wandering and resting", movers(sampled(Cat))),
        ("dog", "empty of people, a dog wandering and resting", movers(sampled(Dog))),
        ("robot_vacuum", "empty of people, a robot vacuum cleaning", movers(sampled(RobotVacuum))),
        ("hvac", "empty room, HVAC airflow: turbulence and hiss", with_sound(AirflowHiss, hvac=True)),
        ("interferer", "empty room, another device's ultrasonic tone", with_sound(InterfererTone)),
        ("pest_repeller", "empty room, an ultrasonic pest repeller sweeping", with_sound(PestRepeller)),
        ("keys_paper", "empty room, jingling keys and crinkling paper next door", with_sound(KeysJingle, PaperCrinkle)),
        ("music_loud_empty", "empty room, loud bass-heavy music through the device", with_sound(music=True)),
        ("music_with_walk", "loud music while a person walks in", with_sound(music=True, mover=person("walk_in"))),
    ]
    for name, description, populate in table:
        scenario(name, description)(populate)


_register_simple()


# --------------------------------------------------------------------------------------
# A day in a living room
# --------------------------------------------------------------------------------------
_DAY_S = 86400.0
_HOUR_S = 3600.0
_MIN_GAP_S = 2.0  # between leaving the room and coming back in
_MIN_STAY_S = {"sit": 6.0, "stand": 2.0}  # room to sit down and stand up again


@dataclass(frozen=True)
class _Clock:
    """Clock hours of one day → scene seconds (``scale`` scene seconds per clock second)."""

    offset_s: float
    scale: float

    def at(self, hour: float) -> float:
        return self.offset_s + hour * _HOUR_S * self.scale

    def span(self, hours: float) -> float:
        return hours * _HOUR_S * self.scale

    def hour(self, t_s: float) -> float:
        return (t_s - self.offset_s) / (_HOUR_S * self.scale)


@dataclass(frozen=True)
class _Episode:
    """One planned time in the room: a walk-through, or in, stand or sit a while, out."""

    start_s: float
    kind: str  # "through", "stand" or "sit"
    stay_s: float = 0.0
    minor_per_min: float = 0.0
    activity: str = ""  # for sit: "coffee", "work", "reading" or "tv"
    until_s: float = np.inf  # out of the room by then (leaving home, going to bed)


@dataclass(frozen=True)
class _Session:
    """A seated stay as it was placed: who, where, and when seated (sit-down to stand-up)."""

    resident: int
    start_s: float
    end_s: float
    activity: str


# (kind, probability) of the episodes that fill a stretch at home, by part of the day
_MORNING_MIX = (("through", 0.45), ("stand", 0.35), ("sit", 0.2))
_DAYTIME_MIX = (("through", 0.35), ("stand", 0.2), ("sit", 0.45))
_EVENING_MIX = (("through", 0.3), ("stand", 0.2), ("sit", 0.5))


def _draw_episode(rng: np.random.Generator, clock: _Clock, hour: float, mix) -> tuple[_Episode, float]:
    """An episode starting at ``hour`` and the clock hours it is meant to take."""
    kind = _choice(rng, mix)
    if kind == "through":
        return _Episode(clock.at(hour), kind), 0.0
    if kind == "stand":  # fetching something, tidying, opening the window, a phone call
        hours = float(rng.uniform(0.5, 6.0)) / 60.0
        return _Episode(clock.at(hour), kind, clock.span(hours), float(rng.uniform(2.0, 6.0))), hours
    if hour < 10.0:
        activity, minutes = "coffee", float(rng.uniform(5.0, 25.0))
    elif hour < 17.0:
        activity, minutes = "work", float(rng.uniform(20.0, 120.0))
    else:
        activity = "tv" if rng.uniform() < 0.5 else "reading"
        minutes = float(np.exp(rng.uniform(np.log(15.0), np.log(150.0))))
    rate = {"coffee": (1.0, 3.0), "work": (2.0, 5.0), "reading": (1.5, 4.0), "tv": (0.3, 1.5)}[activity]
    hours = minutes / 60.0
    return _Episode(clock.at(hour), "sit", clock.span(hours), float(rng.uniform(*rate)), activity), hours


def _fill(
    rng: np.random.Generator, clock: _Clock, lo_h: float, hi_h: float, mix, gap_mean_min: float, until_s: float,
) -> list[_Episode]:
    """Episodes starting over [lo_h, hi_h), separated by exponential gaps elsewhere in the
    home, each over by until_s."""
    episodes = []
    hour = lo_h + float(rng.exponential(0.5 * gap_mean_min)) / 60.0
    while hour < hi_h:
        episode, hours = _draw_episode(rng, clock, hour, mix)
        episodes.append(dataclasses.replace(episode, until_s=until_s))
        hour += hours + (0.5 + float(rng.exponential(gap_mean_min))) / 60.0
    return episodes


def _resident_day(
    rng: np.random.Generator, clock: _Clock, home_day: bool,
) -> tuple[list[_Episode], list[tuple[float, float]], list[float]]:
    """One resident's day in clock hours: asleep in another room at night, out at work (or at
    home, with an outing), in and out of the living room while at home. Returns the
    episodes (scene seconds), the hours spent out of the home, and the arrival hours."""
    episodes: list[_Episode] = []
    if rng.uniform() < 0.25:  # up in the night: through the living room to the kitchen and back
        night = float(rng.uniform(0.5, 5.5))
        episodes += [_Episode(clock.at(night), "through"),
                     _Episode(clock.at(night) + clock.span(float(rng.uniform(1.0, 6.0)) / 60.0), "through")]
    if home_day:
        wake, bed = float(rng.uniform(7.0, 9.5)), float(rng.uniform(22.5, 23.9))
        if rng.uniform() < 0.7:
            out = float(rng.uniform(10.5, 14.0))
            back = min(out + float(rng.uniform(1.0, 3.5)), bed - 0.5)
            home, away, arrivals = [(wake, out), (back, bed)], [(out, back)], [back]
        else:
            home, away, arrivals = [(wake, bed)], [], []
    else:
        wake = float(rng.uniform(6.0, 7.75))
        leave = wake + float(rng.uniform(0.6, 1.5))
        back, bed = float(rng.uniform(16.75, 19.25)), float(rng.uniform(22.0, 23.9))
        home, away, arrivals = [(wake, leave), (back, bed)], [(leave, back)], [back]
    for lo, hi in home:
        if lo in arrivals:  # coming home: through the living room or dropping things in it
            kind = "through" if rng.uniform() < 0.4 else "stand"
            stay = float(rng.uniform(1.0, 4.0)) / 60.0 if kind == "stand" else 0.0
            episodes.append(_Episode(clock.at(lo), kind, clock.span(stay), float(rng.uniform(2.0, 6.0)),
                                     until_s=clock.at(hi)))
            lo += stay + float(rng.uniform(3.0, 15.0)) / 60.0
        for part_lo, part_hi, mix, gap in ((0.0, 10.0, _MORNING_MIX, 10.0), (10.0, 17.0, _DAYTIME_MIX, 25.0),
                                           (17.0, 24.0, _EVENING_MIX, 12.0)):
            a, b = max(lo, part_lo), min(hi, part_hi)
            if a < b:
                episodes += _fill(rng, clock, a, b, mix, gap, clock.at(hi))
    episodes.sort(key=lambda e: e.start_s)
    return episodes, away, arrivals


class _Script:
    """A resident's segments, placed episode by episode; episodes that would overlap the
    previous one or run past ``limit_s`` are dropped (stays are shortened to fit first)."""

    def __init__(self, rng: np.random.Generator, index: int, setting: Setting, doors: list[tuple[float, float]]):
        from uspd.sim.movers import Person, _floor_point

        self.index, self.setting, self.doors = index, setting, doors
        self.start_door = self.door = doors[int(rng.integers(len(doors)))]
        self.body = Person.draw_body(rng)
        self.speed_m_s = float(rng.uniform(0.8, 1.4))
        self.seat = _floor_point(rng, setting.size_m, 0.7, (setting.device_m[:2], *doors), 1.0)
        self.segments: list = []
        self.cursor_s = 0.0
        self.sessions: list[_Session] = []

    def _spot(self, rng: np.random.Generator) -> tuple[float, float]:
        from uspd.sim.movers import _floor_point

        return _floor_point(rng, self.setting.size_m, 0.6, (self.setting.device_m[:2], *self.doors), 1.0)

    def _other_door(self, rng: np.random.Generator) -> tuple[float, float]:
        others = [d for d in self.doors if d != self.door] or self.doors
        return others[int(rng.integers(len(others)))]

    def place(self, rng: np.random.Generator, episode: _Episode, limit_s: float) -> bool:
        from uspd.sim.movers import Away, Person, Stay, Walk

        limit_s = min(limit_s, episode.until_s)
        # draw first, then see whether the episode fits
        speed = float(np.clip(self.speed_m_s * rng.uniform(0.85, 1.15), 0.5, 1.8))
        exit_door = self.door if rng.uniform() < 0.6 else self._other_door(rng)
        through_door = self._other_door(rng)
        spot = self.seat if episode.kind == "sit" else self._spot(rng)
        if episode.start_s < self.cursor_s + _MIN_GAP_S:
            return False
        target = through_door if episode.kind == "through" else spot
        if min(np.hypot(*np.subtract(target, d)) for d in self.doors if d != target) < 0.5:
            return False  # no room to walk (only where the room left no choice of spot or door)
        gap = Away(episode.start_s - self.cursor_s)
        if episode.kind == "through":
            walk = Walk((through_door,), speed)
            end = episode.start_s + Person._walk_duration(self.door, walk)
            if end > limit_s:
                return False
            self.segments += [gap, walk]
            self.door = through_door
        else:
            posture = "sit" if episode.kind == "sit" else "stand"
            inbound, outbound = Walk((spot,), speed), Walk((exit_door,), speed)
            walks = Person._walk_duration(self.door, inbound) + Person._walk_duration(spot, outbound)
            stay_s = min(max(episode.stay_s, _MIN_STAY_S[posture]), limit_s - episode.start_s - walks)
            if stay_s < _MIN_STAY_S[posture]:
                return False
            arrive = episode.start_s + Person._walk_duration(self.door, inbound)
            self.segments += [gap, inbound, Stay(stay_s, posture, episode.minor_per_min), outbound]
            end = episode.start_s + walks + stay_s
            self.door = exit_door
            if posture == "sit":
                self.sessions.append(_Session(self.index, arrive + 2.0, arrive + stay_s - 2.0, episode.activity))
        self.cursor_s = end
        return True

    def person(self, duration_s: float):
        from uspd.sim.movers import Away, Person

        segments = [*self.segments, Away(max(duration_s - self.cursor_s, 0.0))]
        size = self.setting.size_m
        first = self.segments[1].waypoints_m[0] if len(self.segments) > 1 else (size[0] / 2, size[1] / 2)
        heading = float(np.arctan2(first[1] - self.start_door[1], first[0] - self.start_door[0]))
        return Person(tuple(segments), self.start_door, heading, **self.body)


def _doors(rng: np.random.Generator, setting: Setting) -> list[tuple[float, float]]:
    """Two or three doorways (hall, kitchen, bedrooms) on walls other than the device's."""
    from uspd.sim.movers import random_door_xy

    doors: list[tuple[float, float]] = []
    for _ in range(2 if rng.uniform() < 0.7 else 3):
        for _ in range(30):
            door = random_door_xy(rng, setting.size_m, setting.device_m)
            if all(np.hypot(door[0] - d[0], door[1] - d[1]) >= 1.5 for d in doors):
                break
        doors.append(door)
    return doors


def _hvac_cycles(rng: np.random.Generator, clock: _Clock) -> list[tuple[float, float]]:
    """A thermostat cycling all day: 6–25 min on, 10–45 min off; longer off at night."""
    windows, hour = [], -float(rng.uniform(0.0, 1.0))
    while hour < 24.0:
        night = hour % 24.0 < 6.0 or hour >= 23.0
        on_h = float(rng.uniform(0.1, 0.25) if night else rng.uniform(0.1, 0.42))
        if hour + on_h > 0.0:
            windows.append((clock.at(max(hour, 0.0)), clock.at(min(hour + on_h, 24.0))))
        hour += on_h + float(rng.uniform(0.5, 1.5) if night else rng.uniform(0.17, 0.75))
    return windows


def _merge(windows: list[tuple[float, float]], end_s: float) -> tuple[tuple[float, float], ...]:
    """Sorted, overlapping windows joined, those past end_s dropped (an empty tuple if none)."""
    out: list[list[float]] = []
    for on, off in sorted(w for w in windows if w[0] < end_s and w[1] > w[0]):
        if out and on <= out[-1][1]:
            out[-1][1] = max(out[-1][1], off)
        else:
            out.append([on, off])
    return tuple((float(a), float(b)) for a, b in out)


@scenario(
    "living_room_day",
    "24 h in a living room: residents out at night and at work, evening seats, pets, fan, draft, HVAC, vacuum",
    default_duration_s=_DAY_S,
)
def _living_room_day(rng: np.random.Generator, s: Setting, duration_s: float) -> Elements:
    """A day in a living room, the scene starting at midnight; mostly nothing happens.

    - One or two residents (one Person each, entering and leaving by two or three doors).
      Night: asleep in another room (a 25 % chance per resident of a walk through and back
      between 00:30 and 05:30). Workdays (75 %): up 06:00–07:45, in and out of the room for
      an hour or so (walk-throughs, standing a few minutes, coffee seated 5–25 min), away at
      work until 16:45–19:15; home days: up 07:00–09:30, often out for 1–3.5 h around
      noon, seated work sessions of 20–120 min. Evenings: coming home through the room
      (keys jingling by the door, when they have noisy keys), then seated reading or TV
      (15–150 min, with minor motions: page turns, reaching, shifting) between
      walk-throughs and short standing visits, until bed at 22:00–24:00.
    - A cat (35 %) or a dog (20 %) resting 10–60 min (dog 10–40 min) on average between
      short walks, runs and jumps (a pet cannot leave a room: it is there all day).
    - A desk or ceiling fan (60 %), switched on during an afternoon or evening seated
      session (or at 13:00–20:00 if there is none), off again 0.5–3 h later, often after
      the person has left.
    - A curtain (60 %) in a draft from an opened window: a morning airing, sometimes an
      afternoon one. HVAC (75 %) cycling all day: airflow turbulence and vent hiss.
    - A robot vacuum (50 %) running 40–120 min from 10:00–15:30 while nobody is home (skipped
      on days without such a gap). Music (30 % of homes, most evenings) during a seated
      session after 17:00. Keys jingling by a door on coming home (70 % of homes); paper
      crinkling now and then while the first resident reads (40 %).

    Durations: the schedule is drawn in clock hours. A scene shorter than a day holds the
    whole day compressed into it (clock times and the lengths of stays, gaps and switching
    windows scale by duration / 24 h; walks, minor motions, sitting down and other
    physical motions keep their real speed, and episodes that no longer fit between their
    neighbours are dropped). A scene longer than a day repeats fresh days, the last one cut
    off at the end; the fan and the vacuum run on the first day that has a slot for them.
    """
    from uspd.sim.movers import NEVER_S, Cat, CeilingFan, Curtain, DeskFan, Dog, RobotVacuum
    from uspd.sim.music import Music
    from uspd.sim.sources import AirflowHiss, HvacTurbulence, KeysJingle, PaperCrinkle

    size, device = s.size_m, s.device_m
    day_s = min(duration_s, _DAY_S)
    n_days = int(np.ceil(duration_s / day_s - 1e-9))
    doors = _doors(rng, s)
    residents = [_Script(rng, k, s, doors) for k in range(1 if rng.uniform() < 0.5 else 2)]
    pet_kind = _choice(rng, (("cat", 0.35), ("dog", 0.2), ("none", 0.45)))
    fan_kind = _choice(rng, (("desk", 0.3), ("ceiling", 0.3), ("none", 0.4)))
    has_curtain, has_hvac = rng.uniform() < 0.6, rng.uniform() < 0.75
    wants_vacuum, wants_music = rng.uniform() < 0.5, rng.uniform() < 0.3
    noisy_keys, reads_paper = rng.uniform() < 0.7, rng.uniform() < 0.4

    hvac, drafts, keys, paper, music = [], [], [], [], []
    fan_on_s = vacuum_s = None
    for day in range(n_days):
        clock = _Clock(day * day_s, day_s / _DAY_S)
        limit_s = min(clock.at(24.0), duration_s)
        away_all = [(0.0, 24.0)]  # clock hours when every resident is out of the home
        for resident in residents:
            episodes, away, arrivals = _resident_day(rng, clock, home_day=rng.uniform() < 0.25)
            arrival_s = {clock.at(h) for h in arrivals}
            for episode in episodes:
                placed = resident.place(rng, episode, limit_s)
                if placed and episode.start_s in arrival_s and noisy_keys:
                    before, after = float(rng.uniform(0.5, 2.5)), float(rng.uniform(0.5, 2.0))
                    keys.append((episode.start_s - before, episode.start_s + after))
            away_all = [(max(a, b), min(c, d)) for a, c in away_all for b, d in away if max(a, b) < min(c, d)]
        today = [x for r in residents for x in r.sessions if x.start_s >= clock.at(0.0)]
        sessions = sorted(today, key=lambda x: x.start_s)
        for session in sessions:
            if reads_paper and session.activity == "reading" and session.resident == 0:
                for _ in range(int(rng.integers(1, 4))):
                    on = float(rng.uniform(session.start_s, max(session.start_s, session.end_s - 3.0)))
                    paper.append((on, min(on + float(rng.uniform(0.5, 3.0)), session.end_s)))
        evening = [x for x in sessions if clock.hour(x.start_s) >= 12.0]
        if fan_kind != "none" and fan_on_s is None:
            if evening:
                session = evening[int(rng.integers(len(evening)))]
                on = session.start_s + min(float(rng.uniform(10.0, 120.0)), 0.3 * (session.end_s - session.start_s))
            else:
                on = clock.at(float(rng.uniform(13.0, 20.0)))
            if on < limit_s:
                fan_on_s, fan_off_s = on, on + clock.span(float(rng.uniform(0.5, 3.0)))
        late = [x for x in evening if clock.hour(x.start_s) >= 17.0]
        if wants_music and late and rng.uniform() < 0.8:
            session = late[int(rng.integers(len(late)))]
            on = session.start_s + clock.span(float(rng.uniform(0.0, 10.0)) / 60.0)
            music.append((on, min(on + clock.span(float(rng.uniform(20.0, 120.0)) / 60.0), session.end_s)))
        if wants_vacuum and vacuum_s is None:
            run_h = float(rng.uniform(40.0, 120.0)) / 60.0
            slots = [(max(a, 10.0) + 0.1, min(b, 15.5 + run_h) - run_h - 0.1) for a, b in away_all]
            slots = [(a, b) for a, b in slots if a < b]
            if slots:
                a, b = slots[int(rng.integers(len(slots)))]
                start = clock.at(float(rng.uniform(a, b)))
                if clock.span(run_h) >= 1.0 and start + clock.span(run_h) <= limit_s:
                    vacuum_s = (start, start + clock.span(run_h))
        if has_curtain:
            morning = float(rng.uniform(7.0, 10.0))
            drafts.append((clock.at(morning), clock.at(morning + float(rng.uniform(0.25, 1.5)))))
            if rng.uniform() < 0.5:
                afternoon = float(rng.uniform(13.0, 19.0))
                drafts.append((clock.at(afternoon), clock.at(afternoon + float(rng.uniform(0.5, 3.0)))))
        if has_hvac:
            hvac += _hvac_cycles(rng, clock)

    movers: list = [r.person(duration_s) for r in residents]
    if pet_kind != "none":
        pet_class = Cat if pet_kind == "cat" else Dog
        rest = (600.0, 3600.0) if pet_kind == "cat" else (600.0, 2400.0)
        movers.append(pet_class.sample(rng, size, device, duration_s, rest_mean_s=float(rng.uniform(*rest))))
    if fan_on_s is not None:
        fan_class = DeskFan if fan_kind == "desk" else CeilingFan
        movers.append(fan_class.sample(rng, size, device, duration_s, on_s=fan_on_s,
                                       off_s=fan_off_s if fan_off_s < duration_s else NEVER_S))
    drafts_s = _merge(drafts, duration_s)
    if drafts_s:
        movers.append(Curtain.sample(rng, size, device, duration_s, drafts_s=drafts_s))
    if vacuum_s is not None:
        # sampled for the length of its run (sample() over a whole day can draw a run longer
        # than the battery allows), then moved to its slot
        movers.append(RobotVacuum.sample(rng, size, device, vacuum_s[1] - vacuum_s[0],
                                         start_s=vacuum_s[0], end_s=vacuum_s[1]))

    sources, modulators = [], []
    hvac_s = _merge(hvac, duration_s)
    if hvac_s:
        modulators.append(HvacTurbulence.sample(rng, size, device, duration_s, s.carrier_hz, windows_s=hvac_s))
        sources.append(AirflowHiss.sample(rng, size, device, duration_s, s.carrier_hz, windows_s=hvac_s))
    keys_s = _merge([(max(a, 0.0), b) for a, b in keys], duration_s)
    if keys_s:
        door = doors[0]
        sources.append(KeysJingle.sample(rng, size, device, duration_s, s.carrier_hz, windows_s=keys_s,
                                         location_m=(door[0], door[1], float(rng.uniform(0.8, 1.2)))))
    paper_s = _merge(paper, duration_s)
    if paper_s:
        seat = residents[0].seat
        sources.append(PaperCrinkle.sample(rng, size, device, duration_s, s.carrier_hz, windows_s=paper_s,
                                           location_m=(seat[0], seat[1], float(rng.uniform(0.7, 1.0)))))
    music_s = _merge(music, duration_s)
    song = Music.sample(rng, size, device, duration_s, s.carrier_hz, windows_s=music_s) if music_s else None
    return Elements(movers=tuple(movers), sources=tuple(sources), modulators=tuple(modulators), music=song)


# --------------------------------------------------------------------------------------
# Hours of an empty room where confusing things happen rarely (the mining corpus)
# --------------------------------------------------------------------------------------
def _rare_windows(rng: np.random.Generator, duration_s: float, count: tuple[int, int],
                  length_s: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    """``count`` (inclusive range) windows of ``length_s`` at uniform times, joined where they overlap."""
    windows = []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        length = min(float(rng.uniform(*length_s)), 0.5 * duration_s)
        on = float(rng.uniform(0.0, duration_s - length))
        windows.append((on, on + length))
    return _merge(windows, duration_s)


@scenario(
    "rare_events_home",
    "an empty room for an hour: now and then a fan, draft, pet, vacuum, interferer, music or keys",
    default_duration_s=3600.0,
)
def _rare_events_home(rng: np.random.Generator, s: Setting, duration_s: float) -> Elements:
    """Mostly nothing, like a home's unlabeled hours; each confuser appears with its own
    chance, switched on rarely and briefly (a desk or ceiling fan for 1–4 min, a curtain
    or door in one or two gusty spells, a resting pet's occasional walk, a short vacuum
    run, an interferer or pest repeller for minutes, unattended bass-heavy music, HVAC
    cycles, keys and paper in bursts of seconds). Scenes are the corpus the long-tail
    loop mines for the events a detector gets wrong."""
    from uspd.sim.movers import Cat, CeilingFan, Curtain, DeskFan, Dog, Door, RobotVacuum
    from uspd.sim.music import Music
    from uspd.sim.sources import AirflowHiss, HvacTurbulence, InterfererTone, KeysJingle, PaperCrinkle, PestRepeller

    size, device, d, f0 = s.size_m, s.device_m, duration_s, s.carrier_hz
    movers, sources, modulators, music = [], [], [], None

    def maybe(probability: float) -> bool:
        return rng.uniform() < probability

    if maybe(0.4):
        fan_class = DeskFan if maybe(0.5) else CeilingFan
        (on, off), = _rare_windows(rng, d, (1, 1), (60.0, 240.0))
        movers.append(fan_class.sample(rng, size, device, d, on_s=on, off_s=off))
    if maybe(0.4):
        movers.append(Curtain.sample(rng, size, device, d, drafts_s=_rare_windows(rng, d, (1, 2), (30.0, 180.0))))
    if maybe(0.3):
        movers.append(Door.sample(rng, size, device, d, drafts_s=_rare_windows(rng, d, (1, 2), (20.0, 120.0))))
    if maybe(0.2):
        pet_class = Cat if maybe(0.6) else Dog
        movers.append(pet_class.sample(rng, size, device, d, rest_mean_s=float(rng.uniform(300.0, 1200.0))))
    if maybe(0.15):
        (on, off), = _rare_windows(rng, d, (1, 1), (120.0, 300.0))
        movers.append(RobotVacuum.sample(rng, size, device, off - on, start_s=on, end_s=off))
    if maybe(0.25):
        sources.append(InterfererTone.sample(rng, size, device, d, f0, windows_s=_rare_windows(rng, d, (1, 2), (30.0, 300.0))))
    if maybe(0.1):
        sources.append(PestRepeller.sample(rng, size, device, d, f0, windows_s=_rare_windows(rng, d, (1, 1), (60.0, 600.0))))
    if maybe(0.3):
        sources.append(KeysJingle.sample(rng, size, device, d, f0, windows_s=_rare_windows(rng, d, (1, 3), (1.0, 8.0))))
    if maybe(0.3):
        sources.append(PaperCrinkle.sample(rng, size, device, d, f0, windows_s=_rare_windows(rng, d, (1, 3), (1.0, 8.0))))
    if maybe(0.4):
        hvac_s = _rare_windows(rng, d, (1, 3), (120.0, 600.0))
        modulators.append(HvacTurbulence.sample(rng, size, device, d, f0, windows_s=hvac_s))
        sources.append(AirflowHiss.sample(rng, size, device, d, f0, windows_s=hvac_s))
    if maybe(0.2):
        music = Music.sample(rng, size, device, d, f0, windows_s=_rare_windows(rng, d, (1, 1), (60.0, 240.0)))
    return Elements(movers=tuple(movers), sources=tuple(sources), modulators=tuple(modulators), music=music)
