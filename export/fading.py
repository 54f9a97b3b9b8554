"""How colour prints fade, simulated twice, and the classical way to restore them (issue 24).

``fade_dyes`` and ``fade_generic`` are what the restore network trains on: a print is three dye layers (cyan, magenta,
yellow) whose optical densities fade by different amounts (cyan most, as in the chromogenic prints
of the 1950s–80s), leak into each other, and sit on a yellowing paper whose black lifts and whose
contrast flattens; then some blur and grain.

``fade_overlay`` is the *held-out* simulation, a different model with different parameters, so
that a restoration that merely learned to invert ``fade_dyes`` is found out: per-channel gamma and
gain in sRGB, a partial mix toward the luminance (lost saturation), a stain colour laid over the
print in a multiply blend, lifted blacks, and JPEG-like softness.

``classical_restore`` is the baseline that a restoration must beat: each channel stretched between
robust percentiles (which undoes a cast and the lost contrast), gray-world balance, and the lost
saturation given back.
"""

from __future__ import annotations

import cv2
import numpy as np

from rehue import contract, restore


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def _blur_and_grain(rgb: np.ndarray, rng: np.random.Generator, blur: float, grain: float) -> np.ndarray:
    if blur > 0.3:
        rgb = cv2.GaussianBlur(rgb, (0, 0), blur)
    if grain > 0:
        rgb = rgb + rng.normal(0.0, grain, rgb.shape[:2])[..., None].astype(np.float32) * rng.uniform(0.6, 1.0, 3).astype(np.float32)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def fade_dyes(rgb: np.ndarray, rng: np.random.Generator, severity: float | None = None) -> np.ndarray:
    """Training's fading: (H, W, 3) float32 sRGB in [0, 1] -> the same photo as a faded print.

    Everything happens to optical densities (the dyes), as it does on paper: each dye keeps a
    random share of its density (cyan usually least), its tone curve bends (a density power), the
    dyes leak into each other's channels (lost saturation), the contrast flattens, the paper takes
    a stain of any hue (yellow most often) and the deepest black lifts; then blur and grain.
    ``severity`` in [0, 1] scales every effect (None: drawn, so mild and strong fades both occur)."""
    s = float(rng.uniform(0.15, 1.0)) if severity is None else float(severity)
    density = -np.log10(np.clip(_srgb_to_linear(rgb.astype(np.float64)), 1e-3, 1.0))  # R, G, B densities: cyan, magenta, yellow dye
    if rng.random() < 0.6:  # the chromogenic classic: cyan fades most
        lost = np.array([rng.uniform(0.3, 0.75), rng.uniform(0.0, 0.4), rng.uniform(0.05, 0.5)])
    else:  # any dye may have gone first (storage, light, other processes), or built up (a dense print, a stain in the dye)
        lost = rng.uniform(-0.5, 0.7, 3)
    keep = 1.0 - s * lost
    bend = np.exp(s * rng.uniform(-0.35, 0.35, 3))  # each dye's tone curve: D -> D0 (D / D0) ** bend
    faded = 0.8 * (density / 0.8) ** bend * keep
    leak = s * rng.uniform(0.0, 1.0) * rng.dirichlet(np.ones(3), size=3)
    np.fill_diagonal(leak, 0.0)
    mix = np.eye(3) + leak
    faded = (faded @ mix.T) / mix.sum(axis=1)  # a dye's density leaks into the others' channels
    faded *= 1.0 - s * rng.uniform(0.0, 0.4)  # contrast flattens
    hue = np.array([0.02, 0.06, 0.3]) if rng.random() < 0.5 else rng.dirichlet(np.ones(3) * 0.7) * 0.35  # yellow, or any stain
    faded += s * rng.uniform(0.1, 1.0) * hue
    dmax = 3.0 - s * rng.uniform(0.5, 2.3)  # the deepest black lifts
    faded = dmax * np.tanh(faded / dmax)
    out = _linear_to_srgb(10.0 ** -faded).astype(np.float32)
    return _blur_and_grain(out, rng, float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 0.02)))


