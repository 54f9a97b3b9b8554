"""``rehue-eval``: score an ONNX colorizer on colour photos, through the same engine the app uses.

Each photo (at most 512 px long) is turned gray and colorized as the app does it: prediction at the
model's working size, chroma upsampled and recombined with the photo's own L. Automatic mode and
simulated user hints (Zhang et al. 2017's protocol: 5×5 patches of the true mean colour, positions
drawn from a normal distribution around the centre, 0/1/2/5/10/20/50/100 hints). Reported per source
and overall: PSNR (8-bit RGB), SSIM, mean CIEDE2000 and colourfulness (Hasler–Süsstrunk), for the
model and for the gray baseline, and the share of photos that automatic colour makes worse than
gray by more than 1 dB. Prints a table and writes JSON (and a contact sheet).

Which photos: from the training shards (.tar), the held-out validation split (or its 'test' or
'tune' half); from plain files, every photo (``--split`` says otherwise, and what it skips is said).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from export import data
from export.classifier_check import imagenet_label, top1_report, wnid_index
from export.metrics import blotch_share, ciede2000, colourfulness, mean_ciede2000, plain_regions, psnr, ssim
from rehue import contract, photo_io
from rehue.engine import Colorizer

log = logging.getLogger("rehue.eval")

EVAL_MAX_SIDE = 512
HINT_COUNTS = (0, 1, 2, 5, 10, 20, 50, 100)
HINT_RADIUS = 2  # 5×5 patches, the app's default hint size
WORSE_DB = 1.0


def zhang_hints(ab_work: np.ndarray, n: int, rng: np.random.Generator) -> list[contract.Hint]:
    """Zhang 2017 evaluation hints on a working-size ab image (h, w, 2): n patches around the
    centre, each the mean true colour of its patch."""
    h, w = ab_work.shape[:2]
    r = HINT_RADIUS
    hints = []
    for _ in range(n):
        cy = int(np.clip(rng.normal(h / 2, h / 4), 0, h - 1))
        cx = int(np.clip(rng.normal(w / 2, w / 4), 0, w - 1))
        a, b = ab_work[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1].reshape(-1, 2).mean(0)
        hints.append(contract.Hint((cx + 0.5) / w, (cy + 0.5) / h, float(a), float(b), r))
    return hints


def gray_of(truth: np.ndarray) -> np.ndarray:
    """The gray baseline: the photo's own L with no chroma, as 8-bit RGB."""
    lab = contract.rgb_to_lab(truth)
    return (np.clip(contract.lab_to_rgb(np.dstack([lab[..., 0], np.zeros_like(lab[..., 1:])])), 0, 1) * 255 + 0.5).astype(np.uint8)


def object_at(lab_work: np.ndarray, rng: np.random.Generator, tries: int = 8) -> tuple[float, float, np.ndarray]:
    """A spot and 'its object' for the locality protocol: the connected region of pixels whose
    true colour (Lab, L included) is within 12 units of the spot's; 2-40 % of the photo."""
    h, w = lab_work.shape[:2]
    best = None
    for _ in range(tries):
        cy = int(np.clip(rng.normal(h / 2, h / 5), 0, h - 1))
        cx = int(np.clip(rng.normal(w / 2, w / 5), 0, w - 1))
        close = (np.linalg.norm(lab_work - lab_work[cy, cx], axis=2) < 12).astype(np.uint8)
        _, labels = cv2.connectedComponents(close, connectivity=4)
        region = labels == labels[cy, cx]
        share = region.mean()
        if 0.02 <= share <= 0.4:
            return (cx + 0.5) / w, (cy + 0.5) / h, region
        if best is None or abs(share - 0.1) < abs(best[2].mean() - 0.1):
            best = ((cx + 0.5) / w, (cy + 0.5) / h, region)
    assert best is not None
    return best


