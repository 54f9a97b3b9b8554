"""The colorization engine: one ONNX session behind one facade for the GUI and the batch command.

``Colorizer`` is loaded once per (model, provider) and offers:

- ``prepare(pixels)``: the working-resolution lightness of a photo (done once per photo);
- ``predict(prepared, hints)``: the chroma at working resolution (a few tens of ms; what a hint
  edit re-runs);
- ``render(pixels, chroma, strength)``: the full-resolution colour photo;
- ``colorize(pixels, hints, strength)``: all three; ``colorize_file`` adds reading and writing.

Imports neither Qt nor torch (a test enforces it).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rehue import contract, hint_refine, photo_io, recombine
from rehue.contract import Hint
from rehue.resources import default_model_path

log = logging.getLogger(__name__)

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class EngineError(RuntimeError):
    """The model cannot be loaded or run; the message says what to do."""


def choose_providers(requested: str, available: Sequence[str]) -> list[str]:
    """ONNX Runtime providers to ask for: CUDA then CPU for 'auto' or 'cuda' (when listed), else CPU."""
    requested = requested.lower()
    if requested not in ("auto", "cpu", "cuda"):
        raise EngineError(f"unknown provider {requested!r}: use auto, cpu or cuda")
    chosen = []
    if requested in ("auto", "cuda") and PROVIDERS["cuda"] in available:
        chosen.append(PROVIDERS["cuda"])
    chosen.append(PROVIDERS["cpu"])
    return chosen


@dataclass(frozen=True)
class Prepared:
    """A photo reduced to what the network needs.

    ``l_work``: (h, w) float32 L in [0, 100] at working resolution (long side <= working_size).
    ``full_size``: the original (width, height).
    """

    l_work: np.ndarray
    full_size: tuple[int, int]


@dataclass(frozen=True)
class Chroma:
    """The network's answer for one photo and one set of hints.

    ``ab``: (h, w, 2) float32 Lab units at working resolution. ``probs``: (Q, h/4, w/4) float32
    distribution over ``bins`` (Q, 2) — the source of suggested colours.
    """

    ab: np.ndarray
    probs: np.ndarray
    bins: np.ndarray


@dataclass
class Timings:
    """Seconds spent per stage of the last colorize_file call."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, t0: float) -> float:
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - t0
        return now


