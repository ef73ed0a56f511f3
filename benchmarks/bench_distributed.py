"""Corpus generation on the local process pool and on Ray with 1 and 2 workers: wall time.

    python benchmarks/bench_distributed.py --scenes 8 --scene-seconds 60

Renders the same ``rare_events_home`` corpus (the seeds ``uspd mine`` uses for corpus A)
with :func:`uspd.model.data.render_scene` on :func:`uspd.parallel.map_jobs` — simulator,
front end, features, labels: the work ``uspd mine`` distributes — once per backend; checks
that every backend gave identical features; prints audio hours per wall-clock hour, the
speed-up over one local process, and the CPU time the jobs took in their workers (on a
machine shared with other work, wall time shows the contention and CPU time each
backend's cost) and the shortest wall time any schedule of these jobs could reach on that
many workers (from their CPU times: the longest job, or all of them spread evenly). Ray's
start-up (``ray.init`` of a local instance) is timed apart: a command pays it once, not
per corpus.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from pathlib import Path

# One thread per worker: set before NumPy (and its BLAS) is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

from uspd.config import Config  # noqa: E402
from uspd.model.data import SEED_RANGES, SceneData, SceneSpec, render_scene  # noqa: E402
from uspd.model.loop import corpus  # noqa: E402
from uspd.parallel import LOCAL_RAY, map_jobs, ray_cluster  # noqa: E402


def timed_render(spec: SceneSpec, config: Config) -> tuple[SceneData, float]:
    """:func:`render_scene` and the CPU seconds it took in its worker."""
    start = time.process_time()
    scene = render_scene(spec, config)
    return scene, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--scene-seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args()

    config = Config()
    specs = corpus(args.scenes * args.scene_seconds / 3600.0, SEED_RANGES["corpus_a"], args.scene_seconds)
    hours = sum(s.duration_s for s in specs) / 3600.0
    rows, reference = [], None
    for backend, workers in (("local processes", 1), ("local processes", 2), ("Ray, local instance", 1),
                             ("Ray, local instance", 2)):
        started = time.perf_counter()
        with ray_cluster(LOCAL_RAY if backend.startswith("Ray") else None, workers):
            ready = time.perf_counter()
            done = map_jobs(partial(timed_render, config=config), specs, workers, cost=lambda spec: spec.duration_s)
            wall_s = time.perf_counter() - ready
        features = np.concatenate([scene.features for scene, _ in done])
        job_cpu_s = [seconds for _, seconds in done]
        cpu_s = sum(job_cpu_s)
        # no schedule beats the longest job, nor the total CPU time spread evenly over the workers
        floor_s = max(max(job_cpu_s), cpu_s / workers)
        if reference is None:
            reference = (features, wall_s)
        elif not np.array_equal(features, reference[0]):
            raise RuntimeError(f"{backend} with {workers} workers gave other features than the local pool")
        rows.append((backend, workers, ready - started, wall_s, floor_s, hours / (wall_s / 3600.0),
                     reference[1] / wall_s, hours / (cpu_s / 3600.0)))
        print(f"{backend:22s} workers={workers}  start {ready - started:5.1f} s  render {wall_s:6.1f} s  "
              f"(no schedule under {floor_s:5.1f} s)  CPU in the jobs {cpu_s:6.1f} s", flush=True)

    lines = [
        f"{len(specs)} `rare_events_home` scenes of {args.scene_seconds:g} s ({hours * 60:.0f} min of audio), "
        f"identical features from every backend; {os.cpu_count()} logical cores, load {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| backend | workers | start-up (s) | rendering, wall (s) | shortest schedule (s) | audio hours per wall hour "
        "| speed-up (wall) | audio hours per CPU hour in the jobs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {b} | {w} | {s:.1f} | {r:.1f} | {f:.1f} | {h:,.1f} | {x:.2f} | {c:,.1f} |"
          for b, w, s, r, f, h, x, c in rows),
        "",
    ]
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
