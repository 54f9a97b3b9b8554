"""The low-resolution training sets (export.small_photos) as built from a real git snapshot, and
how training crops photos that are smaller than the crop."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from export import data, small_photos


def _photo(seed: int, size: int = 180) -> np.ndarray:
    """A colourful photo-like image (BGR): blobs of colour over a gradient."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = rng.integers(40, 200, 3)
    for _ in range(6):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.circle(img, tuple(int(v) for v in rng.integers(0, size, 2)), int(rng.integers(10, size // 2)), c, -1)
    return img


def _validation_name(stem: str) -> str:
    for i in range(1000):
        if data.is_validation(f"{stem}{i}.jpg"):
            return f"{stem}{i}.jpg"
    raise AssertionError("no validation name found")


def test_small_sets_are_built_from_a_snapshot_without_gray_copies_or_held_out_photos(tmp_path: Path):
    # The "other sources": one held-out photo, whose copy (shrunk) hides in the snapshot.
    other = tmp_path / "extra" / "houses"
    other.mkdir(parents=True)
    held = _photo(99, 400)
    cv2.imwrite(str(other / _validation_name("room")), held)
    # A snapshot as fetch leaves it: owner+name/repo/.git, cats and dogs with the same file names.
    repo = tmp_path / "mirror" / "karemsaeed21+cat_vs_dog_classification_CNN" / "repo"
    for sub in ("PetImages/Cat", "PetImages/Dog"):
        (repo / sub).mkdir(parents=True)
    cv2.imwrite(str(repo / "PetImages/Cat/1.jpg"), _photo(1))
    cv2.imwrite(str(repo / "PetImages/Dog/1.jpg"), _photo(2))
    cv2.imwrite(str(repo / "PetImages/Dog/2.jpg"), _photo(1))  # the same photo as Cat/1
    gray = cv2.cvtColor(cv2.cvtColor(_photo(3), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    cv2.imwrite(str(repo / "PetImages/Dog/3.jpg"), gray)
    cv2.imwrite(str(repo / "PetImages/Dog/4.jpg"), cv2.resize(held, (180, 180), interpolation=cv2.INTER_AREA))
    (repo / "PetImages/Dog/notes.txt").write_text("not a photo")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "photos"], check=True)

    out = tmp_path / "small"
    assert small_photos.main(["--mirror", str(tmp_path / "mirror"), "--out", str(out), "--held-out", str(tmp_path / "extra"),
                              "--only", "pets"]) == 0
    built = sorted(p.name for p in (out / "pets").glob("*.jpg"))
    assert built == ["pet_Cat_1.jpg", "pet_Dog_1.jpg"]  # no gray, no duplicate, no held-out copy
    assert "PetImages/Dog/4.jpg" in (out / "pets" / "held_out_copies.tsv").read_text()
    for name in built:  # real JPEGs, at their own size, in colour
        img = cv2.imread(str(out / "pets" / name))
        assert img is not None and img.shape == (180, 180, 3)
    # Training sees them as their own source, never as validation photos.
    photos = data.load_photo_set(out)
    assert set(photos.sources.tolist()) == {"pets"}
    assert "pets" in data.TRAINING_ONLY_SOURCES


def test_a_photo_smaller_than_the_crop_is_used_whole_not_a_blur_of_a_corner():
    rng = np.random.default_rng(0)
    tiny = cv2.cvtColor(_photo(5, 64), cv2.COLOR_BGR2RGB)
    whole = cv2.resize(tiny, (192, 192), interpolation=cv2.INTER_LINEAR)
    for _ in range(10):
        crop = data.random_crop(tiny, 192, rng)
        assert crop.shape == (192, 192, 3)
        assert np.abs(crop.astype(int) - whole).mean() < 1 or np.abs(crop.astype(int) - whole[:, ::-1]).mean() < 1
    # A photo at the app's scale still gets crops of a part of it (0.55-1 of its short side).
    big = cv2.cvtColor(_photo(6, 320), cv2.COLOR_BGR2RGB)
    big_whole = cv2.resize(big, (192, 192), interpolation=cv2.INTER_AREA).astype(int)
    diffs = [min(np.abs(c - big_whole).mean(), np.abs(c - big_whole[:, ::-1]).mean())
             for c in (data.random_crop(big, 192, rng).astype(int) for _ in range(10))]
    assert max(diffs) > 5
