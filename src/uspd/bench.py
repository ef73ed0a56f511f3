"""``uspd bench``: what uspd costs on one CPU core, as ratios measured in one run.

Every speed is CPU time of one process with one thread (best of a few repeats), and every
table also gives it against a naive reference measured in the same run — the Doppler
spectrogram the obvious way: a float64 Hann STFT of each microphone at the full audio
rate, its bins within ±4 m/s of the carrier — so numbers from a busy or a different
machine compare as ratios. Each item runs in a fresh worker process, whose peak resident
memory (``getrusage`` ``ru_maxrss``: the whole process, Python and libraries included) is
one memory figure (an idle worker's is listed too); the other is a stage's working memory,
the peak tracemalloc sees during a run.

>>> results = run_bench(BenchSettings.quick_settings())
>>> Path("docs/benchmarks.md").write_text(markdown(results, "uspd bench --quick"))

The items:

- per device (7 mics at 96 kHz, 2 mics at 48 kHz; synthetic audio: the pilot tone, a
  moving echo, noise), in the sound card's 0.1 s blocks and in ``uspd detect``'s 1 s
  blocks: the front end, the neural detector with the fp32 and the int8 model (features,
  network, Doppler centroid), the presence machine, and the whole pipeline (front end →
  detector → presence), as real-time factors (CPU seconds per second of audio);
- the simulator, baseband and passband, × real time per scenario;
- mining: audio hours scored per core-hour from cached features (the network alone) and
  with rendering (simulator → front end → features, the corpus generation), for a
  ``rare_events_home`` corpus;
- the algorithmic latency: the hop (a sound waits at most this long for the next frame to
  end) plus the demodulator's look-ahead (its FIR's group delay); the spectrogram frame
  and the network are causal.
"""

from __future__ import annotations

import os
import platform
import resource
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np

from uspd.config import LiveConfig
from uspd.frontend.demod import BATCH_BLOCK_S

ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LIVE_BLOCK_S = LiveConfig().soundcard_block_s  # what a sound card hands over by default
FILE_BLOCK_S = BATCH_BLOCK_S  # what uspd detect reads
BLOCKS_S = (LIVE_BLOCK_S, FILE_BLOCK_S)
GOALS = {"pipeline_rtf": 0.002, "mining_hours_per_core_hour": 1000.0, "latency_s": 0.050}
MODELS = {"fp32": "motion.fp32.onnx", "int8": "motion.int8.onnx"}
SIM_SCENARIOS = ("empty_quiet", "walk_in", "seated_reading", "empty_fan", "music_loud_empty", "cat")
MINING_SCENARIO = "rare_events_home"


@dataclass(frozen=True)
class Device:
    name: str
    sample_rate_hz: int
    n_mics: int
    carrier_hz: float


DEVICES = (Device("7 mics @ 96 kHz", 96000, 7, 34000.0), Device("2 mics @ 48 kHz", 48000, 2, 20000.0))


@dataclass(frozen=True)
class BenchSettings:
    """How much to measure (:meth:`quick_settings`: a smoke test, under a minute)."""

    audio_s: float = 20.0  # per device, through each stage
    naive_s: float = 4.0  # through the (slow) naive reference
    repeats: int = 3
    sim_scenarios: tuple[str, ...] = SIM_SCENARIOS
    baseband_s: float = 20.0
    passband_s: float = 2.0
    mining_scenes: int = 4
    mining_scene_s: float = 300.0

    @classmethod
    def quick_settings(cls) -> BenchSettings:
        return cls(audio_s=2.0, naive_s=1.0, repeats=2, sim_scenarios=("walk_in",), baseband_s=2.0,
                   passband_s=0.25, mining_scenes=1, mining_scene_s=20.0)


@dataclass
class Item:
    """One measurement: ``measure(settings)`` runs in a fresh process."""

    group: str  # device name, "simulator", "mining" or "memory"
    name: str
    measure: Callable[..., dict]
    args: tuple = ()
    result: dict = field(default_factory=dict)
    peak_rss_mib: float = float("nan")


# --- measuring helpers, shared with benchmarks/*.py (which set ONE_THREAD before NumPy loads) ---

