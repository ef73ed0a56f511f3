"""The ``uspd`` command.

Every command turns a problem the user can fix (unknown scenario, impossible geometry,
bad config, unreadable audio) into one sentence on stderr and a non-zero exit.
"""

from __future__ import annotations

import os

# uspd's matrices are small and its parallel work runs in processes (scenes, devices), so
# numpy's BLAS threads only contend with them: one thread per process, set before NumPy is
# first imported (worker processes inherit it). An explicit setting wins. Torch's threads
# (training) are its own and stay as they are. Measured in docs/benchmarks-frontend.md, ninth pass.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import shlex  # noqa: E402
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from uspd.config import ConfigError, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Ultrasonic presence detection.")
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="TOML config; defaults apply to missing keys")]
PlaybackOption = Annotated[Optional[Path], typer.Option(
    help="mono WAV of what the speaker was fed, sample for sample with the recording (uspd simulate writes "
         "one as .playback.wav), for the playback canceller (\\[frontend.music] playback)")]
RayOption = Annotated[Optional[str], typer.Option("--ray-address", help="run scenes on Ray: 'local' (here, --workers "
                      "CPUs), 'auto' (on a cluster node) or ray://HOST:10001; default: local processes")]


def _fail(message: str) -> typer.Exit:
    # one unbroken line: a long path must not be wrapped mid-word, in a terminal or a log
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _warn(text: str) -> None:
    """A warning on stderr, its text shown as written: config sections such as [soundcard] are not markup."""
    errors.print(f"[bold yellow]warning:[/] {escape(text)}", highlight=False)


def _log(text: str) -> None:
    errors.print(escape(text), highlight=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(), console=errors, transient=True,
    )


def _command(base: str, options: dict[str, object]) -> str:
    """The command line that repeats a run, recorded beside its output: ``base`` plus every
    option the user gave (None: left at its default; True: a switch)."""
    given = [flag if value is True else f"{flag} {value}" for flag, value in options.items()
             if value is not None and value is not False]
    return " ".join([base, *given])


