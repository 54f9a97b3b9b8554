"""Reading and writing photos: every odd file an archive holds, and outputs written atomically.

Pixels go through OpenCV (8- and 16-bit, fast, large files); EXIF and ICC metadata through
Pillow, which only parses headers here. Every failure is a ``PhotoError`` whose message names the
file and says what to do, so the GUI and the batch command can show it as it is.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

# The one table of file formats: what we read, and what we write (name -> label, suffixes; the
# first suffix is the one new files get). The app's dialogs and the batch command derive from it.
TIFF_PREDICTOR = 317  # the TIFF tag; 2 = horizontal differencing
READ_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".webp"}
SAVE_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "jpeg": ("JPEG", (".jpg", ".jpeg", ".jpe")),
    "png": ("PNG", (".png",)),
    "tiff": ("TIFF", (".tif", ".tiff")),
}
WRITE_FORMATS = {name: suffixes[0] for name, (_, suffixes) in SAVE_FORMATS.items()}
MAX_PIXELS = 1_000_000_000  # a 40000 x 25000 scan; beyond this we refuse rather than swap
JPEG_QUALITY = 95
EXIF_ORIENTATION = 0x0112
EXIF_SOFTWARE = 0x0131
EXIF_IMAGE_HISTORY = 0x9213  # TIFF/EP ImageHistory: what was done to the picture

Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow parses headers only; our own limit applies

_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"GIF8", "a GIF animation (convert it to PNG first)"),
    (b"<!DOCTYPE", "a web page"),
    (b"<html", "a web page"),
    (b"\x1f\x8b", "a gzip archive"),
)


class PhotoError(Exception):
    """A photo that cannot be read or written; the message is meant for the user."""


@dataclass
class Photo:
    """A decoded photo.

    ``pixels``: (H, W) gray or (H, W, 3) RGB, uint8 or uint16, already turned upright by its
    EXIF orientation. ``alpha``: (H, W) of the same dtype, or None. ``exif``/``icc``: raw bytes
    to carry to the output (EXIF orientation already reset to 1).
    """

    path: Path
    pixels: np.ndarray
    alpha: np.ndarray | None = None
    exif: bytes | None = None
    icc: bytes | None = None
    notes: list[str] = field(default_factory=list)
    dpi: tuple[float, float] | None = None  # the scan's resolution, kept in every output format
    kind: str = "gray"  # colour_kind of the pixels as read: 'gray', 'toned' or 'colour'

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def is_16bit(self) -> bool:
        return self.pixels.dtype == np.uint16


def _sniff(head: bytes, path: Path) -> None:
    if not head:
        raise PhotoError(f"{path}: the file is empty (0 bytes). Re-copy it from the original source.")
    for magic, what in _MAGIC:
        if head.lstrip()[: len(magic)].lower() == magic.lower():
            raise PhotoError(f"{path}: this is {what}, not a photo, although its name says otherwise.")


# TIFF tags that describe how *this* file's pixels are stored (size, samples, photometric
# interpretation, strips, pages...). A TIFF's EXIF as Pillow reads it carries them; written into an
# RGB output they would make it claim to be gray, CMYK or one page of many (issue 14).
_STRUCTURE_TAGS = {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 285, 292, 293,
                   297, 317, 318, 319, 320, 321, 322, 323, 324, 325, 330, 332, 338, 339, 340, 341, 347, 529, 530, 531,
                   532, 700, 33723, 34377, 34665, 34853, 37724}


def _metadata(path: Path) -> tuple[bytes | None, bytes | None, int, str | None, tuple[float, float] | None]:
    """(exif with orientation reset and no storage tags, icc, orientation, pillow mode, dpi)."""
    try:
        with Image.open(path) as im:
            icc = im.info.get("icc_profile")
            exif = im.getexif()
            orientation = int(exif.get(EXIF_ORIENTATION, 1) or 1)
            mode = im.mode
            dpi = im.info.get("dpi")
            if dpi is None and 282 in exif and 283 in exif:
                unit = int(exif.get(296, 2) or 2)
                scale = 2.54 if unit == 3 else 1.0
                dpi = (float(exif[282]) * scale, float(exif[283]) * scale)
            for tag in _STRUCTURE_TAGS & set(exif.keys()):
                del exif[tag]
            if len(exif):
                exif[EXIF_ORIENTATION] = 1
                exif_bytes = exif.tobytes()
            else:
                exif_bytes = None
            good_dpi = (float(dpi[0]), float(dpi[1])) if dpi and float(dpi[0]) > 1 and float(dpi[1]) > 1 else None
            return exif_bytes, icc, orientation, mode, good_dpi
    except Exception as exc:  # metadata is a courtesy: pixels decide whether the file is usable
        log.debug("no metadata from %s: %s", path, exc)
        return None, None, 1, None, None


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to (H, W[, C]) pixels."""
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.swapaxes(0, 1)
    if orientation == 6:
        return arr.swapaxes(0, 1)[:, ::-1]
    if orientation == 7:
        return arr.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return arr.swapaxes(0, 1)[::-1]
    return arr


