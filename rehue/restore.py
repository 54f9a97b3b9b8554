"""Faded colour prints: bring their colour back (issue 24).

A faded print lost its dyes unevenly (cyan first: a red-magenta cast), yellowed, and lost contrast
and black. All of that is, to a good approximation, the same change everywhere on the print, so the
restoration is a *global* colour transform: the classical per-channel stretch (``stretch``), one
monotone curve per RGB channel, a 3×3 matrix that undoes the crosstalk between the channels (the
lost saturation), and a curve per channel again. A small network
(``export/train_restore.py``) looks at a thumbnail of the faded photo and predicts the transform;
applying it at full resolution costs two table lookups and one 3×3 transform, with no halos.

This module is the contract between that training and the app — the network's inputs and outputs,
how a transform is applied — and the engine side of it (``Restorer``). Like ``rehue.contract`` it
needs only numpy, OpenCV and onnxruntime.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from rehue import contract, photo_io

log = logging.getLogger(__name__)

# The network's inputs: the faded photo after ``stretch`` as a THUMB_SIZE² sRGB thumbnail in [0, 1]
# (area-resized, aspect ignored), each channel's quantiles at QUANTILES from a larger STATS_SIZE
# version, and the stretch itself.
THUMB_SIZE = 64
STATS_SIZE = 256
QUANTILES = (0.005, 0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98, 0.995)
INPUT_THUMB = "thumb"  # (N, 3, THUMB_SIZE, THUMB_SIZE) float32
INPUT_STATS = "stats"  # (N, N_STATS) float32: the quantiles, then log(gain) and offset of the stretch
# Its outputs: CURVE_KNOTS values of each channel's curve at x = 0, 1/(K-1), ..., 1 (sRGB, monotone
# by construction), the 3×3 matrix applied to the curves' result (row = output channel), and a
# second set of curves applied after the matrix (``Transform``).
OUTPUT_CURVES = "curves"  # (N, 3, CURVE_KNOTS) float32
OUTPUT_MATRIX = "matrix"  # (N, 3, 3) float32
OUTPUT_POST_CURVES = "post_curves"  # (N, 3, CURVE_KNOTS) float32: the curves applied after the matrix
# Optional: how much of the restoration (the stretch and the transform) to apply, 0..1; a model
# without it means all of it. ``Restorer.predict`` returns the transform already blended by it.
OUTPUT_AMOUNT = "amount"  # (N, 1) float32
CURVE_KNOTS = 17
N_STATS = 3 * len(QUANTILES) + 6
METADATA_KEY = "rehue_restore"
MODEL_FILE = "rehue-restore.onnx"
# A colour photo is "faded" when its restoration would move it by more than this mean ΔE00 on the
# thumbnail (chosen on the tune half of the held-out photos; the model's metadata may override it).
FADED_DELTA_E = 6.0


def overview(pixels: np.ndarray) -> np.ndarray:
    """The photo at STATS_SIZE (long side), float32 RGB in [0, 1]: all the restore network reads.
    A large scan is first thinned by striding (area-averaging 12 MP alone took ~40 ms)."""
    step = max(1, min(pixels.shape[:2]) // (4 * STATS_SIZE))
    return contract.to_unit_float(photo_io.reduce(pixels[::step, ::step], STATS_SIZE))


def as_overview(pixels: np.ndarray) -> np.ndarray:
    """``overview`` of a photo, or the photo itself when it already is one (float32, STATS_SIZE)."""
    return overview(pixels) if max(pixels.shape[:2]) > STATS_SIZE or pixels.dtype != np.float32 else pixels


STRETCH_PERCENTILES = (0.5, 99.5)
GRAY_WORLD_LIMITS = (0.7, 1.4)


def stretch(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classical first step, as a per-channel (gain, offset) on float RGB in [0, 1]: each
    channel stretched between robust percentiles (a cast and the lost contrast undone), then a
    gray-world balance (each channel's mean made the photo's mean, within GRAY_WORLD_LIMITS).
    The network starts from here: it sees a photo whose cast is mostly gone, whatever the fade."""
    flat = rgb.reshape(-1, 3)
    lo, hi = np.percentile(flat, STRETCH_PERCENTILES, axis=0)
    gain = 1.0 / np.maximum(hi - lo, 0.02)
    offset = -lo * gain
    means = np.clip(flat * gain + offset, 0.0, 1.0).mean(axis=0)
    balance = np.clip(means.mean() / np.maximum(means, 1e-3), *GRAY_WORLD_LIMITS)
    return (gain * balance).astype(np.float32), (offset * balance).astype(np.float32)


