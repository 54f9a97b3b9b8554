"""Batch colorization: the one code path behind ``rehue-batch`` and the app's batch dialog.

A ``BatchPlan`` maps every input photo to its output path, mirroring each input folder's tree
under the output folder. ``run_batch`` works through it with one ``Colorizer``: it skips outputs
that already exist (atomic writes mean an existing output is a finished one, so a killed batch
resumes), never writes over an original, reports progress after each photo, stops between photos
when asked, and collects one clear reason per photo it could not do.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rehue import photo_io, sidecar
from rehue.engine import Colorizer, EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchItem:
    src: Path
    dst: Path


@dataclass
class BatchPlan:
    items: list[BatchItem]
    skipped_existing: list[BatchItem] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)  # inputs refused at planning


@dataclass(frozen=True)
class BatchOptions:
    strength: float | None = None  # None: a photo's saved strength (sidecar), else 1.0
    fmt: str | None = None  # None: same format as the input ('jpeg', 'png' or 'tiff')
    overwrite: bool = False
    jobs: int = 1
    suffix: str = ""  # added to each output's stem, e.g. '_colour'


@dataclass
class BatchProgress:
    """What a progress callback receives after each photo."""

    done: int
    total: int
    current: Path | None
    elapsed_s: float
    failures: int

    @property
    def eta_s(self) -> float | None:
        if self.done == 0:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)


@dataclass
class BatchResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    with_hints: list[Path] = field(default_factory=list)  # colorized with the hints saved beside them
    cancelled: bool = False
    elapsed_s: float = 0.0

    def summary(self) -> str:
        parts = [f"{len(self.written)} colorized" + (f" ({len(self.with_hints)} with their saved hints)" if self.with_hints else ""),
                 f"{len(self.skipped)} already done", f"{len(self.failed)} failed"]
        text = ", ".join(parts) + f" in {self.elapsed_s:.1f} s"
        return text + (" (cancelled)" if self.cancelled else "")


def format_duration(seconds: float | None) -> str:
    """A duration for a progress display: '--:--' when unknown, 'm:ss', or 'h:mm:ss'."""
    if seconds is None:
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _is_photo(path: Path) -> bool:
    return path.suffix.lower() in photo_io.READ_SUFFIXES and not path.name.startswith(".")


def _output_for(src: Path, rel: Path, out_dir: Path, options: BatchOptions) -> Path:
    """Output path: same relative place, the input's format (and suffix) unless one is forced."""
    fmt = options.fmt or photo_io.format_for(src)
    keep_suffix = options.fmt is None and photo_io.writes_suffix(src)
    suffix = src.suffix if keep_suffix else photo_io.output_suffix(fmt)
    return out_dir / rel.parent / f"{rel.stem}{options.suffix}{suffix}"


def plan_batch(inputs: Iterable[Path], out_dir: Path, options: BatchOptions = BatchOptions()) -> BatchPlan:
    """Every photo under ``inputs`` (files, or folders searched recursively) with its output path.

    A folder's photos keep their relative paths under ``out_dir``; loose files go to its top.
    Outputs that exist are listed as skipped unless ``options.overwrite``. An output that would
    be its own input is refused.
    """
    out_dir = Path(out_dir).resolve()
    items: list[BatchItem] = []
    skipped: list[BatchItem] = []
    problems: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for raw in inputs:
        root = Path(raw)
        if not root.exists():
            problems.append((root, "does not exist"))
            continue
        pairs: list[tuple[Path, Path]] = []
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                d = Path(dirpath)
                # Never descend into the output folder (it may live inside the input tree).
                dirnames[:] = sorted(n for n in dirnames if (d / n).resolve() != out_dir and not n.startswith("."))
                pairs.extend((d / f, (d / f).relative_to(root)) for f in sorted(filenames) if _is_photo(d / f))
            if not pairs:
                problems.append((root, "contains no photos (JPEG, PNG, TIFF, BMP or WebP)"))
        else:
            pairs = [(root, Path(root.name))]
        for src, rel in pairs:
            rs = src.resolve()
            if rs in seen:
                continue
            seen.add(rs)
            dst = _output_for(src, rel, out_dir, options)
            if dst.resolve() == rs:
                problems.append((src, "its output would overwrite the original; choose another output folder or a suffix"))
                continue
            item = BatchItem(src, dst)
            if dst.exists() and not options.overwrite:
                skipped.append(item)
            else:
                items.append(item)
    return BatchPlan(items, skipped, problems)


def run_batch(
    plan: BatchPlan,
    colorizer: Colorizer,
    options: BatchOptions = BatchOptions(),
    progress: Callable[[BatchProgress], None] | None = None,
    cancel: threading.Event | None = None,
    failure: Callable[[Path, str], None] | None = None,
) -> BatchResult:
    """Colorize every item of ``plan``; returns what was written, skipped and failed.

    ``cancel`` is checked before each photo: a photo in progress is finished (or discarded
    whole, never half-written), then the batch stops.
    """
    result = BatchResult(skipped=[i.src for i in plan.skipped_existing], failed=list(plan.problems))
    total = len(plan.items)
    t0 = time.perf_counter()
    lock = threading.Lock()
    done = 0

    def one(item: BatchItem) -> None:
        nonlocal done
        if cancel is not None and cancel.is_set():
            return
        try:
            saved = sidecar.read(item.src)  # hints a person saved with this photo in the app
            strength = options.strength if options.strength is not None else (saved.strength if saved else 1.0)
            colorizer.colorize_file(item.src, item.dst, hints=saved.hints if saved else (), strength=strength, fmt=options.fmt)
            ok, reason = True, ""
            if saved and saved.hints:
                with lock:
                    result.with_hints.append(item.src)
        except photo_io.PhotoError as exc:
            ok, reason = False, str(exc)
        except (EngineError, MemoryError) as exc:
            ok, reason = False, f"{item.src}: {exc or 'out of memory'}"
        except Exception as exc:  # one bad photo must not end the batch; the log has the traceback
            log.exception("unexpected failure on %s", item.src)
            ok, reason = False, f"{item.src}: unexpected error ({type(exc).__name__}: {exc}); see the log file"
        with lock:
            done += 1
            if ok:
                result.written.append(item.dst)
            else:
                result.failed.append((item.src, reason))
                if failure:
                    failure(item.src, reason)
            if progress:
                progress(BatchProgress(done, total, item.src, time.perf_counter() - t0, len(result.failed)))

    if options.jobs > 1:
        with ThreadPoolExecutor(options.jobs) as pool:
            list(pool.map(one, plan.items))
    else:
        for item in plan.items:
            one(item)
    result.cancelled = bool(cancel is not None and cancel.is_set() and done < total)
    result.elapsed_s = time.perf_counter() - t0
    return result
