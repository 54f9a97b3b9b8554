"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import cv2
import numpy as np


def gray_scene(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    """A smooth gray 'photo' with structure: (h, w) uint8."""
    rng = np.random.default_rng(seed)
    noise = rng.random((max(2, h // 16), max(2, w // 16))).astype(np.float32)
    img = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.6 * img + 0.4 * (yy / max(1, h - 1))
    cv2.circle(img, (w // 3, h // 2), max(1, min(h, w) // 6), 0.9, -1)
    return np.clip(img * 255, 0, 255).astype(np.uint8)
