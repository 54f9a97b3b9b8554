"""Batch colorization: the one code path behind ``rehue-batch`` and the app's batch dialog.

A ``BatchPlan`` maps every input photo to its own output path: one input folder is mirrored into
the output folder; several inputs are each mirrored under their own name; two inputs that would
share an output name (``p.png`` and ``p.bmp``) get distinct ones, and no output may ever land on an
input of the run. ``run_batch`` works through the plan with one ``Colorizer``: it holds a lock on
the output folder (two batches never colorize into one folder at once), skips outputs that already
exist (atomic writes mean an existing, non-empty output is a finished one, so a killed batch
resumes), leaves photos that already have colour alone unless asked (to recolour them, or to
restore the faded ones: ``rehue.restore``), reports progress after each
photo, stops between photos when asked, and collects one clear reason per photo it could not do.
Everything that was not a photo (a GIF, a hidden file, an unreadable folder) is listed too.
"""

from __future__ import annotations

import csv
import errno
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rehue import photo_io, sidecar
from rehue.engine import Colorizer, EngineError, Prepared
from rehue.restore import RestoreError

log = logging.getLogger(__name__)

LOCK_NAME = ".rehue-batch.lock"


@dataclass(frozen=True)
class BatchItem:
    src: Path
    dst: Path


@dataclass
class BatchPlan:
    items: list[BatchItem]
    skipped_existing: list[BatchItem] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)  # inputs refused at planning (they count as failed)
    ignored: list[tuple[Path, str]] = field(default_factory=list)  # entries that are not photos (GIF, hidden files)
    out_dir: Path | None = None
    fatal: str | None = None  # nothing can be written (an unwritable output folder): say so before any work


@dataclass(frozen=True)
class BatchOptions:
    strength: float | None = None  # None: a photo's saved strength (sidecar), else 1.0
    fmt: str | None = None  # None: same format as the input ('jpeg', 'png' or 'tiff')
    overwrite: bool = False
    jobs: int = 1
    suffix: str = ""  # added to each output's stem, e.g. '_colour'
    recolour: bool = False  # also colorize photos that already have colour (sepia/toned ones always are)
    restore_faded: bool = False  # restore the colour of faded colour photos (rehue.restore) instead of skipping them
    mark: bool = True  # say in each output's metadata that Rehue colorized it


@dataclass
class BatchProgress:
    """What a progress callback receives after each photo: the one shape of a batch's progress,
    on one machine, with --jobs and on Ray, for the command line and the app alike. ``problem``:
    why this photo failed (its line for the person), None when it did not."""

    done: int
    total: int
    current: Path | None
    elapsed_s: float
    failures: int
    problem: str | None = None

    @property
    def eta_s(self) -> float | None:
        if self.done == 0:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)


@dataclass
class BatchResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # already had an output
    skipped_colour: list[Path] = field(default_factory=list)  # already in colour (use recolour)
    restored: list[Path] = field(default_factory=list)  # faded colour photos whose colour was restored (their outputs)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)
    with_hints: list[Path] = field(default_factory=list)  # colorized with the hints saved beside them
    cancelled: bool = False
    elapsed_s: float = 0.0
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # (input, output, status, reason) for --report

    def summary(self, redo_colour: str = "--recolour to redo them", restore_colour: str = "--restore-faded") -> str:
        """One line for a person; ``redo_colour`` and ``restore_colour`` say how to colour or
        restore photos left alone (the command line names its options, the app its check boxes)."""
        colorized = len(self.written) - len(self.restored)
        parts = [f"{colorized} colorized" + (f" ({len(self.with_hints)} with their saved hints)" if self.with_hints else "")]
        if self.restored:
            parts.append(f"{len(self.restored)} faded colour photo{'s' if len(self.restored) != 1 else ''} restored")
        parts += [f"{len(self.skipped)} already done", f"{len(self.failed)} failed"]
        if self.skipped_colour:
            how = redo_colour if self.restored or not restore_colour else f"{restore_colour} to restore faded ones, {redo_colour}"
            parts.append(f"{len(self.skipped_colour)} already in colour, left alone ({how})")
        if self.ignored:
            parts.append(f"{len(self.ignored)} other files skipped")
        text = ", ".join(parts) + f" in {self.elapsed_s:.1f} s"
        return text + (" (cancelled)" if self.cancelled else "")

    def write_report(self, path: Path) -> Path:
        """Every input with what became of it, as CSV (input, output, status, reason)."""
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["input", "output", "status", "reason"])
        w.writerows(self.rows)
        # A name that is not UTF-8 (os.fsdecode's surrogates) goes back as the bytes it was on disk.
        photo_io.write_atomically(Path(path), buf.getvalue().encode("utf-8", "surrogateescape"))
        return Path(path)


