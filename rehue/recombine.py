"""Put the predicted chroma back on the photo's own full-resolution lightness.

The model predicts ab at a working resolution of a few hundred pixels. Here that ab is upsampled
(bilinearly, half-pixel centres) strip by strip, scaled by the strength, limited to the chroma the
sRGB gamut holds at each pixel's lightness and hue (so dark and bright areas never turn into
clipped red or cyan), and combined with the original L. Working in strips bounds the extra memory
to a few rows, whatever the photo's size, and the result is written into the caller's buffer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from rehue import contract

STRIP_ROWS = 256
GAMUT_MARGIN = 0.96
_HUE_STEP = 2  # degrees per LUT column


def _lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    """Unclipped Lab (D65) -> linear sRGB, (..., 3) float64: used only to build the gamut table."""
    light, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (light + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200

    def finv(t: np.ndarray) -> np.ndarray:
        return np.where(t > 6 / 29, t**3, 3 * (6 / 29) ** 2 * (t - 4 / 29))

    xyz = np.stack([0.950456 * finv(fx), finv(fy), 1.088754 * finv(fz)], -1)
    m = np.array([[3.240479, -1.53715, -0.498535], [-0.969256, 1.875992, 0.041556], [0.055648, -0.204043, 1.057311]])
    return xyz @ m.T


def _max_chroma_table() -> np.ndarray:
    """(101, 180) float32: the largest chroma inside sRGB for each integer L and 2° hue step."""
    ls = np.arange(101, dtype=np.float64)[:, None]
    hues = np.deg2rad(np.arange(0, 360, _HUE_STEP, dtype=np.float64))[None, :]
    lo = np.zeros((101, len(hues[0])))
    hi = np.full_like(lo, 150.0)
    for _ in range(24):
        mid = (lo + hi) / 2
        lab = np.stack(np.broadcast_arrays(ls, mid * np.cos(hues), mid * np.sin(hues)), -1)
        rgb = _lab_to_linear_rgb(lab)
        inside = ((rgb >= -1e-4) & (rgb <= 1 + 1e-4)).all(-1)
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return (lo * GAMUT_MARGIN).astype(np.float32)


MAX_CHROMA = _max_chroma_table()
# Flat copy with the 0° column repeated at 360°, indexed by round(L) * 181 + round(hue / 2).
_MAX_CHROMA_FLAT = np.ascontiguousarray(np.hstack([MAX_CHROMA, MAX_CHROMA[:, :1]])).ravel()


def chroma_scale(l_channel: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel factor (<= 1) that brings (a, b) inside sRGB at lightness L.

    All (h, w) float32 contiguous; L in [0, 100], a/b in Lab units.
    """
    chroma, angle = cv2.cartToPolar(a, b, angleInDegrees=True)
    li = cv2.convertScaleAbs(l_channel)  # round(L) as uint8, 0..100
    hi = cv2.convertScaleAbs(angle, alpha=1.0 / _HUE_STEP)  # round(hue / 2), 0..180
    idx = li.astype(np.int32)
    idx *= MAX_CHROMA.shape[1] + 1
    idx += hi.astype(np.int32)
    cmax = _MAX_CHROMA_FLAT.take(idx)
    np.maximum(chroma, np.float32(1e-6), out=chroma)
    scale = cv2.divide(cmax, chroma)
    np.minimum(scale, np.float32(1.0), out=scale)
    return scale


def limit_to_gamut(l_channel: np.ndarray, ab: np.ndarray) -> None:
    """Scale each pixel's chroma down, in place, to what sRGB can show at its L and hue.

    ``l_channel`` (h, w) float32 in [0, 100]; ``ab`` (h, w, 2) float32 in Lab units.
    """
    a = np.ascontiguousarray(ab[..., 0])
    b = np.ascontiguousarray(ab[..., 1])
    ab *= chroma_scale(np.ascontiguousarray(l_channel, dtype=np.float32), a, b)[..., None]


