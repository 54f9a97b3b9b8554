"""Faded-print restoration speed (issue 24): how long the restore model takes to look at a photo
and to apply its transform at full resolution, 8- and 16-bit, and a batch's whole path (read,
restore, write). Prints a table; asserts nothing.

    python benchmarks/restore_bench.py                 # 12 MP and 50 MP, shipped restore model
    python benchmarks/restore_bench.py --sizes 12 --repeats 11
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rehue import photo_io, restore  # noqa: E402

SIZES_MP = {1: (1152, 864), 12: (4000, 3000), 50: (8160, 6120)}


def faded_print(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A colour 'print' with texture at every scale and a warm, flat cast: (h, w, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    planes = [cv2.resize(rng.random((h // 64 + 2, w // 64 + 2)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
              for _ in range(3)]
    rgb = np.dstack(planes) * np.array([0.5, 0.4, 0.3], np.float32) + np.array([0.35, 0.3, 0.25], np.float32)
    rgb += rng.normal(0, 0.02, (h, w, 1)).astype(np.float32)
    return np.clip(rgb * 255, 0, 255).astype(np.uint8)


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def bench_size(restorer: restore.Restorer, mp: int, repeats: int, work: Path) -> str:
    """One row of the table: a photo of ``mp`` megapixels."""
    w, h = SIZES_MP[mp]
    px = faded_print(w, h)
    t = restorer.predict(px)
    assess = median_ms(lambda: restorer.assess(px), repeats)
    apply8 = median_ms(lambda: restore.apply(px, t), repeats)
    both = median_ms(lambda: restore.apply(px, restorer.assess(px).transform), repeats)
    px16 = px.astype(np.uint16) * 257
    apply16 = median_ms(lambda: restore.apply(px16, t), max(3, repeats // 2))
    src = work / f"print-{mp}mp.jpg"
    photo_io.write_photo(src, px, "jpeg")

    def batch_path() -> None:
        photo = photo_io.read_photo(src)
        restorer.restore_photo(photo, work / "out.jpg", transform=restorer.assess(photo.pixels).transform)

    path = median_ms(batch_path, max(3, repeats // 2))
    return f"{mp:>4}MP {assess:>8.1f} {apply8:>12.1f} {both:>13.1f} {apply16:>13.1f} {path:>38.1f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="restore ONNX (default: the shipped one)")
    p.add_argument("--sizes", type=int, nargs="*", default=[12, 50], choices=tuple(SIZES_MP))
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    restorer = restore.Restorer(args.model)
    print(f"restore model {restorer.metadata.get('model_name')} {restorer.metadata.get('model_version')}, "
          f"{os.cpu_count()} CPU cores ({platform.machine()}), median of {args.repeats} runs, milliseconds")
    print(f"{'photo':>6} {'assess':>8} {'apply 8-bit':>12} {'assess+apply':>13} {'apply 16-bit':>13} {'batch path (read+restore+write JPEG)':>38}")
    work = Path(tempfile.mkdtemp(prefix="rehue-restore-bench-"))
    for mp in args.sizes:
        print(bench_size(restorer, mp, args.repeats, work))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
