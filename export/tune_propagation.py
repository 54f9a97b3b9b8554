"""Choose the automatic chroma's decoding on the ``tune`` half (issue 22): the graph's own answer,
the 5×5 median the engine shipped with, and confidence-weighted propagation (``rehue.propagate``)
over a grid of its parameters; per source PSNR, ΔE00, colourfulness and the blotch measure, truth's
blotch beside. The network runs once per photo; each decoding is then numpy only.

    python -m export.tune_propagation ../shared/data .data/extra --split tune --per-source 15 \\
        --smoothness 2,4,8 --sigma 3,6 --power 2,4 --mute 0.25,0.5 --json tune.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from export import data
from export.evaluate import EVAL_MAX_SIDE, gray_of, load_photos
from export.metrics import blotch_share, colourfulness, mean_ciede2000, plain_regions, psnr
from rehue import contract, propagate
from rehue.engine import Chroma, Colorizer

# The decoding the engine shipped before propagation (model 2.0.0's card): a median over 5×5 of
# the network's 4×4-pixel cells, kept here as the baseline to beat.
DESPECKLE_CELLS = 5


def despeckle(ab: np.ndarray, cells_ab: np.ndarray, window: int = DESPECKLE_CELLS) -> np.ndarray:
    """(h, w, 2) chroma at working resolution, the bilinear upsampling of ``cells_ab`` (hc, wc, 2),
    the chroma per 4×4 cell -> the same with specks smaller than about half of ``window`` ×
    ``window`` cells given their surroundings' colour (a median per cell)."""
    hc, wc = cells_ab.shape[:2]
    if min(hc, wc) < window:
        return ab
    med = np.dstack([cv2.medianBlur(np.ascontiguousarray(cells_ab[..., i]), window) for i in range(2)])
    return propagate.upsampled_change(ab, cells_ab, med)


def decodings(smooth: list[float], sigma: list[float], power: list[float], mute: list[float]) -> dict[str, dict]:
    """The baselines and propagation over the grid of its parameters."""
    out: dict[str, dict] = {"graph": {}, "median": {"median": True}}
    for s, sg, pw, m in itertools.product(smooth, sigma, power, mute):
        out[f"prop λ{s:g} σ{sg:g} p{pw:g} mute{m:g}"] = {"smoothness": s, "l_sigma": sg, "power": pw, "mute": m}
    return out


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tune_propagation", description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--split", default="tune", choices=("tune", "test"))
    p.add_argument("--per-source", type=int, default=40)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--smoothness", type=_floats, default=[propagate.SMOOTHNESS], help="λ values, comma-separated")
    p.add_argument("--sigma", type=_floats, default=[propagate.L_SIGMA], help="σ values (L units)")
    p.add_argument("--power", type=_floats, default=[propagate.SURE_POWER], help="confidence exponents")
    p.add_argument("--mute", type=_floats, default=[propagate.MUTE_GAIN], help="muting gains before propagation")
    p.add_argument("--json", type=Path, default=Path("tune_propagation.json"))
    args = p.parse_args(argv)
    colorizer = Colorizer(args.model, provider="cpu", local_hints=False)
    anneal_t, graph_mute = float(colorizer.metadata["anneal_t"]), float(colorizer.metadata.get("mute_gain", 0.0))
    photos = [ph for folder in args.folders for ph in load_photos(folder, args.split, None, 0, args.per_source)]
    print(f"{len(photos)} photos of the '{args.split}' half", file=sys.stderr)
    cases = []
    for name, rgb in photos:
        truth = data.fit_long_side(rgb, EVAL_MAX_SIDE)
        gray = gray_of(truth)
        l_only = np.ascontiguousarray(gray[..., 0])
        regions = plain_regions(contract.rgb_to_lab(truth)[..., 0])
        prepared = colorizer.prepare(l_only)
        h, w = prepared.l_work.shape
        raw = colorizer.predict_planes(prepared, np.zeros((2, h, w), np.float32), np.zeros((1, h, w), np.float32))
        cases.append((name, truth, gray, l_only, regions, prepared, raw))
    table: dict[str, dict] = {}
    for label, cfg in decodings(args.smoothness, args.sigma, args.power, args.mute).items():
        t0 = time.perf_counter()
        per: dict[str, list] = {}
        for name, truth, gray, l_only, regions, prepared, raw in cases:
            probs = raw.probs
            unmuted, entropy = contract.anneal_and_entropy(probs, colorizer.bins, anneal_t)
            graph_cells = contract.mute(unmuted, entropy, graph_mute)
            if cfg.get("median"):
                ab = despeckle(raw.ab, graph_cells)
            elif cfg:
                new = propagate.consistent_cells(unmuted, entropy, prepared.l_work, cfg["mute"], cfg["power"],
                                                 smoothness=cfg["smoothness"], l_sigma=cfg["l_sigma"])
                ab = propagate.upsampled_change(raw.ab, graph_cells, new)
            else:
                ab = raw.ab
            out = colorizer.render(l_only, Chroma(ab, probs, colorizer.bins))
            per.setdefault(data.source_of(name), []).append(
                (psnr(out, truth) - psnr(gray, truth), mean_ciede2000(out, truth), colourfulness(out), blotch_share(out, regions),
                 blotch_share(truth, regions), mean_ciede2000(gray, truth), colourfulness(truth)))
        ms = (time.perf_counter() - t0) / len(cases) * 1000
        table[label] = {src: dict(zip(("d_psnr", "de00", "colourfulness", "blotch", "truth_blotch", "gray_de00", "truth_colourfulness"),
                                      np.mean(v, axis=0).round(4).tolist())) | {"n": len(v), "worst_d_psnr": float(np.min([x[0] for x in v]))}
                        for src, v in per.items()}
        allv = [x for v in per.values() for x in v]
        table[label]["all"] = dict(zip(("d_psnr", "de00", "colourfulness", "blotch", "truth_blotch"), np.mean(allv, axis=0)[:5].round(4).tolist()))
        a = table[label]["all"]
        print(f"{label:<34} Δ {a['d_psnr']:+.3f} dB  ΔE00 {a['de00']:.2f}  colourf. {a['colourfulness']:.1f}  "
              f"blotch {100 * a['blotch']:.1f} % (truth {100 * a['truth_blotch']:.1f} %)  {ms:.0f} ms/photo", flush=True)
    args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