def _decode_with_pillow(path: Path) -> np.ndarray | None:
    """Fallback decoder (CMYK TIFF, palette images, ...): RGB/RGBA uint8, EXIF not applied."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(im, dtype=np.uint16)
            if im.mode not in ("RGB", "RGBA", "L"):
                return np.asarray(im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB"))
            return np.asarray(im)
    except Image.DecompressionBombError as exc:
        raise PhotoError(_too_large(path, exc)) from None
    except Exception as exc:
        log.debug("pillow could not decode %s: %s", path, exc)
        return None


def _decode_jpeg(path: Path) -> np.ndarray:
    """A JPEG's pixels (RGB or gray uint8, EXIF not applied). Corrupt entropy-coded data (libjpeg's
    "Corrupt JPEG data") is an error naming the file: OpenCV would return the photo with its lower
    part flat gray-blue and no word."""
    try:
        with Image.open(path) as im:
            im.load()
            # np.array, not asarray: writable, as the batch renders into the photo's own buffer.
            return np.array(im if im.mode in ("RGB", "L") else im.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise PhotoError(_too_large(path, exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"{path}: the JPEG data is damaged ({exc}); the file is corrupt or truncated. "
                         "Re-copy it from the original source or re-scan it.") from None


def _too_large(path: Path, exc: Exception) -> str:
    """The message for a file whose header claims more pixels than Rehue opens (a real giant scan,
    or a damaged header claiming one): said before any memory is taken for it."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    claims = f" claims {int(found.group(1)) / 1e6:,.0f} megapixels, which" if found else ""
    return (f"{path}:{claims} is more than Rehue's limit of {MAX_PIXELS // 1_000_000} megapixels. If the scan is real, "
            "save a smaller copy (or split it) and colorize that; else the file's header is damaged.")


