"""Reading every odd photo an archive holds, and writing outputs with their metadata."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import gray_scene
from rehue import contract, photo_io
from rehue.photo_io import PhotoError, read_photo


@pytest.mark.parametrize("name", ["gray.jpg", "gray.png", "rgbgray.png", "gray16.png", "gray16.tif", "cmyk.jpg", "cmyk.tif", "ünïcødé фото.jpg"])
def test_reads_gray_kinds_as_single_channel(photos, name):
    p = read_photo(photos[name])
    assert p.pixels.ndim == 2 and p.size == (320, 240)
    assert p.pixels.dtype == (np.uint16 if "16" in name else np.uint8)


def test_sepia_is_toned_monochrome_and_real_colour_is_noted(photos, tmp_path):
    p = read_photo(photos["sepia.jpg"])
    assert p.pixels.shape == (240, 320, 3)
    assert photo_io.colour_kind(p.pixels) == "toned" and not p.notes  # fine to colorize
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[:, :80] = (200, 40, 40)
    rgb[:, 80:] = (40, 90, 200)
    cv2.imwrite(str(tmp_path / "colour.png"), rgb[..., ::-1])
    c = read_photo(tmp_path / "colour.png")
    assert photo_io.colour_kind(c.pixels) == "colour" and "already has colour" in c.notes[0]


def test_alpha_separated(photos):
    p = read_photo(photos["alpha.png"])
    assert p.alpha is not None and p.alpha[0, 0] == 0 and p.alpha[100, 100] == 200


def test_exif_orientation_applied_and_metadata_kept(photos):
    p = read_photo(photos["rotated.jpg"])
    assert p.size == (240, 320)  # turned upright: was 320 wide
    assert p.icc and b"TEST-ICC-PROFILE" in p.icc
    exif = Image.Exif()
    exif.load(p.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "Rehue Test Scanner"


def test_tiny_image(photos):
    assert read_photo(photos["tiny.png"]).size == (1, 1)


@pytest.mark.parametrize(
    "name, message",
    [
        ("corrupt.jpg", "damaged"),
        ("truncated.jpg", "damaged"),
        ("document.jpg", "PDF document"),
        ("empty.png", "empty"),
    ],
)
def test_bad_files_give_clear_messages(photos, name, message):
    with pytest.raises(PhotoError, match=message) as info:
        read_photo(photos[name])
    assert name in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(PhotoError, match="does not exist"):
        read_photo(tmp_path / "nope.jpg")
    with pytest.raises(PhotoError, match="folder"):
        read_photo(tmp_path)


def test_refuses_giant_header(tmp_path):
    # A PNG whose header claims 60000 x 60000 pixels: refused with a message, not a crash or swap.
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 100)
    data = b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    p = tmp_path / "giant.png"
    p.write_bytes(data)
    with pytest.raises(PhotoError, match="giant.png"):
        read_photo(p)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff"])
def test_write_keeps_exif_and_icc(tmp_path, photos, fmt):
    src = read_photo(photos["rotated.jpg"])
    rgb = np.dstack([src.pixels] * 3)
    out = photo_io.write_photo(tmp_path / f"out{photo_io.output_suffix(fmt)}", rgb, fmt, exif=src.exif, icc=src.icc)
    with Image.open(out) as im:
        assert im.size == (240, 320)
        assert b"TEST-ICC-PROFILE" in im.info.get("icc_profile", b"")
        assert im.getexif().get(0x010F) == "Rehue Test Scanner"


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_written_as_16bit(tmp_path, suffix):
    rgb = (np.random.default_rng(0).random((30, 40, 3)) * 65535).astype(np.uint16)
    out = photo_io.write_photo(tmp_path / f"o{suffix}", rgb)
    back = cv2.imdecode(np.fromfile(out, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back[..., ::-1], rgb)


def test_png_alpha_written(tmp_path):
    rgb = np.zeros((10, 10, 3), np.uint8)
    alpha = np.full((10, 10), 77, np.uint8)
    out = photo_io.write_photo(tmp_path / "a.png", rgb, alpha=alpha)
    with Image.open(out) as im:
        assert im.mode == "RGBA" and np.asarray(im)[0, 0, 3] == 77


def test_atomic_write_leaves_no_partial_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.jpg"
    target.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(photo_io.os, "replace", boom)
    with pytest.raises(PhotoError, match="disk full"):
        photo_io.write_atomically(target, b"new data")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.jpg"]


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(PhotoError, match="cannot write into"):
        photo_io.write_atomically(blocker / "out.jpg", b"data")


def test_encode_jpeg_from_16bit_and_thumbnail(photos):
    p = read_photo(photos["gray16.png"])
    data = photo_io.encode_photo(np.dstack([p.pixels] * 3), "jpeg")
    assert Image.open(io.BytesIO(data)).mode == "RGB"
    thumb = photo_io.thumbnail_rgb(p, 100)
    assert thumb.shape == (75, 100, 3) and thumb.dtype == np.uint8


def _scan_variants(d: Path) -> dict[str, Path]:
    """Inputs whose TIFF/EXIF tags would poison an RGB output: gray, CMYK and multi-page TIFFs
    at 600 dpi, a 16-bit PNG, a JPEG with EXIF at 600 dpi."""
    from helpers import gray_scene

    g = gray_scene(120, 160)
    out = {}
    for name, mode in (("gray8.tif", "L"), ("cmyk.tif", "CMYK")):
        out[name] = d / name
        Image.fromarray(g).convert(mode).save(out[name], "TIFF", dpi=(600, 600))
    out["pages.tif"] = d / "pages.tif"
    first = Image.fromarray(g)
    first.save(out["pages.tif"], "TIFF", save_all=True, append_images=[Image.fromarray(255 - g)], dpi=(600, 600))
    out["gray16.png"] = d / "gray16.png"
    cv2.imwrite(str(out["gray16.png"]), g.astype(np.uint16) * 257)
    out["scan.jpg"] = d / "scan.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Old Scanner"
    Image.fromarray(g).save(out["scan.jpg"], "JPEG", exif=exif.tobytes(), dpi=(600, 600))
    return out


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff"])
def test_every_output_reopens_as_colour_in_pillow_and_opencv(tmp_path, colorizer, fmt):
    for name, src in _scan_variants(tmp_path).items():
        dst = tmp_path / "out" / f"{src.stem}{photo_io.output_suffix(fmt)}"
        colorizer.colorize_file(src, dst, hints=[contract.Hint(0.5, 0.5, 60.0, 40.0, reach=0.5)], fmt=fmt)
        with Image.open(dst) as im:
            assert im.mode in ("RGB", "I;16", "RGBA") or im.mode.startswith("RGB"), (name, fmt, im.mode)
            im.load()
            rgb = np.asarray(im.convert("RGB")).astype(int)
            if name != "gray16.png":  # 16-bit outputs are written without EXIF/DPI by OpenCV
                assert round(float(im.info.get("dpi", (0, 0))[0])) == 600, (name, fmt, im.info.get("dpi"))
        assert rgb.shape == (120, 160, 3)
        assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 20, (name, fmt)  # colour, not gray
        bgr = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
        assert bgr is not None and bgr.ndim == 3 and bgr.shape[2] == 3, (name, fmt)
        assert np.abs(bgr[..., 0].astype(int) - bgr[..., 2]).max() > 20, (name, fmt)
        assert photo_io.read_photo(dst).pixels.ndim == 3  # and Rehue reopens its own output as colour


def test_jpeg_with_corrupt_middle_bytes_is_refused(tmp_path):
    from helpers import gray_scene

    ok, buf = cv2.imencode(".jpg", gray_scene(600, 800))
    data = bytearray(buf.tobytes())
    for i in range(len(data) // 3, len(data) // 3 + 200):
        data[i] = (data[i] * 7 + 13) % 256
    bad = tmp_path / "scratched.jpg"
    bad.write_bytes(bytes(data))
    assert cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_UNCHANGED) is not None  # OpenCV says nothing
    with pytest.raises(photo_io.PhotoError, match="scratched.jpg.*damaged"):
        photo_io.read_photo(bad)


def test_fifo_and_symlink_loop_are_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(photo_io.PhotoError, match="pipe.jpg.*pipe"):
        photo_io.read_photo(fifo)  # opening it would block forever
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(photo_io.PhotoError, match="loop.jpg.*link"):
        photo_io.read_photo(loop)


def test_tiff_output_is_compressed_losslessly(tmp_path):
    """Issue 25: a 24 MP TIFF came out at 55 MB (LZW alone grows a grainy scan). With the
    horizontal predictor it is well under the raw size, and reads back exactly in Pillow and OpenCV."""
    from rehue.photo_io import encode_photo

    rng = np.random.default_rng(0)
    g = cv2.resize(gray_scene(300, 400), (1600, 1200), interpolation=cv2.INTER_CUBIC).astype(int)
    rgb = np.clip(np.dstack([g, g * 0.9 + 10, g * 0.7 + 30]) + rng.normal(0, 2, (1200, 1600, 3)), 0, 255).astype(np.uint8)
    path = tmp_path / "scan.tif"
    path.write_bytes(encode_photo(rgb, "tiff"))
    assert path.stat().st_size < 0.75 * rgb.nbytes
    with Image.open(path) as im:
        assert im.info.get("compression") == "tiff_lzw" and im.tag_v2.get(317) == 2
        assert np.array_equal(np.asarray(im.convert("RGB")), rgb)
    assert np.array_equal(cv2.imread(str(path))[..., ::-1], rgb)


def test_a_save_removes_what_a_killed_save_of_the_same_photo_left(tmp_path, colorizer):
    """Issue 23: a kill during a save left a hidden .rehue-partial that the app never removed."""
    import os
    import time

    from rehue.session import PhotoSession

    src = tmp_path / "scan.jpg"
    cv2.imwrite(str(src), gray_scene(120, 160))
    dst = tmp_path / "scan_colour.png"
    stale = tmp_path / ".scan_colour.abc123.rehue-partial"
    fresh = tmp_path / ".scan_colour.def456.rehue-partial"  # a save of it going on right now: left alone
    other = tmp_path / ".another.abc123.rehue-partial"  # another photo's: not this save's business
    for p in (stale, fresh, other):
        p.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    PhotoSession.open(src, colorizer).save(dst, "png", (), 1.0)
    assert cv2.imread(str(dst)).shape == (120, 160, 3) and not stale.exists() and fresh.exists() and other.exists()
