"""``rehue-batch``: colorize photos and folders from the command line.

    rehue-batch SCANS/ -o COLOUR/            # mirror SCANS/ into COLOUR/, resumable
    rehue-batch a.jpg b.tif -o out/ --format png --strength 1.2
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rehue import __version__
from rehue.batch import format_duration
from rehue.engine import PROVIDER_CHOICES
from rehue.logsetup import setup_logging
from rehue.photo_io import SAVE_FORMATS, printable


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rehue-batch", description="Colorize black-and-white photos, files or whole folders.")
    p.add_argument("inputs", nargs="+", type=Path, help="photos and/or folders (searched recursively)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder; input folders are mirrored inside it")
    p.add_argument("--model", type=Path, default=None, help="ONNX model: STEM.onnx or either of its .encoder/.decoder files (default: the shipped one)")
    p.add_argument("--provider", choices=tuple(PROVIDER_CHOICES), default="auto", help="where to run the model (default: CUDA if available)")
    p.add_argument("--strength", type=float, default=None,
                   help="colour strength, 0 (gray) to 2 (default: 1, or what was saved with a photo's hints)")
    p.add_argument("--format", choices=tuple(SAVE_FORMATS), default=None, help="output format (default: same as input)")
    p.add_argument("--suffix", default="", help="text added to each output file name, e.g. _colour")
    p.add_argument("--overwrite", action="store_true", help="redo photos whose output already exists")
    p.add_argument("--recolour", action="store_true", help="also colorize photos that already have colour (sepia and toned ones always are)")
    p.add_argument("--restore-faded", action="store_true",
                   help="restore the colour of faded colour prints (a cast, lost contrast) instead of leaving colour photos alone")
    p.add_argument("--no-mark", action="store_true",
                   help="do not say in each output's metadata (EXIF ImageHistory, Software) that Rehue colorized it")
    p.add_argument("--report", type=Path, default=None, help="write a CSV of every input and what became of it")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster: without ADDRESS a local instance, else e.g. ray://head:10001 (needs rehue[cluster])")
    p.add_argument("--ray-workers", type=int, default=None, help="Ray workers, one model each (default: one per CPU of the cluster)")
    p.add_argument("--ray-gpus", type=float, default=0.0, help="GPUs per Ray worker (e.g. 1 or 0.5) on nodes with GPUs")
    p.add_argument("--jobs", type=int, default=1, help="photos processed at once (2 was about 20 %% faster on 2 cores)")
    p.add_argument("--photos-per-run", type=int, default=None, metavar="N",
                   help="photos stacked into one model run, the next group read ahead (default: 8 on a GPU, 1 on the CPU)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--version", action="version", version=f"rehue {__version__}")
    args = p.parse_args(argv)
    if args.strength is not None and not 0.0 <= args.strength <= 2.0:
        p.error("--strength must be between 0 and 2")
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    if args.photos_per_run is not None and args.photos_per_run < 1:
        p.error("--photos-per-run must be at least 1")
    if args.photos_per_run and args.photos_per_run > 1 and args.jobs > 1:
        p.error("--photos-per-run and --jobs are two ways to keep the hardware busy: choose one")
    return args


class _Bar:
    """A one-line progress bar with ETA, drawn only on a terminal."""

    def __init__(self, stream, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled

    def update(self, p) -> None:  # p: BatchProgress
        if not self.enabled:
            return
        width = 28
        frac = p.done / max(1, p.total)
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        name = p.current.name if p.current else ""
        self.stream.write(f"\r[{bar}] {p.done}/{p.total}  ETA {format_duration(p.eta_s)}  {name[:40]:<40}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def say(line: str) -> None:
    """One line to the person at the terminal, file names in it made harmless (photo_io.printable:
    a name can hold escape sequences that clear the screen or retitle the terminal, or newlines)."""
    print(printable(line), file=sys.stderr)


def _report_problem(path: Path) -> str | None:
    """Why the --report file cannot be written (a folder, an unwritable place), or None."""
    from rehue.batch import writable_problem

    if path.is_dir():
        return f"--report {path} is a folder: give a file name, e.g. {path / 'report.csv'}"
    return writable_problem(path.parent, "the report", "choose another place for --report")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(console_level=logging.WARNING)
    from rehue.batch import BatchOptions, plan_batch, run_batch
    from rehue.engine import Colorizer, EngineError
    from rehue.restore import RestoreError

    options = BatchOptions(strength=args.strength, fmt=args.format, overwrite=args.overwrite, jobs=args.jobs,
                           suffix=args.suffix, recolour=args.recolour, restore_faded=args.restore_faded,
                           mark=not args.no_mark)
    report_problem = _report_problem(args.report) if args.report else None
    if report_problem:  # found before any work, like an unwritable output folder
        say(f"error: {report_problem}")
        return 2
    plan = plan_batch(args.inputs, args.output, options)
    if plan.fatal:
        say(f"error: {plan.fatal}")
        return 2
    for path, reason in plan.problems:
        say(f"skipped {path}: {reason}")
    if plan.ignored:
        kinds: dict[str, int] = {}
        for _, why in plan.ignored:
            kinds[why] = kinds.get(why, 0) + 1
        print("not photos, left alone: " + ", ".join(f"{n} × {why}" for why, n in sorted(kinds.items())), file=sys.stderr)
    if not plan.items:
        msg = f"nothing to do: {len(plan.skipped_existing)} photo(s) already have an output in {args.output}"
        print(msg if plan.skipped_existing else "no photos found in the inputs", file=sys.stderr)
        return 1 if plan.problems else 0
    if args.ray:
        return _run_on_ray(args, plan, options)
    try:
        threads = max(1, (os.cpu_count() or 2) // args.jobs) if args.jobs > 1 else None
        colorizer = Colorizer(args.model, provider=args.provider, threads=threads, photos_per_run=args.photos_per_run)
        if options.restore_faded:
            colorizer.restorer  # noqa: B018 - a broken installation is said before any work, not once per photo
    except (EngineError, RestoreError) as exc:
        say(f"error: {exc}")
        return 2
    print(f"rehue {__version__}: {len(plan.items)} photo(s) to colorize, {len(plan.skipped_existing)} already done; "
          f"model {colorizer.metadata['model_name']} {colorizer.metadata['model_version']} on {colorizer.device_name}", file=sys.stderr)
    said = colorizer.fallback_reason if args.provider != "cpu" else None
    if said:
        print(f"running on the CPU: {said}", file=sys.stderr)

    def later_fallback() -> str | None:
        """A move to the CPU during the run (the GPU ran out of memory): said at the end, once."""
        return colorizer.fallback_reason if args.provider != "cpu" and colorizer.fallback_reason != said else None

    return _drive(args, "the photo in progress",
                  lambda progress, cancel: run_batch(plan, colorizer, options, progress=progress, cancel=cancel),
                  later_fallback)


def _drive(args: argparse.Namespace, unit: str, run, fallback: Callable[[], str | None] = lambda: None) -> int:
    """Signals, progress bar, one line per failure, summary, report and exit code around ``run``
    (one machine or Ray): 0 all done, 1 some photos failed, 2 could not start, 130 stopped."""
    from rehue.batch import BatchBusy
    from rehue.cluster import ClusterError

    cancel = threading.Event()
    running = threading.Event()  # a second Ctrl-C stops at once only while photos are in progress

    def on_signal(signum, frame) -> None:
        if cancel.is_set():
            if running.is_set():
                raise KeyboardInterrupt
            return  # already finishing (summary, report): the exit code is 130 either way
        cancel.set()
        if signum == signal.SIGINT:
            print(f"\nstopping after {unit} (Ctrl-C again to quit now)", file=sys.stderr)
        else:
            print(f"\n{signal.Signals(signum).name}: stopping after {unit}", file=sys.stderr)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    bar = _Bar(sys.stderr, enabled=sys.stderr.isatty() and not args.quiet)

    def on_progress(p) -> None:  # BatchProgress: a failed photo's line, then the bar
        if p.problem:
            if bar.enabled:
                sys.stderr.write("\r\x1b[K")
            say(f"failed: {p.problem}")
        bar.update(p)

    running.set()
    try:
        result = run(on_progress, cancel)
    except (BatchBusy, ClusterError) as exc:
        bar.close()
        say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C: the photo in progress is dropped whole, never half-written
        bar.close()
        print("stopped at once; photos already finished are kept, a re-run resumes", file=sys.stderr)
        # Leave now, with 130: the interpreter's own shutdown would wait for the reading threads and
        # could end the process by SIGINT (exit −2) instead (issue 23). Every output is written
        # atomically, so a temporary file is all a photo in progress can leave (the next run removes it).
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(130)
    finally:
        running.clear()
    bar.close()
    print(result.summary(), file=sys.stderr)
    moved = fallback()
    if moved:
        print(f"(moved to the CPU during the run: {moved})", file=sys.stderr)
    if args.report:
        say(f"report: {result.write_report(args.report)}")
    if result.cancelled:
        return 130
    return 1 if result.failed else 0


def _run_on_ray(args: argparse.Namespace, plan, options) -> int:
    """The same batch through rehue.cluster: progress and ETA on the driver, one line per problem."""
    from rehue.cluster import run_batch_on_ray

    address = None if args.ray == "local" else args.ray
    print(f"rehue {__version__}: {len(plan.items)} photo(s) to colorize, {len(plan.skipped_existing)} already done; "
          f"on Ray ({address or 'local instance'})", file=sys.stderr)
    return _drive(args, "the chunks in progress", lambda progress, cancel: run_batch_on_ray(
        plan, options, address=address, workers=args.ray_workers, model=args.model, provider=args.provider,
        gpus_per_worker=args.ray_gpus, progress=progress, cancel=cancel))


if __name__ == "__main__":
    sys.exit(main())
