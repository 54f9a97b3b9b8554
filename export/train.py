"""``rehue-train``: train the colorization network on colour photos.

Loss: class-rebalanced cross-entropy over the contract's quantised ab bins (Zhang et al. 2016,
keeps colours from washing out to sepia) plus a Huber term on the annealed-mean ab, which is what
the app shows and what makes a hint's colour come out exactly. Checkpoints are written every
``--ckpt-every`` steps and ``--resume`` continues from the last one.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rehue import contract
from rehue_export import data
from rehue_export.model import ColorizerNet, count_parameters

log = logging.getLogger("rehue.train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rehue-train", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="folder of .tar shards or photos")
    p.add_argument("--out", type=Path, default=Path("runs/latest"), help="run folder: checkpoints, logs, cache")
    p.add_argument("--cache", type=Path, default=None, help="photo cache .npz (built from --data if missing)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=24)
    p.add_argument("--size", type=int, default=128, help="training crop side, a multiple of 32")
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--huber-weight", type=float, default=5.0)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--ckpt-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--p-none", type=float, default=0.5, help="share of training images given no hints")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--warm-restart", action="store_true",
                   help="with --resume: start a new warm-up + cosine LR segment at the resumed step "
                        "(for continuing a finished run, e.g. from models/checkpoints/*.pt)")
    return p.parse_args(argv)


def loss_fn(
    model: ColorizerNet, batch: dict[str, torch.Tensor], class_w: torch.Tensor, huber_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """Rebalanced CE at 1/4 resolution + Huber on the full-resolution annealed mean."""
    logits = model.forward_logits(batch["L"], batch["hint_ab"], batch["hint_mask"])
    ab_pred, _ = model.decode(logits, batch["L"].shape[2:])
    ab_low = F.avg_pool2d(batch["ab"], contract.PROBS_STRIDE)  # (N, 2, H/4, W/4)
    ab_low = ab_low.permute(0, 2, 3, 1)  # (N, h, w, 2)
    d = ((ab_low[..., None, :] - model.ab_bins) ** 2).sum(-1)  # (N, h, w, Q)
    target = d.argmin(-1)  # (N, h, w)
    ce = F.cross_entropy(logits.float(), target, reduction="none")
    ce = (ce * class_w[target]).mean()
    huber = F.smooth_l1_loss(ab_pred.float(), batch["ab"], beta=0.05)
    total = ce + huber_weight * huber
    return total, {"ce": float(ce), "huber": float(huber)}


def learning_rate(peak: float, step: int, start: int, end: int) -> float:
    """Linear warm-up over 200 steps, then cosine decay to zero at ``end``; the segment starts at
    ``start`` (0 for a fresh run, the resumed step for a warm restart)."""
    t = step - start
    return peak * min(1.0, (t + 1) / 200) * 0.5 * (1 + math.cos(math.pi * t / max(1, end - start)))


def to_tensors(batch: dict[str, np.ndarray], device: str) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).to(device) for k, v in batch.items()}


@torch.no_grad()
def validate(model: ColorizerNet, val_batches: list[dict[str, np.ndarray]], device: str) -> dict[str, float]:
    """Mean ab error and PSNR of the L+ab reconstruction, with and without the batch's hints."""
    model.eval()
    errs, psnrs, colourful = [], [], []
    for b in val_batches:
        t = to_tensors(b, device)
        ab, _ = model(t["L"], t["hint_ab"], t["hint_mask"])
        ab = ab.float().cpu().numpy()
        for i in range(len(ab)):
            lab = np.concatenate([
                b["L"][i, 0, :, :, None] * contract.L_SCALE + contract.L_CENTER,
                contract.denormalise_ab(ab[i].transpose(1, 2, 0)),
            ], -1)
            true = np.concatenate([
                b["L"][i, 0, :, :, None] * contract.L_SCALE + contract.L_CENTER,
                contract.denormalise_ab(b["ab"][i].transpose(1, 2, 0)),
            ], -1)
            pr = np.clip(contract.lab_to_rgb(lab), 0, 1) * 255
            tr = np.clip(contract.lab_to_rgb(true), 0, 1) * 255
            mse = float(((pr - tr) ** 2).mean())
            psnrs.append(10 * math.log10(255**2 / max(mse, 1e-6)))
            rg = pr[..., 0] - pr[..., 1]
            yb = 0.5 * (pr[..., 0] + pr[..., 1]) - pr[..., 2]
            colourful.append(float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())))
        errs.append(float(np.abs(ab - b["ab"]).mean() * contract.AB_SCALE))
    model.train()
    return {"ab_mae": float(np.mean(errs)), "psnr": float(np.mean(psnrs)), "colourfulness": float(np.mean(colourful))}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    fh = logging.FileHandler(args.out / "train.log")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(fh)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)

    cache_path = args.cache or args.out / "photos.npz"
    if cache_path.exists():
        cache = data.PhotoCache.load(cache_path)
    else:
        if not args.data.exists():
            log.error("no training photos at %s: pass --data FOLDER (see ../shared/data/README.md)", args.data)
            return 2
        cache = data.build_cache(args.data)
        cache.save(cache_path)
    val_mask = np.array([data.is_validation(n) for n in cache.names])
    train, val = cache.subset(~val_mask), cache.subset(val_mask)
    log.info("photos: %d train, %d validation; sources %s", len(train.images), len(val.images),
             {s: int((train.sources == s).sum()) for s in sorted(set(train.sources.tolist()))})

    model = ColorizerNet(pretrained=not args.resume).to(args.device)
    log.info("model: %d parameters", count_parameters(model))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step = 0
    prior_path = args.out / "ab_prior.npy"
    if args.resume and (args.out / "last.pt").exists():
        ckpt = torch.load(args.out / "last.pt", map_location=args.device, weights_only=False)
        missing, unexpected = model.load_state_dict(ckpt["model"], strict=False)
        if unexpected:
            raise SystemExit(f"checkpoint has weights this network lacks: {unexpected[:5]}")
        if missing:  # layers added since (zero-initialised): fresh optimizer state for all
            log.info("resuming with %d new parameter tensors: %s", len(missing), ", ".join(missing[:6]))
        elif ckpt.get("opt") is None:  # a weights-only checkpoint, e.g. models/checkpoints/*.pt
            log.info("resuming from weights only: fresh optimizer state")
        else:
            opt.load_state_dict(ckpt["opt"])
        step = int(ckpt["step"])
        rng = np.random.default_rng(args.seed + step)
        log.info("resumed at step %d", step)
        if missing:
            torch.save({"model": ckpt["model"], "opt": None, "step": step}, args.out / f"before-step{step}.pt")
    if prior_path.exists():
        prior = np.load(prior_path)
    else:
        prior = data.ab_prior(train, rng)
        np.save(prior_path, prior)
    class_w = torch.from_numpy(data.rebalance_weights(prior)).to(args.device)

    vrng = np.random.default_rng(1234)
    val_sel = vrng.choice(len(val.images), size=min(192, len(val.images)), replace=False)
    val_auto = [data.make_batch(val, val_sel[i:i + 32], args.size, vrng, p_none=1.0) for i in range(0, len(val_sel), 32)]
    val_hint = [data.make_batch(val, val_sel[i:i + 32], args.size, vrng, p_none=0.0) for i in range(0, len(val_sel), 32)]

    probs = data.sampling_weights(train.sources)
    use_amp = args.device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    model.train()
    history_path = args.out / "history.jsonl"
    t0, seen = time.time(), 0
    seg0 = step if args.warm_restart else 0  # where this run's LR schedule starts
    if step >= args.steps:
        log.error("already at step %d: pass a larger --steps to train on", step)
        return 2
    while step < args.steps:
        lr = learning_rate(args.lr, step, seg0, args.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.choice(len(train.images), size=args.batch, p=probs)
        batch = to_tensors(data.make_batch(train, idx, args.size, rng, p_none=args.p_none), args.device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss, parts = loss_fn(model, batch, class_w, args.huber_weight)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        step += 1
        seen += args.batch
        if step % 20 == 0:
            rate = seen / (time.time() - t0)
            eta = (args.steps - step) * args.batch / max(rate, 1e-6)
            log.info("step %d/%d loss %.4f ce %.4f huber %.4f lr %.2e  %.1f img/s  eta %.0f min",
                     step, args.steps, float(loss), parts["ce"], parts["huber"], lr, rate, eta / 60)
        if step % args.ckpt_every == 0 or step == args.steps:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "args": vars(args) | {"data": str(args.data), "out": str(args.out), "cache": str(args.cache)}},
                       args.out / "tmp.pt")
            (args.out / "tmp.pt").replace(args.out / "last.pt")
        if step % args.val_every == 0 or step == args.steps:
            auto = validate(model, val_auto, args.device)
            hint = validate(model, val_hint, args.device)
            rec = {"step": step, "auto": auto, "hints": hint, "images_seen": seen, "time_s": time.time() - t0}
            log.info("validation %s", json.dumps(rec))
            with history_path.open("a") as f:
                f.write(json.dumps(rec) + "\n")
    log.info("done: %d steps, checkpoint %s", step, args.out / "last.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
