"""Training photos: read shards or folders, split by name, crop, and simulate hints.

Photos are decoded once into memory at most 320 px long (the app's working size), so the training
loop spends its time on the network, not on JPEG decoding. The Lab conversion and the hint
rasterising go through ``rehue.contract``, so training sees exactly what the engine feeds the model.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rehue import contract, photo_io

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = photo_io.READ_SUFFIXES  # the app's own table of formats

VALIDATION_PERCENT = 10  # share of each source held out by name hash...
VALIDATION_PERCENT_BY_SOURCE = {"utkface": 5}  # ...faces keep the 5 % that validated model 1.x


def is_validation(name: str, percent: int | None = None) -> bool:
    """Held-out split by a hash of the file's base name, so it is stable across machines and
    shards. Training never sees these photos."""
    if percent is None:
        percent = VALIDATION_PERCENT_BY_SOURCE.get(source_of(name), VALIDATION_PERCENT)
    digest = hashlib.md5(Path(name).name.encode("utf-8")).digest()
    return digest[0] * 100 // 256 < percent


def validation_half(name: str) -> str:
    """'tune' or 'test': the validation photos split again by hash. Decoding choices (the
    annealing temperature, say) are tuned on 'tune' only; targets are reported on 'test'."""
    digest = hashlib.md5(Path(name).name.encode("utf-8")).digest()
    return "tune" if digest[1] & 1 else "test"


def source_of(name: str) -> str:
    """The shard folder an image came from ('utkface', 'tiny-imagenet', ...) or 'folder'."""
    parts = Path(name).parts
    return parts[0] if len(parts) > 1 else "folder"


def iter_photos(root: Path, with_origin: bool = False) -> Iterator[tuple]:
    """(name, encoded bytes) for every image in the .tar shards or the plain files under ``root``;
    with ``with_origin`` a third item says whether it came from a training shard (.tar)."""
    paths = sorted(root.rglob("*")) if root.is_dir() else [root]
    for path in paths:
        if path.suffix == ".tar":
            with tarfile.open(path) as tar:
                for member in tar:
                    if member.isfile() and Path(member.name).suffix.lower() in IMAGE_SUFFIXES:
                        f = tar.extractfile(member)
                        if f is not None:
                            yield (member.name, f.read(), True) if with_origin else (member.name, f.read())
        elif path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            name = str(path.relative_to(root if root.is_dir() else path.parent))
            yield (name, path.read_bytes(), False) if with_origin else (name, path.read_bytes())


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


def fit_long_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (never enlarge) so the long side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    s = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


@dataclass
class PhotoSet:
    """Colour photos in memory, each at its own size (long side <= the set's max_side), with names
    and sources. Whole photos, not square crops: the last training stage needs whole people at
    the scale the app sees them (320 px long side)."""

    images: list[np.ndarray]
    names: np.ndarray
    sources: np.ndarray

    def subset(self, mask: np.ndarray) -> PhotoSet:
        idx = np.nonzero(mask)[0]
        return PhotoSet([self.images[i] for i in idx], self.names[idx], self.sources[idx])

    def short_sides(self) -> np.ndarray:
        return np.array([min(im.shape[:2]) for im in self.images])


def _decode_for_training(item: tuple[str, bytes, int]) -> tuple[str, np.ndarray | None, str]:
    """(name, RGB or None, why left out) for one photo: unreadable, a BSD100 copy or grayscale."""
    name, blob, max_side = item
    bgr = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return name, None, "unreadable"
    if is_bsd100(name, bgr.shape):
        return name, None, "bsd100"
    if photo_io.is_gray(bgr):
        return name, None, "gray"
    return name, fit_long_side(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side), ""


def load_photo_set(roots: Path | Sequence[Path], max_side: int = 320, workers: int = 1, limit: int | None = None) -> PhotoSet:
    """Decode every photo under ``roots`` (shards or folders: ``../shared/data`` and the extra
    photos built beside it), leaving out unreadable ones, BSD100 copies and grayscale photos
    (about 2 % of UTKFace and the ImageNet sample: they would teach "no colour")."""
    roots = [roots] if isinstance(roots, Path) else list(roots)
    items = ((n, d, max_side) for root in roots for n, d in iter_photos(root))
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            decoded = pool.imap(_decode_for_training, items, chunksize=32)
            results = [r for r in decoded]
    else:
        results = [_decode_for_training(it) for it in items]
    images, names, sources, left_out = [], [], [], {"unreadable": 0, "bsd100": 0, "gray": 0}
    for name, rgb, why in results:
        if rgb is None:
            left_out[why] += 1
            if why == "unreadable":
                log.warning("skipping unreadable training photo %s", name)
            continue
        images.append(rgb)
        names.append(name)
        sources.append(source_of(name))
        if limit and len(images) >= limit:
            break
    log.info("loaded %d photos from %s (left out: %s)", len(images), ", ".join(map(str, roots)), left_out)
    return PhotoSet(images, np.array(names), np.array(sources))


# ----------------------------------------------------------------------------- batches


# Sampling shares per source; sources not named share DEFAULT_SHARE each. People at the app's
# scale and rooms matter most (the held-out sets where model 2 did harm), so the 5,467 clothes
# photos do not drown them; faces keep portraits right; the scene sets carry sky, foliage, buildings.
SOURCE_WEIGHTS = {
    "people": 0.16, "pedestrian_streets": 0.06, "pixabay_portraits": 0.05, "utkface": 0.08,  # people
    "houses": 0.14, "clothing": 0.09,  # rooms, homes, fabrics
    "imagenet_det200": 0.10, "imagenet-sample": 0.08, "imagenette_train_224": 0.07,  # everyday scenes and objects
    "bsds500": 0.06, "urban-sunhays-bsd100": 0.05, "camvid": 0.03,  # landscapes, cities, streets
    # Training-only sets below the app's scale (export.small_photos: 64-180 px): many new photos of
    # ImageNet's objects, pets in homes, and scenes; a quarter of the crops, so the photos at the
    # app's scale still teach what a person or a room looks like at 320 px.
    "tiny_imagenet": 0.12, "pets": 0.12, "intel_scenes": 0.06,
}
DEFAULT_SHARE = 0.03
# Sets below the app's scale: trained on, never validated on (their held-out photos stay unused),
# so the validation crops and rehue-eval's tables stay on photos the size the app sees.
TRAINING_ONLY_SOURCES = frozenset({"tiny_imagenet", "pets", "intel_scenes"})


def sampling_weights(sources: np.ndarray, weights: dict[str, float] | None = None) -> np.ndarray:
    """Per-photo probabilities: each source gets its share, spread evenly over its photos."""
    weights = SOURCE_WEIGHTS if weights is None else weights
    w = np.zeros(len(sources), dtype=np.float64)
    for s in set(sources.tolist()):
        m = sources == s
        w[m] = weights.get(s, DEFAULT_SHARE) / m.sum()
    return w / w.sum()


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator, scale: tuple[float, float] = (0.55, 1.0)) -> np.ndarray:
    """A random square of ``scale`` × the short side, maybe mirrored, resized to (size, size, 3).

    With photos at most 320 px long (the app's working size) a crop of 0.7..1 of the short side
    shows a person or a room at about the scale the app shows it to the network."""
    h, w = rgb.shape[:2]
    short = min(h, w)
    # A crop is at least half the output size (or the whole short side): a small photo (64-180
    # px) gives all of itself, not a blur of a quarter of it.
    crop = min(short, max(8, int(round(short * rng.uniform(*scale))), size // 2))
    y0 = int(rng.integers(0, h - crop + 1))
    x0 = int(rng.integers(0, w - crop + 1))
    patch = rgb[y0 : y0 + crop, x0 : x0 + crop]
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    interp = cv2.INTER_AREA if crop > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(patch), (size, size), interpolation=interp)


HINT_MAX_RADIUS = 4  # patches of 1 to 9 px (Zhang et al. 2017)
RECOLOUR_SHARE = 0.3  # of hinted examples: one object recoloured, its hints of the new colour
OBJECT_TOLERANCE = 12.0  # Lab units: an object is the connected region of similar colour (rehue-eval's locality protocol)


def simulate_hints(ab_norm: np.ndarray, rng: np.random.Generator, p_none: float = 0.25,
                   l_norm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Zhang et al. 2017's simulated user: a geometric number of square patches (1–9 px), half
    placed around the centre and half anywhere, each given the mean true colour of its patch;
    sometimes none, so automatic mode is learned too. The patches are drawn by
    ``contract.encode_hints``, the app's own rasteriser.

    With ``l_norm`` (the crop's L), a share of hinted examples also get a hint of a colour the
    network would not guess: one object (``object_mask``) is recoloured in ``ab_norm`` *in place*
    (a random hue turn, and some chroma), and one to three of the hints sit on it with its new
    colour; the target follows, so the network learns to carry a hint along its object and no further.

    ``ab_norm``: (2, H, W) float32. Returns hint_ab (2, H, W) and hint_mask (1, H, W).
    """
    _, h, w = ab_norm.shape
    hints = []
    if rng.random() < p_none:
        return contract.encode_hints(hints, h, w)
    if l_norm is not None and rng.random() < RECOLOUR_SHARE:
        obj = object_mask(l_norm, ab_norm, rng)
        if obj is not None:
            recolour(ab_norm, obj, rng)
            ys, xs = np.nonzero(obj)
            for _ in range(int(rng.integers(1, 4))):
                j = int(rng.integers(len(ys)))
                hints.append(_patch_hint(ab_norm, int(ys[j]), int(xs[j]), int(rng.integers(0, HINT_MAX_RADIUS + 1)), obj))
    n = min(int(rng.geometric(1 / 8)), 60) if not hints or rng.random() < 0.5 else 0
    for _ in range(n):
        r = int(rng.integers(0, HINT_MAX_RADIUS + 1))
        if rng.random() < 0.5:
            cy = int(np.clip(rng.normal(h / 2, h / 4), 0, h - 1))
            cx = int(np.clip(rng.normal(w / 2, w / 4), 0, w - 1))
        else:
            cy, cx = int(rng.integers(h)), int(rng.integers(w))
        hints.append(_patch_hint(ab_norm, cy, cx, r))
    return contract.encode_hints(hints[::-1], h, w)  # the object's hints drawn last: on top


def _patch_hint(ab_norm: np.ndarray, cy: int, cx: int, r: int, within: np.ndarray | None = None) -> contract.Hint:
    """A hint of the mean true colour of the (2r+1)² patch at (cy, cx) (of its pixels in ``within``)."""
    _, h, w = ab_norm.shape
    sl = (slice(max(0, cy - r), cy + r + 1), slice(max(0, cx - r), cx + r + 1))
    patch = ab_norm[:, sl[0], sl[1]].reshape(2, -1)
    if within is not None:
        patch = patch[:, within[sl].ravel()]
    a, b = patch.mean(axis=1) * contract.AB_SCALE
    return contract.Hint((cx + 0.5) / w, (cy + 0.5) / h, float(a), float(b), r)


def object_mask(l_norm: np.ndarray, ab_norm: np.ndarray, rng: np.random.Generator, tries: int = 4,
                share: tuple[float, float] = (0.01, 0.45)) -> np.ndarray | None:
    """(H, W) bool: the connected region of similar Lab colour around a random pixel, found at
    1/4 resolution (cheap) and taken back to full size; None when no try gives an object of a
    sensible size (not a speck, not the whole crop)."""
    _, h, w = ab_norm.shape
    lab = np.dstack([l_norm[0] * contract.L_SCALE + contract.L_CENTER, *(ab_norm * contract.AB_SCALE)]).astype(np.float32)
    small = cv2.resize(lab, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    tol = (OBJECT_TOLERANCE,) * 3
    for _ in range(tries):
        seed = (int(rng.integers(sw)), int(rng.integers(sh)))
        mask = np.zeros((sh + 2, sw + 2), np.uint8)
        cv2.floodFill(small.copy(), mask, seed, (0, 0, 0), tol, tol, 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8))
        region = mask[1:-1, 1:-1]
        if share[0] <= region.mean() <= share[1]:
            return cv2.resize(region, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return None


def recolour(ab_norm: np.ndarray, obj: np.ndarray, rng: np.random.Generator) -> None:
    """Turn the chroma of ``obj`` by a random hue angle (a dull object gets a new flat colour), in
    place: a colour the network would not have guessed there, as a user's hint often is."""
    a, b = ab_norm[0][obj], ab_norm[1][obj]
    mean_chroma = float(np.hypot(a, b).mean()) * contract.AB_SCALE
    target = rng.uniform(15.0, 50.0)
    theta = rng.uniform(0.0, 2 * np.pi)
    c, s = np.cos(theta), np.sin(theta)
    if mean_chroma < 5.0:  # no hue to turn
        ab_norm[0][obj], ab_norm[1][obj] = c * target / contract.AB_SCALE, s * target / contract.AB_SCALE
        return
    boost = max(1.0, target / mean_chroma)
    ab_norm[0][obj] = np.clip((c * a - s * b) * boost, -1.0, 1.0)
    ab_norm[1][obj] = np.clip((s * a + c * b) * boost, -1.0, 1.0)


def lab_planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB -> normalised L (1, H, W) and ab (2, H, W), via the contract."""
    lab = contract.rgb_to_lab(rgb)
    l_norm = contract.normalise_l(lab[..., 0])[None]  # (H, W) -> (1, H, W)
    ab = contract.normalise_ab(lab[..., 1:]).transpose(2, 0, 1)  # (H, W, 2) -> (2, H, W)
    return l_norm, np.ascontiguousarray(ab)


def make_sample(rgb: np.ndarray, size: int, rng: np.random.Generator, p_none: float = 0.25,
                scale: tuple[float, float] = (0.55, 1.0)) -> dict[str, np.ndarray]:
    """One training example: L, hint_ab, hint_mask (the model's inputs) and the true ab."""
    l_norm, ab = lab_planes(random_crop(rgb, size, rng, scale))
    hint_ab, hint_mask = simulate_hints(ab, rng, p_none, l_norm)
    return {"L": l_norm, "ab": ab, "hint_ab": hint_ab, "hint_mask": hint_mask}


def make_batch(photos: PhotoSet, idx: np.ndarray, size: int, rng: np.random.Generator, p_none: float = 0.25,
               scale: tuple[float, float] = (0.55, 1.0)) -> dict[str, np.ndarray]:
    """A batch of make_sample examples, stacked."""
    samples = [make_sample(photos.images[i], size, rng, p_none, scale) for i in idx]
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}


def ab_prior(photos: PhotoSet, rng: np.random.Generator, n: int = 3000, size: int = 32) -> np.ndarray:
    """Empirical probability of each contract ab bin over (a sample of) the training photos."""
    idx = rng.choice(len(photos.images), size=min(n, len(photos.images)), replace=False)
    counts = np.zeros(len(contract.AB_BINS), dtype=np.float64)
    for i in idx:
        small = cv2.resize(photos.images[i], (size, size), interpolation=cv2.INTER_AREA)
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
    "PhotoSet", "load_photo_set", "make_batch", "make_sample", "random_crop", "ab_prior", "rebalance_weights", "is_validation",
    "sampling_weights", "simulate_hints", "lab_planes", "iter_photos", "read_image_bytes",
    "imagenet_labelled", "validation_half",
]


IMAGENET_WNIDS = Path(__file__).with_name("imagenet_wnids.txt")  # the 1000 classes in ImageNet's order


def imagenet_labelled(root: Path, limit: int | None = None) -> list[tuple[int, np.ndarray]]:
    """(ImageNet class index, RGB) for the ImageNet sample photos under ``root`` (files named
    ``<wnid>_<label>.jpg``; the class index is the wnid's rank among ImageNet's 1000, listed in
    ``imagenet_wnids.txt``). Raises ValueError when there are none."""
    index = {w: i for i, w in enumerate(IMAGENET_WNIDS.read_text().split())}
    out = []
    for name, blob in iter_photos(root):
        wnid = Path(name).name.split("_")[0]
        if source_of(name) != "imagenet-sample" or wnid not in index:
            continue
        rgb = read_image_bytes(blob)
        if rgb is not None:
            out.append((index[wnid], rgb))
        if limit and len(out) >= limit:
            break
    if not out:
        raise ValueError(f"no ImageNet sample photos under {root}")
    return out
