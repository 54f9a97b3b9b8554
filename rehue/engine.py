"""The colorization engine: one ONNX session behind one facade for the GUI and the batch command.

``Colorizer`` is loaded once per (model, provider) and offers:

- ``prepare(pixels)``: the working-resolution lightness of a photo (done once per photo);
  ``prepare_many`` does several photos in as few model runs as their sizes allow (GPU batches);
- ``predict(prepared, hints)``: the chroma at working resolution (a few tens of ms; what a hint
  edit re-runs);
- ``render(pixels, chroma, strength)``: the full-resolution colour photo;
- ``colorize(pixels, hints, strength)``: all three; ``colorize_file`` adds reading and writing.

Imports neither Qt nor torch (a test enforces it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from rehue import contract, hint_reach, photo_io, propagate, providers, recombine, restore
from rehue.contract import Hint
from rehue.providers import PROVIDER_CHOICES, PROVIDERS, choose_providers
from rehue.resources import default_model_path

log = logging.getLogger(__name__)


# Photos per model run on CUDA (rehue-batch --photos-per-run overrides). A 320 px photo is a small
# load for a GPU, so several go in one run; the batch then holds two groups of full-resolution
# photos in memory (16 × 12 MP RGB: about 0.6 GB). Not yet measured on a GPU (benchmarks/README.md).
GPU_PHOTOS_PER_RUN = 8


def _encoder_input(l_work: np.ndarray) -> np.ndarray:
    """(1, 1, H, W) normalised L padded to a multiple of the stride: what the encoder takes."""
    h, w = l_work.shape
    ph, pw = contract.padded_size(max(h, contract.STRIDE), max(w, contract.STRIDE))
    # Reflect needs the padding smaller than the image; tiny photos fall back to edge copies.
    mode: Literal["reflect", "edge"] = "reflect" if ph - h < h and pw - w < w else "edge"
    return np.pad(contract.normalise_l(l_work), ((0, ph - h), (0, pw - w)), mode=mode)[None, None]


class EngineError(RuntimeError):
    """The model cannot be loaded or run; the message says what to do."""


@dataclass(frozen=True)
class Prepared:
    """A photo reduced to what the decoder needs: computed once per photo, reused by every hint edit.

    ``l_work``: (h, w) float32 L in [0, 100] at working resolution (long side <= working_size).
    ``full_size``: the original (width, height). ``features``: the encoder's outputs
    (contract.FEATURE_NAMES) for ``l_work`` padded to a multiple of the stride.
    """

    l_work: np.ndarray
    full_size: tuple[int, int]
    features: tuple[np.ndarray, ...] = ()
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # the automatic chroma, once computed


@dataclass(frozen=True)
class Chroma:
    """The network's answer for one photo and one set of hints.

    ``ab``: (h, w, 2) float32 Lab units at working resolution. ``probs``: (Q, h/4, w/4) float32
    distribution over ``bins`` (Q, 2) — the source of suggested colours; given as the array or as
    a function that makes it, since only a click on the photo needs it (not every preview).
    """

    ab: np.ndarray
    probs_source: np.ndarray | Callable[[], np.ndarray]
    bins: np.ndarray

    @cached_property
    def probs(self) -> np.ndarray:
        src = self.probs_source
        return src() if callable(src) else src


@dataclass
class Timings:
    """Seconds spent per stage of the last colorize_file call."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, t0: float) -> float:
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - t0
        return now


