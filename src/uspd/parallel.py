"""Run independent jobs (scenes to render, corpora to score) on worker processes: a local
process pool by default, or a Ray cluster inside a :func:`ray_cluster` block.

Results come back in job order whatever the number of workers or the backend, so a run
with 1 worker, with 8, or on a cluster gives the same numbers. Local processes are started
with ``spawn``: no fork of a process whose progress-bar thread may hold a lock.

>>> results = map_jobs(render_scene, specs, workers=2)        # two local processes
>>> with ray_cluster("auto"):                                 # the cluster `ray start` made
...     results = map_jobs(render_scene, specs)               # callers do not change
"""

from __future__ import annotations

import multiprocessing
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

LOCAL_RAY = "local"  # ray_cluster(LOCAL_RAY, workers): a Ray instance on this machine with ``workers`` CPUs
_on_ray: ContextVar[bool] = ContextVar("uspd_on_ray", default=False)


class ClusterError(RuntimeError):
    """Ray is missing or the cluster cannot be reached, in one sentence."""


@contextmanager
def ray_cluster(address: str | None, workers: int = 1) -> Iterator[None]:
    """Within the block, :func:`map_jobs` runs its jobs as Ray tasks (one CPU each).

    address: ``None`` means the local process pool (also inside another block); ``"local"`` starts a Ray instance
    here with ``workers`` CPUs (and stops it after); anything else is passed to
    ``ray.init(address=…)``: ``"auto"`` on a cluster node, ``"HOST:6379"``, or
    ``"ray://HOST:10001"`` (Ray Client) from outside the cluster. Every node needs uspd and
    its dependencies installed, at the same version as here. A Ray session already started
    by the caller (``ray.init``) is used as it is and left running.
    """
    if address is None:
        token = _on_ray.set(False)
        try:
            yield
        finally:
            _on_ray.reset(token)
        return
    try:
        import ray
    except ImportError:
        raise ClusterError('--ray-address needs Ray: python -m pip install -e ".[ray]"') from None
    started = not ray.is_initialized()
    if started:
        options = {"num_cpus": workers, "include_dashboard": False} if address == LOCAL_RAY else {"address": address}
        _check_reachable(address)
        try:
            ray.init(logging_level="WARNING", **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ClusterError(f"cannot reach the Ray cluster at {address}: {err}") from None
    token = _on_ray.set(True)
    try:
        yield
    finally:
        _on_ray.reset(token)
        if started:
            ray.shutdown()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT (or ray://HOST:PORT) nobody listens on: ``ray.init`` would
    retry for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local": Ray finds (or starts) the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {err.strerror or err}") from None


def _indexed(args: tuple[Callable, int, object]) -> tuple[int, object]:
    fn, index, job = args
    return index, fn(job)


def map_jobs(
    fn: Callable[[Job], Result], jobs: Sequence[Job], workers: int = 1, *,
    cost: Callable[[Job], float] | None = None, on_done: Callable[[Job, Result], None] | None = None,
) -> list[Result]:
    """``[fn(job) for job in jobs]`` on ``workers`` processes (``fn`` must be importable),
    or on the Ray cluster of an enclosing :func:`ray_cluster` (which sets the parallelism).

    ``cost`` orders the work most expensive first, so the last jobs to finish are short
    ones and no worker idles long; ``on_done`` is called in the parent as each job ends.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    order = sorted(range(len(jobs)), key=lambda i: -cost(jobs[i])) if cost else range(len(jobs))
    tasks = [(fn, i, jobs[i]) for i in order]
    results: dict[int, Result] = {}
    if _on_ray.get():
        finished = _ray_map(fn, tasks)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None
        finished = pool.imap_unordered(_indexed, tasks) if pool else map(_indexed, tasks)
    try:
        for index, result in finished:
            results[index] = result
            if on_done:
                on_done(jobs[index], result)
    finally:
        if pool is not None:
            pool.terminate()
    return [results[i] for i in range(len(jobs))]


def _ray_map(fn: Callable, tasks: list[tuple[Callable, int, object]]) -> Iterator[tuple[int, object]]:
    """(index, result) of every task as Ray finishes them; all are submitted at once, in
    cost order, and the cluster runs as many as it has CPUs."""
    import ray

    remote = ray.remote(num_cpus=1)(_call)
    shared_fn = ray.put(fn)  # shipped to the cluster once, not once per job
    pending = {remote.remote(shared_fn, job): index for _, index, job in tasks}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            yield pending.pop(done[0]), ray.get(done[0])
    finally:
        for ref in pending:  # an error or an interrupt: stop what is still queued
            ray.cancel(ref)


def _call(fn: Callable, job: object) -> object:
    return fn(job)
