"""``rehue-train-restore``: train the faded-print restoration network and export it to ONNX.

The network (``RestoreNet``) reads a 64 px thumbnail of a faded colour photo and each channel's
quantiles (``rehue.restore.restore_inputs``) and predicts one global transform
(``rehue.restore.Transform``: a monotone curve per channel, a 3×3 matrix, curves again). It trains on our
colour photos faded by ``export.fading.fade_for_training`` — never on ``fade_overlay``, which evaluates it —
with the loss measured on the photo *after* the transform, in Lab. A share of inputs is not faded
at all, so that it learns to leave a good photo alone (the app's "is this faded?" rests on that).
It needs minutes on one CPU core; the validation photos (``export.data.is_validation``) are never
seen.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export import data, fading
from rehue import restore

log = logging.getLogger(__name__)

MODEL_NAME = "rehue-restore"
MODEL_VERSION = "1.0.0"  # the shipped model's; an experiment that ships says its own (--version)
UNFADED_SHARE = 0.15  # of training inputs: a good photo, to be left alone
CROP = 128  # training works on photos this size; the network reads restore_inputs of them


class RestoreNet(nn.Module):
    """(thumb, stats) -> (curves, matrix, post_curves[, amount]); see ``rehue.restore`` for their
    shapes. The last layer starts at zero, so an untrained network is the identity transform."""

    def __init__(self, width: int = 32, stretch_blind: bool = False, amount_head: bool = False) -> None:
        super().__init__()
        self.amount_head = amount_head
        # stretch_blind: the network does not read how far the stretch moved the photo (its gain and
        # offset), only the stretched photo, so it cannot learn to return to the faded print's own
        # lightness (which our generic fading leaves about right and the held-out one does not).
        mask = torch.ones(restore.N_STATS)
        if stretch_blind:
            mask[3 * len(restore.QUANTILES):] = 0.0  # the stats after the quantiles: log(gain), offset
        self.register_buffer("stats_mask", mask, persistent=False)
        chans = (3, width, 2 * width, 3 * width, 4 * width)
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)
        n_stats = restore.N_STATS
        self.mlp = nn.Sequential(nn.Linear(2 * chans[-1] + n_stats, 256), nn.ReLU(inplace=True), nn.Linear(256, 128), nn.ReLU(inplace=True))
        self.head = nn.Linear(128, 6 * restore.CURVE_KNOTS + 9)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # amount_head: how much of the transform to apply (0..1, rehue.restore.OUTPUT_AMOUNT), read
        # from everything, the stretch's gain and offset included: a blind transform cannot tell
        # a good photo (the stretch barely moved it: leave it alone) from a faded one.
        self.amount = (nn.Sequential(nn.Linear(2 * chans[-1] + n_stats, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))
                       if amount_head else None)
        if self.amount is not None:
            nn.init.zeros_(self.amount[2].weight)
            nn.init.constant_(self.amount[2].bias, 2.0)  # starts near "all of it" (0.88)
        step = 1.0 / (restore.CURVE_KNOTS - 1)
        self.register_buffer("identity_rise", torch.full((1, 3, restore.CURVE_KNOTS - 1), float(np.log(np.expm1(step)))))

    def _curves(self, raw: torch.Tensor) -> torch.Tensor:
        """(N, 3 * K) -> (N, 3, K) monotone curves (the identity for raw = 0)."""
        k = restore.CURVE_KNOTS
        raw = raw.reshape(-1, 3, k)
        start = 0.1 * raw[:, :, :1]
        rise = F.softplus(raw[:, :, 1:] + self.identity_rise)  # > 0: monotone
        return torch.cat([start, start + torch.cumsum(rise, 2)], 2)

    def forward(self, thumb: torch.Tensor, stats: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(curves, matrix, post_curves), and with ``amount_head`` the amount (N, 1) as a fourth."""
        x = self.convs(thumb * 2.0 - 1.0)
        features = torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1)
        raw = self.head(self.mlp(torch.cat([features, (stats * 2.0 - 1.0) * self.stats_mask], 1)))
        k3 = 3 * restore.CURVE_KNOTS
        matrix = torch.eye(3, dtype=thumb.dtype, device=thumb.device)[None] + 0.25 * raw[:, 2 * k3:].reshape(-1, 3, 3)
        out = (self._curves(raw[:, :k3]), matrix, self._curves(raw[:, k3: 2 * k3]))
        if self.amount is None:
            return out
        return (*out, torch.sigmoid(self.amount(torch.cat([features, stats * 2.0 - 1.0], 1))))


