"""Where work items run: in this process, in a local process pool, or on Ray actors.

Every executor takes :class:`~scenegen.export.library.WorkItem` s and yields
:class:`~scenegen.export.build.ItemResult` s (in any order). Workers hold a :class:`WorkerContext`: the
models are loaded once per worker and torch runs one thread per item (see scenegen.export.build), so the
bytes are the same whichever executor, and however many workers, produced them. Writing to disk is left to
the caller, so Ray workers on other machines need no shared file system. Workers ask the reuse service first
(:class:`~scenegen.export.build.ItemCache`): every process of a pool, and every Ray actor on this machine, opens the
same cache folder (entries are written whole and renamed into place, so concurrent workers never see half an
entry; two that make the same entry keep the first).

``map(items, check)`` calls ``check()`` while it waits for results (and in this process between decode tiles);
whatever it raises ends the map. ``terminate()`` then stops the workers at once (a cancelled job), ``close()``
waits for them to finish.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable, Iterator, Optional, Protocol

from ..errors import ScenegenError
from .build import Check, ItemCache, ItemResult, ModelSource, WorkerContext, model_bytes, pin_threads
from .library import WorkItem

_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
CHECK_EVERY_S = 0.05  # how often a pool's map calls its check while it waits


def available_cores() -> int:
    """CPU cores this process may run on (respects affinity / container limits where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class Executor(Protocol):
    description: str

    def map(self, items: Iterable[WorkItem], check: Check = None) -> Iterator[ItemResult]: ...

    def terminate(self) -> None: ...

    def close(self) -> None: ...


# -------------------------------------------------------------------------------------------------- in-process
class InlineExecutor:
    """One worker: this process (no start-up cost). torch's thread count is restored afterwards."""

    def __init__(self, target: str, texture_model: ModelSource, sprite_model: ModelSource = None,
                 cache: Optional[ItemCache] = None) -> None:
        self.description = "1 worker (this process)"
        self._context = WorkerContext(target, texture_model, sprite_model, cache)

    def map(self, items: Iterable[WorkItem], check: Check = None) -> Iterator[ItemResult]:
        import cv2
        import torch

        threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
        pin_threads()
        try:
            for item in items:
                if check is not None:
                    check()
                yield self._context.build(item, check)
        finally:
            torch.set_num_threads(threads)
            cv2.setNumThreads(cv_threads)

    def terminate(self) -> None:
        pass  # the item in progress stopped at its check

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------------- process pool
_WORKER: Optional[WorkerContext] = None


def _init_worker(target: str, texture_model: ModelSource, sprite_model: ModelSource,
                 cache: Optional[ItemCache]) -> None:
    for name in _THREAD_ENV:
        os.environ[name] = "1"
    pin_threads()
    global _WORKER
    _WORKER = WorkerContext(target, texture_model, sprite_model, cache)


def _build_in_worker(item: WorkItem) -> ItemResult:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.build(item)


class LocalPoolExecutor:
    """``workers`` spawned processes, each with its own models; at most 2 items in flight per worker."""

    def __init__(self, workers: int, target: str, texture_model: ModelSource, sprite_model: ModelSource = None,
                 cache: Optional[ItemCache] = None) -> None:
        self.workers = workers
        self.description = f"{workers} local worker processes"
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker,
                                         initargs=(target, texture_model, sprite_model, cache))

    def map(self, items: Iterable[WorkItem], check: Check = None) -> Iterator[ItemResult]:
        pending: set[Future] = set()
        queue = iter(items)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < 2 * self.workers:
                    item = next(queue, None)
                    if item is None:
                        exhausted = True
                        break
                    pending.add(self._pool.submit(_build_in_worker, item))
                if not pending:
                    return
                finished, pending = wait(pending, timeout=None if check is None else CHECK_EVERY_S,
                                         return_when=FIRST_COMPLETED)
                if check is not None:
                    check()
                for future in finished:
                    yield future.result()
        except BrokenProcessPool:
            raise ScenegenError("an export worker process died (out of memory?); re-run the same command to "
                                "resume: finished items are kept") from None
        finally:
            for future in pending:
                future.cancel()

    def terminate(self) -> None:
        """Kill the worker processes now (the items they were building are lost, nothing else)."""
        for process in list((getattr(self._pool, "_processes", None) or {}).values()):  # no public way in 3.11
            process.kill()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------------------- Ray