def _l_lut(dtype: np.dtype) -> np.ndarray:
    """L for every gray level: a gray pixel's L is a function of its value alone."""
    n = 256 if dtype == np.uint8 else 65536
    levels = np.arange(n, dtype=np.float32) / (n - 1)
    rgb = np.repeat(levels[None, :, None], 3, axis=2)  # (1, n, 3)
    return contract.rgb_to_l(rgb)[0].astype(np.float32)


_L_LUTS: dict[str, np.ndarray] = {}


def lightness(pixels: np.ndarray) -> np.ndarray:
    """L in [0, 100], (H, W) float32, for gray (H, W) or RGB (H, W, 3) uint8/uint16 pixels."""
    if pixels.ndim == 2:
        key = str(pixels.dtype)
        if key not in _L_LUTS:
            _L_LUTS[key] = _l_lut(pixels.dtype)
        return _L_LUTS[key][pixels]
    return contract.rgb_to_l(pixels)


def upsample_ab(ab_work: np.ndarray, full_w: int, full_h: int, y0: int, y1: int) -> np.ndarray:
    """Rows y0..y1 of ab_work (h, w, 2) resized to (full_h, full_w): (y1-y0, full_w, 2) float32.

    Same sampling as cv2.resize's bilinear mode, but for one strip at a time.
    """
    h, w = ab_work.shape[:2]
    map_x = ((np.arange(full_w, dtype=np.float32) + 0.5) * (w / full_w) - 0.5)[None, :]
    map_y = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * (h / full_h) - 0.5)[:, None]
    mx, my = np.broadcast_to(map_x, (y1 - y0, full_w)), np.broadcast_to(map_y, (y1 - y0, full_w))
    return cv2.remap(ab_work, np.ascontiguousarray(mx), np.ascontiguousarray(my), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def recombine(
    pixels: np.ndarray,
    ab_work: np.ndarray,
    strength: float = 1.0,
    out: np.ndarray | None = None,
    *,
    threads: int = 2,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Colour photo from its own L and the working-resolution chroma.

    ``pixels``: (H, W) or (H, W, 3), uint8 or uint16. ``ab_work``: (h, w, 2) float32 Lab units.
    Returns (H, W, 3) of the input's dtype. ``out`` may be a preallocated (H, W, 3) array of that
    dtype; for RGB input it may be ``pixels`` itself (in place: each strip is read before it is
    overwritten), which keeps a 50-megapixel scan within one copy of memory. ``progress`` gets
    the fraction of rows done after each strip (a 50 MP save takes seconds).
    """
    H, W = pixels.shape[:2]
    dtype = pixels.dtype
    if out is None:
        out = np.empty((H, W, 3), dtype=dtype)
    peak = 255.0 if dtype == np.uint8 else 65535.0
    ab_work = np.ascontiguousarray(ab_work, dtype=np.float32)

    n_strips = -(-H // STRIP_ROWS)
    finished = [0]
    lock = threading.Lock()

    def strip(y0: int) -> None:
        if should_stop is not None and should_stop():
            return
        y1 = min(H, y0 + STRIP_ROWS)
        l_ch = lightness(pixels[y0:y1])
        a, b = cv2.split(upsample_ab(ab_work, W, H, y0, y1))
        if strength != 1.0:
            a *= np.float32(strength)
            b *= np.float32(strength)
        scale = chroma_scale(l_ch, a, b)
        a *= scale
        b *= scale
        rgb = contract.lab_to_rgb(cv2.merge([l_ch, a, b]))  # (rows, W, 3) float32 in [0, 1]
        out[y0:y1] = cv2.convertScaleAbs(rgb, alpha=peak) if dtype == np.uint8 else (rgb * np.float32(peak) + np.float32(0.5)).astype(dtype)
        if progress is not None:
            with lock:
                finished[0] += 1
                done = finished[0]
            progress(done / n_strips)

    starts = range(0, H, STRIP_ROWS)
    if threads > 1 and H > STRIP_ROWS:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(strip, starts))
    else:
        for y0 in starts:
            strip(y0)
    return out
