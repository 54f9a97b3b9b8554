"""Image quality numbers for colorization: PSNR, SSIM, CIEDE2000 and colourfulness.

All take 8-bit sRGB arrays (H, W, 3) uint8 so that every model and baseline is scored on what a
user would see.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rehue import contract
from rehue.contract import ciede2000, mean_ciede2000  # noqa: F401 - one implementation, shared with the engine (rehue.restore)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two 8-bit RGB images."""
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over the RGB channels (Gaussian window σ=1.5, Wang et al. 2004 constants)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(3):
        x = a[..., ch].astype(np.float64)
        y = b[..., ch].astype(np.float64)

        def blur(z: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(z, (11, 11), 1.5)

        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        vals.append(m.mean())
    return float(np.mean(vals))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of an 8-bit RGB image (0 for gray)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


# The blotch measure (issue 22): plain regions should agree with themselves. A region is a
# connected patch of smooth lightness within one band of BLOTCH_BAND L units (so a face and a dark
# backdrop never share one); a pixel is a blotch when its colour, at its own lightness, lies more
# than BLOTCH_DE00 CIEDE2000 from its region's median colour. Gray scores 0; real colour photos a
# few per cent (their true variation), so truth's score is reported beside every model's.
BLOTCH_BAND = 12.0
BLOTCH_DE00 = 6.0
BLOTCH_SMOOTH = 1.5  # L units per pixel (after a σ = 1 px blur): steeper is an edge or texture, not a plain region
BLOTCH_MIN_REGION = 0.002  # regions below this share of the photo (and 64 px) are left out


def plain_regions(l_channel: np.ndarray) -> np.ndarray:
    """(H, W) L in [0, 100] -> (H, W) int32 region labels, 0 where no plain region is."""
    smooth = cv2.GaussianBlur(l_channel.astype(np.float32), (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    flat = grad < BLOTCH_SMOOTH
    bands = np.floor(l_channel / BLOTCH_BAND).astype(np.int32)
    labels = np.zeros(l_channel.shape, np.int32)
    min_area = max(64, int(BLOTCH_MIN_REGION * l_channel.size))
    next_label = 1
    for band in np.unique(bands[flat]):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((flat & (bands == band)).astype(np.uint8), connectivity=4)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] >= min_area:
                labels[comp == k] = next_label
                next_label += 1
    return labels


def blotch_mask(rgb: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of plain regions whose colour is a blotch (see BLOTCH_DE00)."""
    lab = contract.rgb_to_lab(rgb)
    out = np.zeros(regions.shape, bool)
    idx = regions.ravel()
    order = np.argsort(idx, kind="stable")
    bounds = np.searchsorted(idx[order], np.arange(1, regions.max() + 2))
    flat_lab = lab.reshape(-1, 3)
    flat_out = out.reshape(-1)
    for k in range(len(bounds) - 1):
        pix = order[bounds[k]:bounds[k + 1]]
        if not len(pix):
            continue
        own = flat_lab[pix]
        median = np.median(own[:, 1:], axis=0)
        ref = np.column_stack([own[:, 0], np.broadcast_to(median, (len(pix), 2))])
        flat_out[pix] = ciede2000(own, ref) > BLOTCH_DE00
    return out


def blotch_share(rgb: np.ndarray, regions: np.ndarray) -> float:
    """Share of the plain regions' pixels that are blotches (0 when the photo has no plain region)."""
    covered = int((regions > 0).sum())
    return float(blotch_mask(rgb, regions).sum() / covered) if covered else 0.0
