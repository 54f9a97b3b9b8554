"""Portraits to look at for blotches (issue 22): held-out photos cropped three ways, colorized with
the median decoding model 2.0.0 shipped with and with the propagation the engine now uses, the
pixels the blotch measure flags painted magenta on each, and the truth with its own flags.

    python scripts/blotch_sheet.py OUT.jpg ../shared/data .data/extra --source pixabay_portraits --n 6

Each row: gray | median | median flagged | propagated | propagated flagged | truth flagged, for the
whole photo, its upper half and a close-up of the top third.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from export import data  # noqa: E402
from export.evaluate import contact_sheet, gray_of  # noqa: E402
from export.metrics import blotch_mask, blotch_share, plain_regions  # noqa: E402
from export.tune_propagation import despeckle  # noqa: E402
from rehue import contract  # noqa: E402
from rehue.engine import Chroma, Colorizer  # noqa: E402

MAGENTA = np.array([255, 0, 255], np.uint8)


def flagged(rgb: np.ndarray, regions: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[blotch_mask(rgb, regions)] = MAGENTA
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--source", default="pixabay_portraits")
    p.add_argument("--split", default="test")
    p.add_argument("--n", type=int, default=6)
    args = p.parse_args()
    engine = Colorizer(provider="cpu")
    network = Colorizer(provider="cpu", local_hints=False)
    anneal_t, mute = float(engine.metadata["anneal_t"]), float(engine.metadata.get("mute_gain", 0.0))
    rows, scores = [], []
    for folder in args.folders:
        for name, blob in data.iter_photos(folder):
            if len(rows) >= args.n:
                break
            if data.source_of(name) != args.source or not data.is_validation(name) or data.validation_half(name) != args.split:
                continue
            rgb = data.read_image_bytes(blob)
            if rgb is None:
                continue
            rgb = data.fit_long_side(rgb, 512)
            h, w = rgb.shape[:2]
            row = []
            for crop in (rgb, rgb[: h // 2], rgb[: max(8, h // 3), w // 6: w - w // 6]):
                crop = np.ascontiguousarray(crop)
                gray = gray_of(crop)[..., 0]
                regions = plain_regions(contract.rgb_to_lab(crop)[..., 0])
                prepared = network.prepare(gray)
                ph, pw = prepared.l_work.shape
                raw = network.predict_planes(prepared, np.zeros((2, ph, pw), np.float32), np.zeros((1, ph, pw), np.float32))
                cells = contract.annealed_mean(raw.probs, network.bins, anneal_t, mute)
                median = network.render(gray, Chroma(despeckle(raw.ab, cells), raw.probs, raw.bins))
                new = engine.colorize(gray)
                row += [np.dstack([gray] * 3), median, flagged(median, regions), new, flagged(new, regions), flagged(crop, regions)]
                scores.append((blotch_share(median, regions), blotch_share(new, regions), blotch_share(crop, regions)))
            rows.append(row)
    sheet = contact_sheet(rows, side=130)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    m = 100 * np.mean(scores, axis=0)
    print(f"{len(rows)} photos × 3 crops: blotch median {m[0]:.1f} %, propagated {m[1]:.1f} %, truth {m[2]:.1f} % -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