class BatchBusy(RuntimeError):
    """Another batch holds the output folder's lock."""


def format_duration(seconds: float | None) -> str:
    """A duration for a progress display: '--:--' when unknown, 'm:ss', or 'h:mm:ss'."""
    if seconds is None:
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


# ----------------------------------------------------------------------------- planning


def _classify(path: Path) -> str | None:
    """None for a photo file we should colorize; otherwise why it is not one (for the summary)."""
    name = path.name
    if name.startswith("."):
        return "hidden file"
    if name.endswith(sidecar.SUFFIX):
        return "sidecar"
    if path.suffix.lower() not in photo_io.READ_SUFFIXES:
        return f"not a photo type Rehue reads ({path.suffix.lower() or 'no suffix'})"
    return None


def _regular_file_problem(path: Path) -> str | None:
    """Why a photo-named entry cannot be read as a file (a link loop, a FIFO), or None."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that points to itself (a link loop)"
        if exc.errno == errno.ENAMETOOLONG:
            return "its path is longer than the system allows"
        if exc.errno == errno.ENOENT:
            return "a broken symbolic link (its target does not exist)"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISFIFO(st.st_mode):
        return "a pipe (FIFO), not a photo file"
    if stat.S_ISDIR(st.st_mode):
        return None  # a folder named like a photo: walked as a folder
    return "a device or socket, not a photo file"


def _unreadable(exc: OSError, otherwise: str) -> str:
    """A walk's line for a folder or file it could not look at: a path past PATH_MAX said as such,
    anything else through ``otherwise`` (``{}`` takes the system's reason)."""
    if exc.errno == errno.ENAMETOOLONG:
        return "its path is longer than the system allows; move it up or shorten folder names"
    return otherwise.format(exc.strerror or exc)


def _walk(root: Path, out_dir: Path, problems: list, ignored: list) -> Iterator[tuple[Path, Path]]:
    """(photo, path relative to root) under ``root``; everything else is reported."""
    def on_error(exc: OSError, where: Path | None = None) -> None:
        where = where or (Path(exc.filename) if exc.filename else root)
        problems.append((where, _unreadable(exc, "folder cannot be read ({}); its photos were not colorized")))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        d = Path(dirpath)
        keep = []
        for n in sorted(dirnames):
            p = d / n
            try:
                if n.startswith("."):
                    ignored.append((p, "hidden folder"))
                elif p.resolve() == out_dir:
                    continue  # the output folder may live inside the input tree: never colorize outputs
                elif p.is_symlink():
                    ignored.append((p, "symbolic link to a folder (not followed)"))
                else:
                    keep.append(n)
            except OSError as exc:  # a folder nested past PATH_MAX: that folder's line, the walk goes on
                on_error(exc, p)
        dirnames[:] = keep
        for f in sorted(filenames):
            p = d / f
            why = _classify(p)
            if why == "sidecar":
                continue
            if why:
                ignored.append((p, why))
                continue
            try:
                problem = _regular_file_problem(p)
            except OSError as exc:
                problem = _unreadable(exc, "cannot be read ({})")
            if problem:
                problems.append((p, problem))
            else:
                yield p, p.relative_to(root)


def _output_for(src: Path, rel: Path, out_dir: Path, options: BatchOptions) -> Path:
    """Output path: same relative place, the input's format (and suffix) unless one is forced."""
    fmt = options.fmt or photo_io.format_for(src)
    keep_suffix = options.fmt is None and photo_io.writes_suffix(src)
    suffix = src.suffix if keep_suffix else photo_io.output_suffix(fmt)
    return out_dir / rel.parent / f"{rel.stem}{options.suffix}{suffix}"


def _distinct(dst: Path, src: Path, taken: set[str]) -> Path:
    """``dst``, or a variant naming the source's type (p.bmp -> p_bmp.png), then a number."""
    candidate = dst.with_name(f"{dst.stem}_{src.suffix.lower().lstrip('.') or 'file'}{dst.suffix}")
    k = 2
    while str(candidate) in taken:
        candidate = dst.with_name(f"{dst.stem}_{src.suffix.lower().lstrip('.')}-{k}{dst.suffix}")
        k += 1
    return candidate


def writable_problem(folder: Path, what: str = "", advice: str = "choose another output folder") -> str | None:
    """Why nothing can be written into ``folder`` (made if missing), found with a probe file
    before any work; None when it can. ``what``: what was to go there ("the report")."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".rehue-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
        return None
    except OSError as exc:
        return f"cannot write {what + ' ' if what else ''}into {folder} ({exc.strerror or exc}): {advice}"


def plan_batch(inputs: Iterable[Path], out_dir: Path, options: BatchOptions = BatchOptions(), check_output: bool = True) -> BatchPlan:
    """Every photo under ``inputs`` (files, or folders searched recursively) with its own output.

    One folder: its photos keep their relative paths under ``out_dir``. Several inputs: each folder
    is mirrored under its own name (made unique), loose files go to the top. An output that is the
    input itself is refused; one that would land on another input of the run, or on another
    input's output, gets a distinct name. Outputs that exist (and are not empty) are listed as
    skipped unless ``options.overwrite``.
    """
    out_dir = Path(out_dir).resolve()
    inputs = [Path(p) for p in inputs]
    problems: list[tuple[Path, str]] = []
    ignored: list[tuple[Path, str]] = []
    several = len(inputs) > 1
    found: list[tuple[Path, Path]] = []  # (src, rel)
    names_used: set[str] = set()
    for root in inputs:
        problem = _regular_file_problem(root) if root.is_symlink() or root.exists() else None
        if not root.exists() and not root.is_symlink():
            problems.append((root, "does not exist"))
            continue
        if problem:
            problems.append((root, problem))
            continue
        if root.is_dir():
            base = Path()
            if several:
                name, k = root.resolve().name or "input", 2
                while name in names_used:
                    name, k = f"{root.resolve().name}-{k}", k + 1
                names_used.add(name)
                base = Path(name)
            pairs = [(src, base / rel) for src, rel in _walk(root, out_dir, problems, ignored)]
            if not pairs and not any(p == root or root in p.parents for p, _ in problems):
                problems.append((root, "contains no photos (JPEG, PNG, TIFF, BMP or WebP)"))
            found.extend(pairs)
        else:
            why = _classify(root)
            if why and why != "sidecar":
                problems.append((root, why))
                continue
            found.append((root, Path(root.name)))

    inputs_resolved: set[str] = set()
    unique: list[tuple[Path, Path, str]] = []
    for src, rel in found:
        rs = str(src.resolve())
        if rs not in inputs_resolved:
            inputs_resolved.add(rs)
            unique.append((src, rel, rs))

    # Native outputs first (p.png -> p.png), so a conversion (p.bmp -> p.png) is the one renamed.
    order = sorted(range(len(unique)), key=lambda i: 0 if photo_io.writes_suffix(unique[i][0]) and options.fmt is None else 1)
    taken: set[str] = set()
    planned: dict[int, BatchItem] = {}
    for i in order:
        src, rel, rs = unique[i]
        dst = _output_for(src, rel, out_dir, options)
        if str(dst.resolve()) == rs:
            problems.append((src, "its output would overwrite the original; choose another output folder or a suffix"))
            continue
        if str(dst) in taken or str(dst.resolve()) in inputs_resolved:
            dst = _distinct(dst, src, taken | inputs_resolved)
        taken.add(str(dst))
        planned[i] = BatchItem(src, dst)
    items: list[BatchItem] = []
    skipped: list[BatchItem] = []
    for i in sorted(planned):  # back in walking order
        item = planned[i]
        done = item.dst.is_file() and item.dst.stat().st_size > 0  # a 0-byte file is not a finished photo
        (skipped if done and not options.overwrite else items).append(item)
    fatal = writable_problem(out_dir) if check_output and items else None
    return BatchPlan(items, skipped, problems, ignored, out_dir, fatal)


# ----------------------------------------------------------------------------- running


@contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/.rehue-batch.lock`` for the batch; BatchBusy if another batch holds it.
    While held, temporary files left by a killed run (``*.rehue-partial``) are cleaned up."""
    import fcntl

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise BatchBusy(f"another rehue-batch{' (pid ' + other + ')' if other else ''} is writing into {out_dir}; "
                            "wait for it to finish or choose another output folder") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the batch before us removed the file we locked: lock the one at the path now
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        for stale in out_dir.rglob("*.rehue-partial"):
            try:
                stale.unlink()
                log.info("removed %s, left by an interrupted batch", stale)
            except OSError:
                pass
        yield
    finally:
        # Removed while still held, so no lock file is left in the user's folder; a batch that
        # opened it meanwhile sees that the path no longer names what it locked, and tries again.
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)


