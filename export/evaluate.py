"""``rehue-eval``: score an ONNX colorizer on colour photos, through the same engine the app uses.

Each photo is centre-cropped to 256×256, turned gray, and colorized automatically and with
simulated user hints (Zhang et al. 2017's protocol: 6×6 patches of the true mean colour, positions
drawn from a normal distribution around the centre, 0/1/2/5/10/20/50/100 hints). Reported: PSNR
(8-bit RGB), SSIM, mean CIEDE2000 and colourfulness (Hasler–Süsstrunk), for the model and for the
gray baseline, overall and per source. Prints a table and writes JSON (and a contact sheet).
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

from rehue import contract, photo_io
from rehue.engine import Colorizer
from rehue_export import data
from rehue_export.metrics import colourfulness, mean_ciede2000, psnr, ssim

log = logging.getLogger("rehue.eval")

EVAL_SIDE = 256
HINT_COUNTS = (0, 1, 2, 5, 10, 20, 50, 100)
PATCH = 6


def centre_square(rgb: np.ndarray, side: int = EVAL_SIDE) -> np.ndarray:
    return data.square_crop(rgb, side)


def hint_planes(lab: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Zhang 2017 evaluation hints: n patches of PATCH×PATCH, mean true ab, around the centre."""
    h, w = lab.shape[:2]
    hint_ab = np.zeros((2, h, w), np.float32)
    mask = np.zeros((1, h, w), np.float32)
    for _ in range(n):
        cy = int(np.clip(rng.normal(h / 2, h / 4), 0, h - PATCH))
        cx = int(np.clip(rng.normal(w / 2, w / 4), 0, w - PATCH))
        patch = lab[cy:cy + PATCH, cx:cx + PATCH, 1:].reshape(-1, 2).mean(0)
        hint_ab[:, cy:cy + PATCH, cx:cx + PATCH] = contract.normalise_ab(patch)[:, None, None]
        mask[:, cy:cy + PATCH, cx:cx + PATCH] = 1
    return hint_ab, mask


