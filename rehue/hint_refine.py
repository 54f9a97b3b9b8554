"""Edge-aware hint propagation on top of the network's chroma.

The network sees the hints and mostly honours them, but a user who clicks a shirt and picks blue
expects that exact blue on the whole shirt. Here each hint's *residual* (its colour minus what the
network predicted under it) is spread to the pixels near it that have a similar lightness, with a
joint spatial/range (bilateral) weight. Where the network already agrees with a hint the residual
is zero and nothing changes; automatic mode (no hints) is untouched.
"""

from __future__ import annotations

import cv2
import numpy as np

from rehue import contract

# Tuned on 139 *training* photos (not the validation split) with Zhang 2017's simulated hints,
# model 1.1.0: at 10 hints, 0.12/7/1.0 gave +0.28 dB over the network alone, these +0.68 dB, while
# a 50-unit lightness edge still stops the spread (tests/test_engine.py).
SIGMA_SPACE = 0.2  # fraction of the working image's long side
SIGMA_L = 10.0  # Lab L units
WEIGHT_FLOOR = 0.3  # total bilateral weight below which a pixel takes only part of the residual
MAX_HINTS = 200


def hint_regions(hint_ab: np.ndarray, hint_mask: np.ndarray) -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """Connected hint patches: (cx, cy, ab in Lab units (2,), boolean mask (h, w))."""
    mask = (hint_mask[0] > 0).astype(np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=4)
    regions = []
    for k in range(1, min(n, MAX_HINTS + 1)):
        m = labels == k
        ys, xs = np.nonzero(m)
        ab = contract.denormalise_ab(hint_ab[:, m].mean(axis=1))
        regions.append((float(xs.mean()), float(ys.mean()), ab, m))
    return regions


def refine(ab: np.ndarray, l_work: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray,
           floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """Spread hint residuals; ``ab`` (h, w, 2) Lab units, ``l_work`` (h, w); returns a new array.

    Each pixel gets the weighted mean of the hint residuals, divided by max(total weight, ``floor``):
    pixels far (in space or lightness) from every hint get a fraction of it, fading to nothing.
    """
    regions = hint_regions(hint_ab, hint_mask)
    if not regions:
        return ab
    h, w = l_work.shape
    sigma_s = SIGMA_SPACE * max(h, w)
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    num = np.zeros((h, w, 2), np.float32)
    den = np.zeros((h, w), np.float32)
    for cx, cy, hint_colour, m in regions:
        residual = hint_colour - ab[m].mean(axis=0)
        l_ref = float(l_work[m].mean())
        wgt = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma_s**2) - (l_work - l_ref) ** 2 / (2 * SIGMA_L**2)).astype(np.float32)
        num += wgt[..., None] * residual.astype(np.float32)
        den += wgt
    out = ab + num / np.maximum(den, floor)[..., None]
    out[hint_mask[0] > 0] = contract.denormalise_ab(hint_ab[:, hint_mask[0] > 0]).T  # hints exact
    return out.astype(np.float32)
