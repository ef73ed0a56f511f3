"""The ``uspd`` command.

Every command turns a problem the user can fix (unknown scenario, impossible geometry,
bad config, unreadable audio) into one sentence on stderr and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from uspd.config import ConfigError, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Ultrasonic presence detection.")
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="TOML config; defaults apply to missing keys")]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


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
        with _progress() as progress:
            task = progress.add_task(f"detecting in {recording.name}", total=None)
            decisions, info = detect_file(
                recording, cfg, carrier_hz=carrier_hz,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        if timeline is not None:
            write_timeline(decisions, timeline)
        if events is not None:
            write_events(decisions.events, events)
    except (ConfigError, ValueError, OSError) as err:
        raise _fail(str(err)) from None
    for warning in info.warnings:
        errors.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
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
    out: Annotated[Path, typer.Option("--out", help="folder for report.md, report.json, det.png, detection_by_distance.png")] = Path("uspd-eval"),
    detector: Annotated[Optional[list[str]], typer.Option(
        help="detector to judge: baseline, neural or LABEL=MODEL.onnx; repeat it to compare several on the same scenes")] = None,
    config: ConfigOption = None,
) -> None:
    """Run the detection chain on held-out simulated rooms and report detection by distance,
    latency, false alarms per hour, presence accuracy and the DET curve."""
    from uspd.evaluate import EvaluationSettings, evaluate as run_evaluation, plan_scenes, write_comparison, write_report

    try:
        cfg = load_config(config)
        configs = _detector_configs(cfg, detector) if detector else {cfg.detect.detector: cfg}
        settings = EvaluationSettings(hours=hours, scenes_per_kind=scenes_per_kind, seed_offset=seed_offset,
                                      array=array, workers=workers)
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None
    command = _command(
        f"uspd evaluate --hours {hours:g} --scenes-per-kind {scenes_per_kind} --workers {workers} "
        f"--seed-offset {seed_offset} --out {out}",
        {"--array": array, **{"--detector": " --detector ".join(detector) if detector else None}, "--config": config},
    )
    jobs = plan_scenes(settings)
    with _progress() as progress:
        task = progress.add_task(f"evaluating {len(jobs)} scenes", total=sum(job.duration_s for job in jobs))
        summaries = run_evaluation(settings, configs, on_scene=lambda job: progress.advance(task, job.duration_s))
    if len(summaries) == 1:
        paths = write_report(next(iter(summaries.values())), out, command)
    else:
        paths = write_comparison(summaries, out, command)
    for path in paths:
        console.print(f"wrote {path}")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="random seed of the demo scene")] = 1,
    duration: Annotated[float, typer.Option(help="seconds of simulated time")] = 16.0,
    out: Annotated[Path, typer.Option("--out", help="folder for the spectrogram PNG and scene files")] = Path("uspd-demo"),
) -> None:
    """Simulate a person walking into a room and show what the front end sees, second by second."""
    from uspd.demo import run_demo

    run_demo(seed=seed, duration_s=duration, out_dir=out, console=console)


def _train_settings(epochs: int, seed: int):
    from uspd.model.train import TrainSettings

    return TrainSettings(epochs=epochs, seed=seed)


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
    workers: Annotated[int, typer.Option(help="processes rendering scenes")] = 1,
    cache: Annotated[Optional[Path], typer.Option(help="folder caching rendered feature frames between runs")] = Path.home() / ".cache" / "uspd",
    config: ConfigOption = None,
) -> None:
    """Run the long-tail loop end to end: seed model on the labeled set, mine rare confusing
    events from corpus A, rare-event model, collect from corpus B, retrain; write the three
    models (ONNX fp32 and int8) and mining-report.md / .json."""
    _require_torch()
    from uspd.model.export import calibration_subset, save_model
    from uspd.model.loop import LoopSettings, run_loop, write_loop_report

    try:
        cfg = load_config(config)
        settings = LoopSettings(labeled_per_kind=labeled_per_kind, corpus_a_hours=corpus_hours,
                                corpus_b_hours=corpus_hours, train=_train_settings(epochs, seed), workers=workers)
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None
    command = _command(f"uspd mine --out {out} --labeled-per-kind {labeled_per_kind} --corpus-hours {corpus_hours:g} "
                       f"--epochs {epochs} --seed {seed}", {"--config": config})
    with _progress() as progress:
        result = run_loop(settings, cfg, cache, _loop_progress(progress))
    for name, net in (("seed", result.seed), ("rare", result.rare), ("motion", result.final)):
        for path in save_model(net, out, name, {"command": command, "stage": name}, calibration_subset(result.calibration)):
            console.print(f"wrote {path}")
    for path in write_loop_report(result.report, out, command):
        console.print(f"wrote {path}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
