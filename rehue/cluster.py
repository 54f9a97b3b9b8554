"""``rehue-batch --ray``: the same batch on a Ray cluster, with the same promises.

The driver plans once (``plan_batch``: the same outputs, skip and resume rules), holds the output
folder's lock, and hands chunks of photos to a pool of actors; each actor loads one ``Colorizer``
(CUDA when its node has a GPU and the GPU runtime) and colorizes with ``batch.colorize_item``, the
very function of a one-machine batch, writing atomically into the shared output folder (a path
every node sees, e.g. NFS). A worker that dies has its chunk retried on another; a killed driver
loses nothing (every finished photo is a complete file, and a re-run skips it); a bad photo is one
line in the summary. Ray is an optional extra: ``pip install 'rehue[cluster]'``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rehue.batch import (
    LOCK_NAME,
    BatchItem,
    BatchOptions,
    BatchPlan,
    BatchProgress,
    BatchResult,
    colorize_item,
    output_lock,
    record,
    start_result,
)
from rehue.photo_io import printable

log = logging.getLogger(__name__)

MAX_DEATHS = 2  # workers a chunk (then a single photo) may take down before it is given up


class ClusterError(RuntimeError):
    """Ray is missing or the cluster cannot be reached; the message says what to do."""


class ColorizeWorker:
    """One Ray actor: one loaded model, colorizing chunks of photos."""

    def __init__(self, model: str | None, provider: str, threads: int | None) -> None:
        from rehue.engine import Colorizer

        self.colorizer = Colorizer(model, provider=provider, threads=threads)

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "device": self.colorizer.device_name, "fallback": self.colorizer.fallback_reason}

    def run(self, items: list[tuple[str, str]], options: BatchOptions, lock: str | None = None) -> list[tuple[str, str, str, str]]:
        """Colorize a chunk; stop early when the driver that holds ``lock`` is gone (killed): the
        chunks queued for it must not go on writing into a folder nobody is watching."""
        out: list[tuple[str, str, str, str]] = []
        for src, dst in items:
            if lock is not None and not driver_alive(Path(lock)):
                log.warning("the batch's driver is gone: %d photos of this chunk left undone", len(items) - len(out))
                break
            status, reason = colorize_item(self.colorizer, BatchItem(Path(src), Path(dst)), options)
            out.append((src, dst, status, reason))
        return out


def driver_alive(lock: Path) -> bool:
    """Whether a batch still holds the output folder's lock (``batch.output_lock``): the file is
    there and its lock cannot be taken. Taken here means nobody holds it: released at once."""
    import fcntl

    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False  # removed: the batch ended
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock this check took
    return False


def after_death(items: list[tuple[str, str]], deaths: dict[tuple[tuple[str, str], ...], int]) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """A chunk whose worker died: (chunks to retry, photos given up). Retried whole once; at its
    MAX_DEATHS-th death split into single photos; a single photo that has taken MAX_DEATHS workers
    with it is given up, so a photo that always kills its worker cannot loop for ever."""
    key = tuple(items)
    deaths[key] = deaths.get(key, 0) + 1
    if deaths[key] < MAX_DEATHS:
        return [items], []
    if len(items) > 1:
        return [[item] for item in items], []
    return [], [items[0][0]]


_SAID: set[str] = set()
WORKER_DIED = "ray: a worker stopped unexpectedly (killed, out of memory or crashed); its photos are done by another"


def one_line_ray_errors() -> None:
    """Ray's driver prints its raylet's error messages raw to the console: a page per worker death,
    in ANSI colours (issue 23). Say each kind of message once a batch, in one plain line, on stderr."""
    try:
        from ray._private import worker as ray_worker
    except ImportError:
        return
    _SAID.clear()  # each batch says each kind once
    original = ray_worker.print_to_stdstream
    if getattr(original, "rehue", False):
        return
    said = _SAID

    def print_to_stdstream(data: dict, ignore_prefix: bool) -> None:
        if data.get("pid") != "raylet":
            return original(data, ignore_prefix)
        for line in data.get("lines", []):
            text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(line)).split())
            low = text.lower()
            kind = WORKER_DIED if ("worker died" in low or "temporarily unavailable" in low or "will be retried" in low) \
                else f"ray: {printable(text[:200])}"
            if kind not in said:
                said.add(kind)
                print(kind, file=sys.stderr)

    print_to_stdstream.rehue = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = print_to_stdstream


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("Ray is not installed: pip install 'rehue[cluster]'") from exc
    return ray


def run_batch_on_ray(
    plan: BatchPlan,
    options: BatchOptions = BatchOptions(),
    *,
    address: str | None = None,
    workers: int | None = None,
    model: str | None = None,
    provider: str = "auto",
    gpus_per_worker: float = 0.0,
    chunk: int = 4,
    progress: Callable[[BatchProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> BatchResult:
    """Colorize ``plan`` on Ray: a local instance when ``address`` is None (``workers`` CPUs),
    else the cluster at ``address`` ('auto', 'ray://host:10001', 'host:6379')."""
    ray = _ray()
    result = start_result(plan)
    if not plan.items:
        return result
    assert plan.out_dir is not None
    t0 = time.perf_counter()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 2, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
        except Exception as exc:
            raise ClusterError(f"cannot reach the Ray cluster at {address or 'a local instance'} ({exc})") from exc
        one_line_ray_errors()
    try:
        with output_lock(plan.out_dir):
            _drive(ray, plan, options, result, model, provider, workers, gpus_per_worker, chunk, progress, cancel, t0)
    finally:
        if started_here:
            ray.shutdown()
    result.elapsed_s = time.perf_counter() - t0
    return result


def _drive(ray: Any, plan: BatchPlan, options: BatchOptions, result: BatchResult, model: str | None, provider: str,
           workers: int | None, gpus_per_worker: float, chunk: int, progress, cancel, t0: float) -> None:
    n_workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    n_workers = min(n_workers, len(plan.items))
    actor_class = ray.remote(num_cpus=1, num_gpus=gpus_per_worker, max_restarts=-1, max_task_retries=2)(ColorizeWorker)
    model_arg = str(model) if model else None

    def new_actor():
        return actor_class.remote(model_arg, provider, 1 if gpus_per_worker == 0 else None)

    actors = [new_actor() for _ in range(n_workers)]
    infos = ray.get([a.info.remote() for a in actors])
    log.info("ray: %d workers on %s", len(actors), sorted({i["device"] for i in infos}))
    todo = [[(str(i.src), str(i.dst)) for i in plan.items[k:k + chunk]] for k in range(0, len(plan.items), chunk)]
    todo.reverse()  # pop() takes them in plan order
    by_src = {str(i.src): i for i in plan.items}
    in_flight: dict[Any, tuple[Any, list[tuple[str, str]]]] = {}
    deaths: dict[tuple[tuple[str, str], ...], int] = {}  # how often each chunk's worker died
    total, done = len(plan.items), 0
    lock = str(plan.out_dir / LOCK_NAME) if plan.out_dir is not None else None

    def submit(actor) -> None:
        if todo and not (cancel is not None and cancel.is_set()):
            items = todo.pop()
            in_flight[actor.run.remote(items, options, lock)] = (actor, items)

    for a in actors:
        submit(a)
        submit(a)  # two chunks queued per actor: no idle gap between chunks
    while in_flight:
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
        for ref in ready:
            actor, items = in_flight.pop(ref)
            try:
                outcomes = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ActorDiedError) as exc:
                # The worker died past its restarts: its chunk goes to a fresh worker, once; a chunk
                # that kills a second worker is split into single photos, and a photo that kills
                # MAX_DEATHS workers fails alone (a photo that always kills its worker must not loop
                # forever). Photos a dead worker finished are complete files: writing them again is harmless.
                again, given_up = after_death(items, deaths)
                log.warning("a ray worker died (%s) on %d photos; %s", type(exc).__name__, len(items),
                            "giving up on it" if given_up else "retrying them" if again == [items] else "retrying them one by one")
                todo.extend(reversed(again))
                for src in given_up:
                    done += 1
                    record(result, by_src[src], "failed", f"{printable(src)}: its worker died {MAX_DEATHS} times while colorizing it "
                           "(out of memory, or a file that crashes the decoder); colorize it alone to see why",
                           done=done, total=total, t0=t0, progress=progress)
                if actor in actors:
                    actors.remove(actor)
                fresh = new_actor()
                actors.append(fresh)
                submit(fresh)
                continue
            for src, _dst, status, reason in outcomes:
                done += 1
                record(result, by_src[src], status, reason, done=done, total=total, t0=t0, progress=progress)
            submit(actor)
    result.cancelled = bool(cancel is not None and cancel.is_set() and done < total)