class RayWorker:
    """A Ray actor's body: a WorkerContext built from models shipped as bytes (no shared disk needed)."""

    def __init__(self, target: str, texture_model: ModelSource, sprite_model: ModelSource,
                 cache: Optional[ItemCache] = None) -> None:
        for name in _THREAD_ENV:
            os.environ[name] = "1"
        pin_threads()
        self._context = WorkerContext(target, texture_model, sprite_model, cache)

    def build(self, item: WorkItem) -> ItemResult:
        return self._context.build(item)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ScenegenError("--ray needs the optional 'ray' package: pip install 'scenegen[ray]'") from None
    return ray


class RayExecutor:
    """``workers`` Ray actors (1 CPU each) holding the models, fed through an ActorPool.

    ``address``: ``"auto"`` joins the cluster this machine belongs to (``RAY_ADDRESS`` or a running
    ``ray start``) and otherwise starts a private local one; ``"local"`` always starts a private local
    instance with ``workers`` CPUs; anything else is passed to ``ray.init(address=...)``
    (``ray://host:10001`` or ``host:6379``). Models travel as bytes through the object store.
    """

    def __init__(self, address: str, workers: Optional[int], target: str, texture_model: ModelSource,
                 sprite_model: ModelSource = None, cache: Optional[ItemCache] = None) -> None:
        ray = _import_ray()
        from ray.util import ActorPool

        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            local = {"num_cpus": workers or available_cores(), "include_dashboard": False, "log_to_driver": False,
                     "configure_logging": False}
            try:
                if address == "local":
                    ray.init(**local)
                elif address == "auto":
                    try:
                        ray.init(address="auto", log_to_driver=False, configure_logging=False)
                    except ConnectionError:
                        ray.init(**local)
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
            except ScenegenError:
                raise
            except Exception as exc:
                raise ScenegenError(f"cannot start or join Ray at {address!r} ({exc.__class__.__name__}: "
                                    f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
            self._owns = True
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        sources = [ray.put(model_bytes(m)) if isinstance(m, (str, os.PathLike)) else m
                   for m in (texture_model, sprite_model)]
        actor = ray.remote(num_cpus=1)(RayWorker)
        self._actors = [actor.remote(target, *sources, cache) for _ in range(self.workers)]
        self._pool = ActorPool(self._actors)
        self.description = f"Ray, {self.workers} actors"

    def map(self, items: Iterable[WorkItem], check: Check = None) -> Iterator[ItemResult]:
        try:
            for result in self._pool.map_unordered(lambda actor, item: actor.build.remote(item), list(items)):
                if check is not None:
                    check()
                yield result
        except self._ray.exceptions.RayActorError as exc:
            raise ScenegenError(f"a Ray export actor died ({str(exc).splitlines()[0]}); re-run the same command "
                                "to resume: finished items are kept") from None

    def terminate(self) -> None:
        self.close()  # killing the actors is what closing does

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._owns:
            self._ray.shutdown()


def make_executor(*, workers: Optional[int], ray: Optional[str], target: str, texture_model: ModelSource,
                  sprite_model: ModelSource = None, cache: Optional[ItemCache] = None) -> Executor:
    """Pick the executor: Ray when ``ray`` is given, a process pool for ``workers`` > 1, else in-process.

    ``workers`` defaults to the machine's cores (local) or the cluster's CPUs (Ray); ``cache`` is what the
    workers reuse (None: no cache).
    """
    if workers is not None and workers < 1:
        raise ScenegenError(f"--workers must be at least 1, got {workers}")
    if ray:
        return RayExecutor(ray, workers, target, texture_model, sprite_model, cache)
    count = workers or available_cores()
    if count == 1:
        return InlineExecutor(target, texture_model, sprite_model, cache)
    return LocalPoolExecutor(count, target, texture_model, sprite_model, cache)