def stretched(rgb: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return np.clip(rgb * gain + offset, 0.0, 1.0).astype(np.float32)


def stretch_move(rgb: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> float:
    """How far the classical stretch alone moves the photo (mean ΔE00, on an ``overview``)."""
    return contract.mean_ciede2000(rgb, stretched(rgb, gain, offset))


def amount_floor(move: float, floor: dict | None) -> float:
    """The least of the restoration a photo gets, from how far the stretch alone moves it.

    The amount head judges "how faded" from what the photo shows, and a flat or unusual print can
    fool it into leaving a strong fade alone; a print that the plain stretch moves a lot is faded
    whatever it shows. ``floor`` (the model's metadata, chosen on the tune half): no floor below
    ``from_move`` ΔE00, rising linearly to ``top`` at ``full_move``."""
    if not floor:
        return 0.0
    lo, hi, top = float(floor["from_move"]), float(floor["full_move"]), float(floor["top"])
    return top * float(np.clip((move - lo) / max(hi - lo, 1e-6), 0.0, 1.0))


def restore_inputs(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) uint8/uint16 RGB (or an ``overview``) -> the network's (thumb, stats) for one
    photo, batch of 1, both of the photo after ``stretch``; and that stretch's (gain, offset)."""
    rgb = as_overview(pixels)
    gain, offset = stretch(rgb)
    rgb = stretched(rgb, gain, offset)
    thumb = cv2.resize(rgb, (THUMB_SIZE, THUMB_SIZE), interpolation=cv2.INTER_AREA)
    quantiles = np.quantile(rgb.reshape(-1, 3), QUANTILES, axis=0).T.reshape(-1)  # channel-major
    stats = np.concatenate([quantiles, np.log(gain), offset])  # what the stretch did, so the network can undo it
    return thumb.transpose(2, 0, 1)[None].astype(np.float32), stats[None].astype(np.float32), gain, offset


@dataclass(frozen=True)
class Transform:
    """One photo's restoration on sRGB values in [0, 1]: per-channel curves (3, CURVE_KNOTS), a 3×3
    matrix, then per-channel curves again (``post``). The shape of the inverse of a fade: undo the
    stain and the lifted black per channel, undo the lost saturation (the dyes' crosstalk) with
    the matrix, then undo each channel's tone change."""

    curves: np.ndarray
    matrix: np.ndarray
    post: np.ndarray
    gain: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))  # the stretch before the curves
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))

    @staticmethod
    def identity() -> Transform:
        line = np.tile(np.linspace(0, 1, CURVE_KNOTS, dtype=np.float32), (3, 1))
        return Transform(line, np.eye(3, dtype=np.float32), line.copy())

    @staticmethod
    def lut(curves: np.ndarray, levels: int, gain: np.ndarray | None = None, offset: np.ndarray | None = None) -> np.ndarray:
        """(levels, 3) float32: each channel's curve (after the stretch, if given) at every input
        level (levels 256 or 65536): the stretch costs nothing at full resolution."""
        x = np.linspace(0.0, 1.0, levels, dtype=np.float32)
        knots = np.linspace(0.0, 1.0, CURVE_KNOTS, dtype=np.float32)
        cols = []
        for c in range(3):
            xc = x if gain is None or offset is None else np.clip(x * gain[c] + offset[c], 0.0, 1.0)
            cols.append(np.interp(xc, knots, curves[c]))
        return np.stack(cols, axis=1).astype(np.float32)

    def blended(self, strength: float) -> Transform:
        """Part of the way from no change (0) to the full restoration (1), each part moved alike."""
        ident = Transform.identity()
        s = float(np.clip(strength, 0.0, 1.0))
        return Transform(ident.curves + s * (self.curves - ident.curves), ident.matrix + s * (self.matrix - ident.matrix),
                         ident.post + s * (self.post - ident.post), ident.gain + s * (self.gain - ident.gain),
                         ident.offset + s * (self.offset - ident.offset))


def _apply_curves(pixels: np.ndarray, curves: np.ndarray, gain: np.ndarray | None = None,
                  offset: np.ndarray | None = None) -> np.ndarray:
    """One lookup table per channel, at the photo's own bit depth (clipped to its range)."""
    top = 65535 if pixels.dtype == np.uint16 else 255
    lut = np.clip(Transform.lut(curves, top + 1, gain, offset) * top + 0.5, 0, top)
    if pixels.dtype == np.uint8:
        return cv2.LUT(pixels, lut.astype(np.uint8)[:, None, :])  # (256, 1, 3): a table per channel
    table = lut.astype(np.uint16)
    out = np.empty_like(pixels)
    for c in range(3):
        np.take(table[:, c], pixels[..., c], out=out[..., c])
    return out


