"""The network of Zhang et al. 2017 (SIGGRAPH, "Real-Time User-Guided Image Colorization"), built
here with random weights only to time it through the same pipeline as ours (the ratio is the
figure). Layer sizes follow the paper's released model: conv1–conv10 with dilated conv5/conv6 and
shortcuts, about 34 M parameters. Exported as one graph with the inputs it had (L and hint planes)
and timed in onnxruntime beside our two graphs. Needs the ``train`` extra (torch, onnx, onnxscript).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rehue import contract


def _block(cin: int, cout: int, n: int, dilation: int = 1, bn: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


class Zhang2017(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _block(4, 64, 2)
        self.conv2 = _block(64, 128, 2)
        self.conv3 = _block(128, 256, 3)
        self.conv4 = _block(256, 512, 3)
        self.conv5 = _block(512, 512, 3, dilation=2)
        self.conv6 = _block(512, 512, 3, dilation=2)
        self.conv7 = _block(512, 512, 3)
        self.up8 = nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1)
        self.short3_8 = nn.Conv2d(256, 256, 3, padding=1)
        self.conv8 = nn.Sequential(nn.ReLU(inplace=True), _block(256, 256, 2))
        self.up9 = nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1)
        self.short2_9 = nn.Conv2d(128, 128, 3, padding=1)
        self.conv9 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(128))
        self.up10 = nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1)
        self.short1_10 = nn.Conv2d(64, 128, 3, padding=1)
        self.conv10 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(128, 128, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Conv2d(128, 2, 1)
        self.pool = nn.MaxPool2d(1, stride=2)  # the paper subsamples with stride-2 indexing
        self.q = len(contract.AB_BINS)

    def forward(self, l_norm, hint_ab, hint_mask):
        x = torch.cat([l_norm, hint_ab, hint_mask], 1)
        c1 = self.conv1(x)
        c2 = self.conv2(self.pool(c1))
        c3 = self.conv3(self.pool(c2))
        c4 = self.conv4(self.pool(c3))
        c7 = self.conv7(self.conv6(self.conv5(c4)))
        c8 = self.conv8(self.up8(c7) + self.short3_8(c3))
        c9 = self.conv9(self.up9(c8) + self.short2_9(c2))
        c10 = self.conv10(self.up10(c9) + self.short1_10(c1))
        ab = torch.tanh(self.out(c10))
        # The contract's second output, as an almost free constant: only ab is timed.
        n, _, h, w = l_norm.shape
        probs = torch.zeros(n, self.q, h // contract.PROBS_STRIDE, w // contract.PROBS_STRIDE, dtype=ab.dtype) + ab.mean() * 0
        return ab, probs


def build_onnx(path: Path) -> Path:
    """Export the randomly initialised network as one ONNX graph (L, hint_ab, hint_mask -> ab):
    it is timed alone, beside our encoder and decoder."""
    torch.manual_seed(0)
    model = Zhang2017().eval()
    example = (torch.zeros(1, 1, 64, 64), torch.zeros(1, 2, 64, 64), torch.zeros(1, 1, 64, 64))
    hb, wb = torch.export.Dim("h8", min=1, max=256), torch.export.Dim("w8", min=1, max=256)
    spatial = {2: 8 * hb, 3: 8 * wb}
    torch.onnx.export(model, example, dynamo=True, opset_version=18, input_names=["L", "hint_ab", "hint_mask"],
                      output_names=["ab", "ab_probs"], dynamic_shapes={"l_norm": spatial, "hint_ab": spatial, "hint_mask": spatial},
                      optimize=True).save(str(path))
    Path(str(path) + ".data").unlink(missing_ok=True)
    return path


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/zhang2017.onnx")
    build_onnx(out)
    print(out, sum(p.numel() for p in Zhang2017().parameters()), "parameters")
