"""Faded colour prints (issue 24): the restore contract, the shipped restore model, and the batch's
--restore-faded, on real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from export import fading
from export.train_restore import RestoreNet, apply_blended_torch, apply_torch, export_onnx, rgb_to_lab_torch
from helpers import colour_scene, gray_scene
from rehue import contract, photo_io, restore

ROOT = Path(__file__).resolve().parent.parent


def faded_scene(seed: int = 0, severity: float = 1.0, h: int = 240, w: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """(truth, faded) uint8 RGB: the held-out fading (``fade_overlay``), which training never used."""
    truth = colour_scene(h, w, seed)
    faded = fading.fade_overlay(contract.to_unit_float(truth), np.random.default_rng(seed), severity)
    return truth, (faded * 255 + 0.5).astype(np.uint8)


def STRONGLY_FADED(h: int = 240, w: int = 320) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 - a fixture-like constant
    """A print faded hard enough that the shipped model calls it faded (what the plumbing tests use)."""
    return faded_scene(8, h=h, w=w)


def mean_de(a: np.ndarray, b: np.ndarray) -> float:
    return contract.mean_ciede2000(a, b)


def random_transform(seed: int = 0) -> restore.Transform:
    rng = np.random.default_rng(seed)
    curves = np.sort(rng.uniform(-0.1, 1.1, (3, restore.CURVE_KNOTS)), axis=1).astype(np.float32)
    post = np.sort(rng.uniform(-0.1, 1.1, (3, restore.CURVE_KNOTS)), axis=1).astype(np.float32)
    return restore.Transform(curves, (np.eye(3) + rng.uniform(-0.2, 0.2, (3, 3))).astype(np.float32), post,
                             rng.uniform(0.8, 1.6, 3).astype(np.float32), rng.uniform(-0.2, 0.05, 3).astype(np.float32))


def test_torch_apply_is_the_engines_apply():
    """Training's differentiable transform and the engine's are one transform (the contract)."""
    t = random_transform(1)
    rgb = contract.to_unit_float(colour_scene(60, 80))
    want = restore.apply_float(rgb, t)
    pre = restore.stretched(rgb, t.gain, t.offset)  # training applies the network's part to the stretched photo
    got = apply_torch(torch.from_numpy(pre.transpose(2, 0, 1))[None], torch.from_numpy(t.curves)[None],
                      torch.from_numpy(t.matrix)[None], torch.from_numpy(t.post)[None])[0].numpy().transpose(1, 2, 0)
    assert np.abs(got - want).max() < 1e-5
    # and the full-resolution 8-bit path within rounding (three 8-bit steps; a steep curve can double one)
    eight = restore.apply(colour_scene(60, 80), t)
    assert eight.dtype == np.uint8 and np.abs(eight.astype(int) - np.round(want * 255)).mean() < 0.6


def test_training_blends_the_restoration_as_the_engine_does():
    """The amount head's loss sees what the app writes: the stretch and the transform each moved
    part of the way (``Transform.blended``), applied to the unstretched photo."""
    t = random_transform(4)
    rgb = contract.to_unit_float(colour_scene(60, 80))
    x = torch.from_numpy(rgb.transpose(2, 0, 1))[None]
    for amount in (0.0, 0.3, 1.0):
        want = restore.apply_float(rgb, t.blended(amount))
        got = apply_blended_torch(x, torch.from_numpy(t.gain)[None], torch.from_numpy(t.offset)[None], torch.from_numpy(t.curves)[None],
                                  torch.from_numpy(t.matrix)[None], torch.from_numpy(t.post)[None], torch.tensor([[amount]]))
        assert np.abs(got[0].numpy().transpose(1, 2, 0) - want).max() < 1e-5
    assert np.abs(restore.apply_float(rgb, t.blended(0.0)) - rgb).max() < 1e-6


def test_16bit_photos_are_restored_in_16_bit():
    t = random_transform(2)
    px16 = colour_scene(40, 50).astype(np.uint16) * 257
    out = restore.apply(px16, t)
    assert out.dtype == np.uint16
    want = restore.apply_float(contract.to_unit_float(px16), t) * 65535
    assert np.abs(out.astype(float) - want).max() <= 3 * 257  # 16-bit tables; the matrix rounds once


def test_torch_lab_is_the_contracts_lab():
    rgb = contract.to_unit_float(colour_scene(30, 40))
    got = rgb_to_lab_torch(torch.from_numpy(rgb.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    assert np.abs(got - contract.rgb_to_lab(rgb)).max() < 0.3  # OpenCV rounds its tables a little


def test_strength_blends_from_the_photo_to_the_restoration():
    t = random_transform(3)
    px = colour_scene(30, 40)
    assert np.array_equal(restore.apply(px, t.blended(0.0)), px)
    assert np.array_equal(restore.apply(px, t.blended(1.0)), restore.apply(px, t))
    moved = [np.abs(restore.apply(px, t.blended(s)).astype(int) - px).mean() for s in (0.25, 0.5, 0.75, 1.0)]
    assert moved == sorted(moved) and 0.25 < moved[1] / moved[3] < 0.75  # part of the way, more with more


def test_export_parity_and_metadata(tmp_path: Path):
    """torch and onnxruntime agree on a trained-looking network, and the metadata travels inside the file."""
    torch.manual_seed(0)
    net = RestoreNet()
    torch.nn.init.normal_(net.head.weight, std=0.05)
    export_onnx(net, tmp_path / "r.onnx", {"model_name": "test-restore", "model_version": "0.0.1", "faded_delta_e": 3.5})
    r = restore.Restorer(tmp_path / "r.onnx")
    assert r.faded_delta_e == 3.5 and r.metadata["model_name"] == "test-restore"
    px = colour_scene()
    thumb, stats, _, _ = restore.restore_inputs(px)
    with torch.no_grad():
        curves, matrix, post = net.eval()(torch.from_numpy(thumb), torch.from_numpy(stats))
    got = r.predict(px)
    for mine, theirs in ((got.curves, curves), (got.matrix, matrix), (got.post, post)):
        assert np.abs(mine - theirs[0].numpy()).max() < 1e-4


def test_the_amount_travels_through_onnx_and_scales_the_restoration(tmp_path: Path):
    """--amount-head: a fourth ONNX output, read by the engine, which returns the transform already
    moved that far (so the offer, the batch and the GUI's strength all see the amount)."""
    torch.manual_seed(1)
    net = RestoreNet(stretch_blind=True, amount_head=True)
    torch.nn.init.normal_(net.head.weight, std=0.05)
    torch.nn.init.normal_(net.amount[2].weight, std=0.5)
    export_onnx(net, tmp_path / "a.onnx", {"model_name": "t", "model_version": "0", "faded_delta_e": 6.0})
    r = restore.Restorer(tmp_path / "a.onnx")
    assert r.has_amount and restore.OUTPUT_AMOUNT in {o.name for o in r.session.get_outputs()}
    px = colour_scene()
    thumb, stats, gain, offset = restore.restore_inputs(px)
    with torch.no_grad():
        curves, matrix, post, amount = net.eval()(torch.from_numpy(thumb), torch.from_numpy(stats))
    a = float(amount[0, 0])
    assert 0.0 < a < 1.0 and abs(a - 0.88) > 0.01  # the head answers, and not its starting value
    want = restore.Transform(curves[0].numpy(), matrix[0].numpy(), post[0].numpy(), gain, offset).blended(a)
    got = r.predict(px)
    for mine, theirs in ((got.curves, want.curves), (got.matrix, want.matrix), (got.post, want.post),
                         (got.gain, want.gain), (got.offset, want.offset)):
        assert np.abs(mine - theirs).max() < 1e-4
    # the amount reads the stretch's gain and offset, which the blind transform does not
    moved = torch.from_numpy(stats).clone()
    moved[:, -6:] += 0.5
    with torch.no_grad():
        *_, other = net(torch.from_numpy(thumb), moved)
    assert abs(float(other[0, 0]) - a) > 1e-3


def test_an_untrained_network_is_the_identity():
    net = RestoreNet().eval()
    thumb, stats, _, _ = restore.restore_inputs(colour_scene())
    with torch.no_grad():
        curves, matrix, post = net(torch.from_numpy(thumb), torch.from_numpy(stats))
    ident = restore.Transform.identity()
    assert np.abs(curves[0].numpy() - ident.curves).max() < 1e-5 and np.allclose(matrix[0].numpy(), np.eye(3))
    assert np.abs(post[0].numpy() - ident.post).max() < 1e-5


def test_a_stretch_blind_network_reads_only_the_stretched_photo(tmp_path: Path):
    """--stretch-blind: the answer does not depend on how far the stretch moved the print (its gain
    and offset), also after the export; the quantiles of the stretched photo still count."""
    torch.manual_seed(0)
    net = RestoreNet(stretch_blind=True)
    torch.nn.init.normal_(net.head.weight, std=0.05)
    net.eval()
    thumb, stats, _, _ = restore.restore_inputs(colour_scene())
    thumb_t, stats_t = torch.from_numpy(thumb), torch.from_numpy(stats)
    moved = stats_t.clone()
    moved[:, -6:] += torch.tensor([0.7, -0.4, 0.3, -0.2, 0.1, 0.25])
    requantiled = stats_t.clone()
    requantiled[:, :3] += 0.2
    with torch.no_grad():
        base, same, other = (net(thumb_t, x)[0] for x in (stats_t, moved, requantiled))
    assert torch.equal(base, same) and not torch.allclose(base, other)
    export_onnx(net, tmp_path / "blind.onnx", {"model_name": "t", "model_version": "0", "faded_delta_e": 6.0})
    import onnxruntime as ort
    sess = ort.InferenceSession(str(tmp_path / "blind.onnx"), providers=["CPUExecutionProvider"])
    a, b = (sess.run(None, {restore.INPUT_THUMB: thumb, restore.INPUT_STATS: x.numpy()})[0] for x in (stats_t, moved))
    assert np.abs(a - b).max() < 1e-6


@pytest.fixture(scope="module")
def restorer() -> restore.Restorer:
    return restore.Restorer()


def test_the_shipped_model_brings_faded_colour_back(restorer: restore.Restorer):
    """On prints faded by the simulation training never saw, the shipped model removes part of
    the error on average (40 % on held-out photos, models/RESTORE_CARD.md) and makes none of them
    clearly worse."""
    removed = []
    for seed in range(10):
        truth, faded = faded_scene(seed)
        removed.append(1 - mean_de(restore.apply(faded, restorer.assess(faded).transform), truth) / mean_de(faded, truth))
    assert np.mean(removed) > 0.2 and min(removed) > -0.1, removed


def test_a_strongly_faded_print_is_called_faded_and_good_photos_are_not(restorer: restore.Restorer):
    assert restorer.assess(STRONGLY_FADED()[1]).faded
    for seed in range(5, 10):
        a = restorer.assess(colour_scene(seed=seed))
        assert not a.faded and a.change < 3.0, (seed, a.change)


def test_batch_restores_faded_prints_and_leaves_the_rest(tmp_path: Path):
    """`rehue-batch --restore-faded` on a folder: the faded print is restored (metadata kept, the
    mark says so, Pillow and OpenCV reopen it), a good colour photo is left alone with its reason,
    a gray photo is colorized as always; the originals are untouched."""
    src = tmp_path / "shoebox"
    src.mkdir()
    truth, faded = STRONGLY_FADED()
    exif = Image.Exif()
    exif[0x010F] = "Shoebox Scanner"
    Image.fromarray(faded).save(src / "faded.jpg", quality=95, exif=exif.tobytes())
    Image.fromarray(colour_scene(seed=8)).save(src / "good.png")
    cv2.imwrite(str(src / "gray.png"), gray_scene())
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    out = tmp_path / "out"
    report = tmp_path / "report.csv"
    proc = subprocess.run([sys.executable, "-m", "rehue.cli", str(src), "-o", str(out), "--restore-faded", "--quiet",
                           "--report", str(report)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "1 faded colour photo restored" in proc.stderr and "1 colorized" in proc.stderr
    assert "1 already in colour, left alone" in proc.stderr
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before
    restored = out / "faded.jpg"
    with Image.open(restored) as im:
        assert im.format == "JPEG" and im.size == (320, 240)
        tags = im.getexif()
        assert tags[0x010F] == "Shoebox Scanner"
        assert "restored by Rehue" in tags[photo_io.EXIF_IMAGE_HISTORY]
    back = cv2.cvtColor(cv2.imread(str(restored)), cv2.COLOR_BGR2RGB)
    assert mean_de(back, truth) < 0.8 * mean_de(faded, truth)
    assert not (out / "good.png").exists() and (out / "gray.png").exists()
    rows = report.read_text(encoding="utf-8")
    assert "restored" in rows and restore_reason_for(rows, "good.png").startswith("not faded")


def restore_reason_for(report: str, name: str) -> str:
    import csv
    import io

    for row in csv.DictReader(io.StringIO(report)):
        if row["input"].endswith(name):
            return row["reason"]
    raise AssertionError(f"{name} not in the report")


def test_without_the_option_colour_photos_say_how_to_restore(tmp_path: Path, colorizer):
    from rehue.batch import BatchOptions, plan_batch, run_batch

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(STRONGLY_FADED()[1]).save(src / "faded.png")
    result = run_batch(plan_batch([src], tmp_path / "out"), colorizer, BatchOptions())
    assert [p.name for p in result.skipped_colour] == ["faded.png"]
    assert "--restore-faded" in result.summary() and "--restore-faded" in result.rows[-1][3]


def test_the_amount_floor_rises_with_the_stretchs_move_and_ships_in_the_model(restorer: restore.Restorer):
    """A print the plain stretch moves a lot gets at least part of the restoration, whatever the
    amount head judges (rehue.restore.amount_floor); the shipped model carries its floor."""
    floor = {"from_move": 6.0, "full_move": 12.0, "top": 0.8}
    assert restore.amount_floor(20.0, None) == 0.0
    assert restore.amount_floor(5.0, floor) == 0.0
    assert restore.amount_floor(9.0, floor) == pytest.approx(0.4)
    assert restore.amount_floor(30.0, floor) == pytest.approx(0.8)
    assert restorer.has_amount and restorer.amount_floor and restorer.amount_floor["top"] > 0
