"""The training/evaluation rules: grayscale photos are neither learned from nor scored; the LR
schedule of a warm restart; averaging checkpoints; evaluation scores that do not depend on order."""

from __future__ import annotations

import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import gray_scene
from export import data
from export.evaluate import load_photos


def _colour_photo(seed: int) -> np.ndarray:
    g = gray_scene(96, 128, seed)
    return np.dstack([g, np.roll(g, 7, axis=1), 255 - g])  # BGR with real chroma


@pytest.fixture
def shard(tmp_path: Path) -> Path:
    """A .tar shard like ../shared/data's: three colour photos and one gray photo stored as RGB JPEG."""
    src = tmp_path / "src" / "family"
    src.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(src / f"colour{i}.jpg"), _colour_photo(i))
    g = gray_scene(96, 128, 9)
    cv2.imwrite(str(src / "scan.jpg"), np.dstack([g, g, g]))
    root = tmp_path / "shards"
    root.mkdir()
    with tarfile.open(root / "family-00.tar", "w") as tar:
        tar.add(src, arcname="family")
    return root


def test_cache_leaves_out_grayscale_photos(shard: Path):
    cache = data.build_cache(shard, side=64)
    names = sorted(Path(n).name for n in cache.names)
    assert names == ["colour0.jpg", "colour1.jpg", "colour2.jpg"]
    assert cache.images.shape == (3, 64, 64, 3)
    assert set(cache.sources.tolist()) == {"family"}


def test_evaluation_scores_only_colour_photos_and_names_the_rest(shard: Path):
    skipped: list[str] = []
    photos = load_photos(shard, "all", None, 0, None, skipped)
    assert sorted(Path(n).name for n, _ in photos) == ["colour0.jpg", "colour1.jpg", "colour2.jpg"]
    assert skipped == ["family/scan.jpg"]


def test_warm_restart_starts_a_new_schedule():
    train = pytest.importorskip("export.train")
    peak = 3e-4
    # A fresh run warms up from zero and decays to zero at its end.
    assert train.learning_rate(peak, 0, 0, 1000) == pytest.approx(peak / 200)
    assert train.learning_rate(peak, 999, 0, 1000) < peak * 1e-3
    # A warm restart at step 3200 warms up again instead of jumping in at the old schedule's LR.
    assert train.learning_rate(peak, 3200, 3200, 7000) == pytest.approx(peak / 200)
    assert train.learning_rate(peak, 3400, 3200, 7000) == pytest.approx(peak, rel=0.01)
    assert train.learning_rate(peak, 6999, 3200, 7000) < peak * 1e-3


def test_average_checkpoints_is_the_weighted_mean(tmp_path):
    torch = pytest.importorskip("torch")
    from export import average
    from export.model import seeded_model

    a, b = seeded_model(0).state_dict(), seeded_model(1).state_dict()
    mean = average.average_state_dicts([a, b])
    key = next(k for k, v in a.items() if v.is_floating_point() and v.numel() > 10)
    assert torch.allclose(mean[key], (a[key] + b[key]) / 2)
    w = average.average_state_dicts([a, b], [0.25, 0.75])
    assert torch.allclose(w[key], 0.25 * a[key] + 0.75 * b[key])
    torch.save({"model": a, "opt": None, "step": 10}, tmp_path / "a.pt")
    torch.save({"model": b, "opt": None, "step": 30}, tmp_path / "b.pt")
    assert average.main([str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--out", str(tmp_path / "m.pt")]) == 0
    saved = torch.load(tmp_path / "m.pt", weights_only=False)
    assert saved["step"] == 30 and saved["opt"] is None and len(saved["averaged_from"]) == 2
    assert torch.allclose(saved["model"][key], mean[key])
    with pytest.raises(ValueError):
        average.average_state_dicts([a, {k: v for k, v in list(b.items())[1:]}])


def test_evaluation_scores_a_photo_the_same_in_any_order():
    """Simulated hints are drawn per photo, so reordering (as ``--sheet`` does) changes no score."""
    from rehue.engine import Colorizer
    from export.evaluate import evaluate

    colorizer = Colorizer(provider="cpu")
    photos = [(f"family/colour{i}.jpg", cv2.cvtColor(_colour_photo(i), cv2.COLOR_BGR2RGB)) for i in range(3)]
    forward = {r["name"]: r["hints_psnr"] for r in evaluate(colorizer, photos)["per_image"]}
    backward = {r["name"]: r["hints_psnr"] for r in evaluate(colorizer, photos[::-1])["per_image"]}
    assert forward == backward
    assert forward[photos[0][0]]["10"] != forward[photos[0][0]]["0"]  # the hints did reach the model
