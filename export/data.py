"""Training photos: read shards or folders, split by name, cache, augment, and simulate hints.

Photos are decoded once into a uint8 cache (``.npz`` beside the run) of square crops, so that the
two-core training loop spends its time on the network, not on JPEG decoding. The Lab conversion of
each batch goes through ``rehue.contract`` so training sees exactly what the engine feeds the model.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rehue import contract, photo_io

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
CACHE_SIDE = 144  # stored square side; training crops are taken from it


def is_validation(name: str, percent: int = 5) -> bool:
    """Held-out split by a hash of the file's base name, so it is stable across machines."""
    digest = hashlib.md5(Path(name).name.encode("utf-8")).digest()
    return digest[0] * 100 // 256 < percent


def source_of(name: str) -> str:
    """The shard folder an image came from ('utkface', 'tiny-imagenet', ...) or 'folder'."""
    parts = Path(name).parts
    return parts[0] if len(parts) > 1 else "folder"


def iter_photos(root: Path) -> Iterator[tuple[str, bytes]]:
    """(name, encoded bytes) for every image in the .tar shards or the plain files under ``root``."""
    paths = sorted(root.rglob("*")) if root.is_dir() else [root]
    for path in paths:
        if path.suffix == ".tar":
            with tarfile.open(path) as tar:
                for member in tar:
                    if member.isfile() and Path(member.name).suffix.lower() in IMAGE_SUFFIXES:
                        f = tar.extractfile(member)
                        if f is not None:
                            yield member.name, f.read()
        elif path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            yield str(path.relative_to(root if root.is_dir() else path.parent)), path.read_bytes()


def is_bsd100(name: str, shape: tuple[int, ...]) -> bool:
    """BSD100 images inside the super-resolution shard overlap BSDS500 (our validation photos
    include BSDS500). The shard names them only by upscaling factor, so tell them by their size:
    BSD100 crops are about 480x320 (three copies, one per factor); Sun-Hays80 ones are 512 wide."""
    short, long_ = sorted(shape[:2])
    return source_of(name) == "urban-sunhays-bsd100" and short in (320, 321) and long_ in (480, 481)


def square_crop(rgb: np.ndarray, side: int) -> np.ndarray:
    """Resize so the short side is ``side`` and take the centre square: (H, W, 3) -> (side, side, 3)."""
    h, w = rgb.shape[:2]
    scale = side / min(h, w)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    r = cv2.resize(rgb, (max(side, round(w * scale)), max(side, round(h * scale))), interpolation=interp)
    y0 = (r.shape[0] - side) // 2
    x0 = (r.shape[1] - side) // 2
    return r[y0 : y0 + side, x0 : x0 + side]


@dataclass
class PhotoCache:
    """Square uint8 RGB crops (N, S, S, 3) with their names and sources."""

    images: np.ndarray
    names: np.ndarray
    sources: np.ndarray

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, images=self.images, names=self.names, sources=self.sources)

    @classmethod
    def load(cls, path: Path) -> PhotoCache:
        z = np.load(path)
        return cls(z["images"], z["names"], z["sources"])

    def subset(self, mask: np.ndarray) -> PhotoCache:
        return PhotoCache(self.images[mask], self.names[mask], self.sources[mask])


def build_cache(root: Path, side: int = CACHE_SIDE, limit: int | None = None) -> PhotoCache:
    """Decode every photo under ``root`` into a PhotoCache, skipping unreadable ones, BSD100 copies
    and grayscale photos (about 2 % of UTKFace and the ImageNet sample: they would teach "no colour")."""
    images, names, sources = [], [], []
    n_gray = 0
    for name, data in iter_photos(root):
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            log.warning("skipping unreadable training photo %s", name)
            continue
        if is_bsd100(name, bgr.shape):
            continue
        if photo_io.is_gray(bgr):
            n_gray += 1
            continue
        images.append(square_crop(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), side))
        names.append(name)
        sources.append(source_of(name))
        if limit and len(images) >= limit:
            break
    log.info("cached %d photos from %s (%d grayscale photos left out)", len(images), root, n_gray)
    return PhotoCache(np.stack(images), np.array(names), np.array(sources))


# ----------------------------------------------------------------------------- batches


SOURCE_WEIGHTS = {"utkface": 0.4, "tiny-imagenet": 0.25}  # the rest share what is left


def sampling_weights(sources: np.ndarray) -> np.ndarray:
    """Per-image probabilities: faces well represented, the few large scene photos oversampled."""
    w = np.zeros(len(sources), dtype=np.float64)
    named = set(SOURCE_WEIGHTS)
    rest = 1.0 - sum(SOURCE_WEIGHTS[s] for s in named if (sources == s).any())
    n_rest = int(sum((sources == s).sum() for s in set(sources.tolist()) - named))
    for s in set(sources.tolist()):
        m = sources == s
        share = SOURCE_WEIGHTS.get(s, rest * m.sum() / max(1, n_rest))
        w[m] = share / m.sum()
    return w / w.sum()


