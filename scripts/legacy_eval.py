"""Score the previous model (1.x: one ONNX graph, contract version 1) with today's ``rehue-eval``
protocols, so old and new are compared on the same photos, split and metrics.

    python scripts/legacy_eval.py OLD.onnx ../shared/data --split test --json old.json

The old graph takes L and the hint planes together; this adapter gives it the three calls the
evaluation makes (prepare, predict, render). Hints reach it as the network alone answers them
(the old engine's hint fusion is not reproduced): compare with ``rehue-eval --network-only``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from export import evaluate  # noqa: E402
from rehue import contract, photo_io, recombine  # noqa: E402
from rehue.engine import Chroma, Colorizer, Prepared  # noqa: E402


class LegacyColorizer:
    def __init__(self, path: Path) -> None:
        opts = ort.SessionOptions()
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = json.loads(self.session.get_modelmeta().custom_metadata_map[contract.METADATA_KEY])
        self.metadata = meta
        self.working_size = int(meta["working_size"])
        self.bins = np.asarray(meta["ab_bins"], np.float32)

    def prepare(self, pixels: np.ndarray, working_size: int | None = None) -> Prepared:
        small = photo_io.reduce(pixels, working_size or self.working_size)
        return Prepared(recombine.lightness(np.ascontiguousarray(small)), (pixels.shape[1], pixels.shape[0]))

    def predict(self, prepared: Prepared, hints=()) -> Chroma:
        l_work = prepared.l_work
        h, w = l_work.shape
        hab, hm = contract.encode_hints(tuple(hints), h, w)
        ph, pw = contract.padded_size(max(h, 32), max(w, 32))
        pad = ((0, ph - h), (0, pw - w))
        l_in = np.pad(contract.normalise_l(l_work), pad, mode="reflect")[None, None]
        feeds = {"L": l_in, "hint_ab": np.pad(hab, ((0, 0), *pad))[None], "hint_mask": np.pad(hm, ((0, 0), *pad))[None]}
        ab, probs = self.session.run(["ab", "ab_probs"], feeds)
        ab = contract.denormalise_ab(ab[0, :, :h, :w]).transpose(1, 2, 0)
        return Chroma(np.ascontiguousarray(ab), probs[0, :, : -(-h // 4), : -(-w // 4)], self.bins)

    def render(self, pixels, chroma, strength: float = 1.0):
        return recombine.recombine(pixels, chroma.ab, strength, None)

    snap_hint = Colorizer.snap_hint
    lightness_at = staticmethod(Colorizer.lightness_at)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("folder", type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--per-source", type=int, default=150)
    p.add_argument("--hints", default=",".join(map(str, evaluate.HINT_COUNTS)))
    p.add_argument("--json", type=Path, default=Path("eval-legacy.json"))
    args = p.parse_args()
    photos = evaluate.load_photos(args.folder, args.split, None, 0, args.per_source, [], [])
    counts = tuple(int(x) for x in args.hints.split(","))
    result = evaluate.evaluate(LegacyColorizer(args.model), photos, 0, 0, counts)
    args.json.write_text(json.dumps({"summary": result["summary"], "per_image": result["per_image"]}, indent=1))
    print(evaluate.format_table(result["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
