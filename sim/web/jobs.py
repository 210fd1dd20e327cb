"""Background runs for the web app: a bounded queue, one coordinating thread, a process pool.

A request never runs a simulation. It submits a job; one thread takes the jobs in turn and
hands their replications to a shared process pool (:func:`sim.experiment.executors.process_pool`),
counting them as they finish, so the page can poll the progress. At most ``limit`` jobs wait or
run at once; one more is refused with :class:`QueueFull` (the app answers 429). A job whose result
is being computed already is not queued twice: the same job is returned. A failed job keeps its
error message; what earlier jobs wrote is untouched (every result is its own folder, written
atomically)."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool as BrokenExecutor
from dataclasses import dataclass, field
from typing import Callable

#: Finished jobs remembered for their status page (the oldest are forgotten first).
KEEP_FINISHED = 200


class QueueFull(RuntimeError):
    """The queue holds ``limit`` jobs already."""


@dataclass
class Job:
    """One run: its progress in units of work (replications) and its outcome."""

    id: str
    kind: str
    key: str
    total: int
    result_url: str
    done: int = 0
    state: str = "queued"  # queued, running, done, failed
    phase: str = "waiting for the jobs before it"
    error: str = ""
    cached: bool = False
    submitted: float = field(default_factory=time.time)
    finished: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, k: int) -> None:
        with self.lock:
            self.done = min(self.total, self.done + k)

    def status(self) -> dict:
        """What the status endpoint answers."""
        return {"id": self.id, "kind": self.kind, "state": self.state, "phase": self.phase, "done": self.done,
                "total": self.total, "fraction": self.done / self.total if self.total else 1.0,
                "error": self.error, "cached": self.cached,
                "result_url": self.result_url if self.state == "done" else None}


class JobQueue:
    """Jobs run one after another on a thread; their replications on a process pool of
    ``workers`` (made when first needed; ``pool`` to give one)."""

    def __init__(self, workers: int = 1, limit: int = 4, pool: Executor | None = None):
        if limit < 1:
            raise ValueError("the queue must hold at least one job")
        self.workers = max(1, workers)
        self.limit = limit
        self._pool = pool
        self._own_pool = pool is None
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bwsim-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def pool(self) -> Executor:
        with self._lock:
            if self._pool is None:
                from ..experiment.executors import process_pool

                self._pool = process_pool(self.workers)
            return self._pool

    def active(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.state in ("queued", "running")]

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        finished = [j for j in self._jobs.values() if j.state in ("done", "failed")]
        for old in sorted(finished, key=lambda j: j.submitted)[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[old.id]

    def finished(self, kind: str, key: str, total: int, result_url: str) -> Job:
        """A job that is done already (its result was in the cache)."""
        job = Job(secrets.token_hex(8), kind, key, total, result_url, done=total, state="done", phase="from the cache",
                  cached=True, finished=time.time())
        with self._lock:
            self._remember(job)
        return job

    def submit(self, kind: str, key: str, total: int, result_url: str, work: Callable[[Job, "JobQueue"], None]) -> Job:
        """Queue ``work(job, queue)``; the job running or waiting for the same ``key`` if there is one;
        :class:`QueueFull` when ``limit`` jobs wait or run."""
        with self._lock:
            active = [j for j in self._jobs.values() if j.state in ("queued", "running")]
            for job in active:
                if job.key == key and job.kind == kind:
                    return job
            if len(active) >= self.limit:
                raise QueueFull(f"the job queue is full: {len(active)} runs are waiting or running (at most "
                                f"{self.limit}); try again when one has finished")
            job = Job(secrets.token_hex(8), kind, key, total, result_url)
            self._remember(job)
        self._runner.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job, "JobQueue"], None]) -> None:
        job.state, job.phase = "running", "running the replications"
        try:
            work(job, self)
        except BrokenExecutor as exc:  # a worker died (out of memory, killed): a new pool for the next job
            with self._lock:
                broken, self._pool = self._pool, (None if self._own_pool else self._pool)
            if self._own_pool and broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            job.error = f"a worker process stopped ({' '.join(str(exc).split()) or type(exc).__name__}); try again"
            job.state, job.phase = "failed", "failed"
        except Exception as exc:  # the job's outcome: shown on its page, the server goes on
            job.error = " ".join(str(exc).split()) or type(exc).__name__
            job.state, job.phase = "failed", "failed"
        else:
            job.done, job.state, job.phase = job.total, "done", "done"
        finally:
            job.finished = time.time()

    def close(self) -> None:
        """Stop taking jobs; cancel what waits; end the pool's workers."""
        self._runner.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None and self._own_pool:
            from ..experiment.executors import stop

            stop(self._pool)