def is_gray(rgb: np.ndarray) -> bool:
    """True for RGB photos whose channels are (nearly) equal: scans saved as colour. Training and
    evaluation use it too: such a photo has no colour to learn from or to score against."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    s = rgb[::step, ::step].astype(np.int32)
    tol = 3 if rgb.dtype == np.uint8 else 3 * 257
    return bool(np.abs(s[..., 0] - s[..., 1]).max() <= tol and np.abs(s[..., 1] - s[..., 2]).max() <= tol)


def colour_kind(rgb: np.ndarray) -> str:
    """'gray', 'toned' (sepia, cyanotype, selenium: one hue whose strength follows the tone) or
    'colour' (several hues: a colour photo, which the batch leaves alone unless told otherwise)."""
    from rehue import contract

    small = reduce(rgb, 256)
    lab = contract.rgb_to_lab(small).reshape(-1, 3)
    ab = lab[:, 1:].astype(np.float64)
    chroma = np.hypot(ab[:, 0], ab[:, 1])
    if np.percentile(chroma, 99) < 5.0:
        return "gray"
    mean = ab.mean(axis=0)
    if np.hypot(*mean) < 2.0:
        return "colour"  # chroma without a common hue: many hues cancel out
    u = mean / np.hypot(*mean)
    across = ab @ np.array([-u[1], u[0]])  # the part of each pixel's chroma off the common hue
    along = ab @ u
    coloured = chroma > 6.0
    same_hue = float((along[coloured] > 0).mean()) if coloured.any() else 1.0
    return "toned" if np.percentile(np.abs(across), 95) < 7.0 and same_hue > 0.9 else "colour"


def read_photo(path: str | os.PathLike[str]) -> Photo:
    """Read any photo an archive might hold; raise PhotoError with a message for the user."""
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(st.st_mode):
            kind = "a pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
            raise PhotoError(f"{path}: this is {kind}, not a photo file; skipped.")
        size = st.st_size
        with path.open("rb") as f:
            head = f.read(64)
    except FileNotFoundError:
        raise PhotoError(f"{path}: the file does not exist (moved or deleted?).") from None
    except IsADirectoryError:
        raise PhotoError(f"{path}: this is a folder; open the photos inside it.") from None
    except PermissionError:
        raise PhotoError(f"{path}: permission denied; check that you may read this file.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PhotoError(f"{path}: a symbolic link that points to itself (a link loop); skipped.") from None
        raise PhotoError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    _sniff(head, path)
    exif, icc, orientation, mode, dpi = _metadata(path)
    buf = np.fromfile(path, dtype=np.uint8)  # np.fromfile: unicode paths work everywhere
    arr = None
    if head.startswith(b"\xff\xd8"):
        arr = _decode_jpeg(path)  # Pillow: it refuses corrupt data that OpenCV decodes as gray mush
    elif mode != "CMYK":
        try:
            arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:
            if "exceeds" in str(exc) or "too large" in str(exc).lower():
                raise PhotoError(f"{path}: the image is larger than Rehue can open ({MAX_PIXELS // 1_000_000} megapixels).") from None
            arr = None
    if arr is not None and mode == "CMYK" and not head.startswith(b"\xff\xd8"):
        arr = None  # OpenCV's TIFF reader returns CMYK as if it were RGBA: let Pillow convert it
    rgb_order = head.startswith(b"\xff\xd8")
    if arr is None:
        arr = _decode_with_pillow(path)
        if arr is None:
            raise PhotoError(
                f"{path}: not a readable image ({size} bytes): the file is damaged, truncated or in "
                "an unsupported format. Re-scan or re-export it as JPEG, PNG or TIFF."
            )
        rgb_order = True
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise PhotoError(f"{path}: {arr.shape[1]}x{arr.shape[0]} pixels is more than Rehue's limit of {MAX_PIXELS // 1_000_000} megapixels.")
    if arr.dtype not in (np.uint8, np.uint16):
        if arr.dtype == np.float32 or arr.dtype == np.float64:
            arr = (np.clip(arr, 0, 1) * 65535 + 0.5).astype(np.uint16)
        else:
            raise PhotoError(f"{path}: pixel type {arr.dtype} is not supported; save it as 8- or 16-bit.")
    notes: list[str] = []
    alpha = None
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            alpha = np.ascontiguousarray(arr[..., 3])
            arr = arr[..., :3]
        elif arr.shape[2] == 2:  # gray + alpha
            alpha = np.ascontiguousarray(arr[..., 1])
            arr = arr[..., 0]
        if arr.ndim == 3 and not rgb_order:
            arr = arr[..., ::-1]  # (H, W, BGR) -> (H, W, RGB)
    kind = "gray"
    if arr.ndim == 3 and is_gray(arr):
        arr = arr[..., 1]
    elif arr.ndim == 3:
        kind = colour_kind(arr)
        if kind == "colour":
            notes.append("the photo already has colour; Rehue replaces it with its own")
    arr = np.ascontiguousarray(_orient(arr, orientation))
    if alpha is not None:
        alpha = np.ascontiguousarray(_orient(alpha, orientation))
        if alpha.dtype != arr.dtype:
            alpha = (alpha.astype(np.uint32) * 257).astype(np.uint16) if arr.dtype == np.uint16 else (alpha.astype(np.uint16) >> 8).astype(np.uint8)
    return Photo(path, arr, alpha, exif, icc, notes, dpi, kind)


# ----------------------------------------------------------------------------- writing


def printable(path: str | os.PathLike[str]) -> str:
    """A file name as it is safe to print: control characters (escape sequences that clear a
    terminal, newlines) and bytes that are not UTF-8 shown as \\xNN instead of acted on."""
    out = []
    for ch in str(path):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte os.fsdecode could not decode (surrogateescape)
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return "".join(out)


def output_suffix(fmt: str) -> str:
    """File suffix for a format name ('jpeg', 'png', 'tiff')."""
    try:
        return WRITE_FORMATS[fmt]
    except KeyError:
        raise PhotoError(f"unknown output format {fmt!r}: use one of {', '.join(WRITE_FORMATS)}") from None


def format_for(path: Path) -> str:
    """The output format a path's suffix names; PNG for anything we do not write (BMP, WebP)."""
    s = Path(path).suffix.lower()
    return next((name for name, (_, suffixes) in SAVE_FORMATS.items() if s in suffixes), "png")


