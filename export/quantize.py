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


class PhotoReader(CalibrationDataReader):
    """Feeds the model's three inputs for each calibration photo."""

    def __init__(self, photos: list[np.ndarray], size: int = 256, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.feeds = []
        for i, rgb in enumerate(photos):
            sq = data.square_crop(rgb, size)
            l_norm, ab = data.lab_planes(sq)
            hint_ab, mask = data.simulate_hints(ab, rng, p_none=0.5 if i % 2 else 1.0)
            self.feeds.append({contract.INPUT_L: l_norm[None], contract.INPUT_HINT_AB: hint_ab[None], contract.INPUT_HINT_MASK: mask[None]})
        self._it = iter(self.feeds)

    def get_next(self):
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self.feeds)


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


def quantize(model: Path, out: Path, photos: list[np.ndarray]) -> Path:
    pre = out.with_suffix(".pre.onnx")
    quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
    quantize_static(
        str(pre), str(out), PhotoReader(photos), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
    )
    pre.unlink(missing_ok=True)
    src, dst = onnx.load(str(model)), onnx.load(str(out))
    del dst.metadata_props[:]
    for prop in src.metadata_props:
        dst.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(dst, str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-quantize", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--photos", type=int, default=64)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    out = args.out or args.model.with_name(args.model.stem + "-int8.onnx")
    quantize(args.model, out, calibration_photos(args.data, args.photos))
    log.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
