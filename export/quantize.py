"""``rehue-quantize``: a static int8 (QDQ) copy of an exported model, calibrated on real photos.

Only the convolutions are quantized (per-channel weights, activations calibrated by MinMax on
gray versions of colour photos, with and without simulated hints); the bin distribution and the
annealed mean stay in float. The metadata travels unchanged. Keep it only if ``rehue-eval`` says
its quality holds.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from export import data
from rehue import contract

log = logging.getLogger("rehue.quantize")


class FeedReader(CalibrationDataReader):
    """Feeds one graph's inputs, one calibration photo at a time."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds = feeds
        self._it = iter(self.feeds)

    def get_next(self):
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self.feeds)


def calibration_feeds(model: Path, photos: list[np.ndarray], size: int = 256, seed: int = 0) -> dict[str, list[dict[str, np.ndarray]]]:
    """What each of the two graphs sees on the calibration photos: the encoder their L; the decoder
    the float encoder's features of it, with simulated hints on every other photo (the app runs it
    both ways)."""
    import onnxruntime as ort

    enc_path, _ = contract.model_files(model)
    encoder = ort.InferenceSession(str(enc_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds: dict[str, list[dict[str, np.ndarray]]] = {"encoder": [], "decoder": []}
    for i, rgb in enumerate(photos):
        l_norm, ab = data.lab_planes(data.square_crop(rgb, size))
        hint_ab, mask = data.simulate_hints(ab, rng, p_none=0.5 if i % 2 else 1.0)
        feeds["encoder"].append({contract.INPUT_L: l_norm[None]})
        feats = encoder.run(list(contract.ENCODER_OUTPUTS), {contract.INPUT_L: l_norm[None]})
        feeds["decoder"].append(dict(zip(contract.DECODER_INPUTS, (*feats, hint_ab[None], mask[None]))))
    return feeds


def calibration_photos(root: Path, n: int, seed: int = 0) -> list[np.ndarray]:
    """n training-split photos (never validation ones), spread over the sources."""
    by_src: dict[str, list[np.ndarray]] = {}
    for name, blob in data.iter_photos(root):
        if data.is_validation(name):
            continue
        src = data.source_of(name)
        if len(by_src.setdefault(src, [])) >= n:
            continue
        rgb = data.read_image_bytes(blob)
        if rgb is not None:
            by_src[src].append(rgb)
    rng = np.random.default_rng(seed)
    pool = [p for group in by_src.values() for p in group]
    return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]


def quantize(model: Path, out: Path, photos: list[np.ndarray]) -> tuple[Path, Path]:
    """Both graphs of ``model`` (``contract.model_files``) as int8 QDQ copies named by ``out``'s stem,
    each calibrated on what it sees in the app; their metadata travels unchanged."""
    feeds = calibration_feeds(model, photos)
    written = []
    for part, src_path, dst_path in zip(("encoder", "decoder"), contract.model_files(model), contract.model_files(out)):
        pre = dst_path.with_suffix(".pre.onnx")
        quant_pre_process(str(src_path), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre), str(dst_path), FeedReader(feeds[part]), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )
        pre.unlink(missing_ok=True)
        src, dst = onnx.load(str(src_path)), onnx.load(str(dst_path))
        del dst.metadata_props[:]
        for prop in src.metadata_props:
            dst.metadata_props.add(key=prop.key, value=prop.value)
        onnx.save(dst, str(dst_path))
        written.append(dst_path)
    return written[0], written[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-quantize", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="the model's stem or either of its two files")
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=None, help="the int8 copy's stem (default: STEM-int8.onnx)")
    p.add_argument("--photos", type=int, default=64)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    stem = contract.model_files(args.model)[0].name.removesuffix(".encoder.onnx")
    out = args.out or args.model.with_name(f"{stem}-int8.onnx")
    files = quantize(args.model, out, calibration_photos(args.data, args.photos))
    log.info("wrote %s (%.1f MB)", ", ".join(map(str, files)), sum(f.stat().st_size for f in files) / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