def writes_suffix(path: Path) -> bool:
    """Whether we write files with this path's suffix (so an output can keep it)."""
    return any(Path(path).suffix.lower() in suffixes for _, suffixes in SAVE_FORMATS.values())


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _png_with_metadata(png: bytes, exif: bytes | None, icc: bytes | None, dpi: tuple[float, float] | None = None) -> bytes:
    """Insert pHYs, iCCP and eXIf chunks right after IHDR of an encoded PNG."""
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    extra = b""
    if dpi:
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", round(dpi[0] / 0.0254), round(dpi[1] / 0.0254), 1))
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if exif:
        extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    return png[:ihdr_end] + extra + png[ihdr_end:]


def encode_photo(rgb: np.ndarray, fmt: str, alpha: np.ndarray | None = None, exif: bytes | None = None, icc: bytes | None = None,
                 dpi: tuple[float, float] | None = None) -> bytes:
    """Encode (H, W, 3) RGB uint8/uint16 (+ alpha) as JPEG, PNG or TIFF bytes with metadata.

    JPEG is always 8-bit and has no alpha; PNG and TIFF keep 16 bits and alpha. Every format is
    written as RGB whatever the input was (gray, CMYK, multi-page), with the scan's DPI.
    """
    if fmt == "jpeg":
        if rgb.dtype == np.uint16:
            rgb = (rgb >> 8).astype(np.uint8)
        import io

        out = io.BytesIO()
        kwargs: dict[str, object] = {"quality": JPEG_QUALITY, "subsampling": 0}
        if dpi:
            kwargs["dpi"] = dpi
        if exif:
            kwargs["exif"] = exif
        if icc:
            kwargs["icc_profile"] = icc
        Image.fromarray(rgb, "RGB").save(out, "JPEG", **kwargs)
        return out.getvalue()
    bgr = rgb[..., ::-1]  # (H, W, RGB) -> (H, W, BGR) for OpenCV
    if alpha is not None:
        bgr = np.dstack([bgr, alpha.astype(rgb.dtype)])
    if fmt == "png":
        ok, enc = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            raise PhotoError("PNG encoding failed")
        return _png_with_metadata(enc.tobytes(), exif, icc, dpi)
    if fmt == "tiff":
        if rgb.dtype == np.uint8:
            import io

            out = io.BytesIO()
            mode_arr = rgb if alpha is None else np.dstack([rgb, alpha])
            # LZW with the horizontal predictor: lossless, and about 60 % of the raw size on a
            # scan; LZW alone came out *larger* than raw on grainy photos (55 MB for 24 MP, issue 25).
            # Pillow takes either tiffinfo or exif, so the predictor rides in the EXIF's tags.
            tags = Image.Exif()
            if exif:
                tags.load(exif)
            tags[TIFF_PREDICTOR] = 2
            tiff_kwargs: dict[str, object] = {"compression": "tiff_lzw", "exif": tags}
            if dpi:
                tiff_kwargs["dpi"] = dpi
            if icc:
                tiff_kwargs["icc_profile"] = icc
            Image.fromarray(mode_arr, "RGB" if alpha is None else "RGBA").save(out, "TIFF", **tiff_kwargs)
            return out.getvalue()
        params = [cv2.IMWRITE_TIFF_RESUNIT, 2, cv2.IMWRITE_TIFF_XDPI, round(dpi[0]), cv2.IMWRITE_TIFF_YDPI, round(dpi[1])] if dpi else []
        ok, enc = cv2.imencode(".tif", np.ascontiguousarray(bgr), params)
        if not ok:
            raise PhotoError("TIFF encoding failed")
        if exif or icc:
            log.info("16-bit TIFF output keeps the pixels' full depth but not the EXIF/ICC metadata")
        return enc.tobytes()
    raise PhotoError(f"unknown output format {fmt!r}")


