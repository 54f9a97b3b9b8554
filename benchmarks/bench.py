"""Rehue benchmarks: end-to-end latency by stage, peak memory, batch throughput, preview refresh,
and the same pipeline with the Zhang et al. 2017 architecture. Prints tables; asserts nothing.

    python benchmarks/bench.py                      # everything, shipped model, CPU
    python benchmarks/bench.py --only latency --sizes 12
    python benchmarks/bench.py --provider cuda      # on a GPU machine

Each photo size runs in its own subprocess so that its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES_MP = {1: (1152, 864), 3: (2000, 1500), 12: (4000, 3000), 50: (8160, 6120)}


def synthetic_scan(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A gray 'scan' with texture at every scale (JPEG size and decode time like a real photo)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((h // 64 + 2, w // 64 + 2)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 0.04, (h, w)).astype(np.float32)
    img = np.clip(0.15 + 0.7 * base + grain, 0, 1)
    return (img * 255).astype(np.uint8)


def make_photo(mp: int, folder: Path, seed: int = 0) -> Path:
    w, h = SIZES_MP[mp]
    p = folder / f"scan_{mp}mp_{seed}.jpg"
    if not p.exists():
        cv2.imwrite(str(p), synthetic_scan(w, h, seed), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return p


def child_latency(model: str | None, provider: str, photo: str, repeats: int) -> dict:
    """Run in a subprocess: time colorize_file by stage; report peak RSS."""
    from rehue.engine import Colorizer, Timings

    c = Colorizer(model, provider=provider)
    out = Path(tempfile.mkdtemp()) / "out.jpg"
    c.colorize_file(Path(photo), out)  # warm-up: session, caches
    runs = []
    for _ in range(repeats):
        t = Timings()
        t0 = time.perf_counter()
        c.colorize_file(Path(photo), out, timings=t)
        t.stages["total"] = time.perf_counter() - t0
        runs.append(t.stages)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {"stages": med, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "device": c.device_name}


def run_child(args: list[str]) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench_latency(model: str | None, provider: str, sizes: list[int], folder: Path, repeats: int) -> list[dict]:
    rows = []
    for mp in sizes:
        photo = make_photo(mp, folder)
        res = run_child(["latency", model or "", provider, str(photo), str(repeats if mp < 50 else max(1, repeats // 2))])
        res["mp"] = mp
        rows.append(res)
    return rows


def bench_preview(model: str | None, provider: str, folder: Path, repeats: int = 15) -> dict:
    """Hint edit -> new preview: predict at working size + recombine at preview size (1024 px)."""
    from rehue.contract import Hint
    from rehue.engine import Colorizer
    from rehue.photo_io import read_photo

    c = Colorizer(model, provider=provider)
    photo = read_photo(make_photo(12, folder))
    prepared = c.prepare(photo.pixels)
    h, w = photo.pixels.shape
    s = 1024 / max(h, w)
    preview = cv2.resize(photo.pixels, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    times_pred, times_total = [], []
    for i in range(repeats + 2):
        hints = [Hint(0.3 + 0.01 * i, 0.4, 30.0, 20.0), Hint(0.7, 0.6, -20.0, 30.0)]
        t0 = time.perf_counter()
        chroma = c.predict(prepared, hints)
        t1 = time.perf_counter()
        c.render(preview, chroma, 1.0)
        t2 = time.perf_counter()
        if i >= 2:
            times_pred.append(t1 - t0)
            times_total.append(t2 - t0)
    return {"predict_ms": 1000 * statistics.median(times_pred), "total_ms": 1000 * statistics.median(times_total),
            "working": list(prepared.l_work.shape), "preview": list(preview.shape)}


def bench_batch(model: str | None, provider: str, folder: Path, n: int = 8) -> list[dict]:
    """Photos per second through rehue-batch's code path with 1 and 2 jobs (3 MP JPEGs)."""
    from rehue.batch import BatchOptions, plan_batch, run_batch
    from rehue.engine import Colorizer

    src = folder / "batch"
    src.mkdir(exist_ok=True)
    for i in range(n):
        p = make_photo(3, folder, seed=i)
        if not (src / p.name).exists():
            os.link(p, src / p.name)
    rows = []
    for jobs in (1, 2):
        threads = None if jobs == 1 else max(1, (os.cpu_count() or 2) // jobs)
        c = Colorizer(model, provider=provider, threads=threads)
        out = Path(tempfile.mkdtemp())
        opts = BatchOptions(jobs=jobs)
        t0 = time.perf_counter()
        res = run_batch(plan_batch([src], out, opts), c, opts)
        dt = time.perf_counter() - t0
        rows.append({"jobs": jobs, "photos": len(res.written), "seconds": dt, "photos_per_s": len(res.written) / dt})
    return rows


def bench_models(models: dict[str, str | None], provider: str, folder: Path, repeats: int = 10) -> list[dict]:
    """Network time alone and 3 MP end to end for each model, same engine."""
    from rehue.engine import Colorizer
    from rehue.photo_io import read_photo

    photo = read_photo(make_photo(3, folder))
    rows = []
    for name, path in models.items():
        c = Colorizer(path, provider=provider)
        prepared = c.prepare(photo.pixels)
        for _ in range(2):
            c.predict(prepared)
        t = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            c.predict(prepared)
            t.append(time.perf_counter() - t0)
        params = c.metadata["metrics"].get("parameters")
        rows.append({"model": name, "predict_ms": 1000 * statistics.median(t), "working": list(prepared.l_work.shape), "parameters": params,
                     "file_mb": Path(c.model_path).stat().st_size / 1e6})
    return rows


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, kind, model, provider, photo, repeats = sys.argv
        print(json.dumps(child_latency(model or None, provider, photo, int(repeats))))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--provider", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--sizes", type=int, nargs="*", default=[1, 3, 12, 50])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=("latency", "preview", "batch", "models"), default=None)
    p.add_argument("--zhang", default=None, help="Zhang 2017 ONNX (built with benchmarks/zhang2017.py if absent and torch is installed)")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rehue-bench")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    import onnxruntime as ort

    print(f"# Rehue benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, onnxruntime {ort.__version__}, provider {args.provider}")
    report: dict = {}
    if args.only in (None, "latency"):
        rows = bench_latency(args.model, args.provider, args.sizes, args.work, args.repeats)
        report["latency"] = rows
        print("\n## End to end (read → prepare → predict → recombine → encode → write), median seconds")
        stages = ["read", "prepare", "predict", "recombine", "encode", "write", "total"]
        print(f"{'photo':>8} " + " ".join(f"{s:>9}" for s in stages) + f" {'peak MB':>8}")
        for r in rows:
            print(f"{r['mp']:>6}MP " + " ".join(f"{r['stages'][s]:>9.3f}" for s in stages) + f" {r['peak_rss_mb']:>8.0f}")
    if args.only in (None, "preview"):
        r = bench_preview(args.model, args.provider, args.work)
        report["preview"] = r
        print(f"\n## Preview refresh after a hint edit (working {r['working'][1]}×{r['working'][0]}, preview {r['preview'][1]}×{r['preview'][0]})")
        print(f"predict {r['predict_ms']:.1f} ms, predict + recombine {r['total_ms']:.1f} ms (median)")
    if args.only in (None, "batch"):
        rows = bench_batch(args.model, args.provider, args.work)
        report["batch"] = rows
        print("\n## Batch throughput, 8 × 3 MP JPEG")
        for r in rows:
            print(f"--jobs {r['jobs']}: {r['photos_per_s']:.2f} photos/s ({r['seconds']:.1f} s)")
    if args.only in (None, "models"):
        zhang = args.zhang or str(args.work / "zhang2017.onnx")
        if not Path(zhang).exists():
            try:
                from benchmarks.zhang2017 import build_onnx
            except ImportError:
                build_onnx = None
            if build_onnx is None:
                print("\n(Zhang 2017 comparison skipped: install the train extra to build it)")
                zhang = None
            else:
                build_onnx(Path(zhang))
        models = {"rehue (ours)": args.model}
        if zhang:
            models["Zhang 2017 architecture"] = zhang
        int8 = ROOT / "models" / "rehue-colorizer-int8.onnx"
        if int8.exists():
            models["rehue int8"] = str(int8)
        rows = bench_models(models, args.provider, args.work)
        report["models"] = rows
        print("\n## Network alone, same engine, 3 MP photo (working size from our model)")
        base = rows[0]["predict_ms"]
        for r in rows:
            print(f"{r['model']:<26} {r['predict_ms']:>8.1f} ms  ×{r['predict_ms'] / base:>5.2f}  {r['file_mb']:>6.1f} MB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