def apply(pixels: np.ndarray, transform: Transform) -> np.ndarray:
    """Restore (H, W, 3) uint8 or uint16 RGB at full resolution: a new array of the same dtype.

    A table per channel, OpenCV's saturating 3×3 transform, a table per channel again, all at the
    photo's bit depth: a 12 MP photo takes tens of milliseconds, and no pixel looks at another (no halos)."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError("restoring needs an RGB photo")
    out = _apply_curves(pixels, transform.curves, transform.gain, transform.offset)
    if not np.allclose(transform.matrix, np.eye(3), atol=1e-4):
        out = cv2.transform(out, transform.matrix.astype(np.float32))
    return _apply_curves(out, transform.post)


def apply_float(rgb: np.ndarray, transform: Transform) -> np.ndarray:
    """The same transform on (..., 3) float sRGB in [0, 1] (training's evaluation, the fadedness)."""
    knots = np.linspace(0.0, 1.0, CURVE_KNOTS)

    def curves(x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.clip(np.stack([np.interp(x[..., k], knots, c[k]) for k in range(3)], axis=-1), 0.0, 1.0)

    mixed = np.clip(curves(stretched(rgb, transform.gain, transform.offset), transform.curves) @ transform.matrix.T, 0.0, 1.0)
    return curves(mixed, transform.post).astype(np.float32)


@dataclass(frozen=True)
class Assessment:
    """What the restore network makes of one colour photo: its transform and how much it would
    change the photo (mean ΔE00 on the thumbnail): ``faded`` when that passes the model's threshold."""

    transform: Transform
    change: float
    faded: bool


class RestoreError(RuntimeError):
    """The restore model cannot be loaded; the message says what to do."""


class Restorer:
    """The restore network on onnxruntime's CPU provider: a 64 px thumbnail is all it reads, so
    a GPU would only add a copy."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None) -> None:
        from rehue import providers

        try:
            ort = providers.load_runtime()
        except providers.RuntimeMissing as exc:
            raise RestoreError(str(exc)) from exc
        path = Path(model_path) if model_path else default_model_path()
        if not path.exists():
            raise RestoreError(f"the restore model {path} is missing: reinstall Rehue (pip install --force-reinstall rehue)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a damaged file
            raise RestoreError(f"the restore model {path} cannot be loaded ({exc}): reinstall Rehue") from exc
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        self.metadata: dict = json.loads(raw) if raw else {}
        self.faded_delta_e = float(self.metadata.get("faded_delta_e", FADED_DELTA_E))
        self.has_amount = OUTPUT_AMOUNT in {o.name for o in self.session.get_outputs()}
        self.amount_floor: dict | None = self.metadata.get("amount_floor")
        self.path = path

    def full_restoration(self, pixels: np.ndarray) -> tuple[Transform, float | None, np.ndarray]:
        """The whole restoration (amount 1), the network's own amount (None: a model without the
        head) and the ``overview`` it was read from: what ``predict`` blends, apart for experiments."""
        rgb = as_overview(pixels)
        thumb, stats, gain, offset = restore_inputs(rgb)
        names = [OUTPUT_CURVES, OUTPUT_MATRIX, OUTPUT_POST_CURVES] + ([OUTPUT_AMOUNT] if self.has_amount else [])
        curves, matrix, post, *amount = self.session.run(names, {INPUT_THUMB: thumb, INPUT_STATS: stats})
        transform = Transform(curves[0].astype(np.float32), matrix[0].astype(np.float32), post[0].astype(np.float32), gain, offset)
        return transform, (float(amount[0].reshape(-1)[0]) if amount else None), rgb

    def predict(self, pixels: np.ndarray) -> Transform:
        """The photo's restoration, as much of it as the model says to apply (its amount, if it has
        one, and at least the floor the stretch's own move sets)."""
        transform, amount, rgb = self.full_restoration(pixels)
        if amount is None:
            return transform
        floor = amount_floor(stretch_move(rgb, transform.gain, transform.offset), self.amount_floor) if self.amount_floor else 0.0
        return transform.blended(max(amount, floor))

    def assess(self, pixels: np.ndarray) -> Assessment:
        """The photo's transform, and whether it is faded enough that the app should offer to restore it."""
        if pixels.ndim != 3:
            raise ValueError("only a colour photo can be restored")
        small = overview(pixels)
        transform = self.predict(small)
        small = cv2.resize(small, (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2)), interpolation=cv2.INTER_AREA)
        change = contract.mean_ciede2000(small, apply_float(small, transform))
        return Assessment(transform, change, change >= self.faded_delta_e)

    def history(self) -> tuple[str, str]:
        """What a restored photo's metadata says about it (``photo_io.with_history``)."""
        from rehue import __version__

        return (f"Faded colours restored by Rehue {__version__} with the model {self.metadata.get('model_name', 'rehue-restore')} "
                f"{self.metadata.get('model_version', '')}", f"Rehue {__version__}")

    def restore_photo(self, photo: photo_io.Photo, dst: Path, *, strength: float = 1.0, fmt: str | None = None,
                      mark: bool = True, transform: Transform | None = None) -> Path:
        """Restore an already read colour photo at full resolution and write ``dst`` atomically
        with its metadata: the same writer as colorization (``photo_io.write_result``)."""
        if photo.pixels.ndim != 3:
            raise ValueError(f"{photo_io.printable(photo.path)} is black and white: there is no colour to restore")
        transform = transform if transform is not None else self.predict(photo.pixels)
        rgb = apply(photo.pixels, transform.blended(strength))
        photo_io.write_result(photo, rgb, dst, fmt, self.history() if mark else None)
        return Path(dst)


def default_model_path() -> Path:
    from rehue import resources

    return resources.models_dir() / MODEL_FILE


__all__ = ["Restorer", "RestoreError", "Transform", "Assessment", "apply", "apply_float", "restore_inputs",
           "THUMB_SIZE", "CURVE_KNOTS"]
