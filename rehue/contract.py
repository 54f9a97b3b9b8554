"""The contract between training (``export/``) and inference (``rehue.engine``).

Everything both sides must agree on lives here and only here: the Lab conversion and its
normalisation, the ONNX input/output names and shapes, the hint encoding, the stride the network
needs, the quantised ab bins of the classification head, and the keys of the JSON metadata that
every exported ONNX file carries in ``metadata_props``. A parity test (torch vs onnxruntime on the
same encoded input) pins it.

This module needs only numpy and OpenCV, so both the engine (no torch) and training can import it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

CONTRACT_VERSION = 2

# A model is two ONNX graphs, so that a hint edit re-runs only the second:
#   encoder: L -> features          (once per photo; it never sees hints)
#   decoder: features + hints -> ab (on every hint edit)
# stored side by side as <stem>.encoder.onnx and <stem>.decoder.onnx (see model_files).
# Shapes: N images, H and W multiples of STRIDE.
INPUT_L = "L"  # (N, 1, H, W) float32, normalised lightness, see normalise_l
FEATURE_STRIDES = (4, 8, 16, 32)
FEATURE_NAMES = tuple(f"feat{k}" for k in FEATURE_STRIDES)  # (N, C_k, H/k, W/k) float32
INPUT_HINT_AB = "hint_ab"  # (N, 2, H, W) float32, normalised ab of the hints, 0 elsewhere
INPUT_HINT_MASK = "hint_mask"  # (N, 1, H, W) float32, 1 where a hint is, 0 elsewhere
OUTPUT_AB = "ab"  # (N, 2, H, W) float32, normalised ab prediction
OUTPUT_AB_PROBS = "ab_probs"  # (N, Q, H/4, W/4) float32, distribution over AB_BINS per cell
ENCODER_INPUTS = (INPUT_L,)
ENCODER_OUTPUTS = FEATURE_NAMES
DECODER_INPUTS = (*FEATURE_NAMES, INPUT_HINT_AB, INPUT_HINT_MASK)
DECODER_OUTPUTS = (OUTPUT_AB, OUTPUT_AB_PROBS)
PARTS = {"encoder": (ENCODER_INPUTS, ENCODER_OUTPUTS), "decoder": (DECODER_INPUTS, DECODER_OUTPUTS)}

STRIDE = 32  # H and W of the network input must be multiples of this
PROBS_STRIDE = 4  # ab_probs is this many times coarser than the input

# Normalisation: L in [0, 100] -> [-1, 1]; ab in about [-110, 110] -> about [-1, 1].
L_CENTER = 50.0
L_SCALE = 50.0
AB_SCALE = 110.0

# Quantised ab bins of the classification head (Zhang et al. 2016): a grid of AB_BIN_STEP over
# [-110, 110], keeping only the cells that some sRGB colour falls into.
AB_BIN_STEP = 10.0
AB_BIN_RANGE = 110.0
# The ``ab`` output is the annealed mean of ``ab_probs`` (Zhang et al. 2016): softmax(log p / T) · bins,
# computed inside the decoder graph, then muted where the model is unsure: multiplied by
# clip(1 - gain × (H - MUTE_FROM), 0, 1), H the cell's entropy / log Q. A cell torn between red and
# blue would otherwise get their mean, purple; muting gives it the photo's gray instead.
# The model's metadata carries both numbers ("anneal_t", "mute_gain").
ANNEAL_T = 0.38
MUTE_FROM = 0.35

# Metadata keys in the ONNX file's metadata_props. The value of METADATA_KEY is one JSON object.
METADATA_KEY = "rehue"
METADATA_FIELDS = (
    "contract_version",  # int, must equal CONTRACT_VERSION
    "model_name",  # str
    "model_version",  # str
    "working_size",  # int, long side in pixels at which the model is meant to run
    "stride",  # int, must equal STRIDE
    "normalisation",  # {"l_center", "l_scale", "ab_scale"}
    "ab_bins",  # [[a, b], ...] the bin centres of ab_probs
    "anneal_t",  # float, the temperature of the annealed mean that gives ab from ab_probs...
    "mute_gain",  # float, how strongly an unsure cell's chroma is muted (see ANNEAL_T)
    "part",  # "encoder" or "decoder"
    "inputs",  # list of input names of this part
    "outputs",  # list of output names of this part
    "training_data",  # list of str: which shards trained it
    "metrics",  # dict: validation numbers
    "created",  # ISO date
)


class ContractError(ValueError):
    """A model or an input does not follow this contract."""


# ----------------------------------------------------------------------------- Lab conversion


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (D65) to CIE Lab.

    ``rgb``: (H, W, 3) RGB order, uint8 (0..255), uint16 (0..65535) or float32 (0..1).
    Returns (H, W, 3) float32 with L in [0, 100] and a, b in about [-128, 127].
    """
    return cv2.cvtColor(to_unit_float(rgb), cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIE Lab to sRGB, (H, W, 3) float32 -> (H, W, 3) float32, *not* clipped to [0, 1]."""
    return cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)


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


def mean_ciede2000(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """Mean CIEDE2000 between two RGB images (uint8, uint16 or float in [0, 1])."""
    return float(ciede2000(rgb_to_lab(rgb_a), rgb_to_lab(rgb_b)).mean())


def rgb_to_l(rgb: np.ndarray) -> np.ndarray:
    """Lightness only: (H, W, 3) RGB -> (H, W) float32 in [0, 100]."""
    return rgb_to_lab(rgb)[..., 0]


def to_unit_float(rgb: np.ndarray) -> np.ndarray:
    """uint8/uint16/float image -> float32 in [0, 1], same shape."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) * np.float32(1.0 / 255.0)
    if rgb.dtype == np.uint16:
        return rgb.astype(np.float32) * np.float32(1.0 / 65535.0)
    return np.ascontiguousarray(rgb, dtype=np.float32)


def normalise_l(l_channel: np.ndarray) -> np.ndarray:
    """L in [0, 100] -> network range [-1, 1] (float32, same shape)."""
    return ((l_channel - L_CENTER) / L_SCALE).astype(np.float32)


def normalise_ab(ab: np.ndarray) -> np.ndarray:
    """ab in Lab units -> network range (float32, same shape)."""
    return (ab / AB_SCALE).astype(np.float32)


def denormalise_ab(ab_norm: np.ndarray) -> np.ndarray:
    """Network ab -> Lab units (float32, same shape)."""
    return (ab_norm * AB_SCALE).astype(np.float32)


# ----------------------------------------------------------------------------- ab bins


def anneal(log_p: np.ndarray, bins: np.ndarray, anneal_t: float = ANNEAL_T) -> np.ndarray:
    """The annealed mean softmax(log p / T) · bins: (Q, n) log-probabilities (any additive constant
    per cell; overwritten, to spare a copy) -> (n, 2) Lab chroma. The decoder graph does this in
    torch; the engine needs it in numpy to clean the automatic chroma and to fuse hints."""
    log_p -= log_p.max(axis=0, keepdims=True)
    log_p *= np.float32(1.0 / anneal_t)
    np.exp(log_p, out=log_p)
    return np.einsum("qc,qn->nc", bins.astype(np.float32), log_p) / log_p.sum(axis=0)[:, None]  # einsum: no BLAS threads


def anneal_and_entropy(probs: np.ndarray, bins: np.ndarray, anneal_t: float = ANNEAL_T) -> tuple[np.ndarray, np.ndarray]:
    """(Q, h, w) probabilities over ``bins`` (Q, 2) -> the unmuted annealed mean (h, w, 2) Lab
    chroma per cell and the normalised entropy (h, w) in [0, 1]: one logarithm for both (the
    engine needs the entropy to mute and to weigh cells, ``rehue.propagate``)."""
    q, h, w = probs.shape
    flat = probs.reshape(q, -1)
    log_p = np.maximum(flat, np.float32(1e-12))
    np.log(log_p, out=log_p)
    entropy = -np.einsum("qn,qn->n", flat, log_p) / np.float32(np.log(q))
    ab = anneal(log_p, bins, anneal_t)  # (h·w, 2); overwrites log_p
    return np.ascontiguousarray(ab.reshape(h, w, 2), dtype=np.float32), entropy.reshape(h, w).astype(np.float32)


def mute(ab: np.ndarray, entropy: np.ndarray, mute_gain: float) -> np.ndarray:
    """Chroma per cell (h, w, 2) muted where unsure: × clip(1 − gain × (H − MUTE_FROM), 0, 1)."""
    if not mute_gain:
        return ab
    return ab * np.clip(1.0 - mute_gain * np.maximum(entropy - MUTE_FROM, 0.0), 0.0, 1.0)[..., None].astype(np.float32)


def annealed_mean(probs: np.ndarray, bins: np.ndarray, anneal_t: float = ANNEAL_T, mute_gain: float = 0.0) -> np.ndarray:
    """The decoder graph's own decoding, in numpy: (Q, h, w) probabilities over ``bins`` (Q, 2) ->
    (h, w, 2) Lab chroma per cell, muted where unsure (see ANNEAL_T). The graph outputs this
    bilinearly upsampled; the engine needs it per cell to clean the automatic chroma."""
    ab, entropy = anneal_and_entropy(probs, bins, anneal_t)
    return mute(ab, entropy, mute_gain)


def _in_gamut_ab_cells() -> np.ndarray:
    """The ab grid cells that some sRGB colour lands in; (Q, 2) float32 centres."""
    steps = np.linspace(0.0, 1.0, 33, dtype=np.float32)
    r, g, b = np.meshgrid(steps, steps, steps, indexing="ij")
    cube = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=-1)[None]  # (1, M, 3)
    lab = rgb_to_lab(cube)[0]  # (M, 3)
    idx = np.round((lab[:, 1:] + AB_BIN_RANGE) / AB_BIN_STEP).astype(int)
    n = int(round(2 * AB_BIN_RANGE / AB_BIN_STEP)) + 1
    idx = np.clip(idx, 0, n - 1)
    used = np.zeros((n, n), dtype=bool)
    used[idx[:, 0], idx[:, 1]] = True
    ia, ib = np.nonzero(used)
    centres = np.stack([ia, ib], axis=-1).astype(np.float32) * AB_BIN_STEP - AB_BIN_RANGE
    return centres