def cpu_seconds(run: Callable[[], object], repeats: int) -> float:
    """Best CPU time of ``run()`` over ``repeats`` runs (CPU time: disturbed less than wall
    time by other work on the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def traced_peak_mib(run: Callable[[], object]) -> float:
    """Peak of the memory Python and NumPy allocate during ``run()`` (tracemalloc), beyond
    what was allocated before: a stage's working memory, its input excluded."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def synthetic_audio(rate_hz: int, n_mics: int, carrier_hz: float, seconds: float, dtype=np.float32) -> np.ndarray:
    """(n_mics, n) the pilot tone, an echo at +150 Hz of Doppler (wobbling ±2 Hz) and
    noise; laid out channel-major as a sound card callback's ``indata.T.copy()``. Made a
    second at a time, so no float64 copy of the whole input inflates a worker's peak memory."""
    rng = np.random.default_rng(0)
    arrival = 2 * np.pi * np.random.default_rng(1).uniform(size=(n_mics, 1))  # the echo's phase at each mic
    n = int(seconds * rate_hz)
    audio = np.empty((n_mics, n), dtype=dtype)
    for start in range(0, n, rate_hz):
        t = np.arange(start, min(start + rate_hz, n)) / rate_hz
        echo = 0.01 * np.cos(2 * np.pi * (carrier_hz + 150.0) * t + 3 * np.sin(2 * np.pi * 0.7 * t) + arrival)
        tone = 0.3 * np.cos(2 * np.pi * carrier_hz * t)
        audio[:, start : start + len(t)] = tone + echo + 1e-3 * rng.standard_normal((n_mics, len(t)))
    return audio


def blocks(audio: np.ndarray, step: int) -> Iterator[np.ndarray]:
    for i in range(0, audio.shape[-1], step):
        yield audio[..., i : i + step]