@app.command()
def simulate(
    scenario: Annotated[Optional[str], typer.Argument(help="scenario name (see --list)")] = None,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same scene")] = 0,
    duration: Annotated[Optional[float], typer.Option("--duration", help="seconds (default: the scenario's)")] = None,
    out: Annotated[Path, typer.Option("--out", help="output WAV; labels (.labels.csv) and parameters (.json) go beside it")] = Path("scene.wav"),
    baseband: Annotated[bool, typer.Option(help="write complex baseband (.npz) instead of passband audio")] = False,
    sample_rate: Annotated[Optional[int], typer.Option("--rate", help="device sample rate: 48000, 96000 or 192000")] = None,
    carrier: Annotated[Optional[float], typer.Option(help="carrier in Hz (default: drawn by the scenario)")] = None,
    array: Annotated[Optional[str], typer.Option(help="mic array preset: smart_speaker_7, laptop_2, single")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the scenarios and exit")] = False,
    config: ConfigOption = None,
) -> None:
    """Render a seeded scenario to a multichannel WAV plus per-frame ground truth."""
    from uspd.sim import scenarios
    from uspd.sim.files import write_scene

    if list_:
        table = Table("scenario", "default length", "what happens")
        for spec in scenarios.SCENARIOS.values():
            table.add_row(spec.name, f"{spec.default_duration_s:g} s", spec.description)
        console.print(table)
        return
    if scenario is None:
        raise _fail("name a scenario, or use --list to see them")
    try:
        cfg = load_config(config)
        scene = scenarios.build_scene(
            scenario, seed, duration_s=duration, sample_rate_hz=sample_rate, carrier_hz=carrier, array=array
        )
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None
    rerender = _command(
        f"uspd simulate {scenario} --seed {seed} --duration {scene.duration_s:g}",
        {"--rate": sample_rate, "--carrier": carrier, "--array": array, "--config": config, "--baseband": baseband},
    )
    with _progress() as progress:
        task = progress.add_task(f"rendering {scenario}", total=scene.duration_s)
        paths = write_scene(scene, cfg, out, baseband=baseband, rerender=rerender,
                            on_progress=lambda s: progress.update(task, completed=s))
    for path in paths:
        console.print(f"wrote {path}")


@app.command()
def plot(
    recording: Annotated[Path, typer.Argument(help="WAV recording, or a .npz baseband from simulate --baseband")],
    out: Annotated[Optional[Path], typer.Option("--out", help="PNG path (default: beside the recording)")] = None,
    carrier: Annotated[Optional[float], typer.Option(help="carrier in Hz (default: found in the recording)")] = None,
    labels: Annotated[Optional[Path], typer.Option(help="ground-truth CSV (default: <recording>.labels.csv if present)")] = None,
    config: ConfigOption = None,
) -> None:
    """Draw the Doppler spectrogram (radial velocity in m/s over time) as a PNG."""
    from uspd.sim.files import plot_recording

    out = out or recording.with_suffix(".png")
    try:
        plot_recording(recording, out, load_config(config), carrier_hz=carrier, labels_csv=labels)
    except (ConfigError, ValueError, OSError) as err:
        raise _fail(str(err)) from None
    console.print(f"wrote {out}")


@app.command()
def detect(
    recording: Annotated[Path, typer.Argument(help="WAV recording: 1–16 channels, ≥ 44.1 kHz, int or float samples")],
    carrier: Annotated[str, typer.Option(help="pilot tone in Hz, or 'auto' to find it in the recording")] = "auto",
    timeline: Annotated[Optional[Path], typer.Option(help="CSV, one row per hop: time_s,motion_score,motion,occupied")] = None,
    events: Annotated[Optional[Path], typer.Option(help="JSON lines, one per motion / occupied / vacant event")] = None,
    detector: Annotated[Optional[str], typer.Option(
        help="neural (the shipped model, default), baseline (classical), or LABEL=MODEL.onnx")] = None,
    playback: PlaybackOption = None,
    config: ConfigOption = None,
) -> None:
    """Detect motion and presence in a recording; print a summary or write a timeline and events."""
    from uspd.detect.file import clock, detect_file, summarize, write_events, write_timeline

    try:
        carrier_hz = None if carrier.strip().lower() == "auto" else float(carrier)
    except ValueError:
        raise _fail(f"--carrier must be 'auto' or a frequency in Hz, got '{carrier}'") from None
    try:
        cfg = load_config(config)
        if detector is not None:
            cfg = next(iter(_detector_configs(cfg, [detector]).values()))
        with _progress() as progress:
            task = progress.add_task(f"detecting in {recording.name}", total=None)
            decisions, info = detect_file(
                recording, cfg, carrier_hz=carrier_hz,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
                playback=playback,
            )
        if timeline is not None:
            write_timeline(decisions, timeline)
        if events is not None:
            write_events(decisions.events, events)
    except (ConfigError, ValueError, OSError) as err:
        raise _fail(str(err)) from None
    for warning in info.warnings:
        _warn(warning)
    if timeline or events:
        for path in (p for p in (timeline, events) if p is not None):
            console.print(f"wrote {path}")
        return
    summary = summarize(decisions)
    how = "found in the recording" if info.carrier_found else "given"
    console.print(
        f"[bold]{info.path.name}[/]: {clock(info.duration_s)} ({info.duration_s:.1f} s), {info.n_channels} channel"
        f"{'s' if info.n_channels > 1 else ''} at {info.sample_rate_hz / 1000:g} kHz ({info.subtype}), "
        f"carrier {info.carrier_hz:.1f} Hz ({how})"
    )
    console.print(
        f"motion events: {summary.motion_events['major']} major, {summary.motion_events['minor']} minor; "
        f"occupied {summary.occupied_fraction:.1%} of the time; ends {summary.final_state}"
    )
    if not summary.transitions:
        console.print("no occupied / vacant transitions")
        return
    shown = 20
    table = Table("time", "s", "event", "motion", "score")
    for event in summary.transitions[:shown]:
        table.add_row(clock(event.time_s), f"{event.time_s:.2f}", event.event, event.kind or "", f"{event.score:.2f}")
    console.print(table)
    if len(summary.transitions) > shown:
        console.print(f"… and {len(summary.transitions) - shown} more (write them all with --events)")


def _detector_configs(base, specs: list[str]) -> dict:
    """``--detector`` values → label → config. A spec is ``baseline``, ``neural`` (the
    shipped model) or ``LABEL=MODEL.onnx`` (the neural detector with that model)."""
    from uspd.config import config_from_dict

    configs = {}
    for spec in specs:
        label, _, model = spec.partition("=")
        detect = {"detector": label} if not model else {"detector": "neural", "model": model}
        if model and not Path(model).is_file():
            raise ValueError(f"--detector {spec}: no model file at {model}")
        if label in configs:
            raise ValueError(f"--detector {label} is given twice")
        configs[label] = config_from_dict({**base.model_dump(), "detect": detect}, source=f"--detector {spec}")
    return configs


@app.command()
def evaluate(
    hours: Annotated[float, typer.Option(help="simulated hours of empty rooms with distractors (false alarms)")] = 2.0,
    scenes_per_kind: Annotated[int, typer.Option(help="scenes of each human kind (walk-in, visit, seated, …)")] = 10,
    workers: Annotated[int, typer.Option(help="processes rendering scenes in parallel; numbers do not depend on it")] = 1,
    seed_offset: Annotated[int, typer.Option(help="shift within the held-out seeds (≥ 1,000,000) for a fresh draw")] = 0,
    array: Annotated[Optional[str], typer.Option(help="mic array for every scene (default: as each scenario draws it)")] = None,
    distractor: Annotated[Optional[list[str]], typer.Option(
        help="false-alarm rows to spend --hours on: quiet, 'desk fan', … or a scenario in one (cat, hvac, …); "
             "repeat it; default: every row but rare_events_home (hour-long homes of the mining corpus's kind)")] = None,
    calibrated: Annotated[bool, typer.Option(
        "--calibrated", help="calibrate each unit in its empty room first and play the carrier and level it chooses, "
                             "as uspd run does (default: each scenario's drawn carrier and level)")] = False,
    out: Annotated[Path, typer.Option("--out", help="folder for report.md, report.json, det.png, detection_by_distance.png")] = Path("uspd-eval"),
    detector: Annotated[Optional[list[str]], typer.Option(
        help="detector to judge: baseline, neural or LABEL=MODEL.onnx; repeat it to compare several on the same scenes")] = None,
    ray_address: RayOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the detection chain on held-out simulated rooms and report detection by distance,
    latency, false alarms per hour, presence accuracy and the DET curve."""
    from uspd.evaluate import (EvaluationSettings, distractor_rows, evaluate as run_evaluation, plan_scenes,
                               write_comparison, write_report)

    try:
        cfg = load_config(config)
        configs = _detector_configs(cfg, detector) if detector else {cfg.detect.detector: cfg}
        settings = EvaluationSettings(hours=hours, scenes_per_kind=scenes_per_kind, seed_offset=seed_offset,
                                      array=array, workers=workers, calibrated=calibrated,
                                      **({"distractors": distractor_rows(distractor)} if distractor else {}))
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None
    command = _command(
        f"uspd evaluate --hours {hours:g} --scenes-per-kind {scenes_per_kind} --workers {workers} "
        f"--seed-offset {seed_offset}{' --calibrated' if calibrated else ''} --out {out}",
        {"--array": array, "--distractor": " --distractor ".join(shlex.quote(d) for d in distractor) if distractor else None,
         "--detector": " --detector ".join(detector) if detector else None, "--config": config,
         "--ray-address": ray_address},
    )
    jobs = plan_scenes(settings)
    with _cluster(ray_address, workers), _progress() as progress:
        task = progress.add_task(f"evaluating {len(jobs)} scenes", total=sum(job.duration_s for job in jobs))
        summaries = run_evaluation(settings, configs, on_scene=lambda job: progress.advance(task, job.duration_s))
    if len(summaries) == 1:
        paths = write_report(next(iter(summaries.values())), out, command)
    else:
        paths = write_comparison(summaries, out, command)
    for path in paths:
        console.print(f"wrote {path}")


@app.command("music-study")
def music_study(
    hours: Annotated[float, typer.Option(help="hours of empty rooms with loud music (each also run without it)")] = 0.5,
    walk_scenes: Annotated[int, typer.Option(help="music_with_walk scenes (each also run without music)")] = 24,
    seed_offset: Annotated[int, typer.Option(help="shift within the held-out seeds (≥ 1,000,000)")] = 0,
    array: Annotated[str, typer.Option(help="mic array of every scene (1–2 mics: the conjugate-pair canceller)")] = "smart_speaker_7",
    workers: Annotated[int, typer.Option(help="processes rendering scenes in parallel; numbers do not depend on it")] = 1,
    out: Annotated[Path, typer.Option("--out", help="folder for music.md and music.json")] = Path("uspd-music"),
    figure: Annotated[Optional[Path], typer.Option(help="before/after spectrogram PNG (default: OUT/before_after.png)")] = None,
    config: ConfigOption = None,
) -> None:
    """Measure the music-distortion canceller on held-out rooms: suppression, false alarms with
    and without music, walking detection range with and without music (docs/music.md)."""
    from uspd.music_study import StudySettings, figure_scenes, plan, plot_before_after, run_study, write_study

    try:
        cfg = load_config(config)
        settings = StudySettings(hours=hours, walk_scenes=walk_scenes, seed_offset=seed_offset, array=array, workers=workers)
        jobs = plan(settings)
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None
    command = _command(f"uspd music-study --hours {hours:g} --walk-scenes {walk_scenes} --seed-offset {seed_offset} "
                       f"--array {array} --out {out}", {"--figure": figure, "--config": config})
    with _progress() as progress:
        task = progress.add_task(f"{len(jobs)} rooms, with and without music", total=sum(job.duration_s for job in jobs))
        summary = run_study(settings, cfg, on_scene=lambda job: progress.advance(task, job.duration_s))
    paths = write_study(summary, out, command)
    figure = figure or out / "before_after.png"
    plot_before_after(figure_scenes(settings), figure, cfg)
    for path in [*paths, figure]:
        console.print(f"wrote {path}")


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="a smoke test: short inputs, two repeats (under a minute)")] = False,
    out: Annotated[Path, typer.Option("--out", help="markdown report")] = Path("docs/benchmarks.md"),
) -> None:
    """Measure the pipeline's real-time factor per device, the simulator's speed, mining
    throughput and peak memory on one core, against a naive reference in the same run."""
    from uspd.bench import BenchSettings, goals, markdown, run_bench

    settings = BenchSettings.quick_settings() if quick else BenchSettings()
    with _progress() as progress:
        task = progress.add_task("benchmarking", total=None)
        results = run_bench(settings, on_item=lambda item, done, total: progress.update(
            task, completed=done, total=total, description=f"benchmarking: {item.group}, {item.name}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(results, "uspd bench" + (" --quick" if quick else "") + f" --out {out}"))
    for goal, target, measured, met in goals(results):
        console.print(f"{'met' if met else '[bold red]not met[/]'}: {goal}: {measured} (goal {target})", highlight=False)
    console.print(f"wrote {out}")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="random seed of the demo scene")] = 1,
    duration: Annotated[float, typer.Option(help="seconds of simulated time")] = 16.0,
    out: Annotated[Path, typer.Option("--out", help="folder for the spectrogram PNG and scene files")] = Path("uspd-demo"),
) -> None:
    """Simulate a person walking into a room and show what the front end sees, second by second."""
    from uspd.demo import run_demo

    run_demo(seed=seed, duration_s=duration, out_dir=out, console=console)


@contextmanager
def _cluster(address: Optional[str], workers: int) -> Iterator[None]:
    """Scenes go to the Ray cluster at ``address`` within the block (None: local processes)."""
    from uspd.parallel import ClusterError, ray_cluster

    try:
        with ray_cluster(address, workers):
            yield
    except ClusterError as err:
        raise _fail(str(err)) from None


def _require_torch() -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise _fail('training needs PyTorch: python -m pip install -e ".[train]"')


def _loop_progress(progress: Progress):
    """A ``progress(stage, done, total)`` callback that shows one bar per stage."""
    tasks: dict[str, int] = {}

    def update(stage: str, done: float, total: float) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done)

    return update


@app.command()
def mine(
    out: Annotated[Path, typer.Option("--out", help="folder for the seed, rare-event and final models and the report")] = Path("uspd-models"),
    labeled_per_kind: Annotated[int, typer.Option(help="labeled scenes of each human kind and each distractor")] = 24,
    corpus_hours: Annotated[float, typer.Option(help="hours of each unlabeled corpus (A: mining, B: collection)")] = 8.0,
    epochs: Annotated[int, typer.Option(help="training epochs of each model")] = 24,
    seed: Annotated[int, typer.Option(help="training seed (scenes have their own seed ranges)")] = 0,
    raw_music: Annotated[bool, typer.Option("--raw-music", help="train on the labeled music scenes without the music canceller too")] = False,
    single_mic_music: Annotated[int, typer.Option(help="more labeled rooms of each music scenario, all on a single mic")] = 0,
    single_mic_music_walks: Annotated[int, typer.Option(help="more labeled rooms of music_with_walk on a single mic, beyond --single-mic-music's")] = 0,
    pet_scene_s: Annotated[Optional[float], typer.Option(help="seconds of each labeled pet scene; default: as the other distractors' (60 s)")] = None,
    workers: Annotated[int, typer.Option(help="processes rendering scenes")] = 1,
    cache: Annotated[Optional[Path], typer.Option(help="folder caching rendered feature frames between runs")] = Path.home() / ".cache" / "uspd",
    ray_address: RayOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the long-tail loop end to end: seed model on the labeled set, mine rare confusing
    events from corpus A, rare-event model, collect from corpus B, retrain; write the three
    models (ONNX fp32 and int8) and mining-report.md / .json."""
    _require_torch()
    from uspd.model.export import save_model
    from uspd.model.data import DISTRACTOR_SCENE_S
    from uspd.model.loop import LoopSettings, run_loop, write_loop_report
    from uspd.model.train import TrainSettings

    try:
        cfg = load_config(config)
        settings = LoopSettings(labeled_per_kind=labeled_per_kind, corpus_a_hours=corpus_hours,
                                corpus_b_hours=corpus_hours, train=TrainSettings(epochs=epochs, seed=seed), workers=workers,
                                raw_music=raw_music, single_mic_music=single_mic_music,
                                single_mic_music_walks=single_mic_music_walks,
                                pet_scene_s=DISTRACTOR_SCENE_S if pet_scene_s is None else pet_scene_s)
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None
    command = _command(f"uspd mine --out {out} --labeled-per-kind {labeled_per_kind} --corpus-hours {corpus_hours:g} "
                       f"--epochs {epochs} --seed {seed}" + (" --raw-music" if raw_music else "")
                       + (f" --single-mic-music {single_mic_music}" if single_mic_music else "")
                       + (f" --single-mic-music-walks {single_mic_music_walks}" if single_mic_music_walks else "")
                       + (f" --pet-scene-s {pet_scene_s:g}" if pet_scene_s is not None else ""), {"--config": config})
    with _cluster(ray_address, workers), _progress() as progress:
        result = run_loop(settings, cfg, cache, _loop_progress(progress))
    for name, net in (("seed", result.seed), ("rare", result.rare), ("motion", result.final)):
        for path in save_model(net, out, name, {"command": command, "stage": name}):
            console.print(f"wrote {path}")
    for path in write_loop_report(result.report, out, command):
        console.print(f"wrote {path}")


def _journal_path(option: Optional[Path], cfg) -> Path:
    from uspd.live.journal import default_journal_path

    return option or cfg.live.journal_path or default_journal_path()


def _calibration_path(option: Optional[Path], journal: Optional[Path], cfg) -> Path:
    """--store, else calibration.store, else calibration.json beside the event journal."""
    return option or cfg.calibration.store or _journal_path(journal, cfg).parent / "calibration.json"


JournalOption = Annotated[Optional[Path], typer.Option("--journal", help="event journal (default: live.journal_path, "
                                                       "else ~/.local/share/uspd/events.sqlite3)")]
ScenarioOption = Annotated[str, typer.Option(help="simulated scene to run (see uspd simulate --list)")]
SeedOption = Annotated[int, typer.Option(help="random seed of the simulated scene")]
SpeedOption = Annotated[float, typer.Option(help="simulated or WAV seconds per wall-clock second")]
WavOption = Annotated[Optional[Path], typer.Option("--wav", help="replay a WAV recording instead of a simulated scene")]
SoundcardOption = Annotated[bool, typer.Option("--soundcard", help="play the tone and listen with the default sound card")]
DeviceOption = Annotated[Optional[str], typer.Option(help="sound device index or name (see uspd devices); implies --soundcard")]


@app.command()
def run(
    scenario: ScenarioOption = "living_room_day",
    seed: SeedOption = 0,
    duration: Annotated[Optional[float], typer.Option(help="stop after this many seconds of stream time")] = None,
    speed: SpeedOption = 1.0,
    fast: Annotated[bool, typer.Option("--fast", help="as fast as possible (simulated or WAV sources)")] = False,
    passband: Annotated[bool, typer.Option(help="simulate real audio and demodulate it (slower) instead of baseband")] = False,
    wav: WavOption = None,
    playback: PlaybackOption = None,
    soundcard: SoundcardOption = False,
    device: DeviceOption = None,
    journal: JournalOption = None,
    view: Annotated[bool, typer.Option(help="full-screen live view (default on a terminal); --no-view prints events")] = True,
    config: ConfigOption = None,
) -> None:
    """Run the live chain: source → detection → journal → MQTT and routines, with a live view.

    With no options it plays a simulated day in a living room in real time."""
    import signal

    from rich.live import Live

    from uspd.live.journal import Journal
    from uspd.live.routines import Firing, Timeline, load_routines
    from uspd.live.run import LiveChain, run_live
    from uspd.live.soundcard import SoundCardError
    from uspd.live.view import render

    soundcard = soundcard or device is not None
    _check_live_options(wav, playback, soundcard, speed, duration)
    try:
        cfg = load_config(config)
        routines = load_routines(cfg)
        source, start = _live_source(cfg, scenario, seed, duration, passband, wav, soundcard, device, journal,
                                     playback=playback)
        journal_db = Journal(_journal_path(journal, cfg))
    except (ConfigError, ValueError, OSError, SoundCardError) as err:
        raise _fail(str(err)) from None

    interactive = view and console.is_terminal
    link = _mqtt_link(cfg, journal_db, warn=not interactive)
    timeline = Timeline(start)
    chain = LiveChain(cfg, source.velocity_m_s, journal=journal_db, timeline=timeline, source_name=source.name,
                      mqtt=link, routines=routines)
    title = f"uspd · {escape(source.name)}" + ("" if source.paced else (" · as fast as possible" if fast else f" · ×{speed:g}"))
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    printed = [0]

    def print_new(status) -> None:
        fresh = min(status.events + status.firings - printed[0], len(status.recent))
        for item, when in list(status.recent)[len(status.recent) - fresh:]:
            what = (f"routine {item.routine} fired ({item.trigger})" if isinstance(item, Firing)
                    else f"{item.event} {item.kind or ''} score {item.score:.2f}")
            console.print(f"{when:%H:%M:%S}  {item.time_s:9.2f} s  {escape(what)}", highlight=False)
        printed[0] = status.events + status.firings

    try:
        if interactive:
            with Live(console=console, refresh_per_second=4, transient=False) as live:
                summary = run_live(source, chain, speed=None if fast else speed, duration_s=duration,
                                   on_block=lambda s: live.update(render(s, title=title, wall_time=timeline.wall(s.time_s))),
                                   should_stop=lambda: stop["now"])
        else:
            summary = run_live(source, chain, speed=None if fast else speed, duration_s=duration, on_block=print_new,
                               should_stop=lambda: stop["now"])
    except KeyboardInterrupt:
        chain.close()
        summary = None
    except (ValueError, OSError, SoundCardError) as err:
        raise _fail(str(err)) from None
    finally:
        if link is not None:
            link.stop(timeout_s=5.0)
    _live_summary(chain, summary, journal_db)


def _check_live_options(wav: Optional[Path], playback: Optional[Path], soundcard: bool, speed: float,
                        duration: Optional[float]) -> None:
    if wav is not None and soundcard:
        raise _fail("choose one source: a simulated scene (default), --wav or --soundcard")
    if playback is not None and wav is None:
        raise _fail("--playback goes with --wav: it is what the speaker was fed while that recording was made")
    if speed <= 0:
        raise _fail(f"--speed must be positive, got {speed:g}")
    if duration is not None and duration <= 0:
        raise _fail(f"--duration must be positive, got {duration:g} s")


def _sound_device(device: Optional[str]) -> int | str | None:
    """--device: an index (digits) or a name; None: the default device."""
    return int(device) if device and device.isdigit() else device


def _live_source(cfg, scenario: str, seed: int, duration: Optional[float], passband: bool, wav: Optional[Path],
                 soundcard: bool, device: Optional[str], journal: Optional[Path], *, playback: Optional[Path] = None):
    """The source of `uspd run` and `uspd serve`, and the wall time its stream starts at; a
    simulated unit or a sound card plays at its saved calibration, when `uspd calibrate` made one."""
    from datetime import datetime

    from uspd.calibrate import CalibrationStore

    store = CalibrationStore(_calibration_path(None, journal, cfg))  # saved by `uspd calibrate` per unit or card
    if soundcard:
        from uspd.live.soundcard import SoundCardSource

        source = SoundCardSource(cfg, device=_sound_device(device), calibrations=store,
                                 on_problem=_warn, log=_log)  # log: its calibration's re-checks
        return source, datetime.now().astimezone()
    if wav is not None:
        from uspd.live.sources import WavSource

        source = WavSource(wav, cfg, playback=playback)
        for warning in source.warnings:
            _warn(warning)
        return source, datetime.now().astimezone()
    from uspd.calibrate import simulated_device_id
    from uspd.live.sources import SimulatedSource
    from uspd.sim.scenarios import build_scene

    scene = build_scene(scenario, seed, duration_s=duration)
    calibration = store.load(simulated_device_id(scenario, seed))
    recheck = None
    if calibration is not None and cfg.calibration.recheck_every_h is not None:
        from uspd.calibrate import DeviceProfile
        from uspd.live.recheck import PeriodicRecheck

        recheck = PeriodicRecheck(calibration, DeviceProfile.of(scene.device), cfg.calibration, store,
                                  log=_log)
    source = SimulatedSource(scene, cfg, passband=passband, calibration=calibration, recheck=recheck)
    hour, minute = (int(part) for part in cfg.live.sim_start.split(":"))
    return source, datetime.now().astimezone().replace(hour=hour, minute=minute, second=0, microsecond=0)


def _mqtt_link(cfg, journal_db, *, warn: bool):
    """The MQTT link, started (None without [mqtt] host); ``warn``: print when the broker is away."""
    from uspd.live.mqtt import MqttLink

    if cfg.mqtt.host is None:
        return None

    def said(status: str) -> None:
        if warn and ("unreachable" in status or "lost" in status or "refused" in status):
            _warn(status)

    try:
        link = MqttLink(cfg.mqtt, journal_db, on_status=said)
    except ConfigError as err:
        raise _fail(str(err)) from None
    link.start()
    return link


def _live_summary(chain, summary, journal_db) -> None:
    status = chain.status
    wall = f" in {summary.wall_s:.1f} s" if summary else ""
    console.print(
        f"stream {status.time_s:.1f} s{wall}: {status.frames} frames, {status.dropped_frames} dropped, "
        f"{status.events} events, {status.firings} routine firings; journal {journal_db.path}"
    )
    waiting = len(journal_db.pending("mqtt"))
    if waiting:
        _warn(f"{waiting} MQTT messages wait in the journal; they go out when uspd next reaches the broker")
    retrying = len(journal_db.pending("webhook")) + len(journal_db.pending("command"))
    if retrying:
        _warn(f"{retrying} webhooks or commands wait for a retry in the journal; "
              "uspd run tries them again when it next starts")
    journal_db.close()


@app.command()
def serve(
    scenario: ScenarioOption = "living_room_day",
    seed: SeedOption = 0,
    duration: Annotated[Optional[float], typer.Option(help="stop the stream after this many seconds (the page stays up)")] = None,
    speed: SpeedOption = 1.0,
    wav: WavOption = None,
    playback: PlaybackOption = None,
    soundcard: SoundcardOption = False,
    device: DeviceOption = None,
    host: Annotated[Optional[str], typer.Option(help="address to listen on (default: dashboard.host, 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option(help="port (default: dashboard.port, 8765; 0: any free one)")] = None,
    token: Annotated[Optional[str], typer.Option(envvar="USPD_DASHBOARD_TOKEN", show_envvar=True,
                                                 help="secret the page and API require; needed off loopback")] = None,
    journal: JournalOption = None,
    config: ConfigOption = None,
) -> None:
    """The live chain with a web dashboard: Doppler view, presence, events and settings in the browser.

    Runs what `uspd run` runs (journal, MQTT, routines) and serves the page until Ctrl-C;
    settings saved on the page go to the --config file and apply at once."""
    import importlib.util

    if any(importlib.util.find_spec(name) is None for name in ("fastapi", "uvicorn", "tomlkit")):
        raise _fail('the dashboard needs its web packages: python -m pip install -e ".[web]"')
    from uspd.dashboard.app import check_binding, create_app, is_loopback, listen, serve as serve_dashboard
    from uspd.dashboard.feed import Feed
    from uspd.dashboard.settings import Settings
    from uspd.live.journal import Journal
    from uspd.live.routines import Timeline, load_routines
    from uspd.live.run import LiveChain
    from uspd.live.soundcard import SoundCardError

    soundcard = soundcard or device is not None
    _check_live_options(wav, playback, soundcard, speed, duration)
    try:
        cfg = load_config(config)
        host, port = host or cfg.dashboard.host, cfg.dashboard.port if port is None else port
        check_binding(host, token)
        sock = listen(host, port)
        routines = load_routines(cfg)
        source, start = _live_source(cfg, scenario, seed, duration, False, wav, soundcard, device, journal,
                                     playback=playback)
        journal_db = Journal(_journal_path(journal, cfg))
    except (ConfigError, ValueError, OSError, SoundCardError) as err:
        raise _fail(str(err)) from None
    link = _mqtt_link(cfg, journal_db, warn=True)
    chain = LiveChain(cfg, source.velocity_m_s, journal=journal_db, timeline=Timeline(start), source_name=source.name,
                      mqtt=link, routines=routines)
    feed = Feed(chain, source)
    settings = Settings(cfg, config, chain.update_settings)
    web = create_app(feed, settings, token=token, local_only=is_loopback(host) and token is None)
    bound_host, bound_port = sock.getsockname()[:2]
    address = f"[{bound_host}]" if ":" in bound_host else bound_host
    console.print(f"dashboard: http://{address}:{bound_port}/" + ("?token=…" if token else "")
                  + f"  ·  {source.name}  ·  Ctrl-C stops", highlight=False, soft_wrap=True)
    try:
        summary, error = serve_dashboard(web, sock, chain, source, feed, speed=speed, duration_s=duration)
    finally:
        if link is not None:
            link.stop(timeout_s=5.0)
    if error is not None:
        journal_db.close()
        raise _fail(str(error))
    _live_summary(chain, summary, journal_db)


def _since(text: str):
    """'2h', '30m', '45s', '1d' ago, or an ISO date/time."""
    from datetime import datetime, timedelta

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in units:
        return datetime.now().astimezone() - timedelta(seconds=float(text[:-1]) * units[text[-1]])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since must be a time ago like 2h, 30m, 1d or an ISO time like 2024-05-01T08:00, got '{text}'") from None
    return moment if moment.tzinfo else moment.astimezone()


@app.command()
def events(
    since: Annotated[Optional[str], typer.Option(help="only events since: 2h, 30m, 1d ago or an ISO time")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="list undelivered actions instead of events")] = False,
    limit: Annotated[int, typer.Option(help="show at most this many (the newest)")] = 50,
    journal: JournalOption = None,
    config: ConfigOption = None,
) -> None:
    """List journaled presence events and how their actions were delivered."""
    from uspd.live.journal import Journal

    try:
        cfg = load_config(config)
        path = _journal_path(journal, cfg)
        if not path.exists():
            raise ValueError(f"no event journal at {path} yet (uspd run writes it)")
        since_time = _since(since) if since else None
        db = Journal(path)
    except (ConfigError, ValueError, OSError) as err:
        raise _fail(str(err)) from None
    with db:
        if pending:
            waiting = db.pending()[-limit:]
            table = Table("id", "action", "target", "payload", "routine", "tries", "last error")
            for d in waiting:
                table.add_row(str(d.id), d.action, d.target, d.payload[:40], d.routine or "", str(d.attempts), d.error or "")
            console.print(table if waiting else "nothing pending: every action was delivered")
            return
        rows = db.events(since=since_time, limit=limit)
        deliveries = db.deliveries_for([e.id for e in rows])
        table = Table("time", "stream s", "event", "kind", "score", "source", "deliveries")
        for e in rows:
            done: dict[str, int] = {}
            for d in deliveries[e.id]:
                done[d.status] = done.get(d.status, 0) + 1
            table.add_row(e.wall_time.strftime("%Y-%m-%d %H:%M:%S"), f"{e.time_s:.2f}", e.event, e.kind or "",
                          f"{e.score:.2f}", e.source, ", ".join(f"{n} {s}" for s, n in sorted(done.items())))
        console.print(table if rows else "no events" + (f" since {since_time:%Y-%m-%d %H:%M}" if since_time else ""))


@app.command()
def devices() -> None:
    """List the sound devices uspd run --soundcard can use."""
    from uspd.live.soundcard import SoundCardError, list_devices

    try:
        found = list_devices()
    except SoundCardError as err:
        raise _fail(str(err)) from None
    if not found:
        raise _fail("no sound devices found: connect one, or check that this user may use audio")
    table = Table("index", "name", "inputs", "outputs", "default rate")
    for d in found:
        table.add_row(str(d["index"]), d["name"], str(d["inputs"]), str(d["outputs"]), f"{d['default_rate_hz'] / 1000:g} kHz")
    console.print(table)


@app.command()
def calibrate(
    scenario: Annotated[str, typer.Option(help="simulated unit and room to calibrate (see uspd simulate --list)")] = "living_room_day",
    seed: Annotated[int, typer.Option(help="random seed of the simulated scene")] = 0,
    at: Annotated[float, typer.Option("--at", help="scene time (s) the probes start at: the room as it is then")] = 0.0,
    soundcard: Annotated[bool, typer.Option("--soundcard", help="calibrate the default sound card instead (\\[soundcard] in the config)")] = False,
    device: Annotated[Optional[str], typer.Option(help="calibrate this sound device, index or name (see uspd devices)")] = None,
    recheck: Annotated[bool, typer.Option("--recheck", help="compare a probe with the saved calibration; recalibrate on drift")] = False,
    study: Annotated[bool, typer.Option("--study", help="the calibration study on held-out units instead (see docs/calibration.md)")] = False,
    units: Annotated[int, typer.Option(help="--study: simulated units × rooms")] = 50,
    out: Annotated[Path, typer.Option("--out", help="--study: folder for report.md, study.json, study.png")] = Path("uspd-calibration"),
    store: Annotated[Optional[Path], typer.Option(help="calibration file (default: calibration.store, else beside the journal)")] = None,
    config: ConfigOption = None,
) -> None:
    """Probe the carriers, pick the carrier and the lowest level that reach the target range, save it per device."""
    from contextlib import nullcontext

    from uspd import calibrate as cal
    from uspd.live.soundcard import SoundCardError

    try:
        cfg = load_config(config)
        if study:
            from uspd.calibration_study import run_study, write_study

            command = _command(f"uspd calibrate --study --units {units} --out {out}", {"--config": config})
            with _progress() as progress:
                task = progress.add_task(f"calibrating and walking {units} units", total=units)
                results = run_study(units, cfg, on_unit=lambda _: progress.advance(task))
            for path in write_study(results, cfg, out, command):
                console.print(f"wrote {path}")
            return
        card = soundcard or device is not None
        if card:
            from uspd.live.soundcard_calibration import check_speaker_heard, soundcard_prober

            probing, profile, device_id = soundcard_prober(cfg, _sound_device(device))
        else:
            from uspd.sim.scenarios import build_scene

            scene = build_scene(scenario, seed)
            if not 0 <= at < scene.duration_s:
                raise ValueError(f"--at {at:g} s is outside the {scene.duration_s:g} s scene")
            device_id = cal.simulated_device_id(scenario, seed)
            probing, profile = nullcontext(cal.SimulatedProber(scene, cfg.simulation, at_s=at)), cal.DeviceProfile.of(scene.device)
        calibrations = cal.CalibrationStore(_calibration_path(store, None, cfg))
        saved = calibrations.load(device_id) if recheck else None
        if recheck and saved is None:
            raise ValueError(f"no saved calibration for {device_id} in {calibrations.path}; run uspd calibrate first")
        with probing as prober:
            if saved is not None:
                drift = cal.recheck(saved, prober, cfg.calibration)
                console.print(f"re-check of {device_id}: echoes {100 * drift.echo_change:.0f} % changed, direct path "
                              f"{drift.coupling_change_db:+.1f} dB, floor {drift.floor_change_db:+.1f} dB: {drift.reason}")
                if not drift.drifted:
                    return
            carriers = len(profile.candidate_carriers(cfg.calibration))
            with _progress() as progress:
                task = progress.add_task(f"probing {carriers} carriers, then the chosen one at its level", total=carriers + 1)
                result = cal.calibrate(prober, profile, cfg.calibration, device_id, on_carrier=lambda _: progress.advance(task))
        if card:
            check_speaker_heard(result, profile)
        calibrations.save(result)
    except (ConfigError, ValueError, SoundCardError) as err:
        raise _fail(str(err)) from None
    table = Table("carrier (kHz)", "response (dB)", "floor (dB/Hz)", "decay (ms)", "level needed (dBFS)", "SPL cap level (dBFS)")
    for c in result.candidates:
        need = "unreachable" if c.needed_level_dbfs is None else f"{c.needed_level_dbfs:.1f}"
        table.add_row(f"{c.probe.carrier_hz / 1000:g}", f"{c.probe.coupling_db:.1f}", f"{c.probe.floor_db:.1f}",
                      "–" if c.probe.decay_ms is None else f"{c.probe.decay_ms:.1f}", need, f"{c.cap_level_dbfs:.1f}")
    console.print(table)
    verdict = "reaches" if result.target_met else "cannot reach (best within the caps)"
    console.print(f"{device_id}: carrier {result.carrier_hz / 1000:g} kHz at {result.level_dbfs:.1f} dBFS "
                  f"(≈ {result.spl_db:.0f} dB SPL at 1 m) {verdict} {result.predicted_snr_db:.1f} dB SNR at "
                  f"{result.target_range_m:g} m; saved to {calibrations.path}")


@app.command()
def dutycycle(
    scenario: Annotated[str, typer.Option(help="day scene (see uspd simulate --list)")] = "living_room_day",
    seed: Annotated[int, typer.Option(help="random seed of the scene (held-out: ≥ 1,000,000)")] = 1_000_000,
    out: Annotated[Path, typer.Option("--out", help="folder for report.md, day.json, latency.png and the window cache")] = Path("uspd-dutycycle"),
    config: ConfigOption = None,
) -> None:
    """Continuous vs duty-cycled emission on a simulated day: duty, vacancy latency, false vacancies."""
    from uspd.dutycycle import day_seconds, run_day, write_day_report
    from uspd.sim.scenarios import build_scene

    try:
        cfg = load_config(config)
        scene = build_scene(scenario, seed)
        total_s = day_seconds(scene, cfg)
        with _progress() as progress:
            task = progress.add_task(f"{total_s / 3600:.1f} h of {scenario} through both chains", total=total_s)
            summary = run_day(scene, cfg, out, on_seconds=lambda s: progress.advance(task, s))
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None
    command = _command(f"uspd dutycycle --scenario {scenario} --seed {seed} --out {out}", {"--config": config})
    for path in write_day_report(summary, cfg, out, command):
        console.print(f"wrote {path}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