AB_BINS: np.ndarray = _in_gamut_ab_cells()  # (Q, 2) float32, Lab units


def nearest_ab_bin(ab: np.ndarray, bins: np.ndarray = AB_BINS) -> np.ndarray:
    """Index of the nearest bin for each ab pair: (..., 2) -> (...) int64."""
    flat = ab.reshape(-1, 2).astype(np.float32)
    d = ((flat[:, None, :] - bins[None, :, :]) ** 2).sum(-1)  # (M, Q)
    return d.argmin(1).reshape(ab.shape[:-1])


# ----------------------------------------------------------------------------- hints


DEFAULT_REACH = 0.3  # how far a hint acts, as a fraction of the photo's long side (see rehue.hint_reach)
REACH_RANGE = (0.02, 1.0)


@dataclass(frozen=True)
class Hint:
    """One user colour hint.

    ``x``, ``y``: position as a fraction of the image width/height (0..1), so a hint placed on a
    preview lands on the same spot at any resolution. ``a``, ``b``: the colour's Lab chroma.
    ``radius``: half-size of the square patch the network sees, in pixels at the model's working
    resolution (0 = one pixel, 2 = a 5x5 patch). ``reach``: how far along its object the hint acts,
    as a fraction of the photo's long side (the brush size; the engine's business, not the network's).
    """

    x: float
    y: float
    a: float
    b: float
    radius: int = 2
    reach: float = DEFAULT_REACH

    @classmethod
    def from_rgb(cls, x: float, y: float, rgb: Sequence[int], radius: int = 2, reach: float = DEFAULT_REACH) -> Hint:
        """A hint from an 8-bit sRGB colour; its lightness is dropped (the photo's L is kept)."""
        lab = rgb_to_lab(np.array([[rgb]], dtype=np.uint8))[0, 0]
        return cls(float(x), float(y), float(lab[1]), float(lab[2]), int(radius), float(reach))

    def to_dict(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "a": self.a, "b": self.b, "radius": self.radius, "reach": self.reach}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hint:
        """A hint from ``to_dict``'s output; raises ContractError on anything else."""
        try:
            x, y, a, b = (float(d[k]) for k in ("x", "y", "a", "b"))
            radius = int(d.get("radius", 2))
            reach = float(d.get("reach", DEFAULT_REACH))
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise ContractError(f"not a hint: {str(d)[:200]}") from exc
        if not (0 <= x <= 1 and 0 <= y <= 1 and -128 <= a <= 128 and -128 <= b <= 128 and 0 <= radius <= 16
                and np.isfinite(reach) and reach > 0):
            raise ContractError(f"hint out of range: {str(d)[:200]}")
        return cls(x, y, a, b, radius, float(np.clip(reach, *REACH_RANGE)))


