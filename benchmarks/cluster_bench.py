"""Photos per second through rehue-batch on one machine and on a local Ray cluster with 1 and 2
workers, in one run, on the same synthetic 3 MP scans. Prints a table; asserts nothing.

    python benchmarks/cluster_bench.py [--photos 16]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=16)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rehue-bench")
    args = p.parse_args()
    from benchmarks.bench import make_photo
    from rehue.batch import BatchOptions, plan_batch, run_batch
    from rehue.cluster import run_batch_on_ray
    from rehue.engine import Colorizer

    src = args.work / "cluster"
    src.mkdir(parents=True, exist_ok=True)
    for i in range(args.photos):
        ph = make_photo(3, args.work, seed=i)
        if not (src / ph.name).exists():
            os.link(ph, src / ph.name)
    print(f"# rehue-batch on {args.photos} × 3 MP JPEG — {platform.machine()}, {os.cpu_count()} cores")
    rows = []
    t0 = time.perf_counter()
    res = run_batch(plan_batch([src], Path(tempfile.mkdtemp())), Colorizer(provider="cpu"), BatchOptions())
    rows.append(("one process (--jobs 1)", len(res.written), time.perf_counter() - t0))
    for n in (1, 2):
        t0 = time.perf_counter()  # includes starting the local Ray instance and loading the models
        res = run_batch_on_ray(plan_batch([src], Path(tempfile.mkdtemp())), workers=n, provider="cpu")
        rows.append((f"Ray, {n} worker{'s' if n > 1 else ''}", len(res.written), time.perf_counter() - t0))
    print(f"{'':<24}{'photos':>7}{'seconds':>9}{'photos/s':>10}")
    for name, n, s in rows:
        print(f"{name:<24}{n:>7}{s:>9.1f}{n / s:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
