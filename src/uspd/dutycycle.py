"""Emission duty-cycling, closed loop on a simulated day: how much tone, at what cost?

:func:`run_chain` is the live loop offline: each 1 s block is rendered *through the tone
gate* (no tone, no echoes), turned into Doppler frames by :class:`~uspd.emission.GatedFrames`
(frames while the tone is off are no data), run through the detector and presence machine,
and the :class:`~uspd.emission.DutyCycler` then switches the gate for the blocks to come.
With ``duty=False`` the same loop keeps the tone on: the continuous reference.

:func:`run_day` runs both on the stretches of a day scene where people are (each
ground-truth occupied span from ``PRE_S`` before to ``hold_s`` + ``POST_S`` after, joined
where they overlap: :func:`occupied_windows`); outside them nobody is in the room, the
presence machine is vacant and the scheduler keeps the tone on, so the day's duty counts
those hours as on. Each window's result is cached in the output folder, so a long day can
be run in several sittings. :func:`summarize_day` reports the emission duty over the day
and while occupied, the vacancy-detection latency after each departure (duty-cycled vs
continuous) and false vacancies (vacant declared while someone is in the room).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uspd.config import Config
from uspd.detect.neural import model_file
from uspd.detect.pipeline import Decisions, Detection
from uspd.emission import DutyCycler, DutyStats, GatedFrames, ToneGate, duty_stats
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_baseband, scene_spectrogram
from uspd.sim.scene import Scene

TRUTH_FRAME_S = 1.0  # ground truth resolution for windows, departures and false vacancies
PRE_S = 120.0  # a window starts this long before someone enters
POST_S = 180.0  # ... and ends this long after hold_s past their leaving


@dataclass(frozen=True)
class ChainRun:
    """One window through the loop: the decisions, the gate as it was switched, the modes."""

    start_s: float
    stop_s: float
    decisions: Decisions
    gate: ToneGate
    transitions: list[tuple[float, str]]

    @property
    def duty(self) -> DutyStats:
        return duty_stats(self.gate, self.start_s, self.stop_s)


def run_chain(scene: Scene, config: Config, *, start_s: float = 0.0, stop_s: float | None = None,
              duty: bool = True, on_block: Callable[[float], None] | None = None) -> ChainRun:
    """The scene's window [start_s, stop_s) through render → gated frames → detection →
    scheduler (``duty=False``: tone always on). ``on_block(seconds)`` after each block."""
    stop_s = scene.duration_s if stop_s is None else stop_s
    dc = config.duty_cycle
    gate = ToneGate(dc.ramp_s)
    cycler = DutyCycler(dc, gate, hold_s=config.presence.hold_s) if duty else None
    spectrogram = scene_spectrogram(scene, config)
    frames = GatedFrames(spectrogram, gate, dc.settle_s)
    detection = Detection(config, spectrogram.velocity_m_s)
    parts = []
    for block in iter_baseband(scene, config.simulation, start_s=start_s, stop_s=stop_s, tone_gate=gate):
        decisions = detection.process(*frames.process(block.signal, block.start_s))
        parts.append(decisions)
        block_s = block.signal.shape[-1] / block.sample_rate_hz
        if cycler is not None:
            cycler.update(decisions, now_s=block.start_s + block_s)
        if on_block is not None:
            on_block(block_s)
    return ChainRun(start_s, stop_s, Decisions.concatenate(parts), gate,
                    cycler.transitions if cycler is not None else [])


def occupied_windows(truth_occupied: np.ndarray, frame_s: float, hold_s: float, end_s: float) -> list[tuple[float, float]]:
    """Stretches around every occupied span (see the module doc), joined where they overlap."""
    occupied = np.r_[0, truth_occupied.astype(np.int8), 0]
    starts = np.flatnonzero(np.diff(occupied) == 1) * frame_s
    stops = np.flatnonzero(np.diff(occupied) == -1) * frame_s
    windows: list[list[float]] = []
    for a, b in zip(starts, stops):
        a, b = max(a - PRE_S, 0.0), min(b + hold_s + POST_S, end_s)
        if windows and a <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], b)
        else:
            windows.append([a, b])
    return [(float(a), float(b)) for a, b in windows]


def vacancy_latency_s(run: ChainRun, departure_s: float) -> float:
    """Seconds from a departure to the chain's first vacant frame after it (NaN: none in the window)."""
    d = run.decisions
    after = np.flatnonzero((d.time_s >= departure_s) & (d.occupied == 0))
    return float(d.time_s[after[0]] - departure_s) if len(after) else float("nan")


