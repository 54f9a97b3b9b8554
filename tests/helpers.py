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


def colour_scene(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    """A colour 'photo' with the usual suspects of a print — blue sky, green ground, a skin-toned
    face, a red and a yellow object, a white and a black patch — and some texture: (h, w, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    img[:] = (0.35 + 0.3 * yy[..., None]) * np.array([0.55, 0.75, 1.0], np.float32)  # sky
    ground = slice(h * 3 // 5, h)
    img[ground] = np.array([0.25, 0.5, 0.2], np.float32)
    cv2.circle(img, (w // 4, h // 2), max(2, h // 6), (0.92, 0.7, 0.58), -1)  # a face
    cv2.rectangle(img, (w // 2, h // 3), (w // 2 + w // 8, h * 4 // 5), (0.8, 0.12, 0.1), -1)  # red coat
    cv2.rectangle(img, (w * 3 // 4, h // 2), (w * 3 // 4 + w // 10, h * 4 // 5), (0.95, 0.85, 0.2), -1)
    cv2.rectangle(img, (w // 10, h * 4 // 5), (w // 10 + w // 12, h - 4), (0.97, 0.97, 0.95), -1)
    cv2.rectangle(img, (w * 9 // 10, h * 4 // 5), (w - 4, h - 4), (0.03, 0.03, 0.04), -1)
    texture = cv2.resize(rng.random((max(2, h // 8), max(2, w // 8))).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img *= (0.85 + 0.3 * texture)[..., None]
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
