"""Qt plumbing that runs the photo session (``rehue.session``) and batches off the GUI thread.

Everything that touches the model or a large image runs on a QThreadPool thread. Results come
back through a signals QObject as numpy arrays; QPixmaps are made on the GUI thread only.
``PreviewScheduler`` coalesces requests: while one preview runs, only the newest waiting request
is kept, so dragging a hint or the strength slider never queues stale work.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from rehue import photo_io
from rehue.batch import BatchBusy, BatchOptions, BatchPlan, BatchProgress, run_batch
from rehue.engine import Colorizer, EngineError
from rehue.restore import RestoreError
from rehue.session import PhotoSession, PreviewRequest, PreviewResult

log = logging.getLogger(__name__)


_LIVE: set[Job] = set()


class WorkerSignals(QObject):
    """Signals of one background job. ``result`` carries the job's return value, ``errored`` the
    exception itself, so the window can tell a bad photo (a message) from a bug (the crash dialog)."""

    progress = Signal(object)
    result = Signal(object)
    errored = Signal(object)
    finished = Signal()


EXPECTED_ERRORS = (photo_io.PhotoError, EngineError, RestoreError, BatchBusy, MemoryError)


def user_message(exc: BaseException) -> str | None:
    """What to tell the user for an expected failure; None for anything else (a bug)."""
    if isinstance(exc, MemoryError):
        return "Not enough memory for this photo. Close other programs or use rehue-batch."
    if isinstance(exc, EXPECTED_ERRORS):
        return str(exc)
    return None


class Job(QRunnable):
    """Run ``fn(*args)`` off the GUI thread.

    Not auto-deleted: Python keeps each job (and so its signals object) alive in ``_LIVE`` until
    a moment after ``finished`` has reached the GUI thread, so no queued signal can outlive it.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.signals = WorkerSignals()
        self.setAutoDelete(False)
        _LIVE.add(self)
        self.signals.finished.connect(self._release)

    def _release(self) -> None:
        QTimer.singleShot(250, lambda: _LIVE.discard(self))

    def run(self) -> None:
        try:
            value = self.fn(*self.args)
        except Exception as exc:
            if user_message(exc) is None:  # a bug: the traceback goes to the log file
                log.error("background job failed:\n%s", traceback.format_exc())
            self.emit("errored", exc)
        else:
            self.emit("result", value)
        finally:
            self.emit("finished")

    def emit(self, name: str, *args: Any) -> None:
        """Emit one of ``signals``; when the window (and Qt's side of the signals) is already gone at
        quit, the job's work is done and nobody is listening: nothing to say, nothing to raise."""
        try:
            getattr(self.signals, name).emit(*args)
        except RuntimeError:  # "Signal source has been deleted" (issue 23)
            log.debug("job finished after its window closed (%s not delivered)", name)


def start(job: Job, pool: QThreadPool | None = None) -> Job:
    (pool or QThreadPool.globalInstance()).start(job)
    return job


class PreviewScheduler(QObject):
    """Runs one preview at a time; the newest waiting request replaces older waiting ones."""

    ready = Signal(object)  # PreviewResult
    failed = Signal(object)  # the exception

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._running = False
        self._pending: tuple[PhotoSession, PreviewRequest] | None = None

    def request(self, session: PhotoSession, request: PreviewRequest) -> None:
        self._pending = (session, request)
        if not self._running:
            self._start_next()

    def is_busy(self) -> bool:
        return self._running or self._pending is not None

    def _start_next(self) -> None:
        if self._pending is None:
            return
        session, request = self._pending
        self._pending = None
        self._running = True
        job = Job(session.preview, request)
        # Bound methods of this QObject: Qt drops the connections if the scheduler is deleted first.
        job.signals.result.connect(self._on_result)
        job.signals.errored.connect(self._on_error)
        job.signals.finished.connect(self._on_finished)
        self.pool.start(job)

    def _on_result(self, result: PreviewResult) -> None:
        self.ready.emit(result)

    def _on_error(self, exc: BaseException) -> None:
        self.failed.emit(exc)

    def _on_finished(self) -> None:
        self._running = False
        self._start_next()

    def shutdown(self, ms: int = 10000) -> None:
        """Drop waiting work and wait for the running preview (window closing)."""
        self._pending = None
        self.pool.waitForDone(ms)


class SaveJob(Job):
    """``PhotoSession.save`` with its progress (0..1) on ``signals.progress``."""

    def __init__(self, session: PhotoSession, dst, fmt: str, hints, strength: float, mark: bool = True,
                 restoring: bool = False) -> None:
        super().__init__(self._run, session, dst, fmt, hints, strength, mark, restoring)
        _SAVING.add(self)  # from now, not from when a thread picks it up: a close right after Save waits too

    def _run(self, session: PhotoSession, dst, fmt: str, hints, strength: float, mark: bool, restoring: bool):
        try:
            return session.save(dst, fmt, hints, strength, progress=lambda f: self.emit("progress", f), mark=mark,
                                restoring=restoring)
        finally:
            _SAVING.discard(self)


_SAVING: set[SaveJob] = set()


def wait_for_saves(timeout_s: float = 120.0) -> bool:
    """Block until every save in progress is written (the window is closing: a photo being saved
    must not be cut off); False if one still runs after ``timeout_s``."""
    import time

    end = time.monotonic() + timeout_s
    while _SAVING and time.monotonic() < end:
        time.sleep(0.02)
    return not _SAVING


class BatchJob(Job):
    """``run_batch`` with a cancel flag the dialog can set."""

    def __init__(self, plan: BatchPlan, colorizer: Colorizer, options: BatchOptions) -> None:
        self.cancel = threading.Event()
        super().__init__(self._run, plan, colorizer, options)

    def _run(self, plan: BatchPlan, colorizer: Colorizer, options: BatchOptions):
        def progress(p: BatchProgress) -> None:
            self.emit("progress", p)

        return run_batch(plan, colorizer, options, progress=progress, cancel=self.cancel)
