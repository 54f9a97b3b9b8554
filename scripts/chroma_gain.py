"""Would scaling the chroma buy colourfulness? (issues 22 and 27: colourfulness under the bar.)

    .venv/bin/python scripts/chroma_gain.py [MODEL]     # from the repository root; the tune half only

Renders each `tune` photo (at most 30 per source) at chroma strengths 1.0-1.45 (the engine's own
scale, ``Colorizer.render``) and prints PSNR / ΔE00 / colourfulness per source and overall.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

STRENGTHS = (1.0, 1.1, 1.2, 1.3, 1.45)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from export import evaluate as ev
    from export.metrics import colourfulness, mean_ciede2000, psnr
    from rehue.engine import Colorizer

    colorizer = Colorizer(sys.argv[1] if len(sys.argv) > 1 else None, provider="cpu")
    rows: dict[str, dict[float, list[tuple[float, float, float]]]] = defaultdict(lambda: defaultdict(list))
    truth_colour: dict[str, list[float]] = defaultdict(list)
    for root in (Path("../shared/data"), Path(".data/extra")):
        for name, truth in ev.load_photos(root, "tune", None, 0, 30):
            source = name.split("/")[0]
            gray = ev.gray_of(truth)
            chroma = colorizer.predict(colorizer.prepare(gray))
            for s in STRENGTHS:
                out = colorizer.render(gray, chroma, s)
                rows[source][s].append((psnr(out, truth), mean_ciede2000(out, truth), colourfulness(out)))
            truth_colour[source].append(colourfulness(truth))

    def cell(values: list[tuple[float, float, float]]) -> str:
        a = np.array(values)
        return f"{a[:, 0].mean():.2f}/{a[:, 1].mean():.2f}/{a[:, 2].mean():.1f}"

    print("source  n  strength: PSNR/ΔE00/colourfulness ...  truth's colourfulness")
    for source, by_strength in sorted(rows.items()):
        cells = "  ".join(f"{s}: {cell(by_strength[s])}" for s in STRENGTHS)
        print(f"{source}  {len(by_strength[1.0])}  {cells}  truth {np.mean(truth_colour[source]):.1f}")
    every = {s: [v for d in rows.values() for v in d[s]] for s in STRENGTHS}
    print("all", "  ".join(f"{s}: {cell(every[s])}" for s in STRENGTHS))


if __name__ == "__main__":
    main()
