"""Executors for :func:`sim.experiment.replications.run_replications` (its ``executor=`` argument).

Two kinds, both with the ``concurrent.futures.Executor`` interface (``submit``
returns a ``concurrent.futures.Future``, so ``as_completed`` works on them):

* ``"process"`` — a local :class:`~concurrent.futures.ProcessPoolExecutor`;
* ``"dask"`` — a Dask cluster: the scheduler at ``scheduler`` (``tcp://host:port``)
  or, without an address, a ``LocalCluster`` of ``workers`` single-threaded processes.
  Dask's own ``Client.get_executor()`` already wraps Dask futures in
  ``concurrent.futures.Future`` objects; :class:`DaskExecutor` only adds closing the
  client (and the cluster it started) on ``shutdown``.

Use either as a context manager so that it is shut down::

    with open_executor("dask", scheduler="tcp://10.0.0.5:8786") as ex:
        results = run_replications(sc, 100, seed=1, workers=slots(ex), executor=ex)

Replication ``r`` depends on the seed and ``r`` only, so every executor gives
results identical to a serial run.
"""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator

KINDS = ("process", "dask")

#: ``progress(k)``: k more units of work (replications, parameter sets) have finished.
Progress = Callable[[int], None]


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _die_with_parent() -> None:  # pragma: no cover - runs in the worker process
    """Worker initializer: the kernel kills this worker when its parent dies (Linux), and Ctrl-C
    is left to the parent, which cancels the pending work and shuts the pool down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool whose workers die with their parent process."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)


@contextmanager
def pool_for(executor: Executor | None, workers: int | None) -> Iterator[Executor | None]:
    """The executor given, else a process pool owned here (``None`` for one worker: run in process).

    A pool owned here is shut down on the way out; on an error or Ctrl-C its pending work is
    cancelled at once instead of being run to the end."""
    if executor is not None:
        yield executor
        return
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        yield None
        return
    pool = process_pool(workers)
    try:
        yield pool
    except BaseException:
        stop(pool)
        raise
    pool.shutdown()


def stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (Ctrl-C, an error): without this the
    running tasks would go on to their end before the process could exit."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # before shutdown, which forgets the worker processes
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()


class DaskExecutor(Executor):
    """``Client.get_executor()`` that also closes its client (and local cluster) on shutdown."""

    def __init__(self, client, cluster=None):
        self.client = client
        self.cluster = cluster
        # pure=False: never let Dask reuse a result by hashing the arguments
        self._executor = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    @property
    def workers(self) -> int:
        """Threads over all workers connected now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait and not cancel_futures)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _dask_executor(workers: int | None, scheduler: str | None) -> DaskExecutor:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the dask executor needs dask[distributed]: pip install 'dask[distributed]'") from exc
    if scheduler:
        return DaskExecutor(Client(scheduler))
    # dashboard_address ":0": any free port (the default 8787 clashes with a second cluster)
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                           processes=True, dashboard_address=":0")
    try:
        return DaskExecutor(Client(cluster), cluster)
    except BaseException:
        cluster.close()
        raise


def open_executor(kind: str = "process", workers: int | None = None, scheduler: str | None = None) -> Executor:
    """An executor of the given kind; the caller shuts it down (or uses ``with``)."""
    if kind == "process":
        if scheduler:
            raise ValueError("a scheduler address needs the dask executor")
        return process_pool(workers or default_workers())
    if kind == "dask":
        return _dask_executor(workers, scheduler)
    raise ValueError(f"unknown executor {kind!r}; expected one of {', '.join(KINDS)}")


def slots(executor: Executor) -> int:
    """How many replications the executor runs at once (for chunking the work)."""
    if isinstance(executor, DaskExecutor):
        return executor.workers
    return getattr(executor, "_max_workers", None) or os.cpu_count() or 1