NOT_FADED = "not faded"


def wants_colour(photo: photo_io.Photo, options: BatchOptions) -> bool:
    """Whether the batch colorizes this photo: gray, sepia and toned ones always; photos that
    already have colour only with --recolour (decided once, when the photo was read)."""
    return photo.kind != "colour" or options.recolour


def colorize_item(colorizer: Colorizer, item: BatchItem, options: BatchOptions, photo: photo_io.Photo | None = None,
                  prepared: Prepared | None = None) -> tuple[str, str]:
    """Colorize one planned photo: (status, reason) with status 'written', 'restored' (a faded
    colour photo, with ``options.restore_faded``), 'already in colour' or 'failed' (the reason names
    the file). Never raises for a bad photo: a batch goes on.
    ``prepared``: the photo's encoder run when a stacked run (``Colorizer.prepare_many``) did it."""
    try:
        photo = photo if photo is not None else photo_io.read_photo(item.src)
        if not wants_colour(photo, options):
            if not options.restore_faded:
                return "already in colour", "the photo already has colour; --recolour replaces it, --restore-faded restores it when faded"
            return restore_item(colorizer, item, options, photo)
        saved = sidecar.read(item.src)  # hints a person saved with this photo in the app
        strength = options.strength if options.strength is not None else (saved.strength if saved else 1.0)
        colorizer.colorize_photo(photo, item.dst, hints=saved.hints if saved else (), strength=strength, fmt=options.fmt, mark=options.mark,
                                 prepared=prepared)
        return "written", "with its saved hints" if saved and saved.hints else ""
    except Exception as exc:  # the one error rule: a photo's failure is its own line
        return "failed", photo_failure(item.src, exc)


