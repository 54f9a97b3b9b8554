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

from rehue.providers import PROVIDER_CHOICES  # noqa: E402

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


def bench_preview(model: str | None, provider: str, folder: Path, repeats: int = 21) -> dict:
    """Hint edit -> refreshed preview, through the app's own photo session (rehue.session): the
    decoder at the working size, the hints kept to their objects, recombination at the 1024 px
    preview. Also the one-off cost of opening (reading, reducing, the encoder)."""
    from rehue.contract import Hint
    from rehue.engine import Colorizer
    from rehue.session import PhotoSession, PreviewRequest

    c = Colorizer(model, provider=provider)
    path = make_photo(12, folder)
    PhotoSession.open(path, c)  # warm-up
    t0 = time.perf_counter()
    session = PhotoSession.open(path, c)
    open_s = time.perf_counter() - t0
    times, decoder = [], []
    for i in range(repeats + 2):
        hints = (Hint(0.3 + 0.01 * i, 0.4, 30.0, 20.0), Hint(0.7, 0.6, -20.0, 30.0))
        t0 = time.perf_counter()
        session.preview(PreviewRequest(hints, 1.0))
        t1 = time.perf_counter()
        c.predict_planes(session.prepared, *__import__("rehue.contract", fromlist=["encode_hints"]).encode_hints(hints, *session.prepared.l_work.shape))
        t2 = time.perf_counter()
        if i >= 2:
            times.append(t1 - t0)
            decoder.append(t2 - t1)
    return {"total_ms": 1000 * statistics.median(times), "decoder_ms": 1000 * statistics.median(decoder),
            "open_ms": 1000 * open_s, "working": list(session.prepared.l_work.shape), "preview": list(session.preview_pixels.shape),
            "runs_ms": [round(1000 * t, 1) for t in times]}


