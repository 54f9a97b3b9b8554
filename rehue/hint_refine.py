"""Edge-aware hint propagation on top of the network's chroma, in two steps.

The network sees the hints and mostly honours them, but a user who clicks a shirt and picks blue
expects that exact blue on the whole shirt.

1. ``fuse``: the network gives, per 4×4 cell, a distribution over ab bins; often several colours
   are plausible (a shirt may be red or blue). Each hint is treated as a soft observation of the
   colour of the pixels near it with a similar lightness (a joint spatial/range, bilateral,
   weight): it multiplies their distributions by a Gaussian around its colour, which picks the
   right mode instead of averaging modes. The result is decoded exactly as the network decodes
   its own output (``contract.annealed_mean``).
2. ``refine``: each hint's remaining *residual* (its colour minus the fused prediction under it)
   is spread with the same kind of bilateral weight, so the hinted colour itself is reached.

Automatic mode (no hints) is untouched by both.
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
# Fusion: a hint with full weight adds -FUSE_STRENGTH * d² / (2 FUSE_SIGMA_AB²) to the log-probability
# of a bin at ab distance d from its colour. Tuned on the same 139 training photos, model 1.1.0
# (2/10/50 hints: network 24.3/25.3/27.1 dB, residual spreading alone 24.6/26.2/28.4, fusion then
# spreading 25.9/28.5/29.8); the plateau is broad (strength 3-5, sigma_space 0.25-0.4 within 0.2 dB).
FUSE_STRENGTH = 3.0
FUSE_SIGMA_AB = 15.0  # Lab units
FUSE_SIGMA_SPACE = 0.3  # fraction of the working image's long side
FUSE_SIGMA_L = 14.0  # Lab L units


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


def _bilateral_weight(ys: np.ndarray, xs: np.ndarray, lightness: np.ndarray, cx: float, cy: float, l_ref: float,
                      sigma_space: float, sigma_l: float) -> np.ndarray:
    """How much a hint at (cx, cy) with lightness ``l_ref`` speaks for each point of a grid:
    Gaussian in distance (pixels) times Gaussian in lightness difference (Lab L), float32."""
    d2 = (ys - cy) ** 2 + (xs - cx) ** 2
    return np.exp(-d2 / (2 * sigma_space**2) - (lightness - l_ref) ** 2 / (2 * sigma_l**2)).astype(np.float32)


def _cell_means(l_work: np.ndarray, h4: int, w4: int) -> np.ndarray:
    """Mean L of each PROBS_STRIDE cell (edge-padded to the probability grid): (h4, w4)."""
    k = contract.PROBS_STRIDE
    h, w = l_work.shape
    padded = np.pad(l_work, ((0, h4 * k - h), (0, w4 * k - w)), mode="edge")
    return padded.reshape(h4, k, w4, k).mean(axis=(1, 3)).astype(np.float32)


def fuse(probs: np.ndarray, l_work: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray,
         bins: np.ndarray = contract.AB_BINS, strength: float | None = None,
         temperature: float = contract.ANNEAL_T) -> np.ndarray | None:
    """The network's distribution with the hints folded in, decoded to (h, w, 2) ab (Lab units).

    ``probs`` (Q, h4, w4) is the model's ``ab_probs`` for the working image ``l_work`` (h, w);
    returns None when there are no hints.
    """
    regions = hint_regions(hint_ab, hint_mask)
    if not regions:
        return None
    strength = FUSE_STRENGTH if strength is None else strength
    _, h4, w4 = probs.shape
    h, w = l_work.shape
    k = contract.PROBS_STRIDE
    l_cells = _cell_means(l_work, h4, w4)
    ys = (np.arange(h4, dtype=np.float32)[:, None] + 0.5) * k - 0.5
    xs = (np.arange(w4, dtype=np.float32)[None, :] + 0.5) * k - 0.5
    sigma_s = FUSE_SIGMA_SPACE * max(h, w)
    weights = np.empty((len(regions), h4, w4), np.float32)
    colours = np.empty((len(regions), 2), np.float32)
    for i, (cx, cy, colour, m) in enumerate(regions):
        weights[i] = _bilateral_weight(ys, xs, l_cells, cx, cy, float(l_work[m].mean()), sigma_s, FUSE_SIGMA_L)
        colours[i] = colour
    # sum_k w_k |b - c_k|^2 = |b|^2 W - 2 b . sum_k w_k c_k + (a per-cell constant, which the
    # softmax ignores): one (Q, 3) x (3, cells) product whatever the number of hints, through einsum
    # rather than BLAS (OpenBLAS's threads busy-wait after a call: the next network run lost 15 ms).
    cell_terms = np.concatenate([weights.sum(axis=0)[None], np.einsum("kyx,kc->cyx", weights, colours)])  # (3, h4, w4)
    b = bins.astype(np.float32)
    bin_terms = np.stack([(b**2).sum(1), -2 * b[:, 0], -2 * b[:, 1]], 1) * np.float32(strength / (2 * FUSE_SIGMA_AB**2))
    log_post = np.maximum(probs, 1e-8)
    np.log(log_post, out=log_post)
    log_post -= np.einsum("qc,cyx->qyx", bin_terms, cell_terms)
    ab_cells = contract.annealed_mean(log_post, bins, temperature)
    # Same upsampling as the network's own ab output: bilinear, half-pixel centres, then crop.
    return cv2.resize(ab_cells, (w4 * k, h4 * k), interpolation=cv2.INTER_LINEAR)[:h, :w]


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
        wgt = _bilateral_weight(ys, xs, l_work, cx, cy, float(l_work[m].mean()), sigma_s, SIGMA_L)
        num += wgt[..., None] * residual.astype(np.float32)
        den += wgt
    out = ab + num / np.maximum(den, floor)[..., None]
    out[hint_mask[0] > 0] = contract.denormalise_ab(hint_ab[:, hint_mask[0] > 0]).T  # hints exact
    return out.astype(np.float32)