def restore_item(colorizer: Colorizer, item: BatchItem, options: BatchOptions, photo: photo_io.Photo) -> tuple[str, str]:
    """A colour photo in a batch with ``restore_faded``: restored when the restore model finds it
    faded, else left alone ('already in colour', "not faded ...")."""
    assessment = colorizer.restorer.assess(photo.pixels)
    if not assessment.faded:
        return "already in colour", f"{NOT_FADED}: its restoration would change it by {assessment.change:.1f} ΔE00 on average"
    strength = options.strength if options.strength is not None else 1.0
    colorizer.restorer.restore_photo(photo, item.dst, strength=strength, fmt=options.fmt, mark=options.mark,
                                     transform=assessment.transform)
    return "restored", f"faded colour restored (it moved {assessment.change:.1f} ΔE00 on average)"


def photo_failure(src: Path, exc: BaseException) -> str:
    """The one error rule of a batch: whatever goes wrong with one photo (a bad file, out of memory,
    a bug) becomes that photo's line, naming it; only the person (cancel) or a broken installation
    (the model cannot load, checked before the batch starts) ends the run. A bug's traceback goes to
    the log file, not the console."""
    if isinstance(exc, photo_io.PhotoError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"{photo_io.printable(src)}: out of memory: too large for this computer (close other programs, or shrink the scan)"
    if isinstance(exc, (EngineError, RestoreError)):
        return f"{photo_io.printable(src)}: {exc}"
    log.error("unexpected failure on %s", photo_io.printable(src), exc_info=exc)
    return f"{photo_io.printable(src)}: unexpected error ({type(exc).__name__}: {exc}); see the log file"


def start_result(plan: BatchPlan) -> BatchResult:
    """A result holding what planning already decided (skipped, refused, ignored)."""
    result = BatchResult(skipped=[i.src for i in plan.skipped_existing], failed=list(plan.problems), ignored=list(plan.ignored))
    result.rows += [(str(i.src), str(i.dst), "already done", "") for i in plan.skipped_existing]
    result.rows += [(str(p), "", "failed", r) for p, r in plan.problems]
    result.rows += [(str(p), "", "ignored", r) for p, r in plan.ignored]
    return result


def record(result: BatchResult, item: BatchItem, status: str, reason: str, *, done: int = 0, total: int = 0,
           t0: float = 0.0, progress: Callable[[BatchProgress], None] | None = None) -> None:
    """Add one photo's outcome to ``result`` and tell the caller (its progress, with the reason
    when the photo failed)."""
    _add(result, item, status, reason)
    if progress:
        progress(BatchProgress(done, total, item.src, time.perf_counter() - t0, len(result.failed),
                               reason if status == "failed" else None))


def _add(result: BatchResult, item: BatchItem, status: str, reason: str) -> None:
    result.rows.append((str(item.src), str(item.dst) if status in ("written", "restored") else "", status, reason))
    if status in ("written", "restored"):
        result.written.append(item.dst)
        if status == "restored":
            result.restored.append(item.dst)
        elif reason:
            result.with_hints.append(item.src)
    elif status == "already in colour":
        result.skipped_colour.append(item.src)
    else:
        result.failed.append((item.src, reason))


def run_batch(
    plan: BatchPlan,
    colorizer: Colorizer,
    options: BatchOptions = BatchOptions(),
    progress: Callable[[BatchProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> BatchResult:
    """Colorize every item of ``plan``; returns what was written, skipped and failed.

    ``cancel`` is checked before each photo: a photo in progress is finished (or discarded
    whole, never half-written), then the batch stops. Raises BatchBusy when another batch is
    writing into the same output folder.
    """
    result = start_result(plan)
    total = len(plan.items)
    t0 = time.perf_counter()
    lock = threading.Lock()
    done = 0

    def finish(item: BatchItem, status: str, reason: str) -> None:
        nonlocal done
        with lock:
            done += 1
            record(result, item, status, reason, done=done, total=total, t0=t0, progress=progress)

    if plan.items:
        assert plan.out_dir is not None
        with output_lock(plan.out_dir):
            _run_in_groups(plan.items, colorizer, options, cancel, finish)
    result.cancelled = bool(cancel is not None and cancel.is_set() and done < total)
    result.elapsed_s = time.perf_counter() - t0
    return result


def _run_in_groups(items: list[BatchItem], colorizer: Colorizer, options: BatchOptions, cancel: threading.Event | None,
                   finish: Callable[[BatchItem, str, str], None]) -> None:
    """The one loop of a batch on one machine: photos go in groups of ``colorizer.photos_per_run``
    (one on the CPU, several on a GPU) or of ``options.jobs`` (photos done at once, each alone);
    the next group is read and decoded while this one runs (decoders release the GIL), a group's
    encoder and automatic decoder runs are stacked (``Colorizer.prepare_many``; not with jobs),
    then each photo is rendered and written on its own, so cancel still stops between photos and
    one bad photo fails alone (``photo_failure``)."""
    jobs = max(1, options.jobs)
    n = jobs if jobs > 1 else colorizer.photos_per_run
    groups = [items[i:i + n] for i in range(0, len(items), n)]

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    started = 0  # photos of the current group begun
    starting = threading.Lock()

    def may_start() -> bool:
        """Cancel is checked before each photo but the group's first, which the check before the
        group let start (a group of one is then exactly "finish the photo in progress, then stop")."""
        nonlocal started
        with starting:
            if started and cancelled():
                return False
            started += 1
            return True

    def colorize_ready(ready: list[tuple[BatchItem, photo_io.Photo]], prepared: list[Prepared | None]) -> bool:
        """Colorize and write the group's photos (``jobs`` at once); False once cancel stopped it."""
        def one(pair: tuple[tuple[BatchItem, photo_io.Photo], Prepared | None]) -> bool:
            (item, photo), pr = pair
            if not may_start():
                return False
            finish(item, *colorize_item(colorizer, item, options, photo, pr))
            return True

        if jobs == 1:
            return all(one(pair) for pair in zip(ready, prepared))
        with ThreadPoolExecutor(jobs) as pool:
            return all(list(pool.map(one, zip(ready, prepared))))

    with ThreadPoolExecutor(2) as reader:
        ahead = [reader.submit(photo_io.read_photo, item.src) for item in groups[0]]
        for k, group in enumerate(groups):
            if cancelled():
                return
            current = ahead
            if k + 1 < len(groups):
                ahead = [reader.submit(photo_io.read_photo, item.src) for item in groups[k + 1]]
            started = 0
            ready: list[tuple[BatchItem, photo_io.Photo]] = []
            for item, pending in zip(group, current):
                try:
                    photo = pending.result()
                except Exception as exc:  # reading is a photo's business too (photo_failure)
                    if not may_start():
                        return
                    finish(item, "failed", photo_failure(item.src, exc))
                    continue
                if wants_colour(photo, options):
                    ready.append((item, photo))
                    continue
                if not may_start():
                    return
                finish(item, *colorize_item(colorizer, item, options, photo))
            prepared: list[Prepared | None] = [None] * len(ready)  # with jobs each photo runs alone
            if jobs == 1:
                try:
                    prepared = list(colorizer.prepare_many([photo.pixels for _, photo in ready]))
                except Exception:  # each photo then runs alone, and a failure names its own file
                    if len(ready) > 1:
                        log.warning("a stacked run of %d photos failed; running them one by one", len(ready), exc_info=True)
            if not colorize_ready(ready, prepared):
                return