def false_vacancies(run: ChainRun, truth_occupied: np.ndarray, frame_s: float) -> int:
    """Vacant events while someone is in the room (ground truth at ``frame_s``)."""
    rows = np.minimum((np.array([e.time_s for e in run.decisions.events if e.event == "vacant"]) / frame_s).astype(int),
                      len(truth_occupied) - 1)
    return int(truth_occupied[rows].sum()) if len(rows) else 0


@dataclass(frozen=True)
class WindowResult:
    """One window in one mode: what the day's summary adds up (JSON-ready)."""

    mode: str  # continuous | duty-cycled
    start_s: float
    stop_s: float
    on_s: float
    on_occupied_s: float  # tone on while someone was in the room
    occupied_s: float
    switches: int
    latency_s: dict  # departure time (s, as str) → vacancy latency (NaN: not declared in the window)
    false_vacancies: int
    wall_s: float


MODES = ("continuous", "duty-cycled")


def day_truth(scene: Scene) -> np.ndarray:
    """(n,) bool: someone in the room, per TRUTH_FRAME_S."""
    return label_scene(scene, TRUTH_FRAME_S).occupied.astype(bool)


def run_window(scene: Scene, config: Config, truth: np.ndarray, window: tuple[float, float], mode: str,
               on_block: Callable[[float], None] | None = None) -> WindowResult:
    started = time.monotonic()
    a, b = window
    run = run_chain(scene, config, start_s=a, stop_s=b, duty=mode == "duty-cycled", on_block=on_block)
    rows = np.arange(int(a / TRUTH_FRAME_S), min(int(np.ceil(b / TRUTH_FRAME_S)), len(truth)))
    occupied_starts_s = rows[truth[rows]] * TRUTH_FRAME_S
    on_occupied_s = float(np.sum(run.gate.gain(occupied_starts_s + 0.5 * TRUTH_FRAME_S) > 0)) * TRUTH_FRAME_S
    departures = rows[1:][truth[rows[:-1]] & ~truth[rows[1:]]] * TRUTH_FRAME_S
    return WindowResult(mode, a, b, run.duty.on_s, on_occupied_s, float(len(occupied_starts_s) * TRUTH_FRAME_S),
                        run.duty.switches, {f"{t:g}": vacancy_latency_s(run, float(t)) for t in departures},
                        false_vacancies(run, truth, TRUTH_FRAME_S), time.monotonic() - started)


def summarize_day(day_s: float, windows: list[tuple[float, float]], results: list[WindowResult]) -> dict:
    """Duty over the day (outside the windows nobody is in and the tone is on) and while
    occupied; vacancy latency per departure, both modes; false vacancies."""
    inside_s = sum(b - a for a, b in windows)
    out: dict = {"day_h": day_s / 3600.0, "windows": len(windows), "windows_h": inside_s / 3600.0, "modes": {}}
    for mode in MODES:
        mine = [r for r in results if r.mode == mode]
        latency = {k: v for r in mine for k, v in r.latency_s.items()}
        out["modes"][mode] = {
            "duty_day_pct": 100.0 * (day_s - inside_s + sum(r.on_s for r in mine)) / day_s,
            "duty_occupied_pct": 100.0 * sum(r.on_occupied_s for r in mine) / max(sum(r.occupied_s for r in mine), 1e-9),
            "occupied_h": sum(r.occupied_s for r in mine) / 3600.0,
            "switches": sum(r.switches for r in mine),
            "false_vacancies": sum(r.false_vacancies for r in mine),
            "latency_s": latency,
            "wall_s": sum(r.wall_s for r in mine),
        }
    cont, duty = (out["modes"][m]["latency_s"] for m in MODES)
    both = [k for k in cont if np.isfinite(cont[k]) and np.isfinite(duty.get(k, np.nan))]
    extra = np.array([duty[k] - cont[k] for k in both])
    out["departures"] = len(cont)
    out["latency_cost_s"] = {
        "compared": len(both),
        "mean": float(extra.mean()) if len(both) else None,
        "median": float(np.median(extra)) if len(both) else None,
        "worst": float(extra.max()) if len(both) else None,
        "continuous_mean": float(np.mean([cont[k] for k in both])) if both else None,
        "duty_mean": float(np.mean([duty[k] for k in both])) if both else None,
    }
    return out


def _network_digest(config: Config) -> str | None:
    """SHA-256 of the network file the chain runs (None for the baseline): a model replaced
    in place leaves the config as it was, and must not reuse windows cached with the old one."""
    if config.detect.detector != "neural":
        return None
    return hashlib.sha256(model_file(config.detect.model).read_bytes()).hexdigest()