def naive_doppler(audio: np.ndarray, rate_hz: int, carrier_hz: float, frame_s: float, hop_s: float,
                  max_speed_m_s: float, speed_of_sound_m_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The reference: float64 Hann STFT of every mic at the audio rate → power (n_frames,
    n_bins) in the bins within ±``max_speed_m_s`` of the carrier, averaged over mics, and
    those bins' radial velocity (m/s)."""
    from numpy.lib.stride_tricks import sliding_window_view

    from uspd.physics import radial_speed_m_s

    x = np.asarray(audio, dtype=np.float64)
    n_frame, n_hop = int(round(frame_s * rate_hz)), int(round(hop_s * rate_hz))
    freqs = np.fft.rfftfreq(n_frame, 1.0 / rate_hz)
    velocity_m_s = radial_speed_m_s(freqs - carrier_hz, carrier_hz, speed_of_sound_m_s)
    band = np.abs(velocity_m_s) <= max_speed_m_s
    frames = sliding_window_view(x, n_frame, axis=-1)[:, ::n_hop]
    spectra = np.fft.rfft(frames * np.hanning(n_frame + 1)[:-1], axis=-1)[..., band]
    return (np.abs(spectra) ** 2).mean(axis=0), velocity_m_s[band]


# --- the items ------------------------------------------------------------------------------------

def _idle(_settings: BenchSettings) -> dict:
    """A worker with the pipeline's libraries loaded and nothing run: the memory floor."""
    import importlib

    for module in ("onnxruntime", "scipy.signal", "uspd.frontend.stream", "uspd.detect.pipeline"):
        importlib.import_module(module)
    return {}


def _naive(settings: BenchSettings, device: Device) -> dict:
    from uspd.config import FrontendConfig
    from uspd.frontend.stream import DEFAULT_SPEED_OF_SOUND_M_S

    config = FrontendConfig()
    audio = synthetic_audio(device.sample_rate_hz, device.n_mics, device.carrier_hz, settings.naive_s, np.float64)
    args = (device.sample_rate_hz, device.carrier_hz, config.frame_s, config.hop_s, config.max_speed_m_s,
            DEFAULT_SPEED_OF_SOUND_M_S)
    rtf = cpu_seconds(lambda: naive_doppler(audio, *args), settings.repeats) / settings.naive_s
    return {"rtf": {block_s: rtf for block_s in BLOCKS_S}, "heap_mib": traced_peak_mib(lambda: naive_doppler(audio, *args))}


def _frames_of(audio: np.ndarray, device: Device, step: int, config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Doppler frames of the test audio as the front end streams it: power, times, velocity."""
    from uspd.frontend.stream import FrontEnd

    front = FrontEnd(device.sample_rate_hz, device.carrier_hz, config.frontend)
    parts = [front.process(block) for block in blocks(audio, step)] + [front.flush()]
    return np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts]), front.velocity_m_s


def _stage(settings: BenchSettings, device: Device, stage: str, model_name: str = "fp32") -> dict:
    """Real-time factor of one stage (or the whole pipeline) in live and file blocks;
    ``model_name``: the shipped network the detector runs (a key of :data:`MODELS`)."""
    from uspd.config import Config, config_from_dict
    from uspd.detect.neural import NeuralDetector, default_model_path
    from uspd.detect.pipeline import LEAVING_M_S, Detection
    from uspd.detect.presence import Presence
    from uspd.frontend.stream import FrontEnd

    base = Config()
    audio = synthetic_audio(device.sample_rate_hz, device.n_mics, device.carrier_hz, settings.audio_s)
    model = default_model_path().with_name(MODELS[model_name])
    config = config_from_dict({**base.model_dump(), "detect": {"detector": "neural", "model": str(model)}})
    rtf, heap_mib = {}, 0.0
    for block_s in BLOCKS_S:
        step = int(round(block_s * device.sample_rate_hz))
        hop = int(round(block_s / config.frontend.hop_s))
        if stage == "front end":
            front = FrontEnd(device.sample_rate_hz, device.carrier_hz, config.frontend)

            def run() -> None:
                for block in blocks(audio, step):
                    front.process(block)
                front.flush()
        elif stage == "model":
            power, _, velocity = _frames_of(audio, device, step, config)
            detector = NeuralDetector(velocity, config.frontend.hop_s, model)

            def run() -> None:
                for frames in blocks(power.T, hop):
                    detector.process(frames.T)
                detector.reset()
        elif stage == "presence":
            power, times, velocity = _frames_of(audio, device, step, config)
            scores = NeuralDetector(velocity, config.frontend.hop_s, model).process(power)
            presence = Presence(config.presence)
            leaving = scores.centroid_m_s < -LEAVING_M_S

            def run() -> None:
                for i in range(0, len(times), hop):
                    presence.process(times[i : i + hop], scores.score[i : i + hop], leaving[i : i + hop])
                presence.reset()
        else:  # the whole pipeline
            front = FrontEnd(device.sample_rate_hz, device.carrier_hz, config.frontend)
            detection = Detection(config, front.velocity_m_s)

            def run() -> None:
                for block in blocks(audio, step):
                    power, times = front.process(block)
                    detection.process(power, times)
                detection.process(*front.flush())
                detection.reset()
        rtf[block_s] = cpu_seconds(run, settings.repeats) / settings.audio_s
        heap_mib = max(heap_mib, traced_peak_mib(run))
    return {"rtf": rtf, "heap_mib": heap_mib}


def simulator_speed(scenario: str, baseband_s: float, passband_s: float, repeats: int) -> dict[str, float]:
    """× real time of the baseband and the passband renderer on one scene (7 mics, 96 kHz, seed 7)."""
    from uspd.config import SimulationConfig
    from uspd.sim.render import iter_baseband, iter_passband
    from uspd.sim.scenarios import build_scene

    config = SimulationConfig()
    speed = {}
    for kind, render, seconds in (("baseband", iter_baseband, baseband_s), ("passband", iter_passband, passband_s)):
        scene = build_scene(scenario, seed=7, duration_s=seconds, array="smart_speaker_7", sample_rate_hz=96000)
        speed[kind] = seconds / cpu_seconds(lambda: [None for _ in render(scene, config)], repeats)
    return speed


def _simulator(settings: BenchSettings, scenario: str) -> dict:
    return simulator_speed(scenario, settings.baseband_s, settings.passband_s, settings.repeats)


def _mining(settings: BenchSettings) -> dict:
    """Hours of a rare-event corpus per core-hour: rendered (simulator → features) and
    scored from cached features by the shipped network (fp32, int8) and, where torch is
    installed, by the training network that ``uspd mine`` scores with."""
    import importlib.util

    import onnxruntime

    from uspd.config import Config
    from uspd.detect.neural import default_model_path
    from uspd.model.data import SEED_RANGES, render_scene
    from uspd.model.loop import corpus

    config = Config()
    specs = corpus(settings.mining_scenes * settings.mining_scene_s / 3600.0, SEED_RANGES["corpus_a"],
                   settings.mining_scene_s)
    start = time.process_time()
    scenes = [render_scene(spec, config) for spec in specs]
    render_cpu_s = time.process_time() - start
    hours = sum(len(s) for s in scenes) * config.frontend.hop_s / 3600.0
    out = {"hours": hours, "scenes": len(scenes), "rendered": hours / (render_cpu_s / 3600.0)}
    for name, filename in MODELS.items():
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(default_model_path().with_name(filename)), options,
                                               providers=["CPUExecutionProvider"])
        zeros = {i.name: np.zeros(i.shape, np.float32) for i in session.get_inputs() if i.name != "features"}

        def score() -> None:
            for scene in scenes:  # one call per scene from a fresh state, as a corpus is scored
                session.run(None, {"features": scene.features.T[None].astype(np.float32), **zeros})

        out[f"onnx {name}"] = hours / (cpu_seconds(score, settings.repeats) / 3600.0)
    if importlib.util.find_spec("torch") is not None:
        import torch

        from uspd.model.network import MotionNet
        from uspd.model.train import predict

        torch.set_num_threads(1)
        net = MotionNet()  # the architecture uspd mine trains; its speed does not depend on the weights
        out["torch"] = hours / (cpu_seconds(lambda: predict(net, scenes), settings.repeats) / 3600.0)
    return out


def _latency_s() -> dict:
    """Algorithmic latency of the 7-mic 96 kHz device: hop + demodulator look-ahead."""
    from uspd.config import FrontendConfig
    from uspd.frontend.demod import Demodulator

    demod = Demodulator(DEVICES[0].sample_rate_hz, DEVICES[0].carrier_hz)
    hop_s = FrontendConfig().hop_s
    return {"hop_s": hop_s, "lookahead_s": demod.delay_samples / demod.baseband_rate_hz}


STAGES = (("front end", "front end", "fp32"), ("model fp32", "model", "fp32"), ("model int8", "model", "int8"),
          ("presence", "presence", "fp32"), ("whole pipeline", "whole pipeline", "fp32"))  # row, stage, model


def plan(settings: BenchSettings) -> list[Item]:
    items = [Item("memory", "idle worker", _idle)]
    for device in DEVICES:
        items.append(Item(device.name, "naive reference", _naive, (device,)))
        items += [Item(device.name, row, _stage, (device, stage, model)) for row, stage, model in STAGES]
    items += [Item("simulator", scenario, _simulator, (scenario,)) for scenario in settings.sim_scenarios]
    items.append(Item("mining", MINING_SCENARIO, _mining))
    return items


def _in_worker(measure: Callable[..., dict], settings: BenchSettings, args: tuple) -> tuple[dict, float]:
    result = measure(settings, *args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


@dataclass
class BenchResults:
    settings: BenchSettings
    items: list[Item]
    latency: dict
    machine: dict
    wall_s: float

    def get(self, group: str, name: str) -> Item:
        return next(i for i in self.items if i.group == group and i.name == name)

    @property
    def algorithmic_latency_s(self) -> float:
        return self.latency["hop_s"] + self.latency["lookahead_s"]


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import onnxruntime
    import scipy

    return {"cpu": cpu, "logical_cores": os.cpu_count(), "load_1min": os.getloadavg()[0],
            "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "onnxruntime": onnxruntime.__version__}


def run_bench(settings: BenchSettings, on_item: Callable[[Item, int, int], None] = lambda item, done, total: None
              ) -> BenchResults:
    """Measure every item, one fresh single-threaded process each, one after the other."""
    for var in ONE_THREAD:  # one core, as the goals are stated; the workers import NumPy (and its BLAS) afresh
        os.environ[var] = "1"
    items = plan(settings)
    machine = machine_info()
    started = time.perf_counter()
    for done, item in enumerate(items):
        on_item(item, done, len(items))
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            item.result, item.peak_rss_mib = pool.submit(_in_worker, item.measure, settings, item.args).result()
    on_item(items[-1], len(items), len(items))
    return BenchResults(settings, items, _latency_s(), machine, time.perf_counter() - started)


# --- the report -----------------------------------------------------------------------------------

def goals(results: BenchResults) -> list[tuple[str, str, str, bool]]:
    """(goal, target, measured, met) for the issue's three goals."""
    device = DEVICES[0].name
    pipeline = results.get(device, "whole pipeline").result["rtf"]
    mining = results.get("mining", MINING_SCENARIO).result
    latency_s = results.algorithmic_latency_s
    live, file = pipeline[LIVE_BLOCK_S], pipeline[FILE_BLOCK_S]
    return [
        (f"whole pipeline real-time factor, {device}, one core ({LIVE_BLOCK_S:g} s blocks, live)",
         f"≤ {GOALS['pipeline_rtf']}", f"{live:.4f} ({1 / live:,.0f} devices per core)", live <= GOALS["pipeline_rtf"]),
        (f"whole pipeline real-time factor, {device}, one core ({FILE_BLOCK_S:g} s blocks, files)",
         f"≤ {GOALS['pipeline_rtf']}", f"{file:.4f} ({1 / file:,.0f} devices per core)", file <= GOALS["pipeline_rtf"]),
        ("audio hours scored per core-hour in mining (cached features, fp32 network)",
         f"≥ {GOALS['mining_hours_per_core_hour']:,.0f}", f"{mining['onnx fp32']:,.0f}",
         mining["onnx fp32"] >= GOALS["mining_hours_per_core_hour"]),
        ("audio hours scored per core-hour in mining (rendering the corpus too)",
         f"≥ {GOALS['mining_hours_per_core_hour']:,.0f}", f"{mining['rendered']:,.0f}",
         mining["rendered"] >= GOALS["mining_hours_per_core_hour"]),
        ("algorithmic latency (hop + demodulator look-ahead)", f"≤ {GOALS['latency_s'] * 1000:g} ms",
         f"{latency_s * 1000:.1f} ms ({results.latency['hop_s'] * 1000:g} + {results.latency['lookahead_s'] * 1000:.1f})",
         latency_s <= GOALS["latency_s"]),
    ]


def _where_the_time_goes(results: BenchResults) -> list[str]:
    """The 7-mic device's stages as shares of their sum, and the fixed cost of one call
    (the live blocks make ten calls a second where file blocks make one)."""
    device = DEVICES[0].name
    stages = {name: results.get(device, name).result["rtf"] for name in ("front end", "model fp32", "presence")}
    calls_per_s = 1.0 / LIVE_BLOCK_S - 1.0 / FILE_BLOCK_S
    lines = [f"Where the time goes ({device}, share of front end + model fp32 + presence; the fixed cost of one call "
             f"is the live blocks' extra CPU over the file blocks' per extra call):", ""]
    for name, rtf in stages.items():
        shares = [rtf[b] / sum(r[b] for r in stages.values()) for b in BLOCKS_S]
        per_call_ms = (rtf[LIVE_BLOCK_S] - rtf[FILE_BLOCK_S]) / calls_per_s * 1000.0
        lines.append(f"- {name}: {shares[0]:.0%} of live, {shares[1]:.0%} of file-block CPU; "
                     f"{per_call_ms:.2f} ms fixed per call")
    return lines


def markdown(results: BenchResults, command: str) -> str:
    s, m = results.settings, results.machine
    latency_s = results.algorithmic_latency_s
    lines = [
        "# Benchmarks", "",
        f"Made by `{command}` ({results.wall_s / 60:.1f} min); see `src/uspd/bench.py` for what each item runs.", "",
        f"Machine: {m['cpu']}, {m['logical_cores']} logical cores (load {m['load_1min']:.1f} when the run began: "
        f"a shared machine, so compare the ratios); Python {m['python']}, NumPy {m['numpy']}, SciPy {m['scipy']}, "
        f"onnxruntime {m['onnxruntime']}. Every figure is CPU time of one single-threaded process, best of "
        f"{s.repeats}; each item ran in a fresh process.", "",
        "## Goals", "", "| goal | target | measured | met |", "|---|---|---|---|",
        *(f"| {goal} | {target} | {measured} | {'yes' if met else '**no**'} |" for goal, target, measured, met in goals(results)),
        "",
        f"Live, a frame's decision also waits for the end of the sound-card block holding the last sample it needs: up "
        f"to one block more than the algorithmic latency, {(latency_s + LIVE_BLOCK_S) * 1000:.0f} ms at the default "
        f"{LIVE_BLOCK_S:g} s blocks (`[live] soundcard_block_s`), before the card's own buffering. Shorter blocks decide "
        "sooner for more CPU per second of audio: docs/benchmarks-frontend.md, \"Block length against latency\".",
        "",
        "## Pipeline per device", "",
        f"Real-time factor = CPU seconds per second of audio ({s.audio_s:g} s of synthetic audio per device, float32, "
        f"the naive reference over {s.naive_s:g} s in float64). \"× naive\" = how many times less CPU than the naive "
        "reference of the same device, in this run. Live blocks are the sound card's "
        f"{LIVE_BLOCK_S:g} s, file blocks `uspd detect`'s {FILE_BLOCK_S:g} s. The model rows are the neural detector "
        "(features, network, Doppler centroid) on the front end's frames; presence is the state machine on its scores. "
        "Working memory is the peak that Python and NumPy allocate during a run (tracemalloc; the input audio and "
        "onnxruntime's own arena excluded); peak RSS is the worker process's (`ru_maxrss`: libraries and the "
        f"{s.audio_s:g} s of float32 input included).", "",
        "| device | stage | real-time factor, live blocks | × naive | real-time factor, file blocks | × naive "
        "| devices per core (live) | working memory | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for device in DEVICES:
        naive = results.get(device.name, "naive reference").result["rtf"]
        for item in (i for i in results.items if i.group == device.name):
            rtf = item.result["rtf"]
            lines.append(
                f"| {device.name} | {item.name} | {rtf[LIVE_BLOCK_S]:.5f} | {naive[LIVE_BLOCK_S] / rtf[LIVE_BLOCK_S]:,.1f} "
                f"| {rtf[FILE_BLOCK_S]:.5f} | {naive[FILE_BLOCK_S] / rtf[FILE_BLOCK_S]:,.1f} | {1 / rtf[LIVE_BLOCK_S]:,.0f} "
                f"| {item.result['heap_mib']:,.1f} MiB | {item.peak_rss_mib:,.0f} MiB |")
    lines += ["", *_where_the_time_goes(results)]
    naive_x = 1.0 / results.get(DEVICES[0].name, "naive reference").result["rtf"][FILE_BLOCK_S]
    lines += [
        "", f"An idle worker (the pipeline's libraries loaded, nothing run) peaks at "
        f"{results.get('memory', 'idle worker').peak_rss_mib:,.0f} MiB.", "",
        "## Simulator", "",
        f"7-mic smart speaker at 96 kHz, seed 7; baseband over {s.baseband_s:g} s scenes, passband over "
        f"{s.passband_s:g} s. \"vs naive\" divides by the speed of the {DEVICES[0].name} naive reference "
        f"({naive_x:,.1f}× real time in this run), a yardstick for the machine's speed.", "",
        "| scenario | baseband (× real time) | vs naive | passband (× real time) | vs naive | peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for item in (i for i in results.items if i.group == "simulator"):
        bb, pb = item.result["baseband"], item.result["passband"]
        lines.append(f"| {item.name} | {bb:,.1f} | {bb / naive_x:,.2f} | {pb:,.2f} | {pb / naive_x:,.3f} "
                     f"| {item.peak_rss_mib:,.0f} MiB |")
    mining = results.get("mining", MINING_SCENARIO)
    r = mining.result
    lines += [
        "", "## Mining throughput", "",
        f"A `{MINING_SCENARIO}` corpus of {r['scenes']} scene(s), {r['hours']:.2f} h in all (the corpus seeds of "
        "`uspd mine`). Hours of audio per core-hour; scoring runs one network call per scene from a fresh state, "
        f"on features already rendered (what `uspd mine` scores, features cached). Peak RSS {mining.peak_rss_mib:,.0f} MiB.",
        "", "| work | audio hours per core-hour | vs naive |", "|---|---:|---:|",
        f"| rendering the corpus (simulator → front end → features) | {r['rendered']:,.0f} | {r['rendered'] / naive_x:,.2f} |",
        *(f"| scoring cached features, {name} | {r[key]:,.0f} | {r[key] / naive_x:,.1f} |"
          for key, name in (("onnx fp32", "ONNX fp32 (the shipped network)"), ("onnx int8", "ONNX int8"),
                            ("torch", "torch (the network `uspd mine` trains and scores with)")) if key in r),
        "",
    ]
    return "\n".join(lines)
