"""``rehue-export``: turn a training checkpoint into the two ONNX files the app ships, and verify them.

The encoder (L -> features) and the decoder (features + hints -> ab) are exported as two graphs,
``<stem>.encoder.onnx`` and ``<stem>.decoder.onnx`` (``rehue.contract.model_files``), so the app runs
the encoder once per photo and only the decoder on a hint edit. Named inputs/outputs from
``rehue.contract``, dynamic batch/height/width, a pinned opset, the contract's metadata (plus
training data and metrics) in ``metadata_props``, ``onnx.checker``'s full check, and
torch-vs-onnxruntime parity of the two graphs chained, on random inputs with hints.
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

from export.model import ColorizerNet, load_checkpoint
from rehue import contract

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
            hs = [contract.Hint(float(rng.uniform()), float(rng.uniform()), float(rng.uniform(-50, 50)),
                                float(rng.uniform(-50, 50)), int(rng.integers(0, 3))) for _ in range(5)]
            hint_ab[i], mask[i] = contract.encode_hints(hs, h, w)
    return l_norm, hint_ab, mask


def _attach_metadata(path: Path, metadata: dict) -> None:
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key = contract.METADATA_KEY
    entry.value = json.dumps(metadata)
    proto.producer_name = "rehue-export"
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def export_onnx(model: ColorizerNet, path: Path, metadata: dict) -> tuple[Path, Path]:
    """Export ``model`` (eval mode) as the encoder and decoder files that ``path`` names
    (``contract.model_files``), dynamic N/H/W, each with its part's metadata attached."""
    model.eval()
    enc_path, dec_path = contract.model_files(path)
    enc_path.parent.mkdir(parents=True, exist_ok=True)
    l_norm, hint_ab, hint_mask = (torch.from_numpy(a) for a in example_inputs(2, 64, 96, hints=True))  # no size 1: torch.export specialises it
    n = torch.export.Dim("batch", min=1, max=64)
    hb = torch.export.Dim("h32", min=1, max=512)
    wb = torch.export.Dim("w32", min=1, max=512)
    full = {0: n, 2: contract.STRIDE * hb, 3: contract.STRIDE * wb}
    torch.onnx.export(
        model.encoder, (l_norm,), dynamo=True, opset_version=OPSET,
        input_names=list(contract.ENCODER_INPUTS), output_names=list(contract.ENCODER_OUTPUTS),
        dynamic_shapes={"l_norm": full}, optimize=True, verbose=False,
    ).save(str(enc_path))
    with torch.no_grad():
        feats = model.encoder(l_norm)
    feat_shapes = {f"f{k}": {0: n, 2: (contract.STRIDE // k) * hb, 3: (contract.STRIDE // k) * wb} for k in contract.FEATURE_STRIDES}
    torch.onnx.export(
        model.decoder, (*feats, hint_ab, hint_mask), dynamo=True, opset_version=OPSET,
        input_names=list(contract.DECODER_INPUTS), output_names=list(contract.DECODER_OUTPUTS),
        dynamic_shapes={**feat_shapes, "hint_ab": full, "hint_mask": full}, optimize=True, verbose=False,
    ).save(str(dec_path))
    for part, p in (("encoder", enc_path), ("decoder", dec_path)):
        _attach_metadata(p, {**metadata, "part": part, "inputs": list(contract.PARTS[part][0]),
                             "outputs": list(contract.PARTS[part][1])})
    for stray in (enc_path.with_name(enc_path.name + ".data"), dec_path.with_name(dec_path.name + ".data")):
        stray.unlink(missing_ok=True)
    return enc_path, dec_path


def run_onnx(path: Path, l_norm: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> list[np.ndarray]:
    """The two exported graphs chained in onnxruntime: (ab, ab_probs)."""
    import onnxruntime as ort

    enc_path, dec_path = contract.model_files(path)
    enc = ort.InferenceSession(str(enc_path), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(dec_path), providers=["CPUExecutionProvider"])
    feats = enc.run(list(contract.ENCODER_OUTPUTS), {contract.INPUT_L: l_norm})
    feeds = dict(zip(contract.DECODER_INPUTS, (*feats, hint_ab, hint_mask)))
    return dec.run(list(contract.DECODER_OUTPUTS), feeds)


def parity(model: ColorizerNet, path: Path, sizes: tuple[tuple[int, int], ...] = ((96, 128), (160, 64))) -> float:
    """Max absolute difference torch vs onnxruntime; raises AssertionError past tolerance."""
    worst = 0.0
    for i, (h, w) in enumerate(sizes):
        feeds = example_inputs(2, h, w, seed=i)
        with torch.no_grad():
            ref = [t.numpy() for t in model(*(torch.from_numpy(a) for a in feeds))]
        got = run_onnx(path, *feeds)
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, rtol=PARITY_RTOL, atol=PARITY_ATOL)
            worst = max(worst, float(np.abs(g - r).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-export", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, help="last.pt from rehue-train")
    p.add_argument("--out", type=Path, default=Path("models/rehue-colorizer.onnx"),
                   help="the model's stem: writes STEM.encoder.onnx and STEM.decoder.onnx")
    p.add_argument("--name", default="rehue-colorizer")
    p.add_argument("--version", default="2.0.0")
    p.add_argument("--working-size", type=int, default=320)
    p.add_argument("--weights", choices=("ema", "live"), default="ema", help="the moving average (default) or the last weights")
    p.add_argument("--anneal-t", type=float, default=contract.ANNEAL_T, help="temperature of the annealed mean")
    p.add_argument("--mute-gain", type=float, default=0.0, help="how strongly unsure cells are muted (rehue.contract.ANNEAL_T)")
    p.add_argument("--metrics", type=Path, default=None, help="JSON of validation numbers to embed")
    p.add_argument("--training-data", nargs="*", default=[], help="shard names that trained it")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    model, ckpt = load_checkpoint(args.checkpoint, weights=args.weights)
    model.decoder.anneal_t = args.anneal_t
    model.decoder.mute_gain = args.mute_gain
    metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
    metrics.setdefault("training_steps", int(ckpt.get("step", 0)))
    meta = contract.make_metadata(
        part="encoder", model_name=args.name, model_version=args.version, working_size=args.working_size,
        training_data=args.training_data, metrics=metrics, created=_dt.date.today().isoformat(),
    )
    meta["anneal_t"] = args.anneal_t
    meta["mute_gain"] = args.mute_gain
    args.out.parent.mkdir(parents=True, exist_ok=True)
    files = export_onnx(model, args.out, meta)
    worst = parity(model, args.out)
    write_manifest(args.out, args.name, args.version)
    log.info("wrote %s (%.1f MB); parity max |diff| %.2e", ", ".join(str(f) for f in files),
             sum(f.stat().st_size for f in files) / 1e6, worst)
    return 0


def write_manifest(model_path: Path, name: str, version: str) -> Path:
    """models/manifest.json beside the model: the default model, its files and their sha256."""
    manifest = model_path.parent / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else {"models": []}
    stem = contract.model_files(model_path)[0].name.removesuffix(".encoder.onnx")
    files = [{"file": f.name, "sha256": hashlib.sha256(f.read_bytes()).hexdigest(), "bytes": f.stat().st_size}
             for f in contract.model_files(model_path)]
    entries["default"] = f"{stem}.onnx"
    entries["models"] = [m for m in entries.get("models", []) if m.get("name") != name and m.get("file") != f"{stem}.onnx"]
    entries["models"].append({"name": name, "version": version, "files": files})
    manifest.write_text(json.dumps(entries, indent=2) + "\n")
    return manifest


if __name__ == "__main__":
    sys.exit(main())