def locality(colorizer: Colorizer, prepared, l_only: np.ndarray, lab_work: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """One hint of a colour the model did not predict (its hue turned by 120°, chroma 45), placed
    on an object: mean CIEDE2000 change of the output inside that object and outside it."""
    x, y, region = object_at(lab_work, rng)
    auto = colorizer.predict(prepared)
    h, w = auto.ab.shape[:2]
    a0, b0 = auto.ab[min(int(y * h), h - 1), min(int(x * w), w - 1)]
    hue = np.arctan2(b0, a0) + 2 * np.pi / 3 if np.hypot(a0, b0) > 3 else rng.uniform(0, 2 * np.pi)
    hint = colorizer.snap_hint(prepared, contract.Hint(x, y, float(45 * np.cos(hue)), float(45 * np.sin(hue))))
    small = cv2.resize(l_only, (w, h), interpolation=cv2.INTER_AREA)
    before = colorizer.render(small, auto)
    after = colorizer.render(small, colorizer.predict(prepared, [hint]))
    change = ciede2000(contract.rgb_to_lab(before), contract.rgb_to_lab(after))
    return {"inside": float(change[region].mean()), "outside": float(change[~region].mean()) if (~region).any() else 0.0}


def scores(out: np.ndarray, truth: np.ndarray, regions: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(out, truth), "ssim": ssim(out, truth), "ciede2000": mean_ciede2000(out, truth),
            "colourfulness": colourfulness(out), "blotch": blotch_share(out, regions)}


def evaluate(colorizer: Colorizer, photos: list[tuple[str, np.ndarray]], seed: int = 0, sheet_n: int = 0,
             hint_counts: tuple[int, ...] = HINT_COUNTS, classifier: bool = False) -> dict:
    """Scores for every photo; returns the summary dict (and contact-sheet rows if asked).

    Each photo's simulated hints come from its own generator (seed, name): a photo's scores do not
    depend on which other photos are evaluated or in what order (``--sheet`` reorders them).
    """
    rows = []
    sheet = []
    labelled = []  # (ImageNet class, truth, gray, ours) for the classifier test
    index = wnid_index() if classifier else {}
    t0 = time.perf_counter()
    for name, rgb in photos:
        truth = data.fit_long_side(rgb, EVAL_MAX_SIDE)
        gray_rgb = gray_of(truth)
        l_only = np.ascontiguousarray(gray_rgb[..., 0])
        prepared = colorizer.prepare(l_only)
        h, w = prepared.l_work.shape
        ab_work = contract.rgb_to_lab(cv2.resize(truth, (w, h), interpolation=cv2.INTER_AREA))[..., 1:]
        regions = plain_regions(contract.rgb_to_lab(truth)[..., 0])
        rec = {"name": name, "source": data.source_of(name), "gray": scores(gray_rgb, truth, regions),
               "truth_colourfulness": colourfulness(truth), "truth_blotch": blotch_share(truth, regions), "hints_psnr": {}}
        outs = {}
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        for n in hint_counts:
            out = colorizer.render(l_only, colorizer.predict(prepared, zhang_hints(ab_work, n, rng)))
            outs[n] = out
            rec["hints_psnr"][str(n)] = psnr(out, truth)
        rec["auto"] = scores(outs[0], truth, regions)
        label = imagenet_label(name, index) if classifier else None
        if label is not None:
            labelled.append((label, truth, gray_rgb, outs[0]))
        rec["locality"] = locality(colorizer, prepared, l_only, contract.rgb_to_lab(cv2.resize(truth, (w, h), interpolation=cv2.INTER_AREA)),
                                   np.random.default_rng([seed, zlib.crc32(name.encode()), 1]))
        rows.append(rec)
        if len(sheet) < sheet_n:
            sheet.append((gray_rgb, outs[0], outs.get(10, outs[0]), truth))
    elapsed = time.perf_counter() - t0
    summary = summarise(rows, hint_counts)
    summary["seconds"] = elapsed
    if classifier:
        summary["classifier"] = top1_report(labelled)
    summary["model"] = {k: colorizer.metadata[k] for k in ("model_name", "model_version", "working_size")}
    return {"summary": summary, "per_image": rows, "sheet": sheet}


def _mean(rows: list[dict], *keys: str) -> float:
    vals = []
    for r in rows:
        v = r
        for k in keys:
            v = v[k]
        vals.append(v)
    return float(np.mean(vals)) if vals else float("nan")


def summarise(rows: list[dict], hint_counts: tuple[int, ...] = HINT_COUNTS) -> dict:
    def block(rs: list[dict]) -> dict:
        worse = [r for r in rs if r["auto"]["psnr"] < r["gray"]["psnr"] - WORSE_DB]
        return {
            "images": len(rs),
            "auto": {m: _mean(rs, "auto", m) for m in ("psnr", "ssim", "ciede2000", "colourfulness", "blotch")},
            "gray": {m: _mean(rs, "gray", m) for m in ("psnr", "ssim", "ciede2000", "colourfulness", "blotch")},
            "truth_colourfulness": _mean(rs, "truth_colourfulness"),
            "truth_blotch": _mean(rs, "truth_blotch"),
            "worse_than_gray_share": len(worse) / max(1, len(rs)),
            "locality": {"inside": _mean(rs, "locality", "inside"), "outside": _mean(rs, "locality", "outside")},
            "psnr_vs_hints": {str(n): _mean(rs, "hints_psnr", str(n)) for n in hint_counts},
        }

    out = {"all": block(rows)}
    for src in sorted({r["source"] for r in rows}):
        out[src] = block([r for r in rows if r["source"] == src])
    return out


def format_table(summary: dict) -> str:
    lines = [
        f"{'set':<22}{'n':>5}{'PSNR auto':>11}{'gray':>7}{'Δ':>6}{'worse':>7}{'SSIM':>7}{'ΔE00':>7}{'gray':>7}{'colourf.':>10}{'truth':>7}"
        f"{'blotch':>8}{'truth':>7}{'1 hint ΔE in/out':>18}   PSNR with hints",
    ]
    for name, b in summary.items():
        if not isinstance(b, dict) or "auto" not in b:
            continue
        a, g = b["auto"], b["gray"]
        hints = " ".join(f"{n}:{v:.1f}" for n, v in b["psnr_vs_hints"].items())
        lines.append(
            f"{name:<22}{b['images']:>5}{a['psnr']:>11.2f}{g['psnr']:>7.2f}{a['psnr'] - g['psnr']:>+6.2f}"
            f"{100 * b['worse_than_gray_share']:>6.0f}%{a['ssim']:>7.3f}"
            f"{a['ciede2000']:>7.2f}{g['ciede2000']:>7.2f}{a['colourfulness']:>10.1f}{b['truth_colourfulness']:>7.1f}"
            f"{100 * a['blotch']:>7.1f}%{100 * b['truth_blotch']:>6.1f}%"
            f"{b['locality']['inside']:>10.1f}/{b['locality']['outside']:<7.2f}   {hints}"
        )
    c = summary.get("classifier")
    if c:
        lines.append(f"Lite2 top-1 on {c['photos']} ImageNet photos: truth {100 * c['truth']:.1f} %, gray {100 * c['gray']:.1f} %, "
                     f"ours {100 * c['ours']:.1f} % ({100 * c['gap_recovered']:.0f} % of the gray→truth gap recovered)")
    return "\n".join(lines)


def contact_sheet(rows: list[tuple[np.ndarray, ...]], side: int = 160) -> np.ndarray:
    """Rows of gray | automatic | 10 hints | truth, as one RGB image."""
    pad = 4

    def tile(t: np.ndarray) -> np.ndarray:
        s = side / max(t.shape[:2])
        small = cv2.resize(t, (max(1, round(t.shape[1] * s)), max(1, round(t.shape[0] * s))), interpolation=cv2.INTER_AREA)
        box = np.full((side, side, 3), 255, np.uint8)
        y0, x0 = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
        box[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
        return np.pad(box, ((pad, pad), (pad, pad), (0, 0)), constant_values=255)

    return np.vstack([np.hstack([tile(t) for t in row]) for row in rows])


def in_split(name: str, from_shard: bool, split: str) -> bool:
    """Whether ``name`` belongs to ``split``: 'all'; 'val' (the held-out names), 'test' or 'tune' (its
    halves); 'auto' is 'val' for photos from training shards and 'all' for plain files."""
    if split == "all" or (split == "auto" and not from_shard):
        return True
    if not data.is_validation(name):
        return False
    return split in ("auto", "val") or data.validation_half(name) == split


def load_photos(root: Path, split: str, limit: int | None, seed: int, per_source: int | None,
                skipped: list[str] | None = None, not_in_split: list[str] | None = None) -> list[tuple[str, np.ndarray]]:
    """Colour photos from shards or a folder, those of ``split`` (see in_split).

    Grayscale photos are left out (their names appended to ``skipped``): they have no colour to
    score against, and their gray baseline is a perfect match (PSNR capped at 99 dB) that would
    swamp the mean: six such photos in the validation split moved the automatic Δ by 1.5 dB.
    Photos outside the split are counted in ``not_in_split``.
    """
    found: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, blob, from_shard in data.iter_photos(root, with_origin=True):
        if not in_split(name, from_shard, split):
            if not_in_split is not None:
                not_in_split.append(name)
            continue
        rgb = data.read_image_bytes(blob)
        if rgb is None:
            log.warning("cannot read %s: left out", name)
            continue
        if data.is_bsd100(name, rgb.shape):
            continue
        if photo_io.is_gray(rgb):
            if skipped is not None:
                skipped.append(name)
            continue
        found.setdefault(data.source_of(name), []).append((name, rgb))
    rng = np.random.default_rng(seed)
    photos: list[tuple[str, np.ndarray]] = []
    for src in sorted(found):
        items = found[src]
        if per_source and len(items) > per_source:
            items = [items[i] for i in sorted(rng.choice(len(items), per_source, replace=False))]
        photos.extend(items)
    if limit and len(photos) > limit:
        photos = [photos[i] for i in sorted(rng.choice(len(photos), limit, replace=False))]
    return photos


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-eval", description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+",
                   help="colour photos: folders, or the .tar shards of ../shared/data (and the extra photos beside them)")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--split", choices=("auto", "val", "test", "tune", "all"), default="auto",
                   help="auto (default): the held-out validation names of training shards, every plain file; "
                        "test/tune: a half of the validation names")
    p.add_argument("--per-source", type=int, default=150, help="at most this many photos from each source")
    p.add_argument("--hints", default=",".join(map(str, HINT_COUNTS)), help="hint counts to score, comma-separated")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", type=Path, default=Path("eval.json"))
    p.add_argument("--sheet", type=Path, default=None, help="write a contact sheet PNG")
    p.add_argument("--sheet-rows", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier", action="store_true",
                   help="Zhang 2016's test: EfficientNet-Lite2 top-1 on truth, gray and ours for photos named by an ImageNet wnid")
    p.add_argument("--network-only", action="store_true", help="hints as the network alone answers them: no locality (rehue.hint_reach)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    colorizer = Colorizer(args.model, provider="cpu", local_hints=not args.network_only)
    skipped: list[str] = []
    not_in_split: list[str] = []
    photos = [ph for folder in args.folders
              for ph in load_photos(folder, args.split, args.limit, args.seed, args.per_source, skipped, not_in_split)]
    if not_in_split:
        print(f"scoring the '{args.split}' split: {len(not_in_split)} photos outside it were not scored", file=sys.stderr)
    if skipped:
        log.info("left out %d grayscale photos (no colour to score): %s", len(skipped), ", ".join(skipped[:10]))
    if not photos:
        print(f"no colour photos found in {' '.join(map(str, args.folders))}", file=sys.stderr)
        return 2
    if args.sheet:  # interleave sources so the sheet shows faces and scenes
        by_src: dict[str, list] = {}
        for ph in photos:
            by_src.setdefault(data.source_of(ph[0]), []).append(ph)
        mixed = [x for group in zip(*by_src.values()) for x in group]
        photos = mixed + [ph for ph in photos if ph not in mixed]
    counts = tuple(int(x) for x in args.hints.split(",") if x)
    if 0 not in counts:
        counts = (0, *counts)
    result = evaluate(colorizer, photos, args.seed, args.sheet_rows if args.sheet else 0, counts, args.classifier)
    result["summary"]["grayscale_left_out"] = skipped
    result["summary"]["split"] = {"name": args.split, "not_scored": len(not_in_split)}
    args.json.write_text(json.dumps({"summary": result["summary"], "per_image": result["per_image"]}, indent=1))
    print(format_table(result["summary"]))
    print(f"{len(photos)} photos in {result['summary']['seconds']:.0f} s; details in {args.json}")
    if args.sheet and result["sheet"]:
        sheet = contact_sheet(result["sheet"])
        cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        print(f"contact sheet (gray | automatic | 10 hints | truth): {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
