"""``rehue-small-photos``: build the low-resolution photo sets of ``../shared/data/SOURCES.md``
(Tiny ImageNet 64 px, Microsoft's cats and dogs 180 px, Intel scenes 100 px) into an ignored folder.

They are training-only sources (issue 27: more varied photos are the lever): none of them is at
the app's 320 px scale, so they never enter ``rehue-eval``'s tables, which stay on the photos at
the app's scale. Rules as ``build_extra_photos.sh`` (unreadable and gray photos dropped,
near-duplicates by a 16×16 average hash, also against the photos already built), plus one of ours:
a copy of any *held-out* photo of the other sources (its squashed 16×16 hash within ``--near-bits``
of 256 bits and its 32×32 thumbnail within 12 levels; Tiny ImageNet photos are ImageNet photos
squashed to 64 × 64) is dropped, so no evaluation photo is trained on in disguise.
Photos are read from the bare snapshots that the ``fetch`` tool brings, with ``git archive``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from export import data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmallSource:
    """One low-resolution set: where its photos are in which snapshot, and how to name them."""

    name: str
    snapshot: str  # owner+name, as fetch leaves it under the mirror folder
    paths: tuple[str, ...]
    pattern: str  # a member path must match this
    prefix: str  # names must be unique across sources: the validation split hashes the base name


SMALL_SOURCES = (
    SmallSource("tiny_imagenet", "rangeetpan+IMagenet", ("tiny-imagenet-200/train",), r"\.jpe?g$", "tin"),
    SmallSource("pets", "karemsaeed21+cat_vs_dog_classification_CNN", ("PetImages/Cat", "PetImages/Dog"), r"\.jpe?g$", "pet"),
    SmallSource("intel_scenes", "afroozsheikh+Intel-Image-Classifier", ("train", "test"), r"\.jpe?g$", "intel"),
)
# The training loop knows these names as training-only sources (never validated on): one list.
assert {s.name for s in SMALL_SOURCES} == data.TRAINING_ONLY_SOURCES, "export.data.TRAINING_ONLY_SOURCES must name SMALL_SOURCES"
COPY_THUMB_DIFF = 12.0  # mean |difference| of 32×32 thumbnails (0-255) under which two photos are one
GRAY_CHROMA = 4.0  # mean YCbCr chroma on a 64 px thumbnail, as build_extra_photos.sh


def squashed_hash(rgb: np.ndarray) -> np.ndarray:
    """256 bits: the 16×16 gray thumbnail (aspect ignored) above its mean."""
    g = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
    return np.packbits(g.ravel() > g.mean())


def is_gray_photo(rgb: np.ndarray) -> bool:
    t = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    ycc = cv2.cvtColor(t, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    return float(np.hypot(ycc[..., 1] - 128, ycc[..., 2] - 128).mean()) < GRAY_CHROMA


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """32×32×3 float32, aspect ignored: what tells a true copy from a photo of the same layout."""
    return cv2.resize(rgb, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def other_photos_hashes(roots: list[Path]) -> tuple[np.ndarray, np.ndarray, list[str], set[str]]:
    """The squashed hashes (N, 32) uint8 and thumbnails (N, 32, 32, 3) of every validation photo
    (tune and test) under ``roots``, their names, and the near-duplicate keys of all their photos."""
    held, thumbs, names, keys = [], [], [], set()
    for root in roots:
        for name, blob in data.iter_photos(root):
            rgb = data.read_image_bytes(blob)
            if rgb is None:
                continue
            h = squashed_hash(rgb)
            keys.add(hashlib.md5(h.tobytes()).hexdigest()[:16])
            if data.is_validation(name):
                held.append(h)
                thumbs.append(thumbnail(rgb))
                names.append(name)
    log.info("%d photos hashed, %d of them held out", len(keys), len(held))
    return (np.array(held, dtype=np.uint8).reshape(-1, 32), np.array(thumbs, dtype=np.float32).reshape(-1, 32, 32, 3),
            names, keys)


def _members(git_dir: Path, path: str) -> Iterator[tuple[str, bytes]]:
    """(member path, bytes) of every file under ``path`` in the snapshot's HEAD."""
    proc = subprocess.Popen(["git", "--git-dir", str(git_dir), "archive", "--format=tar", f"--prefix={path}/", f"HEAD:{path}"],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for m in tar:
            if m.isfile():
                f = tar.extractfile(m)
                if f is not None:
                    yield m.name, f.read()
    if proc.wait() != 0:
        raise RuntimeError(f"git archive of {path} in {git_dir} failed")


def _git_dir(mirror: Path, snapshot: str) -> Path | None:
    for cand in (mirror / snapshot / "repo" / ".git", mirror / snapshot / "repo"):
        if cand.is_dir():
            return cand
    return None


def build_source(src: SmallSource, mirror: Path, out: Path, held: np.ndarray, held_thumbs: np.ndarray, held_names: list[str],
                 seen: set[str], near_bits: int, quality: int) -> dict[str, int]:
    """Write ``out/<source>/<prefix>_<...>.jpg`` for one set; returns its counts."""
    counts = dict(files=0, kept=0, unreadable=0, gray=0, dup=0, held_out_copy=0)
    git_dir = _git_dir(mirror, src.snapshot)
    if git_dir is None:
        log.warning("%s: snapshot %s not in %s (fetch github:%s first) - skipped", src.name, src.snapshot, mirror,
                    src.snapshot.replace("+", "/"))
        return counts
    folder = out / src.name
    folder.mkdir(parents=True, exist_ok=True)
    rx = re.compile(src.pattern, re.I)
    held_bits = np.unpackbits(held, axis=1).astype(bool) if len(held) else np.zeros((0, 256), bool)
    copies: list[str] = []  # written beside the photos, to look at what was dropped
    for path in src.paths:
        for member, blob in _members(git_dir, path):
            if not rx.search(member):
                continue
            counts["files"] += 1
            rgb = data.read_image_bytes(blob)
            if rgb is None:
                counts["unreadable"] += 1
                continue
            if is_gray_photo(rgb):
                counts["gray"] += 1
                continue
            h = squashed_hash(rgb)
            key = hashlib.md5(h.tobytes()).hexdigest()[:16]
            if len(held_bits):
                # A copy has a near hash *and* a near thumbnail; a near hash alone is often just
                # the same layout (sky over hills).
                near = np.nonzero((held_bits != np.unpackbits(h).astype(bool)).sum(axis=1) <= near_bits)[0]
                if len(near):
                    diff = np.abs(held_thumbs[near] - thumbnail(rgb)).mean(axis=(1, 2, 3))
                    if float(diff.min()) <= COPY_THUMB_DIFF:
                        counts["held_out_copy"] += 1
                        copies.append(f"{member}\t{held_names[int(near[diff.argmin()])]}\t{float(diff.min()):.1f}")
                        continue
            if key in seen:
                counts["dup"] += 1
                continue
            seen.add(key)
            # The folder's own name too: Cat/1.jpg and Dog/1.jpg must not become one file.
            rel = Path(Path(path).name) / Path(member).relative_to(path).with_suffix("")
            base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(rel)).strip("_")
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                counts["unreadable"] += 1
                continue
            (folder / f"{src.prefix}_{base}.jpg").write_bytes(buf.tobytes())
            counts["kept"] += 1
    (folder / "held_out_copies.tsv").write_text("".join(line + "\n" for line in copies))
    log.info("%s: %s", src.name, counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-small-photos", description=__doc__.split("\n\n")[0])
    p.add_argument("--mirror", type=Path, default=Path("/work/.mirror"), help="folder of fetched snapshots")
    p.add_argument("--out", type=Path, default=Path(".data/small"), help="ignored output folder")
    p.add_argument("--held-out", type=Path, nargs="+", default=[Path("../shared/data"), Path(".data/extra")],
                   help="the other photo folders: their validation photos must not be trained on in disguise, nor any of their photos twice")
    p.add_argument("--only", default="", help="comma-separated source names to build (default: all)")
    p.add_argument("--near-bits", type=int, default=40,
                   help="hash distance (of 256 bits) within which a held-out photo's thumbnail is compared")
    p.add_argument("--quality", type=int, default=92)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    only = {s for s in args.only.split(",") if s}
    held, held_thumbs, held_names, seen = other_photos_hashes([r for r in args.held_out if r.exists()])
    for src in SMALL_SOURCES:
        if not only or src.name in only:
            build_source(src, args.mirror, args.out, held, held_thumbs, held_names, seen, args.near_bits, args.quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