def augment(rgb: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random scale-jittered crop and horizontal flip: (S, S, 3) uint8 -> (size, size, 3) uint8."""
    s = rgb.shape[0]
    crop = int(rng.integers(int(s * 0.6), s + 1))
    y0 = int(rng.integers(0, s - crop + 1))
    x0 = int(rng.integers(0, s - crop + 1))
    patch = rgb[y0 : y0 + crop, x0 : x0 + crop]
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    interp = cv2.INTER_AREA if crop > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(patch), (size, size), interpolation=interp)


def simulate_hints(ab_norm: np.ndarray, rng: np.random.Generator, p_none: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Zhang et al. 2017's simulated user: a geometric number of square patches placed around the
    centre, each filled with the mean true colour of the patch; often none, so automatic mode is
    learned too.

    ``ab_norm``: (2, H, W) float32. Returns hint_ab (2, H, W) and hint_mask (1, H, W).
    """
    _, h, w = ab_norm.shape
    hint_ab = np.zeros_like(ab_norm)
    mask = np.zeros((1, h, w), dtype=np.float32)
    if rng.random() < p_none:
        return hint_ab, mask
    n = min(int(rng.geometric(1 / 8)), 60)
    for _ in range(n):
        r = int(rng.integers(0, 4))  # patch side 1, 3, 5 or 7, as Hint.radius encodes it
        cy = int(np.clip(rng.normal(h / 2, h / 4), 0, h - 1))
        cx = int(np.clip(rng.normal(w / 2, w / 4), 0, w - 1))
        y0, y1, x0, x1 = max(0, cy - r), min(h, cy + r + 1), max(0, cx - r), min(w, cx + r + 1)
        hint_ab[:, y0:y1, x0:x1] = ab_norm[:, y0:y1, x0:x1].mean(axis=(1, 2), keepdims=True)
        mask[:, y0:y1, x0:x1] = 1.0
    return hint_ab, mask


def lab_planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB -> normalised L (1, H, W) and ab (2, H, W), via the contract."""
    lab = contract.rgb_to_lab(rgb)
    l_norm = contract.normalise_l(lab[..., 0])[None]  # (H, W) -> (1, H, W)
    ab = contract.normalise_ab(lab[..., 1:]).transpose(2, 0, 1)  # (H, W, 2) -> (2, H, W)
    return l_norm, np.ascontiguousarray(ab)


def make_batch(
    cache: PhotoCache, idx: np.ndarray, size: int, rng: np.random.Generator, p_none: float = 0.5
) -> dict[str, np.ndarray]:
    """One training batch: L, hint_ab, hint_mask (model inputs) and the true ab."""
    ls, abs_, hab, hm = [], [], [], []
    for i in idx:
        l_norm, ab = lab_planes(augment(cache.images[i], size, rng))
        h_ab, h_m = simulate_hints(ab, rng, p_none)
        ls.append(l_norm)
        abs_.append(ab)
        hab.append(h_ab)
        hm.append(h_m)
    return {"L": np.stack(ls), "ab": np.stack(abs_), "hint_ab": np.stack(hab), "hint_mask": np.stack(hm)}


def ab_prior(cache: PhotoCache, rng: np.random.Generator, n: int = 3000, size: int = 32) -> np.ndarray:
    """Empirical probability of each contract ab bin over (a sample of) the training photos."""
    idx = rng.choice(len(cache.images), size=min(n, len(cache.images)), replace=False)
    counts = np.zeros(len(contract.AB_BINS), dtype=np.float64)
    for i in idx:
        small = cv2.resize(cache.images[i], (size, size), interpolation=cv2.INTER_AREA)
        ab = contract.rgb_to_lab(small)[..., 1:]
        counts += np.bincount(contract.nearest_ab_bin(ab).ravel(), minlength=len(counts))
    return counts / counts.sum()


def rebalance_weights(prior: np.ndarray, lam: float = 0.5, sigma_bins: float = 0.5) -> np.ndarray:
    """Zhang et al. 2016's class rebalancing: w ∝ 1 / ((1-λ) p̃ + λ/Q), E_p[w] = 1, where p̃ is
    the prior smoothed over neighbouring bins."""
    bins = contract.AB_BINS / contract.AB_BIN_STEP
    d2 = ((bins[:, None] - bins[None]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * sigma_bins**2))
    smooth = kernel @ prior
    smooth /= smooth.sum()
    w = 1.0 / ((1 - lam) * smooth + lam / len(prior))
    w /= (prior * w).sum()
    return w.astype(np.float32)


def read_image_bytes(data: bytes) -> np.ndarray | None:
    """Decode bytes to RGB uint8, or None."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


__all__ = [
    "PhotoCache", "build_cache", "make_batch", "ab_prior", "rebalance_weights", "is_validation",
    "sampling_weights", "simulate_hints", "lab_planes", "iter_photos", "read_image_bytes",
]
