"""Per-source comparison of rehue-eval JSONs on the photos they share (a subset run against a full one).

    python scripts/compare_evals.py BASE.json CAND.json [CAND2.json ...]

Prints, per source: photos, Δ dB over gray (automatic), ΔE00, colourfulness (truth's), ten hints' Δ dB,
and the share of photos worse than gray by more than 1 dB, for each file, over the same photos
(rehue-eval's own summary of those photos).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from export.evaluate import summarise  # noqa: E402


def main() -> int:
    runs = [{p["name"]: p for p in json.loads(Path(f).read_text())["per_image"]} for f in sys.argv[1:]]
    common = sorted(set.intersection(*(set(r) for r in runs)))
    summaries = [summarise([r[n] for n in common], hint_counts=(0, 10)) for r in runs]
    print(f"{'source':22s} {'n':>4s}  " + "  |  ".join(f"Δ dB  ΔE00  col  h10  worse ({i})" for i in range(len(runs))) + "  truth col")
    for src in summaries[0]:
        cells = []
        for s in summaries:
            b = s[src]
            gray = b["gray"]["psnr"]
            cells.append(f"{b['auto']['psnr'] - gray:+5.2f} {b['auto']['ciede2000']:5.2f} {b['auto']['colourfulness']:4.1f} "
                         f"{b['psnr_vs_hints']['10'] - gray:+5.2f} {100 * b['worse_than_gray_share']:4.0f}%")
        print(f"{src:22s} {summaries[0][src]['images']:4d}  " + "  |  ".join(cells) + f"  {summaries[0][src]['truth_colourfulness']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
