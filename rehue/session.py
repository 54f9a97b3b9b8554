"""One photo being edited: open, preview after each edit, save at full resolution.

A colour photo can instead have its faded colours restored (``rehue.restore``): the restore
network looks at it once when it opens (``assessment``), and previews and saves apply its global
transform, blended by the strength.

The app's photo session without Qt, so the GUI workers, the benchmarks and the tests drive the
same code. The encoder runs once when the photo opens (``Colorizer.prepare``); each preview runs
only the decoder, and only when the hints changed (a strength change reuses the chroma); saving
reuses the chroma of the last preview with the same hints instead of running the network again,
and writes through ``photo_io.write_result``, the one writer the batch uses too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rehue import contract, photo_io, restore, sidecar
from rehue.contract import Hint
from rehue.engine import Chroma, Colorizer, Prepared

log = logging.getLogger(__name__)

PREVIEW_SIDE = 800  # the image re-rendered on every hint edit (the sharper display image follows once edits pause)
DISPLAY_SIDE = 2400  # the image shown once edits pause


@dataclass(frozen=True)
class PreviewRequest:
    hints: tuple[Hint, ...]
    strength: float
    quality: str = "preview"  # 'preview' (fast) or 'display' (sharper, once edits pause)
    generation: int = 0  # which opened photo the request belongs to (the GUI drops stale results)
    restore: bool = False  # restore the colour photo's faded colours instead of colorizing it (hints unused)


@dataclass
class PreviewResult:
    request: PreviewRequest
    rgb: np.ndarray  # (h, w, 3) uint8
    chroma: Chroma | None  # None for a restored photo (no network chroma)
    seconds: float


class PhotoSession:
    """A photo ready for editing: the decoded original, its reduced versions and its encoder
    features. Safe to use from one preview thread and one save thread at once."""

    def __init__(self, photo: photo_io.Photo, colorizer: Colorizer) -> None:
        self.photo = photo
        self.colorizer = colorizer
        self.display = photo_io.reduce(photo.pixels, DISPLAY_SIDE)  # (h, w[, 3]) uint8/uint16
        self.preview_pixels = photo_io.reduce(self.display, PREVIEW_SIDE)
        self.display_rgb = photo_io.display_rgb(self.display)  # the "before" image shown, uint8 RGB
        self.prepared: Prepared = colorizer.prepare(photo.pixels)
        self.assessment: restore.Assessment | None = self._assess()
        self._lock = threading.Lock()
        self._last: tuple[tuple[Hint, ...], Chroma] | None = None

    def _assess(self) -> restore.Assessment | None:
        """For a colour photo, what the restore network makes of it (None for gray and toned
        photos, or when the restore model is missing: colorizing still works)."""
        if self.photo.kind != "colour" or self.photo.pixels.ndim != 3:
            return None
        try:
            return self.colorizer.restorer.assess(self.photo.pixels)
        except restore.RestoreError as exc:
            log.warning("no restoration for %s: %s", self.photo.path, exc)
            return None

    @property
    def can_restore(self) -> bool:
        return self.assessment is not None

    @classmethod
    def open(cls, path: str | Path, colorizer: Colorizer) -> PhotoSession:
        """Read, reduce and encode a photo (PhotoError names the file when it cannot be read)."""
        return cls(photo_io.read_photo(path), colorizer)

    @property
    def path(self) -> Path:
        return Path(self.photo.path)

    def chroma(self, hints: tuple[Hint, ...]) -> Chroma:
        """The decoder's chroma for these hints; the last one is reused when the hints are the same."""
        with self._lock:
            last = self._last
        if last is not None and last[0] == hints:
            return last[1]
        chroma = self.colorizer.predict(self.prepared, hints)
        with self._lock:
            self._last = (hints, chroma)
        return chroma

    @property
    def last_chroma(self) -> Chroma | None:
        with self._lock:
            return self._last[1] if self._last else None

    def preview(self, request: PreviewRequest) -> PreviewResult:
        """Render at preview or display size (a worker thread calls this)."""
        t0 = time.perf_counter()
        base = self.preview_pixels if request.quality == "preview" else self.display
        if request.restore:
            rgb = self.restored(base, request.strength)
            return PreviewResult(request, photo_io.display_rgb(rgb), None, time.perf_counter() - t0)
        chroma = self.chroma(request.hints)
        rgb = self.colorizer.render(base, chroma, request.strength)
        return PreviewResult(request, photo_io.display_rgb(rgb), chroma, time.perf_counter() - t0)

    def restored(self, pixels: np.ndarray, strength: float) -> np.ndarray:
        """``pixels`` (this photo, at any size) with its faded colours restored, blended by ``strength`` (0..1)."""
        if self.assessment is None:
            raise restore.RestoreError(f"{photo_io.printable(self.path)} has no colour to restore")
        return restore.apply(pixels, self.assessment.transform.blended(strength))  # blended stops at 100 %

    def render_full(self, hints: tuple[Hint, ...], strength: float, should_stop: Callable[[], bool] | None = None,
                    progress: Callable[[float], None] | None = None) -> np.ndarray:
        """The colour photo at the original's full resolution and bit depth."""
        return self.colorizer.render(self.photo.pixels, self.chroma(hints), strength, should_stop=should_stop, progress=progress)

    def save(self, dst: Path, fmt: str, hints: tuple[Hint, ...], strength: float,
             should_stop: Callable[[], bool] | None = None, progress: Callable[[float], None] | None = None,
             mark: bool = True, restoring: bool = False) -> Path:
        """Full-resolution render and atomic write with the original's metadata (and, with
        ``mark``, a note that Rehue colorized or restored it), and the hints kept beside the
        original (``rehue.sidecar``) so the photo can be revised later. ``restoring``: write the
        photo with its faded colours restored instead (no hints).
        ``progress`` gets 0..0.8 while rendering and 1.0 once the file is written."""
        photo_io.remove_stale_partials(Path(dst))  # what an interrupted save of this photo left
        if restoring:
            rgb = self.restored(self.photo.pixels, strength)
            out = photo_io.write_result(self.photo, rgb, Path(dst), fmt, self.colorizer.restorer.history() if mark else None)
            if progress:
                progress(1.0)
            return out
        rgb = self.render_full(hints, strength, should_stop, (lambda f: progress(0.8 * f)) if progress else None)
        out = photo_io.write_result(self.photo, rgb, Path(dst), fmt, self.colorizer.history() if mark else None)
        if progress:
            progress(1.0)
        self.keep_hints(hints, strength, also_beside=out)
        return out

    def keep_hints(self, hints: tuple[Hint, ...], strength: float, also_beside: Path | None = None) -> Path | None:
        """Write the sidecar beside the original (or, if its folder is read-only, beside
        ``also_beside``); nothing when there are no hints and never were."""
        if not hints and sidecar.read(self.path) is None:
            return None
        record = sidecar.Sidecar(tuple(hints), strength, str(self.colorizer.metadata.get("model_version", "")))
        for target in (self.path, also_beside):
            if target is None:
                continue
            try:
                return sidecar.write(target, record)
            except photo_io.PhotoError as exc:
                log.warning("could not keep the hints beside %s: %s", target, exc)
        return None

    def saved_hints(self) -> sidecar.Sidecar | None:
        """Hints saved with this photo earlier, if any (the app offers to restore them)."""
        return sidecar.read(self.path)

    def suggestions(self, chroma: Chroma, x: float, y: float, k: int = 6) -> list[tuple[int, int, int]]:
        """The model's k most likely colours at (x, y) (fractions of the photo), as they will be
        rendered there: at that spot's own lightness, inside the sRGB gamut."""
        return self.colorizer.suggest_colors(chroma, x, y, l_value=self.lightness_at(x, y), k=k)

    def lightness_at(self, x: float, y: float) -> float:
        return self.colorizer.lightness_at(self.prepared, x, y)

    def snap(self, hint: Hint) -> Hint:
        """The hint with its colour snapped into the gamut at its spot's lightness."""
        return self.colorizer.snap_hint(self.prepared, hint)

    def rendered_rgb(self, hint: Hint) -> tuple[int, int, int]:
        """The 8-bit sRGB colour a hint gives its own spot: what its marker shows."""
        lab = np.array([[[self.lightness_at(hint.x, hint.y), hint.a, hint.b]]], np.float32)
        rgb = np.clip(contract.lab_to_rgb(lab), 0, 1)[0, 0]
        return (int(round(rgb[0] * 255)), int(round(rgb[1] * 255)), int(round(rgb[2] * 255)))


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Before | gap | after as one (h, w, 3) uint8 image; ``after`` is resized to ``before``."""
    if after.shape[:2] != before.shape[:2]:
        after = cv2.resize(after, (before.shape[1], before.shape[0]), interpolation=cv2.INTER_LINEAR)
    gap = np.full((before.shape[0], max(8, before.shape[1] // 100), 3), 255, np.uint8)
    return np.hstack([before, gap, after])


__all__ = ["PhotoSession", "PreviewRequest", "PreviewResult", "side_by_side", "PREVIEW_SIDE", "DISPLAY_SIDE"]