def encode_hints(hints: Iterable[Hint], height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise hints at the network's input size.

    Returns ``hint_ab`` (2, H, W) float32 normalised ab, and ``hint_mask`` (1, H, W) float32 in {0, 1}.
    Later hints overwrite earlier ones where their patches overlap. ``height``/``width`` are the
    size of the unpadded working image; the caller pads both planes with zeros.
    """
    hint_ab = np.zeros((2, height, width), dtype=np.float32)
    hint_mask = np.zeros((1, height, width), dtype=np.float32)
    for h in hints:
        cx = int(np.clip(round(h.x * width - 0.5), 0, width - 1))
        cy = int(np.clip(round(h.y * height - 0.5), 0, height - 1))
        r = max(0, int(h.radius))
        y0, y1 = max(0, cy - r), min(height, cy + r + 1)
        x0, x1 = max(0, cx - r), min(width, cx + r + 1)
        hint_ab[0, y0:y1, x0:x1] = h.a / AB_SCALE
        hint_ab[1, y0:y1, x0:x1] = h.b / AB_SCALE
        hint_mask[0, y0:y1, x0:x1] = 1.0
    return hint_ab, hint_mask


def padded_size(height: int, width: int, stride: int = STRIDE) -> tuple[int, int]:
    """The smallest (H, W) >= the given size that are multiples of ``stride``."""
    return -(-height // stride) * stride, -(-width // stride) * stride


# ----------------------------------------------------------------------------- metadata


def model_files(path: str | Path) -> tuple[Path, Path]:
    """The (encoder, decoder) files of the model that ``path`` names: either part's file, or the
    stem with or without ``.onnx`` (``models/rehue-colorizer.onnx`` -> ``models/rehue-colorizer.encoder.onnx``
    and ``models/rehue-colorizer.decoder.onnx``)."""
    path = Path(path)
    name = path.name
    for suffix in (".encoder.onnx", ".decoder.onnx", ".onnx"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(f"{name}.encoder.onnx"), path.with_name(f"{name}.decoder.onnx")


def make_metadata(
    *,
    part: str,
    model_name: str,
    model_version: str,
    working_size: int,
    training_data: list[str],
    metrics: dict[str, Any],
    created: str,
) -> dict[str, Any]:
    """The JSON object each exported ONNX file (``part``: encoder or decoder) carries under METADATA_KEY."""
    if part not in PARTS:
        raise ContractError(f"unknown model part {part!r}")
    return {
        "contract_version": CONTRACT_VERSION,
        "model_name": model_name,
        "model_version": model_version,
        "working_size": int(working_size),
        "stride": STRIDE,
        "normalisation": {"l_center": L_CENTER, "l_scale": L_SCALE, "ab_scale": AB_SCALE},
        "ab_bins": AB_BINS.tolist(),
        "anneal_t": ANNEAL_T,
        "mute_gain": 0.0,
        "part": part,
        "inputs": list(PARTS[part][0]),
        "outputs": list(PARTS[part][1]),
        "training_data": list(training_data),
        "metrics": dict(metrics),
        "created": created,
    }


def parse_metadata(raw: str | None) -> dict[str, Any]:
    """Parse and check a model's metadata JSON; raise ContractError if it disagrees with us."""
    if not raw:
        raise ContractError(
            f"the model carries no '{METADATA_KEY}' metadata: it was not exported by rehue-export"
        )
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ContractError(f"the model's metadata is not valid JSON ({exc})") from exc
    missing = [k for k in METADATA_FIELDS if k not in meta]
    if missing:
        raise ContractError(f"the model's metadata lacks {', '.join(missing)}")
    if meta["contract_version"] != CONTRACT_VERSION:
        raise ContractError(
            f"the model follows contract version {meta['contract_version']}, this Rehue reads "
            f"version {CONTRACT_VERSION}: update Rehue or use a matching model"
        )
    norm = meta["normalisation"]
    if (norm.get("l_center"), norm.get("l_scale"), norm.get("ab_scale")) != (L_CENTER, L_SCALE, AB_SCALE):
        raise ContractError(f"the model's normalisation {norm} differs from this Rehue's")
    if meta["stride"] != STRIDE:
        raise ContractError(f"the model's stride {meta['stride']} differs from {STRIDE}")
    if meta["part"] not in PARTS:
        raise ContractError(f"the model file is a {meta['part']!r}, not an encoder or a decoder")
    names_in, names_out = PARTS[meta["part"]]
    if tuple(meta["inputs"]) != names_in or tuple(meta["outputs"]) != names_out:
        raise ContractError(f"the model's inputs/outputs {meta['inputs']} -> {meta['outputs']} are not ours")
    return meta