class Colorizer:
    """An ONNX colorization model ready to run. Thread-safe: one session serves every caller."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None, provider: str = "auto", threads: int | None = None,
                 refine_hints: bool = True) -> None:
        self.refine_hints = refine_hints  # fuse hints into the distribution and spread them (rehue.hint_refine)
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise EngineError(f"no model at {path}: reinstall Rehue, or pass --model with a .onnx file from rehue-export")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Idle intra-op threads would otherwise busy-wait after each run, stealing the cores from
        # the numpy and OpenCV work that follows (hint fusion, recombination): 18 ms per preview on 2 cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        available = ort.get_available_providers()
        wanted = choose_providers(provider, available)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=wanted)
        except Exception as exc:
            if len(wanted) > 1:  # CUDA listed but unusable (no driver, no GPU): fall back loudly
                log.warning("CUDA provider failed (%s); using the CPU", exc)
                self.session = ort.InferenceSession(str(path), sess_options=opts, providers=[PROVIDERS["cpu"]])
            else:
                raise EngineError(f"{path}: not a usable ONNX model ({exc})") from exc
        meta_raw = self.session.get_modelmeta().custom_metadata_map.get(contract.METADATA_KEY)
        try:
            self.metadata = contract.parse_metadata(meta_raw)
        except contract.ContractError as exc:
            raise EngineError(f"{path}: {exc}") from exc
        names_in = tuple(i.name for i in self.session.get_inputs())
        names_out = tuple(o.name for o in self.session.get_outputs())
        if names_in != contract.INPUT_NAMES or names_out != contract.OUTPUT_NAMES:
            raise EngineError(f"{path}: graph inputs/outputs {names_in} -> {names_out} are not Rehue's")
        self.model_path = path
        self.working_size = int(self.metadata["working_size"])
        self.bins = np.asarray(self.metadata["ab_bins"], dtype=np.float32)
        self.providers = self.session.get_providers()
        if provider == "cuda" and PROVIDERS["cuda"] not in self.providers:
            log.warning("CUDA was asked for but is not available; running on the CPU")
        log.info("model %s %s on %s", self.metadata["model_name"], self.metadata["model_version"], self.providers)

    @property
    def device_name(self) -> str:
        """'CUDA' or 'CPU': what the session really runs on."""
        return "CUDA" if self.providers and self.providers[0] == PROVIDERS["cuda"] else "CPU"

    # ------------------------------------------------------------------ stages

    def prepare(self, pixels: np.ndarray, working_size: int | None = None) -> Prepared:
        """(H, W) or (H, W, 3) uint8/uint16 photo -> its working-resolution L."""
        small = photo_io.reduce(pixels, working_size or self.working_size)
        return Prepared(recombine.lightness(np.ascontiguousarray(small)), (pixels.shape[1], pixels.shape[0]))

    def predict(self, prepared: Prepared, hints: Iterable[Hint] = ()) -> Chroma:
        """Run the network on the working L plus hints (hint positions are fractions of the photo)."""
        h, w = prepared.l_work.shape
        hint_ab, hint_mask = contract.encode_hints(hints, h, w)
        return self.predict_planes(prepared.l_work, hint_ab, hint_mask)

    def predict_planes(self, l_work: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> Chroma:
        """The network on already-rasterised hint planes (evaluation protocols use their own).

        ``l_work`` (h, w) L in [0, 100]; ``hint_ab`` (2, h, w) normalised; ``hint_mask`` (1, h, w).
        """
        h, w = l_work.shape
        planes = (hint_ab, hint_mask)
        ph, pw = contract.padded_size(max(h, contract.STRIDE), max(w, contract.STRIDE))
        pad = ((0, ph - h), (0, pw - w))
        # Reflect needs the padding smaller than the image; tiny photos fall back to edge copies.
        mode = "reflect" if ph - h < h and pw - w < w else "edge"
        l_in = np.pad(contract.normalise_l(l_work), pad, mode=mode)[None, None]  # (h, w) -> (1, 1, H, W)
        hint_ab = np.pad(hint_ab, ((0, 0), *pad))[None]  # (2, h, w) -> (1, 2, H, W)
        hint_mask = np.pad(hint_mask, ((0, 0), *pad))[None]  # (1, h, w) -> (1, 1, H, W)
        ab, probs = self.session.run(
            list(contract.OUTPUT_NAMES),
            {contract.INPUT_L: l_in, contract.INPUT_HINT_AB: hint_ab, contract.INPUT_HINT_MASK: hint_mask},
        )
        ab = contract.denormalise_ab(ab[0, :, :h, :w]).transpose(1, 2, 0)  # (2, h, w) -> (h, w, 2)
        ph4, pw4 = -(-h // contract.PROBS_STRIDE), -(-w // contract.PROBS_STRIDE)
        probs = probs[0, :, :ph4, :pw4]
        if self.refine_hints and planes[1].any():
            ab = hint_refine.fuse(probs, l_work, *planes, bins=self.bins)
            ab = hint_refine.refine(ab, l_work, *planes)
        return Chroma(np.ascontiguousarray(ab), probs, self.bins)

    def render(self, pixels: np.ndarray, chroma: Chroma, strength: float = 1.0, *, in_place: bool = False,
               should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """Full-resolution colour photo (H, W, 3), same dtype as ``pixels``."""
        out = pixels if in_place and pixels.ndim == 3 else None
        return recombine.recombine(pixels, chroma.ab, strength, out, should_stop=should_stop)

    def colorize(self, pixels: np.ndarray, hints: Iterable[Hint] = (), strength: float = 1.0) -> np.ndarray:
        """Colour version of a photo at its own resolution: (H, W[, 3]) -> (H, W, 3), same dtype."""
        return self.render(pixels, self.predict(self.prepare(pixels), hints), strength)

    def suggest_colors(self, chroma: Chroma, x: float, y: float, l_value: float, k: int = 6) -> list[tuple[int, int, int]]:
        """The k most likely distinct colours the model sees at (x, y) (fractions of the photo), as
        8-bit sRGB at lightness ``l_value`` — what a user picks from when placing a hint."""
        q, h4, w4 = chroma.probs.shape
        cx = int(np.clip(x * w4, 0, w4 - 1))
        cy = int(np.clip(y * h4, 0, h4 - 1))
        p = chroma.probs[:, max(0, cy - 1):cy + 2, max(0, cx - 1):cx + 2].mean(axis=(1, 2))
        order = np.argsort(p)[::-1]
        picked: list[np.ndarray] = []
        for i in order:
            ab = chroma.bins[i]
            if all(np.hypot(*(ab - o)) >= 18 for o in picked):
                picked.append(ab)
            if len(picked) == k:
                break
        lab = np.array([[[l_value, a, b] for a, b in picked]], dtype=np.float32)
        l_ch = lab[..., 0]
        ab_arr = lab[..., 1:].copy()
        recombine.limit_to_gamut(l_ch, ab_arr)
        rgb = np.clip(contract.lab_to_rgb(np.dstack([l_ch, ab_arr])), 0, 1)[0]
        return [tuple(int(round(c * 255)) for c in px) for px in rgb]

    # ------------------------------------------------------------------ files

    def colorize_file(self, src: Path, dst: Path, *, hints: Iterable[Hint] = (), strength: float = 1.0,
                      fmt: str | None = None, timings: Timings | None = None) -> Path:
        """Read ``src``, colorize it at full resolution, write ``dst`` atomically with its metadata."""
        t = time.perf_counter()
        photo = photo_io.read_photo(src)
        if timings:
            t = timings.add("read", t)
        prepared = self.prepare(photo.pixels)
        if timings:
            t = timings.add("prepare", t)
        chroma = self.predict(prepared, hints)
        if timings:
            t = timings.add("predict", t)
        rgb = self.render(photo.pixels, chroma, strength, in_place=True)
        photo.pixels = rgb
        if timings:
            t = timings.add("recombine", t)
        fmt = fmt or photo_io.format_for(dst)
        data = photo_io.encode_like(photo, rgb, fmt)
        if timings:
            t = timings.add("encode", t)
        photo_io.write_atomically(dst, data)
        if timings:
            timings.add("write", t)
        return dst


__all__ = ["Colorizer", "Prepared", "Chroma", "Hint", "EngineError", "Timings", "choose_providers"]