def bench_batch(model: str | None, provider: str, folder: Path, n: int = 16, repeats: int = 3) -> list[dict]:
    """Photos per second through rehue-batch's code path (3 MP JPEGs): one photo at a time, two
    jobs, and several photos stacked per model run (the GPU route), plus the model runs alone
    (``prepare_many``: encoder + automatic decoder) per photo for each stacking."""
    from rehue.batch import BatchOptions, plan_batch, run_batch
    from rehue.engine import Colorizer

    src = folder / "batch"
    src.mkdir(exist_ok=True)
    for i in range(n):
        p = make_photo(3, folder, seed=i)
        if not (src / p.name).exists():
            os.link(p, src / p.name)
    pixels = [cv2.imread(str(make_photo(3, folder, seed=i)), cv2.IMREAD_GRAYSCALE) for i in range(8)]
    rows = []
    for jobs, per_run in ((1, 1), (2, 1), (1, 4), (1, 8)):
        threads = None if jobs == 1 else max(1, (os.cpu_count() or 2) // jobs)
        c = Colorizer(model, provider=provider, threads=threads, photos_per_run=per_run)
        c.prepare_many(pixels[:per_run])  # warm-up at this batch size
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            c.prepare_many(pixels)
            runs.append((time.perf_counter() - t) / len(pixels))
        opts = BatchOptions(jobs=jobs)
        times = []
        for _ in range(repeats):  # a run is two seconds: the median of a few steadies it
            out = Path(tempfile.mkdtemp())
            t0 = time.perf_counter()
            res = run_batch(plan_batch([src], out, opts), c, opts)
            times.append(time.perf_counter() - t0)
        dt = statistics.median(times)
        rows.append({"jobs": jobs, "photos_per_run": per_run, "photos": len(res.written), "seconds": dt,
                     "photos_per_s": len(res.written) / dt, "model_ms_per_photo": 1000 * statistics.median(runs),
                     "device": c.device_name})
    return rows


def bench_models(model: str | None, provider: str, folder: Path, zhang: str | None, repeats: int = 10) -> list[dict]:
    """The networks alone at our working size, in onnxruntime: ours (encoder + decoder, and the
    decoder alone as a hint edit runs it) and the Zhang et al. 2017 network (one graph)."""
    import onnxruntime as ort

    from rehue import contract
    from rehue.engine import Colorizer
    from rehue.photo_io import read_photo

    c = Colorizer(model, provider=provider)
    prepared = c.prepare(read_photo(make_photo(3, folder)).pixels)
    h, w = prepared.l_work.shape
    ph, pw = contract.padded_size(h, w)
    l_in = np.zeros((1, 1, ph, pw), np.float32)
    hab, hm = np.zeros((1, 2, ph, pw), np.float32), np.zeros((1, 1, ph, pw), np.float32)

    def timed(fn) -> float:
        for _ in range(2):
            fn()
        t = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
        return 1000 * statistics.median(t)

    feats = c.encoder.run(None, {contract.INPUT_L: l_in})
    dec_feeds = dict(zip(contract.DECODER_INPUTS, (*feats, hab, hm)))
    rows = [
        {"model": "rehue encoder + decoder", "ms": timed(lambda: c.decoder.run(None, dict(zip(contract.DECODER_INPUTS, (*c.encoder.run(None, {contract.INPUT_L: l_in}), hab, hm))))),
         "mb": sum(f.stat().st_size for f in contract.model_files(c.model_path)) / 1e6},
        {"model": "rehue decoder (hint edit)", "ms": timed(lambda: c.decoder.run(None, dec_feeds)), "mb": contract.model_files(c.model_path)[1].stat().st_size / 1e6},
    ]
    if zhang:
        opts = ort.SessionOptions()
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        z = ort.InferenceSession(zhang, opts, providers=c.providers)
        names = [i.name for i in z.get_inputs()]
        rows.append({"model": "Zhang 2017 architecture", "ms": timed(lambda: z.run(None, dict(zip(names, (l_in, hab, hm))))),
                     "mb": Path(zhang).stat().st_size / 1e6})
    for r in rows:
        r["working"] = [ph, pw]
    return rows


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, kind, model, provider, photo, repeats = sys.argv
        print(json.dumps(child_latency(model or None, provider, photo, int(repeats))))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--provider", default="cpu", choices=tuple(PROVIDER_CHOICES))
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
        print("\n## End to end (read → encoder → decoder → recombine → encode and write), median seconds")
        stages = ["read", "encoder", "decoder", "recombine", "encode+write", "total"]
        print(f"{'photo':>8} " + " ".join(f"{s:>9}" for s in stages) + f" {'peak MB':>8}")
        for r in rows:
            print(f"{r['mp']:>6}MP " + " ".join(f"{r['stages'][s]:>9.3f}" for s in stages) + f" {r['peak_rss_mb']:>8.0f}")
    if args.only in (None, "preview"):
        r = bench_preview(args.model, args.provider, args.work)
        report["preview"] = r
        print(f"\n## Preview refresh after a hint edit (working {r['working'][1]}×{r['working'][0]}, preview {r['preview'][1]}×{r['preview'][0]})")
        print(f"hint edit -> preview {r['total_ms']:.1f} ms median (decoder alone {r['decoder_ms']:.1f} ms); "
              f"opening the 12 MP photo {r['open_ms']:.0f} ms")
    if args.only in (None, "batch"):
        rows = bench_batch(args.model, args.provider, args.work)
        report["batch"] = rows
        print(f"\n## Batch throughput, {rows[0]['photos']} × 3 MP JPEG, on {rows[0]['device']}")
        for r in rows:
            print(f"--jobs {r['jobs']} --photos-per-run {r['photos_per_run']}: {r['photos_per_s']:.2f} photos/s (median of 3) "
                  f"({r['seconds']:.1f} s); model runs alone {r['model_ms_per_photo']:.1f} ms per photo")
    if args.only in (None, "models"):
        zhang = args.zhang or str(args.work / "zhang2017.onnx")
        if not Path(zhang).exists():
            try:
                from benchmarks.zhang2017 import build_onnx
            except ImportError:
                print("\n(Zhang 2017 comparison skipped: install the train extra to build it)")
                zhang = None
            else:
                build_onnx(Path(zhang))
        rows = bench_models(args.model, args.provider, args.work, zhang)
        report["models"] = rows
        print(f"\n## Networks alone at the working size {rows[0]['working'][1]}×{rows[0]['working'][0]}, median ms")
        base = rows[0]["ms"]
        for r in rows:
            print(f"{r['model']:<28} {r['ms']:>8.1f} ms  ×{r['ms'] / base:>5.2f}  {r['mb']:>6.1f} MB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
