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
