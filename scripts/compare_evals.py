"""Per-source comparison of rehue-eval JSONs on the photos they share (a subset run against a full one).

    python scripts/compare_evals.py BASE.json CAND.json [CAND2.json ...]

Prints, per source: photos, Δ dB over gray (automatic), ΔE00, colourfulness (truth's), ten hints' Δ dB,
and the share of photos worse than gray by more than 1 dB, for each file, over the same photos.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np


def load(path: str) -> dict[str, dict]:
    return {p["name"]: p for p in json.load(open(path))["per_image"]}


def row(items: list[dict]) -> dict[str, float]:
    d = np.array([p["auto"]["psnr"] - p["gray"]["psnr"] for p in items])
    h = [p["hints_psnr"]["10"] - p["gray"]["psnr"] for p in items if "10" in p.get("hints_psnr", {})]
    return {"db": d.mean(), "de": np.mean([p["auto"]["ciede2000"] for p in items]),
            "col": np.mean([p["auto"]["colourfulness"] for p in items]), "truth": np.mean([p["truth_colourfulness"] for p in items]),
            "h10": np.mean(h) if h else float("nan"), "worse": (d < -1).mean() * 100}


def main() -> int:
    runs = [load(p) for p in sys.argv[1:]]
    common = sorted(set.intersection(*(set(r) for r in runs)))
    by_src: dict[str, list[str]] = defaultdict(list)
    for n in common:
        by_src[runs[0][n]["source"]].append(n)
    groups = [("all", common)] + sorted(by_src.items())
    print(f"{'source':22s} {'n':>4s}  " + "  |  ".join(f"Δ dB  ΔE00  col  h10  worse ({i})" for i in range(len(runs))) + "  truth col")
    for src, names in groups:
        cells = []
        for r in runs:
            x = row([r[n] for n in names])
            cells.append(f"{x['db']:+5.2f} {x['de']:5.2f} {x['col']:4.1f} {x['h10']:+5.2f} {x['worse']:4.0f}%")
        print(f"{src:22s} {len(names):4d}  " + "  |  ".join(cells) + f"  {x['truth']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
