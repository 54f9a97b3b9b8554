"""A contact sheet of grayscale portraits at several sizes, colorized automatically, to look at.

    python scripts/portrait_sheet.py ../shared/data OUT.jpg [--n 8] [--model models/rehue-colorizer.onnx]

People photos of the held-out 'test' split (never trained on, never tuned on) are cropped three ways
— the whole photo (a whole person in a street or room), the upper half (head and shoulders), and a
close-up of the top third (the face) — turned gray and colorized as the app does. Each row: gray |
automatic | truth for the three crops.
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
from rehue.engine import Colorizer  # noqa: E402


def crops(rgb: np.ndarray) -> list[np.ndarray]:
    h, w = rgb.shape[:2]
    upper = rgb[: h // 2]
    face = rgb[: max(8, h // 3), w // 6 : w - w // 6]
    return [rgb, upper, face]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--model", default=None)
    p.add_argument("--source", default="people")
    p.add_argument("--split", default="test")
    args = p.parse_args()
    colorizer = Colorizer(args.model, provider="cpu")
    rows = []
    for name, blob in data.iter_photos(args.data):
        if data.source_of(name) != args.source or not data.is_validation(name) or data.validation_half(name) != args.split:
            continue
        rgb = data.read_image_bytes(blob)
        if rgb is None:
            continue
        row = []
        for crop in crops(data.fit_long_side(rgb, 512)):
            gray = gray_of(np.ascontiguousarray(crop))[..., 0]
            row += [np.dstack([gray] * 3), colorizer.colorize(gray), crop]
        rows.append(row)
        if len(rows) >= args.n:
            break
    sheet = contact_sheet(rows, side=150)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"{len(rows)} photos × 3 crops (gray | automatic | truth): {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
