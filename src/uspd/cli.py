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
    overrides = {"--rate": sample_rate, "--carrier": carrier, "--array": array, "--config": config}
    rerender = " ".join(
        [f"uspd simulate {scenario} --seed {seed} --duration {scene.duration_s:g}"]
        + [f"{flag} {value}" for flag, value in overrides.items() if value is not None]
        + (["--baseband"] if baseband else [])
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
def demo(
    seed: Annotated[int, typer.Option(help="random seed of the demo scene")] = 1,
    duration: Annotated[float, typer.Option(help="seconds of simulated time")] = 16.0,
    out: Annotated[Path, typer.Option("--out", help="folder for the spectrogram PNG and scene files")] = Path("uspd-demo"),
) -> None:
    """Simulate a person walking into a room and show what the front end sees, second by second."""
    from uspd.demo import run_demo

    run_demo(seed=seed, duration_s=duration, out_dir=out, console=console)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
