"""Training data from the simulator: scenes → feature frames with per-frame targets.

Every scene goes through the same streaming chain as a live device (baseband render →
Doppler spectrogram → :class:`~uspd.detect.features.DopplerFeatures`); the simulator's
ground truth gives each frame a class — the strongest human motion, else whether anything
non-human is going on. Rooms, hardware units, carriers, temperature, humidity and levels
are drawn by each scenario from its seed, so a set of seeds is the augmentation.

Seeds: training sets use seeds below :data:`~uspd.evaluate.HELD_OUT_SEED_START` (the
evaluation's), each set in its own range (:data:`SEED_RANGES`), so the labeled set, the
two mining corpora and the validation rooms never share a room.

>>> scenes = render_scenes(labeled_set(8), config, workers=2)   # list[SceneData]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from uspd.config import Config
from uspd.detect.features import DopplerFeatures
from uspd.detect.neural import CLASSES
from uspd.evaluate import DISTRACTORS, HELD_OUT_SEED_START
from uspd.parallel import map_jobs
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_doppler, scene_spectrogram
from uspd.sim.scenarios import build_scene

SEED_RANGES = {  # first seed of each set; all below the held-out range
    "labeled": 0,
    "validation": 100_000,
    "corpus_a": 200_000,
    "corpus_b": 400_000,
}
assert max(SEED_RANGES.values()) < HELD_OUT_SEED_START - 100_000
HUMAN_KINDS_S = {  # human scenario → seconds per training scene
    "walk_in": 20.0,
    "walk_through": 20.0,
    "music_with_walk": 20.0,
    "seated_reading": 30.0,
    "still_person": 20.0,
    "visit": 120.0,
}
DISTRACTOR_SCENE_S = 60.0
PET_SCENARIOS = DISTRACTORS["pet (cat, dog)"]  # a pet rests 10–90 s between walks: 60 s scenes hold little walking
MUSIC_SCENARIOS = ("music_with_walk", "music_loud_empty")  # the labeled set's scenes with music playing
EMPTY_SCENARIOS = tuple(name for names in DISTRACTORS.values() for name in names)


@dataclass(frozen=True)
class SceneSpec:
    name: str
    seed: int
    duration_s: float
    array: str | None = None  # a mic array preset; None: drawn from the seed like the rest of the room


@dataclass(frozen=True)
class SceneData:
    """One rendered scene, arrays of shape (n_frames, …) in frame order."""

    spec: SceneSpec
    features: np.ndarray  # (n_frames, N_BINS) float16
    missing: np.ndarray  # bool: no pilot tone, no data
    target: np.ndarray  # int8 index into CLASSES
    nonhuman: np.ndarray  # str: '+'-joined non-human kinds active, or 'none'
    distance_m: np.ndarray  # float32, nearest person's torso, NaN if nobody

    def __len__(self) -> int:
        return len(self.target)


def targets(motion: np.ndarray, nonhuman: np.ndarray) -> np.ndarray:
    """Per-frame class index: human motion wins, then any non-human activity."""
    out = np.where(nonhuman != "none", CLASSES.index("nonhuman"), CLASSES.index("none")).astype(np.int8)
    out[motion == "minor"] = CLASSES.index("minor")
    out[motion == "major"] = CLASSES.index("major")
    return out


def render_scene(spec: SceneSpec, config: Config) -> SceneData:
    """Render one scene through the streaming chain and label its frames."""
    scene = build_scene(spec.name, spec.seed, duration_s=spec.duration_s, array=spec.array)
    spectrogram = scene_spectrogram(scene, config)
    features = DopplerFeatures(spectrogram.velocity_m_s, config.frontend.hop_s)
    parts, times = [], []
    for power, frame_end_s in iter_doppler(scene, config, spectrogram):
        parts.append(features.process(power))
        times.append(frame_end_s)
    x = np.concatenate([p[0] for p in parts]).astype(np.float16)
    missing = np.concatenate([p[1] for p in parts])
    time_s = np.concatenate(times)
    truth = label_scene(scene, config.frontend.hop_s)
    keep, row = truth.rows_at(time_s, config.frontend.hop_s)
    return SceneData(spec, x[keep], missing[keep], targets(truth.motion[row], truth.nonhuman[row]),
                     truth.nonhuman[row], truth.person_distance_m[row].astype(np.float32))


def render_scenes(specs: list[SceneSpec], config: Config, workers: int = 1, on_done=None) -> list[SceneData]:
    """Every spec rendered, in spec order (``on_done(spec, data)`` as each finishes)."""
    return map_jobs(partial(render_scene, config=config), specs, workers, cost=lambda s: s.duration_s, on_done=on_done)


def labeled_set(scenes_per_kind: int, first_seed: int = SEED_RANGES["labeled"],
                pet_scene_s: float = DISTRACTOR_SCENE_S) -> list[SceneSpec]:
    """Scenes of every human kind and every empty-room distractor scenario: the small
    labeled set a seed model starts from (or, with another ``first_seed``, validation).
    ``pet_scene_s``: longer pet scenes hold more of a pet walking (a scene's pet schedule
    is drawn from its seed, so a longer scene continues the shorter one)."""
    specs = [SceneSpec(name, first_seed + i, seconds) for name, seconds in HUMAN_KINDS_S.items()
             for i in range(scenes_per_kind)]
    specs += [SceneSpec(name, first_seed + i, pet_scene_s if name in PET_SCENARIOS else DISTRACTOR_SCENE_S)
              for name in EMPTY_SCENARIOS for i in range(scenes_per_kind)]
    return specs


def single_mic_music(scenes_per_scenario: int, first_seed: int,
                     scenarios: tuple[str, ...] = MUSIC_SCENARIOS) -> list[SceneSpec]:
    """More rooms of the labeled set's music scenarios, all on a single mic. With one mic
    the canceller leaves the most residue, and a labeled set that draws one room in four
    on a single mic shows a network little of it (docs/music.md, "Choosing a network for
    music")."""
    return [SceneSpec(name, first_seed + i, HUMAN_KINDS_S.get(name, DISTRACTOR_SCENE_S), "single")
            for name in scenarios for i in range(scenes_per_scenario)]


def save_scenes(scenes: list[SceneData], path: Path) -> None:
    """One compressed .npz for a list of scenes (scenes concatenated, with their lengths)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        names=np.array([s.spec.name for s in scenes]), seeds=np.array([s.spec.seed for s in scenes]),
        durations_s=np.array([s.spec.duration_s for s in scenes]), lengths=np.array([len(s) for s in scenes]),
        arrays=np.array([s.spec.array or "" for s in scenes]),
        **{field: np.concatenate([getattr(s, field) for s in scenes])
           for field in ("features", "missing", "target", "nonhuman", "distance_m")},
    )


def load_scenes(path: Path) -> list[SceneData]:
    with np.load(path) as data:
        bounds = np.concatenate([[0], np.cumsum(data["lengths"])])
        columns = {field: data[field] for field in ("features", "missing", "target", "nonhuman", "distance_m")}
        arrays = data["arrays"] if "arrays" in data.files else [""] * len(data["names"])  # older files: all drawn
        return [
            SceneData(SceneSpec(str(name), int(seed), float(duration), str(array) or None),
                      **{field: column[a:b] for field, column in columns.items()})
            for name, seed, duration, array, a, b in zip(data["names"], data["seeds"], data["durations_s"], arrays,
                                                         bounds[:-1], bounds[1:])
        ]
