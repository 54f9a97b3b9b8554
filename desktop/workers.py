"""Background work for the app: opening photos, previews, full-resolution saves and batches.

Everything that touches the model or a large image runs on a QThreadPool thread. Results come
back through a signals QObject as numpy arrays; QPixmaps are made on the GUI thread only.
``PreviewScheduler`` coalesces requests: while one preview runs, only the newest waiting request
is kept, so dragging a hint or the strength slider never queues stale work.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from rehue import photo_io
from rehue.batch import BatchOptions, BatchPlan, BatchProgress, run_batch
from rehue.contract import Hint
from rehue.engine import Chroma, Colorizer, Prepared

log = logging.getLogger(__name__)

PREVIEW_SIDE = 1024  # the image re-rendered on every hint edit
DISPLAY_SIDE = 2400  # the image shown once edits pause


_LIVE: set[Job] = set()


class WorkerSignals(QObject):
    """Signals of one background job. ``result`` carries the job's return value."""

    progress = Signal(object)
    result = Signal(object)
    errored = Signal(str)
    finished = Signal()


class Job(QRunnable):
    """Run ``fn(*args, report=signals.progress.emit)`` off the GUI thread.

    Not auto-deleted: Python keeps each job (and so its signals object) alive in ``_LIVE`` until
    a moment after ``finished`` has reached the GUI thread, so no queued signal can outlive it.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, with_progress: bool = False) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.with_progress = with_progress
        self.signals = WorkerSignals()
        self.setAutoDelete(False)
        _LIVE.add(self)
        self.signals.finished.connect(self._release)

    def _release(self) -> None:
        QTimer.singleShot(250, lambda: _LIVE.discard(self))

    def run(self) -> None:
        try:
            if self.with_progress:
                value = self.fn(*self.args, report=self.signals.progress.emit)
            else:
                value = self.fn(*self.args)
        except photo_io.PhotoError as exc:
            self.signals.errored.emit(str(exc))
        except MemoryError:
            self.signals.errored.emit("Not enough memory for this photo. Close other programs or use rehue-batch.")
        except Exception as exc:  # shown as a dialog; the traceback goes to the log file
            log.error("background job failed:\n%s", traceback.format_exc())
            self.signals.errored.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()


def start(job: Job, pool: QThreadPool | None = None) -> Job:
    (pool or QThreadPool.globalInstance()).start(job)
    return job


# ----------------------------------------------------------------------------- photo session


@dataclass
class OpenedPhoto:
    """A photo ready for editing: the decoded original plus its reduced versions."""

    photo: photo_io.Photo
    display: np.ndarray  # (h, w[, 3]) uint8/uint16, long side <= DISPLAY_SIDE
    preview: np.ndarray  # (h, w[, 3]) long side <= PREVIEW_SIDE
    display_rgb: np.ndarray  # (h, w, 3) uint8: the "before" image shown
    prepared: Prepared
    last_chroma: tuple[tuple[Hint, ...], Chroma] | None = None  # reused while only the strength changes


def open_photo(path: Path, colorizer: Colorizer) -> OpenedPhoto:
    """Read and reduce a photo (worker thread)."""
    photo = photo_io.read_photo(path)
    display = photo_io.reduce(photo.pixels, DISPLAY_SIDE)
    preview = photo_io.reduce(display, PREVIEW_SIDE)
    return OpenedPhoto(photo, display, preview, photo_io.display_rgb(display), colorizer.prepare(photo.pixels))


@dataclass(frozen=True)
class PreviewRequest:
    hints: tuple[Hint, ...]
    strength: float
    quality: str = "preview"  # 'preview' (fast) or 'display' (sharper, once edits pause)
    generation: int = 0


@dataclass
class PreviewResult:
    request: PreviewRequest
    rgb: np.ndarray  # (h, w, 3) uint8
    chroma: Chroma
    seconds: float


def render_preview(opened: OpenedPhoto, colorizer: Colorizer, request: PreviewRequest) -> PreviewResult:
    """Predict with the request's hints and render at preview or display size (worker thread)."""
    t0 = time.perf_counter()
    cached = opened.last_chroma
    if cached is not None and cached[0] == request.hints:
        chroma = cached[1]
    else:
        chroma = colorizer.predict(opened.prepared, request.hints)
        opened.last_chroma = (request.hints, chroma)
    base = opened.preview if request.quality == "preview" else opened.display
    rgb = colorizer.render(base, chroma, request.strength)
    return PreviewResult(request, photo_io.display_rgb(rgb), chroma, time.perf_counter() - t0)


class PreviewScheduler(QObject):
    """Runs one preview at a time; the newest waiting request replaces older waiting ones."""

    ready = Signal(object)  # PreviewResult
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._running = False
        self._pending: tuple[OpenedPhoto, Colorizer, PreviewRequest] | None = None
        self.generation = 0

    def request(self, opened: OpenedPhoto, colorizer: Colorizer, request: PreviewRequest) -> None:
        self._pending = (opened, colorizer, request)
        if not self._running:
            self._start_next()

    def is_busy(self) -> bool:
        return self._running or self._pending is not None

    def _start_next(self) -> None:
        if self._pending is None:
            return
        opened, colorizer, request = self._pending
        self._pending = None
        self._running = True
        job = Job(render_preview, opened, colorizer, request)
        # Bound methods of this QObject: Qt drops the connections if the scheduler is deleted first.
        job.signals.result.connect(self._on_result)
        job.signals.errored.connect(self._on_error)
        job.signals.finished.connect(self._on_finished)
        self.pool.start(job)

    def _on_result(self, result: PreviewResult) -> None:
        self.ready.emit(result)

    def _on_error(self, message: str) -> None:
        self.failed.emit(message)

    def _on_finished(self) -> None:
        self._running = False
        self._start_next()

    def wait(self, ms: int = 10000) -> bool:
        return self.pool.waitForDone(ms)

    def shutdown(self, ms: int = 10000) -> None:
        """Drop waiting work and wait for the running preview (window closing)."""
        self._pending = None
        self.pool.waitForDone(ms)


def save_full(opened: OpenedPhoto, colorizer: Colorizer, hints: tuple[Hint, ...], strength: float, dst: Path, fmt: str) -> Path:
    """Full-resolution render and atomic write, metadata kept (worker thread)."""
    photo = opened.photo
    chroma = colorizer.predict(opened.prepared, hints)
    rgb = colorizer.render(photo.pixels, chroma, strength)
    photo_io.write_atomically(dst, photo_io.encode_like(photo, rgb, fmt))
    return dst


class BatchJob(Job):
    """``run_batch`` with a cancel flag the dialog can set."""

    def __init__(self, plan: BatchPlan, colorizer: Colorizer, options: BatchOptions) -> None:
        self.cancel = threading.Event()
        super().__init__(self._run, plan, colorizer, options)

    def _run(self, plan: BatchPlan, colorizer: Colorizer, options: BatchOptions):
        def progress(p: BatchProgress) -> None:
            self.signals.progress.emit(p)

        return run_batch(plan, colorizer, options, progress=progress, cancel=self.cancel)