def run_day(scene: Scene, config: Config, out_dir: Path, *, on_seconds: Callable[[float], None] | None = None) -> dict:
    """Every window in both modes (cached in ``out_dir/windows``), then the summary.
    ``on_seconds(s)`` as scene seconds are done (rendered or found in the cache)."""
    truth = day_truth(scene)
    windows = occupied_windows(truth, TRUTH_FRAME_S, config.presence.hold_s, scene.duration_s)
    cache = out_dir / "windows"
    cache.mkdir(parents=True, exist_ok=True)
    key = json.loads(json.dumps({"scene": scene.name, "seed": scene.seed, "duration_s": scene.duration_s,
                                 "config": config.model_dump(mode="json"), "network": _network_digest(config)}))
    key_path = cache / "key.json"
    if key_path.exists() and json.loads(key_path.read_text()) != key:
        raise ValueError(f"{cache} holds windows of another scene or config; use another --out or delete it")
    key_path.write_text(json.dumps(key))
    results = []
    for mode in MODES:
        for window in windows:
            path = cache / f"{mode}-{window[0]:.0f}-{window[1]:.0f}.json"
            if path.exists():
                result = WindowResult(**json.loads(path.read_text()))
                if on_seconds is not None:
                    on_seconds(window[1] - window[0])
            else:
                result = run_window(scene, config, truth, window, mode, on_seconds)
                path.write_text(json.dumps(dataclasses.asdict(result)))
            results.append(result)
    return summarize_day(scene.duration_s, windows, results)


def day_seconds(scene: Scene, config: Config) -> float:
    """Scene seconds :func:`run_day` renders (both modes): for a progress bar."""
    windows = occupied_windows(day_truth(scene), TRUTH_FRAME_S, config.presence.hold_s, scene.duration_s)
    return 2.0 * sum(b - a for a, b in windows)


def write_day_report(summary: dict, config: Config, out_dir: Path, command: str) -> list[Path]:
    """report.md, day.json and latency.png in ``out_dir``."""
    import matplotlib.pyplot as plt

    paths = [out_dir / "day.json", out_dir / "latency.png", out_dir / "report.md"]
    paths[0].write_text(json.dumps({"summary": summary, "command": command,
                                    "duty_cycle": config.duty_cycle.model_dump(mode="json")}, indent=1))
    cont, duty = (summary["modes"][m]["latency_s"] for m in MODES)
    keys = sorted(cont, key=float)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    hours = [float(k) / 3600.0 for k in keys]
    ax.plot(hours, [cont[k] for k in keys], "o", label="continuous")
    ax.plot(hours, [duty[k] for k in keys], "x", label="duty-cycled")
    ax.set_xlabel("departure (hour of the day)")
    ax.set_ylabel("vacancy declared after (s)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    dc, lat = config.duty_cycle, summary["latency_cost_s"]
    modes = summary["modes"]

    def sec(value: float | None) -> str:
        return "–" if value is None else f"{value:.0f} s"

    lines = [
        "# Emission duty-cycling on a simulated day", "",
        f"Made by `{command}`: off {dc.off_s:g} s, probe {dc.probe_s:g} s, hold {config.presence.hold_s:g} s; "
        f"{summary['windows']} windows around the occupied spans, {summary['windows_h']:.1f} h of the "
        f"{summary['day_h']:.0f} h rendered in each mode (outside them nobody is in the room and the tone stays on).", "",
        "| | continuous | duty-cycled |", "|---|---:|---:|",
        f"| emission duty over the day | {modes['continuous']['duty_day_pct']:.1f} % | {modes['duty-cycled']['duty_day_pct']:.1f} % |",
        f"| emission duty while occupied ({modes['continuous']['occupied_h']:.1f} h) | "
        f"{modes['continuous']['duty_occupied_pct']:.1f} % | {modes['duty-cycled']['duty_occupied_pct']:.1f} % |",
        f"| tone switches | {modes['continuous']['switches']} | {modes['duty-cycled']['switches']} |",
        f"| false vacancies (vacant while someone is in) | {modes['continuous']['false_vacancies']} | {modes['duty-cycled']['false_vacancies']} |",
        f"| mean vacancy latency after a departure | {sec(lat['continuous_mean'])} | {sec(lat['duty_mean'])} |", "",
        f"Vacancy-detection latency cost of duty-cycling over {lat['compared']} of {summary['departures']} departures "
        f"declared in both modes: mean {sec(lat['mean'])}, median {sec(lat['median'])}, worst {sec(lat['worst'])} "
        "(duty-cycled − continuous; negative: declared sooner).", "",
        "![vacancy latency per departure](latency.png)", "",
    ]
    paths[2].write_text("\n".join(lines))
    return paths