def fade_generic(rgb: np.ndarray, rng: np.random.Generator, severity: float | None = None) -> np.ndarray:
    """Training's second fading: any global change of colour, in linear light — a random monotone
    curve per channel (a spline through random points, not a power law), a random crosstalk
    matrix (lost or shifted saturation), a random tint and lifted black — so that the network
    learns to undo global colour changes in general, not one model of them. Then blur and grain."""
    s = float(rng.uniform(0.15, 1.0)) if severity is None else float(severity)
    lin = _srgb_to_linear(rgb.astype(np.float64))
    knots = np.linspace(0.0, 1.0, 6)
    out = np.empty_like(lin)
    for c in range(3):
        rise = rng.dirichlet(np.ones(5) * 1.5) * (1.0 - s * rng.uniform(0.0, 0.5))  # steps of a random monotone curve
        ys = np.concatenate([[0.0], np.cumsum(rise)])
        ys = (1 - s) * knots + s * ys  # severity moves it away from the identity
        out[..., c] = np.interp(lin[..., c], knots, ys)
    mix = np.eye(3) + s * rng.uniform(0.0, 0.8) * rng.dirichlet(np.ones(3), size=3)
    out = out @ (mix / mix.sum(axis=1, keepdims=True)).T
    out = out * (1.0 - s * rng.uniform(0.0, 0.5, 3)) + s * rng.uniform(0.0, 0.08, 3)  # a tint, a lifted black
    srgb = _linear_to_srgb(out).astype(np.float32)
    return _blur_and_grain(srgb, rng, float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 0.02)))


def fade_for_training(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the restore network trains on: the dye model or the generic one, half and half."""
    return fade_dyes(rgb, rng) if rng.random() < 0.5 else fade_generic(rgb, rng)


def fade_overlay(rgb: np.ndarray, rng: np.random.Generator, severity: float | None = None,
                 without: frozenset[str] = frozenset()) -> np.ndarray:
    """The held-out fading (another model, other parameters; never trained on). ``without`` leaves
    steps out (of OVERLAY_STEPS) to see which one a restoration misjudges; the random draws stay
    the same, so a photo's other steps are unchanged."""
    s = float(rng.uniform(0.3, 1.0)) if severity is None else float(severity)
    x = rgb.astype(np.float32)
    gamma = 1.0 + s * rng.uniform(-0.35, 0.6, 3)  # per-channel tone change
    gain = 1.0 - s * rng.uniform(0.0, 0.3, 3)
    x = (1.0 if "gain" in without else gain) * np.power(np.clip(x, 0.0, 1.0), 1.0 if "gamma" in without else gamma)
    luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
    lost = s * rng.uniform(0.15, 0.6)
    if "desaturation" not in without:
        x = x + lost * (luma[..., None] - x)  # saturation lost
    hue = rng.choice([np.array([1.0, 0.85, 0.55]), np.array([1.0, 0.75, 0.8]), np.array([1.0, 0.9, 0.7]),
                      np.array([0.95, 0.8, 0.65])])
    stain = 1.0 - s * rng.uniform(0.3, 1.0) * (1.0 - hue)  # yellow, magenta, orange, brown stains, multiplied in
    if "stain" not in without:
        x = x * stain.astype(np.float32)
    black = s * rng.uniform(0.03, 0.15, 3).astype(np.float32)
    if "black" not in without:
        x = black + (1.0 - black) * x
    blur, grain = float(rng.uniform(0.0, 0.8)), float(rng.uniform(0.0, 0.015))
    if "blur" in without:
        blur, grain = 0.0, 0.0
    return _blur_and_grain(np.clip(x, 0, 1).astype(np.float32), rng, blur, grain)


OVERLAY_STEPS = ("gamma", "gain", "desaturation", "stain", "black", "blur")


def classical_restore(rgb: np.ndarray, saturation: float = 1.3) -> np.ndarray:
    """The classical baseline on (H, W, 3) float32 sRGB: a per-channel robust stretch and a
    gray-world balance (``rehue.restore.stretch``, where the network starts too), and the
    saturation raised."""
    x = restore.stretched(rgb.astype(np.float32), *restore.stretch(rgb.astype(np.float32)))
    lab = contract.rgb_to_lab(x)
    lab[..., 1:] *= saturation
    return np.clip(contract.lab_to_rgb(lab), 0.0, 1.0).astype(np.float32)


__all__ = ["fade_dyes", "fade_generic", "fade_for_training", "fade_overlay", "classical_restore"]