class Colorizer:
    """An ONNX colorization model ready to run: its encoder and decoder sessions (rehue.contract).
    Thread-safe: one pair of sessions serves every caller.

    ``fallback_reason``: when CUDA was wanted and the model runs on the CPU instead, why (one line
    that says what to do); the status bar, the batch summary and the log show it."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None, provider: str | None = "auto",
                 threads: int | None = None, local_hints: bool = True, photos_per_run: int | None = None) -> None:
        self.local_hints = local_hints  # hints kept to where they reach, chroma made consistent; False: the network alone
        self._photos_per_run = photos_per_run
        self._restorer: restore.Restorer | None = None
        self._restorer_lock = threading.Lock()
        try:
            self._ort = ort = providers.load_runtime()
        except providers.RuntimeMissing as exc:
            raise EngineError(str(exc)) from exc
        path = Path(model_path) if model_path else default_model_path()
        enc_path, dec_path = contract.model_files(path)
        for required in (enc_path, dec_path):
            if not required.is_file():
                raise EngineError(f"no model file {required}: reinstall Rehue, or pass --model with the .onnx files from rehue-export")
        self._files = (enc_path, dec_path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Idle intra-op threads would otherwise busy-wait after each run, stealing the cores from
        # the numpy and OpenCV work that follows (hint fusion, recombination): 18 ms per preview on 2 cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self._opts = opts
        self.fallback_reason: str | None = None
        wanted = choose_providers(provider, ort.get_available_providers())
        if provider == "cuda" and len(wanted) == 1:  # asked for by name, and this runtime has no CUDA at all
            self._fall_back(providers.cuda_problem(ort) or "this installation has no GPU runtime")
        if len(wanted) > 1:
            problem = providers.cuda_problem(ort)
            if problem:
                self._fall_back(problem, wanted_cuda=provider == "cuda")
                wanted = [PROVIDERS["cpu"]]
        self._open_sessions(wanted)
        if len(wanted) > 1 and PROVIDERS["cuda"] not in self.decoder.get_providers():
            self._fall_back("the CUDA provider did not start (the log file has ONNX Runtime's reason)", wanted_cuda=provider == "cuda")
        metas: dict[str, dict] = {}
        part_files: tuple[tuple[str, Any, Path], ...] = (("encoder", self.encoder, enc_path), ("decoder", self.decoder, dec_path))
        for part, session, file in part_files:
            raw = session.get_modelmeta().custom_metadata_map.get(contract.METADATA_KEY)
            try:
                meta = contract.parse_metadata(raw)
            except contract.ContractError as exc:
                raise EngineError(f"{file}: {exc}") from exc
            names_in = tuple(i.name for i in session.get_inputs())
            names_out = tuple(o.name for o in session.get_outputs())
            if meta["part"] != part or (names_in, names_out) != contract.PARTS[part]:
                raise EngineError(f"{file}: graph inputs/outputs {names_in} -> {names_out} are not a Rehue {part}'s")
            metas[part] = meta
        if metas["encoder"]["model_version"] != metas["decoder"]["model_version"]:
            raise EngineError(f"{enc_path.name} and {dec_path.name} come from different models "
                              f"({metas['encoder']['model_version']} vs {metas['decoder']['model_version']}): reinstall Rehue")
        self.metadata = metas["decoder"]
        self.model_path = enc_path.with_name(enc_path.name.removesuffix(".encoder.onnx") + ".onnx")
        self.working_size = int(self.metadata["working_size"])
        self.bins = np.asarray(self.metadata["ab_bins"], dtype=np.float32)
        self._check_shapes()
        log.info("model %s %s on %s", self.metadata["model_name"], self.metadata["model_version"], self.providers)

    @property
    def restorer(self) -> restore.Restorer:
        """The faded-print restore model (``rehue.restore``) beside this one, loaded when first
        needed: a batch that only colorizes never reads it."""
        with self._restorer_lock:
            if self._restorer is None:
                self._restorer = restore.Restorer()
            return self._restorer

    def _open_sessions(self, wanted: list[str]) -> None:
        sessions = []
        for file in self._files:
            try:
                sessions.append(self._ort.InferenceSession(str(file), sess_options=self._opts, providers=wanted))
            except Exception as exc:
                if len(wanted) == 1:
                    raise EngineError(f"{file}: not a usable ONNX model ({exc})") from exc
                # CUDA listed but the session failed: the CPU alone first tells a bad file (its
                # EngineError, nothing said about CUDA) from a CUDA problem (then the fallback).
                self._open_sessions([PROVIDERS["cpu"]])
                self._fall_back(providers.describe_failure(exc), wanted_cuda=True)
                return
        self.encoder, self.decoder = sessions
        self.providers = self.decoder.get_providers()

    def _fall_back(self, reason: str, wanted_cuda: bool = True) -> None:
        """Record why the model runs on the CPU. Said to the person once, by whoever shows the
        device (the command line's first lines, the app's status bar); the log file keeps it."""
        self.fallback_reason = reason
        log.info("running on the CPU (%s): %s", "CUDA was asked for" if wanted_cuda else "automatic choice", reason)

    def _run(self, part: str, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One session run; a CUDA failure at run time (out of memory) moves the model to the CPU
        with the reason recorded, and the work goes on."""
        try:
            return getattr(self, part).run(outputs, feeds)
        except Exception as exc:
            if self.device_name != "CUDA":
                raise
            self._fall_back(providers.describe_failure(exc))
            self._open_sessions([PROVIDERS["cpu"]])
            return getattr(self, part).run(outputs, feeds)

    def _check_shapes(self) -> None:
        """Run both parts once on a tiny input: a model with the right names but the wrong shapes
        is refused here, not on every photo."""
        try:
            l_in = np.zeros((1, 1, contract.STRIDE, contract.STRIDE), np.float32)
            feats = self._run("encoder", list(contract.ENCODER_OUTPUTS), {contract.INPUT_L: l_in})
            for f, k in zip(feats, contract.FEATURE_STRIDES):
                if f.ndim != 4 or f.shape[2:] != (contract.STRIDE // k, contract.STRIDE // k):
                    raise EngineError(f"feature {k} has shape {f.shape}")
            hints = np.zeros((1, 2, contract.STRIDE, contract.STRIDE), np.float32), np.zeros((1, 1, contract.STRIDE, contract.STRIDE), np.float32)
            ab, probs = self._run("decoder", list(contract.DECODER_OUTPUTS), dict(zip(contract.DECODER_INPUTS, (*feats, *hints))))
            q = len(self.bins)
            if ab.shape != (1, 2, contract.STRIDE, contract.STRIDE) or probs.shape != (1, q, contract.STRIDE // 4, contract.STRIDE // 4):
                raise EngineError(f"outputs have shapes {ab.shape} and {probs.shape}")
        except EngineError as exc:
            raise EngineError(f"{self.model_path}: not a Rehue model ({exc})") from exc
        except Exception as exc:
            raise EngineError(f"{self.model_path}: the model does not run ({type(exc).__name__}: {exc})") from exc

    @property
    def device_name(self) -> str:
        """'CUDA' or 'CPU': what the session really runs on."""
        return "CUDA" if self.providers and self.providers[0] == PROVIDERS["cuda"] else "CPU"

    @property
    def photos_per_run(self) -> int:
        """How many photos ``prepare_many`` stacks into one model run: as asked, else
        GPU_PHOTOS_PER_RUN on CUDA and 1 on the CPU, where the model is no faster per photo
        stacked and a batch would hold two groups of full-resolution photos in memory
        (benchmarks/bench.py --only batch)."""
        if self._photos_per_run:
            return self._photos_per_run
        return GPU_PHOTOS_PER_RUN if self.device_name == "CUDA" else 1

    # ------------------------------------------------------------------ stages

    def prepare(self, pixels: np.ndarray, working_size: int | None = None) -> Prepared:
        """(H, W) or (H, W, 3) uint8/uint16 photo -> its working-resolution L and encoder features."""
        return self.prepare_l(self._working_l(pixels, working_size), (pixels.shape[1], pixels.shape[0]))

    def _working_l(self, pixels: np.ndarray, working_size: int | None = None) -> np.ndarray:
        """The photo's L in [0, 100] at the working resolution (long side <= working_size)."""
        return recombine.lightness(np.ascontiguousarray(photo_io.reduce(pixels, working_size or self.working_size)))

    def prepare_l(self, l_work: np.ndarray, full_size: tuple[int, int] | None = None) -> Prepared:
        """Run the encoder on a working-resolution L (h, w) in [0, 100]."""
        h, w = l_work.shape
        features = tuple(self._run("encoder", list(contract.ENCODER_OUTPUTS), {contract.INPUT_L: _encoder_input(l_work)}))
        return Prepared(l_work, full_size or (w, h), features)

    def prepare_many(self, pixels: Sequence[np.ndarray]) -> list[Prepared]:
        """``prepare`` for several photos, with their automatic chroma decoded too (``predict``
        without hints then costs nothing): photos whose padded working sizes match share one run of
        each part, ``photos_per_run`` at a time. The answers are the one-photo answers."""
        l_works = [self._working_l(p) for p in pixels]
        feeds = [{contract.INPUT_L: _encoder_input(l_work)} for l_work in l_works]
        features = self._run_stacked("encoder", list(contract.ENCODER_OUTPUTS), feeds)
        prepared = [Prepared(l_work, (p.shape[1], p.shape[0]), f) for l_work, p, f in zip(l_works, pixels, features)]
        no_hints = [self._decoder_feeds(pr, *contract.encode_hints((), *pr.l_work.shape)) for pr in prepared]
        for pr, (ab, probs) in zip(prepared, self._run_stacked("decoder", list(contract.DECODER_OUTPUTS), no_hints)):
            pr.cache["auto"] = self._consistent(pr, self._chroma(pr, ab, probs))
        return prepared

    def _run_stacked(self, part: str, outputs: list[str], feeds: list[dict[str, np.ndarray]]) -> list[tuple[np.ndarray, ...]]:
        """Run each photo's feeds, those of equal shapes stacked on the batch axis; the outputs
        come back split, one tuple per photo, in the order given."""
        results: list[tuple[np.ndarray, ...]] = [()] * len(feeds)
        groups: dict[tuple, list[int]] = {}
        for i, feed in enumerate(feeds):
            groups.setdefault(tuple(v.shape for v in feed.values()), []).append(i)
        n = max(1, self.photos_per_run)
        for members in groups.values():
            for start in range(0, len(members), n):
                chunk = members[start:start + n]
                stacked = {k: np.concatenate([feeds[i][k] for i in chunk]) for k in feeds[chunk[0]]}
                outs = self._run(part, outputs, stacked)
                for j, i in enumerate(chunk):
                    results[i] = tuple(o[j:j + 1].copy() for o in outs)  # a photo keeps only its own
        return results

    def predict(self, prepared: Prepared, hints: Iterable[Hint] = ()) -> Chroma:
        """The chroma of the photo with these hints (positions are fractions of the photo).

        Without hints: the automatic chroma (computed once per photo). With hints: the decoder's
        answer kept to where each hint reaches (``rehue.hint_reach``), the automatic chroma elsewhere.
        """
        hints = tuple(hints)
        auto = prepared.cache.get("auto")
        if auto is None:
            auto = prepared.cache["auto"] = self._consistent(prepared, self._decode(prepared, *contract.encode_hints((), *prepared.l_work.shape)))
        if not hints:
            return auto
        hinted = self._decode(prepared, *contract.encode_hints(hints, *prepared.l_work.shape))
        if not self.local_hints:
            return hinted
        h, w = prepared.l_work.shape
        hc, wc = hinted.probs.shape[1:]
        base = cv2.resize(hinted.ab, (wc, hc), interpolation=cv2.INTER_AREA)  # the graph's decoding, per cell
        follow = hint_reach.carried(cv2.resize(auto.ab, (wc, hc), interpolation=cv2.INTER_AREA), base, hints)
        cells = hint_reach.cell_weights(prepared.l_work, hints, prepared.features[0][0], follow)
        weights = hint_reach.to_pixels(cells, h, w)
        # Fold each hint into the distributions it reaches, then keep that answer only there.
        fused = hint_reach.fuse(hinted.probs, cells, hints, self.bins, float(self.metadata["anneal_t"]), base_ab=base)
        hinted_ab = cv2.resize(fused, (wc * contract.PROBS_STRIDE, hc * contract.PROBS_STRIDE), interpolation=cv2.INTER_LINEAR)[:h, :w]
        ab = hint_reach.blend(auto.ab, hinted_ab, prepared.l_work, hints, weights)
        return Chroma(np.ascontiguousarray(ab), lambda: hint_reach.blend_probs(auto.probs, hinted.probs, cells), self.bins)

    def predict_planes(self, prepared: Prepared, hint_ab: np.ndarray, hint_mask: np.ndarray) -> Chroma:
        """The decoder alone on already-rasterised hint planes: (2, h, w) normalised ab and (1, h, w)
        mask at the size of ``prepared.l_work``. No locality: what the network itself answers."""
        return self._decode(prepared, hint_ab, hint_mask)

    def _decode(self, prepared: Prepared, hint_ab: np.ndarray, hint_mask: np.ndarray) -> Chroma:
        ab, probs = self._run("decoder", list(contract.DECODER_OUTPUTS), self._decoder_feeds(prepared, hint_ab, hint_mask))
        return self._chroma(prepared, ab, probs)

    def _consistent(self, prepared: Prepared, chroma: Chroma) -> Chroma:
        """The decoder's answer as the app shows it where no hint acts: propagated from the cells
        the network is sure of across smooth lightness, so a plain region agrees with itself
        (``rehue.propagate``; not with ``local_hints=False``, the network's own answers for evaluation)."""
        if not self.local_hints:
            return chroma
        ab, entropy = contract.anneal_and_entropy(chroma.probs, self.bins, float(self.metadata["anneal_t"]))
        graph_cells = contract.mute(ab, entropy, float(self.metadata.get("mute_gain", 0.0)))  # what the graph upsampled
        cells = propagate.consistent_cells(ab, entropy, prepared.l_work)
        return Chroma(propagate.upsampled_change(chroma.ab, graph_cells, cells), chroma.probs_source, chroma.bins)

    @staticmethod
    def _decoder_feeds(prepared: Prepared, hint_ab: np.ndarray, hint_mask: np.ndarray) -> dict[str, np.ndarray]:
        h, w = prepared.l_work.shape
        ph, pw = prepared.features[0].shape[2] * 4, prepared.features[0].shape[3] * 4
        pad = ((0, 0), (0, ph - h), (0, pw - w))
        return dict(zip(contract.DECODER_INPUTS, (*prepared.features, np.pad(hint_ab, pad)[None], np.pad(hint_mask, pad)[None])))

    def _chroma(self, prepared: Prepared, ab: np.ndarray, probs: np.ndarray) -> Chroma:
        """The decoder's outputs for one photo (batch of one), cropped to its working size."""
        h, w = prepared.l_work.shape
        ab = contract.denormalise_ab(ab[0, :, :h, :w]).transpose(1, 2, 0)  # (2, h, w) -> (h, w, 2)
        ph4, pw4 = -(-h // contract.PROBS_STRIDE), -(-w // contract.PROBS_STRIDE)
        return Chroma(np.ascontiguousarray(ab), probs[0, :, :ph4, :pw4], self.bins)

    def snap_hint(self, prepared: Prepared, hint: Hint) -> Hint:
        """``hint`` with its colour moved into the sRGB gamut at the lightness of the spot it is on,
        so that the colour stored (and shown on its marker) is the colour that will be rendered."""
        import dataclasses

        lum = self.lightness_at(prepared, hint.x, hint.y)
        ab = np.array([[[hint.a, hint.b]]], np.float32)
        recombine.limit_to_gamut(np.array([[lum]], np.float32), ab)
        return dataclasses.replace(hint, a=float(ab[0, 0, 0]), b=float(ab[0, 0, 1]))

    @staticmethod
    def lightness_at(prepared: Prepared, x: float, y: float) -> float:
        """Mean L (0..100) of the 3×3 working pixels around (x, y), fractions of the photo."""
        lw = prepared.l_work
        r = int(np.clip(y * lw.shape[0], 0, lw.shape[0] - 1))
        c = int(np.clip(x * lw.shape[1], 0, lw.shape[1] - 1))
        return float(lw[max(0, r - 1):r + 2, max(0, c - 1):c + 2].mean())

    def render(self, pixels: np.ndarray, chroma: Chroma, strength: float = 1.0, *, in_place: bool = False,
               should_stop: Callable[[], bool] | None = None, progress: Callable[[float], None] | None = None) -> np.ndarray:
        """Full-resolution colour photo (H, W, 3), same dtype as ``pixels``."""
        out = pixels if in_place and pixels.ndim == 3 else None
        return recombine.recombine(pixels, chroma.ab, strength, out, should_stop=should_stop, progress=progress)

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
        return [(int(round(px[0] * 255)), int(round(px[1] * 255)), int(round(px[2] * 255))) for px in rgb]

    # ------------------------------------------------------------------ files

    def colorize_file(self, src: Path, dst: Path, *, hints: Iterable[Hint] = (), strength: float = 1.0,
                      fmt: str | None = None, timings: Timings | None = None) -> Path:
        """Read ``src``, colorize it at full resolution, write ``dst`` atomically with its metadata."""
        t = time.perf_counter()
        photo = photo_io.read_photo(src)
        if timings:
            timings.add("read", t)
        return self.colorize_photo(photo, dst, hints=hints, strength=strength, fmt=fmt, timings=timings)

    def history(self) -> tuple[str, str]:
        """What a colorized photo's metadata says about it (``photo_io.with_history``)."""
        from rehue import __version__

        meta = self.metadata
        return (f"Colorized by Rehue {__version__} with the model {meta.get('model_name', '?')} "
                f"{meta.get('model_version', '')}; the original is black and white", f"Rehue {__version__}")

    def colorize_photo(self, photo: photo_io.Photo, dst: Path, *, hints: Iterable[Hint] = (), strength: float = 1.0,
                       fmt: str | None = None, timings: Timings | None = None, prepared: Prepared | None = None,
                       mark: bool = True) -> Path:
        """Colorize an already read photo at full resolution (in its own buffer) and write ``dst``;
        ``prepared``: its encoder run, when ``prepare_many`` already did it; ``mark``: say in the
        output's metadata that Rehue colorized it."""
        t = time.perf_counter()
        prepared = prepared if prepared is not None else self.prepare(photo.pixels)
        if timings:
            t = timings.add("encoder", t)
        chroma = self.predict(prepared, hints)
        if timings:
            t = timings.add("decoder", t)
        rgb = self.render(photo.pixels, chroma, strength, in_place=True)
        photo.pixels = rgb
        if timings:
            t = timings.add("recombine", t)
        photo_io.write_result(photo, rgb, dst, fmt, self.history() if mark else None)
        if timings:
            timings.add("encode+write", t)
        return Path(dst)


__all__ = ["Colorizer", "Prepared", "Chroma", "Hint", "EngineError", "Timings", "choose_providers", "PROVIDER_CHOICES",
           "PROVIDERS"]
