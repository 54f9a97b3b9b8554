"""Shared fixtures: the shipped model loaded once, and real photo files written to disk."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from helpers import gray_scene  # noqa: E402


@pytest.fixture(scope="session")
def colorizer():
    from rehue.engine import Colorizer

    return Colorizer(provider="cpu", threads=2)


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    """Real files of every kind the reader must handle, good and bad."""
    d = tmp_path / "photos"
    d.mkdir()
    g = gray_scene()
    paths: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        paths[name] = d / name
        paths[name].write_bytes(data)

    put("gray.jpg", cv2.imencode(".jpg", g)[1].tobytes())
    put("gray.png", cv2.imencode(".png", g)[1].tobytes())
    rgb_gray = np.dstack([g, g, g])
    put("rgbgray.png", cv2.imencode(".png", rgb_gray)[1].tobytes())
    sepia = np.dstack([(g * 0.75).astype(np.uint8), (g * 0.9).astype(np.uint8), g])  # BGR warm tone
    put("sepia.jpg", cv2.imencode(".jpg", sepia)[1].tobytes())
    g16 = (g.astype(np.uint16) * 257)
    put("gray16.png", cv2.imencode(".png", g16)[1].tobytes())
    put("gray16.tif", cv2.imencode(".tif", g16)[1].tobytes())
    rgba = np.dstack([rgb_gray, np.full_like(g, 200)])
    rgba[:20, :20, 3] = 0
    put("alpha.png", cv2.imencode(".png", rgba)[1].tobytes())
    buf = io.BytesIO()
    Image.fromarray(g).convert("CMYK").save(buf, "JPEG")
    put("cmyk.jpg", buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(g).convert("CMYK").save(buf, "TIFF")
    put("cmyk.tif", buf.getvalue())
    # EXIF orientation 6 (rotate 90° clockwise to view) and an ICC profile that must survive.
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Rehue Test Scanner"
    icc = b"\x00\x00\x02\x0cTEST-ICC-PROFILE" + bytes(500)
    Image.fromarray(g).save(buf, "JPEG", exif=exif.tobytes(), icc_profile=icc)
    put("rotated.jpg", buf.getvalue())
    put("tiny.png", cv2.imencode(".png", np.array([[128]], np.uint8))[1].tobytes())
    put("corrupt.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    full = cv2.imencode(".jpg", g)[1].tobytes()
    put("truncated.jpg", full[: len(full) // 3])
    put("document.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n")
    put("empty.png", b"")
    put("ünïcødé фото.jpg", full)
    return paths
