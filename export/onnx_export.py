"""``rehue-export``: turn a training checkpoint into the ONNX file the app ships, and verify it.

Named inputs/outputs from ``rehue.contract``, dynamic batch/height/width, a pinned opset, the
contract's metadata (plus training data and metrics) in ``metadata_props``, ``onnx.checker``'s
full check, and torch-vs-onnxruntime parity on random inputs with hints.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

from rehue import contract
from rehue_export.model import ColorizerNet, load_checkpoint

log = logging.getLogger("rehue.export")

OPSET = 18
PARITY_RTOL = 1e-3
PARITY_ATOL = 1e-3


def example_inputs(n: int = 1, h: int = 96, w: int = 128, seed: int = 0, hints: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random but plausible network inputs (L, hint_ab, hint_mask) as float32 arrays."""
    rng = np.random.default_rng(seed)
    l_norm = rng.uniform(-1, 1, (n, 1, h, w)).astype(np.float32)
    hint_ab = np.zeros((n, 2, h, w), np.float32)
    mask = np.zeros((n, 1, h, w), np.float32)
    if hints:
        for i in range(n):
            for _ in range(5):
                y, x = rng.integers(0, h - 3), rng.integers(0, w - 3)
                hint_ab[i, :, y:y + 3, x:x + 3] = rng.uniform(-0.5, 0.5, (2, 1, 1))
                mask[i, :, y:y + 3, x:x + 3] = 1
    return l_norm, hint_ab, mask


def export_onnx(model: ColorizerNet, path: Path, metadata: dict) -> Path:
    """Export ``model`` (eval mode) to ``path`` with dynamic N/H/W and the metadata attached."""
    model.eval()
    args = tuple(torch.from_numpy(a) for a in example_inputs(1, 64, 64, hints=True))
    n = torch.export.Dim("batch", min=1, max=64)
    hb = torch.export.Dim("h32", min=1, max=512)
    wb = torch.export.Dim("w32", min=1, max=512)
    spatial = {0: n, 2: contract.STRIDE * hb, 3: contract.STRIDE * wb}
    names = dict(zip(("l_norm", "hint_ab", "hint_mask"), (spatial, spatial, spatial)))
    program = torch.onnx.export(
        model, args, dynamo=True, opset_version=OPSET,
        input_names=list(contract.INPUT_NAMES), output_names=list(contract.OUTPUT_NAMES),
        dynamic_shapes=names, optimize=True, verbose=False,
    )
    program.save(str(path))
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key = contract.METADATA_KEY
    entry.value = json.dumps(metadata)
    proto.producer_name = "rehue-export"
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    return path


def parity(model: ColorizerNet, path: Path, sizes: tuple[tuple[int, int], ...] = ((96, 128), (160, 64))) -> float:
    """Max relative difference torch vs onnxruntime; raises AssertionError past tolerance."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for i, (h, w) in enumerate(sizes):
        feeds = example_inputs(2, h, w, seed=i)
        with torch.no_grad():
            ref = [t.numpy() for t in model(*(torch.from_numpy(a) for a in feeds))]
        got = sess.run(list(contract.OUTPUT_NAMES), dict(zip(contract.INPUT_NAMES, feeds)))
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, rtol=PARITY_RTOL, atol=PARITY_ATOL)
            worst = max(worst, float(np.abs(g - r).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-export", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, help="last.pt from rehue-train")
    p.add_argument("--out", type=Path, default=Path("models/rehue-colorizer.onnx"))
    p.add_argument("--name", default="rehue-colorizer")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--working-size", type=int, default=320)
    p.add_argument("--metrics", type=Path, default=None, help="JSON of validation numbers to embed")
    p.add_argument("--training-data", nargs="*", default=[], help="shard names that trained it")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    model, ckpt = load_checkpoint(args.checkpoint)
    metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
    metrics.setdefault("training_steps", int(ckpt.get("step", 0)))
    meta = contract.make_metadata(
        model_name=args.name, model_version=args.version, working_size=args.working_size,
        training_data=args.training_data, metrics=metrics, created=_dt.date.today().isoformat(),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, args.out, meta)
    worst = parity(model, args.out)
    write_manifest(args.out, args.name, args.version)
    log.info("wrote %s (%.1f MB); parity max |diff| %.2e", args.out, args.out.stat().st_size / 1e6, worst)
    return 0


def write_manifest(model_path: Path, name: str, version: str) -> Path:
    """models/manifest.json beside the model: the default model and each file's sha256."""
    manifest = model_path.parent / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else {"default": model_path.name, "models": []}
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    entries["models"] = [m for m in entries.get("models", []) if m.get("file") != model_path.name]
    entries["models"].append({"file": model_path.name, "name": name, "version": version, "sha256": digest,
                              "bytes": model_path.stat().st_size})
    manifest.write_text(json.dumps(entries, indent=2) + "\n")
    return manifest


if __name__ == "__main__":
    sys.exit(main())
