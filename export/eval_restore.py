"""``rehue-eval-restore``: how well the restore model brings faded colour back, on held-out photos.

Each held-out colour photo (``export.data.is_validation``; ``--split test`` for reported numbers,
``tune`` for choices) is faded by a simulation — by default ``fade_overlay``, the one the network
never trained with — and restored three ways: not at all, by the classical baseline
(``export.fading.classical_restore``) and by the model through the engine's own code
(``rehue.restore.Restorer``, 8-bit, as the app writes it). It prints mean CIEDE2000 to the truth
for each, the share of the faded photo's error removed, and for the *unfaded* photos how much the
model changes them and how often it would call them faded (the app's offer).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from export import data, fading
from rehue import contract, restore

log = logging.getLogger(__name__)

SIMULATIONS = {"overlay": fading.fade_overlay, "dyes": fading.fade_dyes, "generic": fading.fade_generic}


def photo_seed(name: str, seed: int) -> int:
    return int.from_bytes(name.encode("utf-8")[-8:].rjust(8, b"\0"), "little") % (2**31) + seed


def score_photo(restorer: restore.Restorer, truth: np.ndarray, faded: np.ndarray) -> dict[str, float]:
    """ΔE00 to the truth of the faded photo, the classical restoration and ours; our change, fadedness."""
    faded8 = (faded * 255 + 0.5).astype(np.uint8)
    assessment = restorer.assess(faded8)
    ours = contract.to_unit_float(restore.apply(faded8, assessment.transform))
    classical = fading.classical_restore(contract.to_unit_float(faded8))
    de = {k: contract.mean_ciede2000(truth, v) for k, v in (("faded", faded8), ("classical", classical), ("ours", ours))}
    return {**de, "change": assessment.change, "flagged": float(assessment.faded)}


def load_held_out(roots: list[Path], split: str, per_source: int, max_side: int) -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    count: dict[str, int] = defaultdict(int)
    for root in roots:
        for name, blob in data.iter_photos(root):
            if not data.is_validation(name) or data.validation_half(name) != split:
                continue
            src = data.source_of(name)
            if count[src] >= per_source:
                continue
            rgb = data.read_image_bytes(blob)
            if rgb is None or min(rgb.shape[:2]) < 96 or restore.photo_io.is_gray(rgb):
                continue
            count[src] += 1
            out.append((name, data.fit_long_side(rgb, max_side)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-eval-restore", description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--model", type=Path, default=None, help="restore ONNX (default: the shipped one)")
    p.add_argument("--split", choices=("tune", "test"), default="test")
    p.add_argument("--simulation", choices=tuple(SIMULATIONS), default="overlay")
    p.add_argument("--severity", type=float, default=None, help="fixed severity 0..1 (default: drawn per photo)")
    p.add_argument("--per-source", type=int, default=20)
    p.add_argument("--max-side", type=int, default=768)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--sheet", type=Path, default=None, help="before/after sheet: truth, faded, classical, ours")
    p.add_argument("--offer-unfaded", type=float, default=None, metavar="SHARE",
                   help="also print the offer threshold at which this share of the unfaded photos would be offered "
                        "restoration, and the share of faded ones offered then (choose it on the tune half)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    restorer = restore.Restorer(args.model)
    photos = load_held_out(args.folders, args.split, args.per_source, args.max_side)
    fade = SIMULATIONS[args.simulation]
    rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    sheet: list[np.ndarray] = []
    t0 = time.time()
    for name, rgb8 in photos:
        rng = np.random.default_rng(photo_seed(name, args.seed))
        truth = contract.to_unit_float(rgb8)
        faded = fade(truth, rng, args.severity)
        r = score_photo(restorer, truth, faded)
        clean = restorer.assess(rgb8)
        r["clean_change"], r["clean_flagged"] = clean.change, float(clean.faded)
        rows[data.source_of(name)].append(r)
        rows["all"].append(r)
        if args.sheet and len(sheet) < 8 and len(rows[data.source_of(name)]) == 1:
            sheet.append(_sheet_row(truth, faded, restorer))
    keys = ("faded", "classical", "ours", "change", "flagged", "clean_change", "clean_flagged")
    summary = {src: {k: float(np.mean([r[k] for r in rs])) for k in keys} | {"n": len(rs)} for src, rs in rows.items()}
    print(f"{args.simulation} fading, severity {args.severity or 'drawn'}, '{args.split}' split: mean ΔE00 to the truth")
    print(f"{'set':<22}{'n':>4}{'faded':>8}{'classical':>10}{'ours':>7}{'removed':>9}{'flagged':>9}   unfaded: change  flagged")
    for src in ["all", *sorted(k for k in summary if k != "all")]:
        s = summary[src]
        removed = 1 - s["ours"] / max(s["faded"], 1e-6)
        print(f"{src:<22}{s['n']:>4}{s['faded']:>8.2f}{s['classical']:>10.2f}{s['ours']:>7.2f}{100 * removed:>8.0f}%"
              f"{100 * s['flagged']:>8.0f}%   {s['clean_change']:>14.2f}{100 * s['clean_flagged']:>8.0f}%")
    print(f"{len(photos)} photos in {time.time() - t0:.0f} s")
    if args.offer_unfaded is not None:
        threshold, offered = offer_threshold(rows["all"], args.offer_unfaded)
        print(f"offer threshold {threshold:.2f} ΔE00: {100 * args.offer_unfaded:.0f} % of unfaded photos offered, "
              f"{100 * offered:.0f} % of faded ones (the model's own threshold: {restorer.faded_delta_e:.2f})")
    if args.json:
        args.json.write_text(json.dumps({"simulation": args.simulation, "severity": args.severity, "split": args.split,
                                         "summary": summary}, indent=1))
    if args.sheet and sheet:
        cv2.imwrite(str(args.sheet), cv2.cvtColor(np.concatenate(sheet, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    return 0


def offer_threshold(rows: list[dict[str, float]], unfaded_share: float) -> tuple[float, float]:
    """The change (ΔE00) above which ``unfaded_share`` of the unfaded photos would be offered
    restoration, and the share of the faded photos offered at it."""
    threshold = float(np.quantile([r["clean_change"] for r in rows], 1.0 - unfaded_share))
    return threshold, float(np.mean([r["change"] >= threshold for r in rows]))


def _sheet_row(truth: np.ndarray, faded: np.ndarray, restorer: restore.Restorer, size: tuple[int, int] = (300, 200)) -> np.ndarray:
    """One row of the sheet: truth, faded, classical, ours, each cut to 3:2 and resized."""
    faded8 = (faded * 255 + 0.5).astype(np.uint8)
    ours = restore.apply(faded8, restorer.predict(faded8))
    classical = (fading.classical_restore(contract.to_unit_float(faded8)) * 255 + 0.5).astype(np.uint8)
    h, w = truth.shape[:2]
    ch, cw = (h, round(h * 1.5)) if w >= h * 1.5 else (round(w / 1.5), w)
    y, x = (h - ch) // 2, (w - cw) // 2
    tiles = [(truth * 255 + 0.5).astype(np.uint8), faded8, classical, ours]
    return np.concatenate([cv2.resize(t[y:y + ch, x:x + cw], size, interpolation=cv2.INTER_AREA) for t in tiles], 1)


if __name__ == "__main__":
    raise SystemExit(main())
