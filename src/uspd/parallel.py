"""Run independent jobs (scenes to render, corpora to score) on worker processes.

Results come back in job order whatever the number of workers, so a run with 1 worker and
a run with 8 give the same numbers. Processes are started with ``spawn``: no fork of a
process whose progress-bar thread may hold a lock.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def _indexed(args: tuple[Callable, int, object]) -> tuple[int, object]:
    fn, index, job = args
    return index, fn(job)


def map_jobs(
    fn: Callable[[Job], Result], jobs: Sequence[Job], workers: int = 1, *,
    cost: Callable[[Job], float] | None = None, on_done: Callable[[Job, Result], None] | None = None,
) -> list[Result]:
    """``[fn(job) for job in jobs]`` on ``workers`` processes (``fn`` must be importable).

    ``cost`` orders the work most expensive first, so the last jobs to finish are short
    ones and no worker idles long; ``on_done`` is called in the parent as each job ends.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    order = sorted(range(len(jobs)), key=lambda i: -cost(jobs[i])) if cost else range(len(jobs))
    tasks = [(fn, i, jobs[i]) for i in order]
    results: dict[int, Result] = {}
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        for index, result in (pool.imap_unordered(_indexed, tasks) if pool else map(_indexed, tasks)):
            results[index] = result
            if on_done:
                on_done(jobs[index], result)
    finally:
        if pool is not None:
            pool.terminate()
    return [results[i] for i in range(len(jobs))]