def apply_torch(rgb: torch.Tensor, curves: torch.Tensor, matrix: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    """``rehue.restore.apply_float`` in torch (differentiable): rgb (N, 3, H, W) in [0, 1]."""
    mixed = torch.einsum("nij,njhw->nihw", matrix, _curves_torch(rgb, curves)).clamp(0.0, 1.0)
    return _curves_torch(mixed, post)


def apply_blended_torch(raw: torch.Tensor, gain: torch.Tensor, offset: torch.Tensor, curves: torch.Tensor,
                        matrix: torch.Tensor, post: torch.Tensor, amount: torch.Tensor | None = None) -> torch.Tensor:
    """The whole restoration as the engine applies it (``Transform.blended(amount)``, then ``apply``):
    the stretch (gain, offset: (N, 3)) and the network's transform, each moved ``amount`` (N, 1) of
    the way from no change, on the unstretched photo ``raw`` (N, 3, H, W). No amount: all of it."""
    if amount is None:
        amount = torch.ones(raw.shape[0], 1, dtype=raw.dtype, device=raw.device)
    a = amount[:, :, None]  # (N, 1, 1): over the curves' knots and the matrix alike
    ident_curves = torch.linspace(0.0, 1.0, restore.CURVE_KNOTS, dtype=raw.dtype, device=raw.device)[None, None].expand_as(curves)
    eye = torch.eye(3, dtype=raw.dtype, device=raw.device)[None]
    g = 1.0 + amount * (gain - 1.0)
    o = amount * offset
    stretched = (raw * g[:, :, None, None] + o[:, :, None, None]).clamp(0.0, 1.0)
    return apply_torch(stretched, ident_curves + a * (curves - ident_curves), eye + a * (matrix - eye),
                       ident_curves + a * (post - ident_curves))


def _curves_torch(rgb: torch.Tensor, curves: torch.Tensor) -> torch.Tensor:
    k = restore.CURVE_KNOTS
    pos = rgb.clamp(0.0, 1.0) * (k - 1)
    i0 = pos.floor().clamp(max=k - 2).long()
    frac = pos - i0
    n, c, h, w = rgb.shape
    flat = i0.reshape(n, c, -1)
    y0 = torch.gather(curves, 2, flat).reshape(n, c, h, w)
    y1 = torch.gather(curves, 2, flat + 1).reshape(n, c, h, w)
    return (y0 + frac * (y1 - y0)).clamp(0.0, 1.0)  # as the engine's tables


def rgb_to_lab_torch(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB (N, 3, H, W) in [0, 1] -> Lab (D65), as OpenCV's float conversion (rehue.contract.rgb_to_lab)."""
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)
    m = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
                     dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    xyz = xyz / torch.tensor([0.950456, 1.0, 1.088754], dtype=rgb.dtype, device=rgb.device)[None, :, None, None]
    f = torch.where(xyz > 0.008856, xyz.clamp_min(0.008856) ** (1 / 3), 7.787 * xyz + 16 / 116)
    lum = 116 * f[:, 1] - 16
    return torch.stack([lum, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def training_pair(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(truth, faded) float32 crops of one photo, CROP² each."""
    crop = data.random_crop(rgb, CROP, rng, scale=(0.6, 1.0)).astype(np.float32) / 255.0
    if rng.random() < UNFADED_SHARE:
        return crop, crop
    return crop, fading.fade_for_training(crop, rng)


def make_batch(images: list[np.ndarray], rng: np.random.Generator, n: int) -> dict[str, torch.Tensor]:
    idx = rng.integers(len(images), size=n)
    truths, faded, thumbs, stats, gains, offsets, was_faded = [], [], [], [], [], [], []
    for i in idx:
        t, f = training_pair(images[i], rng)
        was_faded.append(f is not t)
        th, st, gain, offset = restore.restore_inputs(f)
        truths.append(t.transpose(2, 0, 1))
        faded.append(f.transpose(2, 0, 1))  # unstretched: the loss applies the stretch (blended by the amount)
        thumbs.append(th[0])
        stats.append(st[0])
        gains.append(gain)
        offsets.append(offset)
    return {k: torch.from_numpy(np.stack(v).astype(np.float32)) for k, v in
            (("truth", truths), ("faded", faded), ("thumb", thumbs), ("stats", stats), ("gain", gains), ("offset", offsets),
             ("was_faded", was_faded))}


def loss_fn(net: RestoreNet, batch: dict[str, torch.Tensor], lightness_weight: float = 1.0, anchor: float = 0.0) -> torch.Tensor:
    """Smooth L1 in Lab between the restored crop (as much as the amount says) and the truth;
    ``lightness_weight`` weighs the L channel against a and b (exposure is what the held-out
    fading's restorations get wrong). ``anchor`` > 0 (amount head only) adds, for the faded crops,
    the same loss on the whole restoration (amount 1): the transform stays a full restoration and
    the amount only says how much of it a photo needs (without it the two trade scale freely)."""
    truth = rgb_to_lab_torch(batch["truth"])
    weights = torch.tensor([lightness_weight, 1.0, 1.0], dtype=truth.dtype)[None, :, None, None]

    def error(out: torch.Tensor) -> torch.Tensor:  # per crop
        per = F.smooth_l1_loss(rgb_to_lab_torch(out), truth, beta=1.0, reduction="none")
        return (per * weights).mean((1, 2, 3)) * (3.0 / (2.0 + lightness_weight))

    outs = net(batch["thumb"], batch["stats"])
    loss = error(apply_blended_torch(batch["faded"], batch["gain"], batch["offset"], *outs)).mean()
    if anchor > 0 and len(outs) == 4:
        faded = batch["was_faded"].to(truth.dtype)
        full = error(apply_blended_torch(batch["faded"], batch["gain"], batch["offset"], *outs[:3]))
        loss = loss + anchor * (full * faded).sum() / faded.sum().clamp_min(1.0)
    return loss


def export_onnx(net: RestoreNet, path: Path, metadata: dict) -> None:
    """Write the network as ONNX with its metadata (``rehue.restore.METADATA_KEY``) and check that
    onnxruntime agrees with torch."""
    import onnx
    import onnxruntime as ort

    net.eval()
    thumb = torch.rand(1, 3, restore.THUMB_SIZE, restore.THUMB_SIZE)
    stats = torch.cat([torch.sort(torch.rand(1, 3, len(restore.QUANTILES)), 2).values.reshape(1, -1), torch.rand(1, 6)], 1)
    tmp = path.with_suffix(".tmp.onnx")
    outputs = [restore.OUTPUT_CURVES, restore.OUTPUT_MATRIX, restore.OUTPUT_POST_CURVES]
    if net.amount_head:
        outputs.append(restore.OUTPUT_AMOUNT)
    torch.onnx.export(net, (thumb, stats), str(tmp), input_names=[restore.INPUT_THUMB, restore.INPUT_STATS],
                      output_names=outputs, dynamo=True, optimize=True, verbose=False)
    model = onnx.load(str(tmp))
    entry = model.metadata_props.add()
    entry.key, entry.value = restore.METADATA_KEY, json.dumps(metadata)
    onnx.save(model, str(tmp))
    sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = sess.run(None, {restore.INPUT_THUMB: thumb.numpy(), restore.INPUT_STATS: stats.numpy()})
    with torch.no_grad():
        want = net(thumb, stats)
    diff = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
    if diff > 1e-4:
        raise SystemExit(f"onnxruntime and torch disagree by {diff}")
    tmp.replace(path)
    Path(f"{tmp}.data").unlink(missing_ok=True)  # the exporter's external weights: the saved file holds them
    log.info("wrote %s (%.0f kB); parity max |diff| %.2e", path, path.stat().st_size / 1024, diff)


def _amount_floor(text: str) -> dict[str, float]:
    """``FROM,FULL,TOP`` -> the ``amount_floor`` metadata (``rehue.restore.amount_floor``)."""
    try:
        lo, hi, top = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give three numbers, FROM,FULL,TOP (say 6,12,0.8)") from None
    return {"from_move": lo, "full_move": hi, "top": top}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rehue-train-restore", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, nargs="+", default=[Path("../shared/data"), Path(".data/extra")])
    p.add_argument("--out", type=Path, default=Path("models") / restore.MODEL_FILE)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-side", type=int, default=192, help="photos are held this long (the transform is global)")
    p.add_argument("--faded-delta-e", type=float, default=restore.FADED_DELTA_E,
                   help="the 'is it faded?' threshold written into the model (choose it on the tune half: rehue-eval-restore)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--version", default=None,
                   help=f"the model version written into the ONNX metadata (training: {MODEL_VERSION}; --export-from: the checkpoint's)")
    p.add_argument("--lightness-weight", type=float, default=1.0, help="weight of the L channel in the loss (a and b: 1)")
    p.add_argument("--stretch-blind", action="store_true", help="the network does not read the stretch's gain and offset")
    p.add_argument("--amount-head", action="store_true",
                   help="a second head, reading the stretch's gain and offset too, says how much of the transform to apply")
    p.add_argument("--anchor", type=float, default=0.0,
                   help="with --amount-head: weight of the loss on the whole restoration (amount 1) of the faded crops")
    p.add_argument("--init", type=Path, default=None, help="start from this checkpoint's weights (fine-tuning)")
    p.add_argument("--amount-floor", type=_amount_floor, default=None, metavar="FROM,FULL,TOP",
                   help="with --export-from of an amount-head model: the least amount, from the stretch's own move "
                        "(rehue.restore.amount_floor: none below FROM ΔE00, TOP at FULL); chosen on the tune half "
                        "with scripts/amount_floor.py")
    p.add_argument("--export-from", type=Path, default=None,
                   help="no training: export this checkpoint again (say, with a threshold chosen on the tune half)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.export_from:
        ckpt = torch.load(args.export_from, map_location="cpu", weights_only=False)
        net = RestoreNet(stretch_blind=bool(ckpt["metadata"].get("stretch_blind", False)),
                         amount_head=bool(ckpt["metadata"].get("amount_head", False)))
        net.load_state_dict(ckpt["model"])
        metadata = {**ckpt["metadata"], "faded_delta_e": args.faded_delta_e,
                    "model_version": args.version or ckpt["metadata"].get("model_version", MODEL_VERSION)}
        if args.amount_floor:
            if not net.amount_head:
                log.error("--amount-floor needs a model with an amount head (--amount-head)")
                return 2
            metadata["amount_floor"] = args.amount_floor
        export_onnx(net, args.out, metadata)
        return 0
    roots = [d for d in args.data if d.exists()]
    if not roots:
        log.error("no training photos at %s: pass --data FOLDER (see ../shared/data/README.md)", " ".join(map(str, args.data)))
        return 2
    photos = data.load_photo_set(roots, args.max_side)
    train = [im for im, n in zip(photos.images, photos.names) if not data.is_validation(n) and min(im.shape[:2]) >= 96]
    log.info("restore training on %d photos (validation photos left out)", len(train))
    rng = np.random.default_rng(args.seed)
    net = RestoreNet(stretch_blind=args.stretch_blind, amount_head=args.amount_head)
    if args.init:
        net.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=False)["model"])
        log.info("starting from %s", args.init)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    t0 = time.time()
    for step in range(1, args.steps + 1):
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * step / args.steps))
        net.train()
        loss = loss_fn(net, make_batch(train, rng, args.batch), args.lightness_weight, args.anchor)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log.info("step %d/%d loss %.3f (%.1f steps/s)", step, args.steps, float(loss), step / (time.time() - t0))
    metadata = {"model_name": MODEL_NAME, "model_version": args.version or MODEL_VERSION, "faded_delta_e": args.faded_delta_e,
                "trained_on": "fade_dyes and fade_generic (export/fading.py) of our colour photos; validation names never seen",
                "steps": args.steps, "batch": args.batch, "photos": len(train), "lightness_weight": args.lightness_weight,
                "stretch_blind": args.stretch_blind, "amount_head": args.amount_head, "anchor": args.anchor,
                "init": str(args.init) if args.init else None}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # the weights, to re-export without retraining: the shipped model's in models/checkpoints, an experiment's beside it
    ckpt = (Path("models/checkpoints") if args.out.parent == Path("models") else args.out.parent) / (args.out.name.removesuffix(".onnx") + ".pt")
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "metadata": metadata}, ckpt)
    export_onnx(net, args.out, metadata)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