STALE_PARTIAL_S = 600  # a temporary file this old is no write in progress: a killed save left it


def remove_stale_partials(path: Path) -> None:
    """Remove the hidden temporary files a killed save of this same photo left beside it. The app's
    save calls it (one photo at a time); a batch cleans its whole output folder once, under its
    lock, instead of listing the folder for every photo it writes."""
    import glob
    import time

    cutoff = time.time() - STALE_PARTIAL_S
    for stale in glob.glob(os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.stem[:40])}.*.rehue-partial")):
        try:
            if os.stat(stale).st_mtime < cutoff:
                os.unlink(stale)
                log.info("removed %s, left by an interrupted save", stale)
        except OSError:
            pass


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so a
    crash or a cancel never leaves a half-written photo under the final name."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:40]}.", suffix=".rehue-partial", dir=path.parent)
    except PermissionError:
        raise PhotoError(f"{path}: cannot write into {path.parent} (permission denied). Choose another output folder.") from None
    except OSError as exc:
        raise PhotoError(f"{path}: cannot write into {path.parent} ({exc.strerror or exc}).") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PhotoError(f"{path}: writing failed ({exc.strerror or exc}); is the disk full?") from None


def write_photo(path: Path, rgb: np.ndarray, fmt: str | None = None, *, alpha: np.ndarray | None = None,
                exif: bytes | None = None, icc: bytes | None = None) -> Path:
    """Encode and write atomically; returns the path written."""
    fmt = fmt or format_for(Path(path))
    write_atomically(Path(path), encode_photo(rgb, fmt, alpha, exif, icc))
    return Path(path)


def reduce(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (area-averaging) so the long side is at most ``max_side``; smaller images as they are.
    Shape and dtype kept: (H, W[, 3]) -> (h, w[, 3])."""
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1:
        return pixels
    return cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def display_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W[, 3]) uint8/uint16 -> (H, W, 3) uint8 RGB, for showing on screen."""
    px = (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels
    if px.ndim == 2:
        px = np.repeat(px[..., None], 3, axis=2)
    return np.ascontiguousarray(px)


def thumbnail_rgb(photo: Photo, max_side: int) -> np.ndarray:
    """A small uint8 RGB version for display: (h, w, 3) with max(h, w) <= max_side."""
    return display_rgb(reduce(photo.pixels, max_side))


def with_history(exif: bytes | None, history: str, software: str) -> bytes:
    """The EXIF with ``history`` as its ImageHistory and ``software`` as its Software: so an
    archivist (or exiftool) can tell a colorized photo from an original scan."""
    tags = Image.Exif()
    if exif:
        tags.load(exif)
    tags[EXIF_SOFTWARE] = software
    tags[EXIF_IMAGE_HISTORY] = history
    return tags.tobytes()


def encode_like(photo: Photo, rgb: np.ndarray, fmt: str, history: tuple[str, str] | None = None) -> bytes:
    """Encode a result of ``photo`` carrying the original's EXIF, ICC and (not in JPEG) alpha;
    ``history``: (what was done, by which software) added to the EXIF (``with_history``)."""
    exif = with_history(photo.exif, *history) if history else photo.exif
    return encode_photo(rgb, fmt, photo.alpha if fmt != "jpeg" else None, exif, photo.icc, photo.dpi)


def write_result(photo: Photo, rgb: np.ndarray, dst: Path, fmt: str | None = None, history: tuple[str, str] | None = None) -> Path:
    """Write the colour version of ``photo`` to ``dst`` atomically, in ``fmt`` (default: from the
    suffix), with the original's metadata: the one writer of the app's Save and of the batch."""
    dst = Path(dst)
    write_atomically(dst, encode_like(photo, rgb, fmt or format_for(dst), history))
    return dst


__all__ = ["Photo", "PhotoError", "read_photo", "write_photo", "encode_photo", "write_atomically",
           "output_suffix", "format_for", "remove_stale_partials", "thumbnail_rgb", "reduce", "display_rgb", "encode_like", "write_result", "READ_SUFFIXES"]