def colorize_planes(colorizer: Colorizer, gray: np.ndarray, hint_ab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    l_work = colorizer.prepare(gray, working_size=EVAL_SIDE).l_work
    chroma = colorizer.predict_planes(l_work, hint_ab, mask)
    return colorizer.render(gray, chroma)


def evaluate(colorizer: Colorizer, photos: list[tuple[str, np.ndarray]], seed: int = 0, sheet_n: int = 0) -> dict:
    """Scores for every photo; returns the summary dict (and contact-sheet rows if asked).

    Each photo's simulated hints come from its own generator (seed, name): a photo's scores do not
    depend on which other photos are evaluated or in what order (``--sheet`` reorders them).
    """
    rows = []
    sheet = []
    t0 = time.perf_counter()
    for name, rgb in photos:
        truth = centre_square(rgb)
        lab = contract.rgb_to_lab(truth)
        # The gray baseline, and the model's input: the photo's own L with no chroma.
        gray_rgb = (np.clip(contract.lab_to_rgb(np.dstack([lab[..., 0], np.zeros_like(lab[..., 1:])])), 0, 1) * 255 + 0.5).astype(np.uint8)
        l_only = np.ascontiguousarray(gray_rgb[..., 0])
        rec = {"name": name, "source": data.source_of(name),
               "gray": {"psnr": psnr(gray_rgb, truth), "ssim": ssim(gray_rgb, truth), "ciede2000": mean_ciede2000(gray_rgb, truth), "colourfulness": colourfulness(gray_rgb)},
               "truth_colourfulness": colourfulness(truth), "hints_psnr": {}}
        outs = {}
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        for n in HINT_COUNTS:
            hab, hm = hint_planes(lab, n, rng)
            out = colorize_planes(colorizer, l_only, hab, hm)
            outs[n] = out
            rec["hints_psnr"][str(n)] = psnr(out, truth)
        auto = outs[0]
        rec["auto"] = {"psnr": psnr(auto, truth), "ssim": ssim(auto, truth), "ciede2000": mean_ciede2000(auto, truth), "colourfulness": colourfulness(auto)}
        rows.append(rec)
        if len(sheet) < sheet_n:
            sheet.append((gray_rgb, auto, outs[10], truth))
    elapsed = time.perf_counter() - t0
    summary = summarise(rows)
    summary["seconds"] = elapsed
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


def summarise(rows: list[dict]) -> dict:
    def block(rs: list[dict]) -> dict:
        return {
            "images": len(rs),
            "auto": {m: _mean(rs, "auto", m) for m in ("psnr", "ssim", "ciede2000", "colourfulness")},
            "gray": {m: _mean(rs, "gray", m) for m in ("psnr", "ssim", "ciede2000", "colourfulness")},
            "truth_colourfulness": _mean(rs, "truth_colourfulness"),
            "psnr_vs_hints": {str(n): _mean(rs, "hints_psnr", str(n)) for n in HINT_COUNTS},
        }

    out = {"all": block(rows)}
    for src in sorted({r["source"] for r in rows}):
        out[src] = block([r for r in rows if r["source"] == src])
    return out


def format_table(summary: dict) -> str:
    lines = [
        f"{'set':<22}{'n':>5}{'PSNR auto':>11}{'gray':>7}{'Δ':>6}{'SSIM':>7}{'ΔE00':>7}{'gray':>7}{'colourf.':>10}{'truth':>7}   PSNR with 0/1/2/5/10/20/50/100 hints",
    ]
    for name, b in summary.items():
        if not isinstance(b, dict) or "auto" not in b:
            continue
        a, g = b["auto"], b["gray"]
        hints = " ".join(f"{b['psnr_vs_hints'][str(n)]:.1f}" for n in HINT_COUNTS)
        lines.append(
            f"{name:<22}{b['images']:>5}{a['psnr']:>11.2f}{g['psnr']:>7.2f}{a['psnr'] - g['psnr']:>+6.2f}{a['ssim']:>7.3f}"
            f"{a['ciede2000']:>7.2f}{g['ciede2000']:>7.2f}{a['colourfulness']:>10.1f}{b['truth_colourfulness']:>7.1f}   {hints}"
        )
    return "\n".join(lines)


def contact_sheet(rows: list[tuple[np.ndarray, ...]], side: int = 160) -> np.ndarray:
    """Rows of gray | automatic | 10 hints | truth, as one RGB image."""
    pad = 4
    tiles = []
    for row in rows:
        tiles.append(np.hstack([np.pad(cv2.resize(t, (side, side), interpolation=cv2.INTER_AREA), ((pad, pad), (pad, pad), (0, 0)), constant_values=255) for t in row]))
    return np.vstack(tiles)


def load_photos(root: Path, split: str, limit: int | None, seed: int, per_source: int | None,
                skipped: list[str] | None = None) -> list[tuple[str, np.ndarray]]:
    """Colour photos from shards or a folder; with split='val' only the held-out names.

    Grayscale photos are left out (their names appended to ``skipped``): they have no colour to
    score against, and their gray baseline is a perfect match (PSNR capped at 99 dB) that would
    swamp the mean: six such photos in the validation split moved the automatic Δ by 1.5 dB.
    """
    found: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, blob in data.iter_photos(root):
        if split == "val" and not data.is_validation(name):
            continue
        rgb = data.read_image_bytes(blob)
        if rgb is None:
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
    p.add_argument("folder", type=Path, help="colour photos: a folder, or the .tar shards of ../shared/data")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--split", choices=("val", "all"), default="val", help="only the held-out validation names (default)")
    p.add_argument("--per-source", type=int, default=120, help="at most this many photos from each source")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", type=Path, default=Path("eval.json"))
    p.add_argument("--sheet", type=Path, default=None, help="write a contact sheet PNG")
    p.add_argument("--sheet-rows", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-refine", action="store_true", help="network only: no hint fusion or spreading (rehue.hint_refine)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    colorizer = Colorizer(args.model, provider="cpu", refine_hints=not args.no_refine)
    skipped: list[str] = []
    photos = load_photos(args.folder, args.split, args.limit, args.seed, args.per_source, skipped)
    if skipped:
        log.info("left out %d grayscale photos (no colour to score): %s", len(skipped), ", ".join(skipped[:10]))
    if not photos:
        print(f"no colour photos found in {args.folder}", file=sys.stderr)
        return 2
    if args.sheet:  # interleave sources so the sheet shows faces and scenes
        by_src: dict[str, list] = {}
        for ph in photos:
            by_src.setdefault(data.source_of(ph[0]), []).append(ph)
        mixed = [x for group in zip(*by_src.values()) for x in group]
        photos = mixed + [ph for ph in photos if ph not in mixed]
    result = evaluate(colorizer, photos, args.seed, args.sheet_rows if args.sheet else 0)
    result["summary"]["grayscale_left_out"] = skipped
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
