"""Image quality numbers for colorization: PSNR, SSIM, CIEDE2000 and colourfulness.

All take 8-bit sRGB arrays (H, W, 3) uint8 so that every model and baseline is scored on what a
user would see.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rehue import contract


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


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference per pixel between two (..., 3) Lab arrays (Sharma et al. 2005)."""
    L1, a1, b1 = (lab1[..., i].astype(np.float64) for i in range(3))
    L2, a2, b2 = (lab2[..., i].astype(np.float64) for i in range(3))
    C1, C2 = np.hypot(a1, b1), np.hypot(a2, b2)
    Cm = (C1 + C2) / 2
    G = 0.5 * (1 - np.sqrt(Cm**7 / (Cm**7 + 25.0**7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp = L2 - L1
    dCp = C2p - C1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(C1p * C2p == 0, 0, dh)
    dHp = 2 * np.sqrt(C1p * C2p) * np.sin(np.radians(dh) / 2)
    Lpm = (L1 + L2) / 2
    Cpm = (C1p + C2p) / 2
    hsum = h1p + h2p
    hpm = np.where(np.abs(h1p - h2p) > 180, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2), hsum / 2)
    hpm = np.where(C1p * C2p == 0, hsum, hpm)
    T = (1 - 0.17 * np.cos(np.radians(hpm - 30)) + 0.24 * np.cos(np.radians(2 * hpm))
         + 0.32 * np.cos(np.radians(3 * hpm + 6)) - 0.20 * np.cos(np.radians(4 * hpm - 63)))
    d_theta = 30 * np.exp(-(((hpm - 275) / 25) ** 2))
    Rc = 2 * np.sqrt(Cpm**7 / (Cpm**7 + 25.0**7))
    Sl = 1 + 0.015 * (Lpm - 50) ** 2 / np.sqrt(20 + (Lpm - 50) ** 2)
    Sc = 1 + 0.045 * Cpm
    Sh = 1 + 0.015 * Cpm * T
    Rt = -np.sin(np.radians(2 * d_theta)) * Rc
    return np.sqrt((dLp / Sl) ** 2 + (dCp / Sc) ** 2 + (dHp / Sh) ** 2 + Rt * (dCp / Sc) * (dHp / Sh))


def mean_ciede2000(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 between two 8-bit RGB images."""
    return float(ciede2000(contract.rgb_to_lab(a), contract.rgb_to_lab(b)).mean())


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
