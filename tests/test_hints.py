"""Hints stay where they are put (rehue.hint_reach through the real engine and model), keep the
colour they show, and are kept with the photo (rehue.sidecar)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from export.metrics import ciede2000
from rehue import contract, hint_reach, sidecar
from rehue.contract import Hint
from rehue.engine import Colorizer
from rehue.session import PhotoSession


def two_objects(h: int = 240, w: int = 320) -> np.ndarray:
    """Two discs of the same gray, far apart on a dark background: a strong edge around each."""
    img = np.full((h, w), 40, np.uint8)
    cv2.circle(img, (w // 4, h // 2), h // 4, 170, -1)
    cv2.circle(img, (3 * w // 4, h // 2), h // 4, 170, -1)
    return cv2.GaussianBlur(img, (3, 3), 0)


def disc_mask(h: int, w: int, cx: int, shrink: int = 6) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (cx, h // 2), h // 4 - shrink, 1, -1)
    return m.astype(bool)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ciede2000(contract.rgb_to_lab(a), contract.rgb_to_lab(b))


def test_a_hint_colours_its_object_and_not_a_separate_one_of_the_same_gray(colorizer: Colorizer):
    g = two_objects()
    h, w = g.shape
    prepared = colorizer.prepare(g)
    auto = colorizer.render(g, colorizer.predict(prepared))
    red = colorizer.snap_hint(prepared, Hint(0.25, 0.5, 65.0, 45.0, radius=2))
    hinted = colorizer.render(g, colorizer.predict(prepared, [red]))
    change = delta_e(auto, hinted)
    left, right = disc_mask(h, w, w // 4), disc_mask(h, w, 3 * w // 4)
    assert change[left].mean() > 10  # the hinted disc turned red
    assert change[right].mean() < 2.0  # the other disc, same gray, is as it was


def test_two_hints_on_two_objects_each_keep_their_own(colorizer: Colorizer):
    g = two_objects()
    h, w = g.shape
    prepared = colorizer.prepare(g)
    red = colorizer.snap_hint(prepared, Hint(0.25, 0.5, 65.0, 45.0))
    blue = colorizer.snap_hint(prepared, Hint(0.75, 0.5, 10.0, -55.0))
    out = colorizer.render(g, colorizer.predict(prepared, [red, blue]))
    lab = contract.rgb_to_lab(out)
    left, right = disc_mask(h, w, w // 4), disc_mask(h, w, 3 * w // 4)
    for region, own, other in ((left, red, blue), (right, blue, red)):
        ab = lab[region][:, 1:].mean(0)
        assert np.hypot(*ab) > 15  # clearly coloured
        assert np.linalg.norm(ab - (own.a, own.b)) < 0.5 * np.linalg.norm(ab - (other.a, other.b))


def test_a_hint_at_the_predicted_colour_changes_almost_nothing(colorizer: Colorizer):
    from helpers import gray_scene

    g = gray_scene(240, 320, seed=7)
    prepared = colorizer.prepare(g)
    chroma = colorizer.predict(prepared)
    auto = colorizer.render(g, chroma)
    hh, ww = chroma.ab.shape[:2]
    a, b = chroma.ab[int(0.4 * hh), int(0.6 * ww)]
    same = colorizer.snap_hint(prepared, Hint(0.6, 0.4, float(a), float(b)))
    hinted = colorizer.render(g, colorizer.predict(prepared, [same]))
    assert delta_e(auto, hinted).mean() < 1.0


def test_brush_size_sets_how_far_a_hint_reaches(colorizer: Colorizer):
    g = np.full((240, 320), 120, np.uint8)  # one big flat object
    prepared = colorizer.prepare(g)
    auto = colorizer.render(g, colorizer.predict(prepared))
    changed = []
    for reach in (0.05, 0.2, 0.5):
        out = colorizer.render(g, colorizer.predict(prepared, [Hint(0.5, 0.5, 50.0, -40.0, reach=reach)]))
        changed.append(float((delta_e(auto, out) > 3).mean()))
    assert changed[0] < changed[1] < changed[2]
    assert changed[0] < 0.1 and changed[2] > 0.5


def test_reach_weights_stop_at_strong_edges():
    l_work = np.full((64, 64), 30.0, np.float32)
    l_work[:, 30:34] = 90.0  # a bright wall between two dark halves
    wts = hint_reach.reach_weights(l_work, [Hint(0.2, 0.5, 0, 0, reach=0.5)])[0]
    assert wts[32, 12] > 0.9 and wts[32, 50] < 0.05
    assert hint_reach.reach_weights(l_work, []).shape == (0, 64, 64)


def test_network_carry_shapes_a_hints_reach():
    """Within its reach a hint keeps its weight where the network carried its colour and loses
    most of it where the network left the automatic colour alone."""
    l_work = np.full((64, 64), 50.0, np.float32)
    hint = Hint(0.25, 0.5, 40.0, 0.0, reach=0.8)
    auto = np.zeros((16, 16, 2), np.float32)
    hinted = auto.copy()
    hinted[:, :8] = (30.0, 0.0)  # the network carried the red over the left half only
    follow = hint_reach.carried(auto, hinted, [hint])
    assert follow.shape == (1, 16, 16)
    assert follow[0, 8, 2] == pytest.approx(0.75) and follow[0, 8, 12] == 0.0
    plain = hint_reach.cell_weights(l_work, [hint])[0]
    shaped = hint_reach.cell_weights(l_work, [hint], None, follow)[0]
    assert shaped[8, 6] == pytest.approx(plain[8, 6])
    assert shaped[8, 10] == pytest.approx(hint_reach.CARRY_GATE * plain[8, 10]) and plain[8, 10] > 0.8
    # A hint at the colour already there has nothing to carry: no cell loses weight.
    same = hint_reach.carried(auto, auto, [Hint(0.25, 0.5, 2.0, 1.0)])
    assert (same == 1.0).all()


def test_snapped_colour_is_what_gets_rendered(colorizer: Colorizer):
    """A vivid pick on a dark spot is stored as the colour that spot can really show."""
    g = np.full((128, 128), 25, np.uint8)  # a dark photo: little chroma fits
    prepared = colorizer.prepare(g)
    raw = Hint.from_rgb(0.5, 0.5, (0, 255, 0))
    snapped = colorizer.snap_hint(prepared, raw)
    assert np.hypot(snapped.a, snapped.b) < np.hypot(raw.a, raw.b)
    lum = colorizer.lightness_at(prepared, 0.5, 0.5)
    rgb = contract.lab_to_rgb(np.array([[[lum, snapped.a, snapped.b]]], np.float32))
    assert rgb.min() >= -0.02 and rgb.max() <= 1.02  # inside sRGB: no clipping surprise


def test_sidecar_round_trips_and_bad_ones_are_ignored(tmp_path: Path):
    photo = tmp_path / "grandma.jpg"
    photo.write_bytes(b"jpeg")
    hints = (Hint(0.1, 0.2, 30.0, -20.0, 2, 0.15), Hint(0.9, 0.8, -10.0, 40.0, 1, 0.4))
    path = sidecar.write(photo, sidecar.Sidecar(hints, 1.3, "2.0.0"))
    assert path == tmp_path / "grandma.jpg.rehue.json"
    back = sidecar.read(photo)
    assert back is not None and back.hints == hints and back.strength == 1.3 and back.model_version == "2.0.0"
    path.write_text("{not json")
    assert sidecar.read(photo) is None
    path.write_text(json.dumps({"format": "rehue-hints", "hints": [{"x": 5}]}))
    assert sidecar.read(photo) is None
    assert photo.read_bytes() == b"jpeg"


def test_saving_keeps_hints_beside_the_original(colorizer: Colorizer, tmp_path: Path):
    src = tmp_path / "scan.png"
    cv2.imwrite(str(src), two_objects())
    session = PhotoSession.open(src, colorizer)
    hint = session.snap(Hint(0.25, 0.5, 60.0, 40.0))
    session.save(tmp_path / "scan_colour.png", "png", (hint,), 1.1)
    again = PhotoSession.open(src, colorizer).saved_hints()
    assert again is not None and again.hints == (hint,) and again.strength == pytest.approx(1.1)


def test_batch_applies_hints_saved_beside_a_photo(colorizer: Colorizer, tmp_path: Path):
    from rehue.batch import BatchOptions, plan_batch, run_batch

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(src / name), two_objects())
    blue = Hint(0.25, 0.5, 10.0, -55.0, reach=0.3)
    sidecar.write(src / "a.png", sidecar.Sidecar((blue,), 1.0, "test"))
    result = run_batch(plan_batch([src], tmp_path / "out"), colorizer, BatchOptions())
    assert sorted(p.name for p in result.written) == ["a.png", "b.png"] and result.with_hints == [src / "a.png"]
    assert "1 with their saved hints" in result.summary()
    lab_a = contract.rgb_to_lab(cv2.imread(str(tmp_path / "out" / "a.png"))[..., ::-1].copy())
    lab_b = contract.rgb_to_lab(cv2.imread(str(tmp_path / "out" / "b.png"))[..., ::-1].copy())
    left = disc_mask(240, 320, 80)
    assert lab_a[left][:, 2].mean() < lab_b[left][:, 2].mean() - 15  # the hinted disc is bluer
    assert not list((tmp_path / "out").rglob("*.rehue.json"))  # sidecars are inputs, not outputs


def test_fusion_picks_the_hinted_mode_where_the_hint_reaches():
    """Cells torn between a red and a blue bin take the hinted blue where the hint reaches (their
    distribution is reweighted, not shifted), and stay as they were where it does not."""
    bins = contract.AB_BINS
    red, blue = contract.nearest_ab_bin(np.array([60.0, 40.0])), contract.nearest_ab_bin(np.array([10.0, -50.0]))
    probs = np.full((len(bins), 8, 8), 1e-4, np.float32)
    probs[red] = probs[blue] = 0.5
    probs /= probs.sum(0, keepdims=True)
    weights = np.zeros((1, 8, 8), np.float32)
    weights[0, :, :4] = 1.0  # the hint reaches the left half only
    hint = Hint(0.2, 0.5, *bins[blue])
    out = hint_reach.fuse(probs, weights, [hint], bins, temperature=contract.ANNEAL_T)
    assert np.linalg.norm(out[4, 1] - bins[blue]) < 3
    base = np.full((8, 8, 2), 7.0, np.float32)  # the graph's own decoding of those cells
    out = hint_reach.fuse(probs, weights, [hint], bins, temperature=contract.ANNEAL_T, base_ab=base)
    assert np.linalg.norm(out[4, 1] - bins[blue]) < 3
    assert np.array_equal(out[:, 4:], base[:, 4:])  # where the hint does not reach: as it was


@pytest.mark.parametrize("content", [
    "[" * 100_000 + "]" * 100_000,  # deeply nested JSON: RecursionError
    json.dumps({"format": "rehue-hints", "hints": [{"x": 0.5, "y": 0.5, "a": 1, "b": 1, "radius": "Infinity"}]}).replace('"Infinity"', "Infinity"),
    json.dumps({"format": "rehue-hints", "hints": [{"x": 0.5, "y": 0.5, "a": 1, "b": 1, "reach": 0.3}]}).replace("0.3", "NaN"),
    json.dumps({"format": "rehue-hints", "hints": [{"x": 0.5, "y": 0.5, "a": 1, "b": 1, "reach": -0.3}]}),
    json.dumps({"format": "rehue-hints", "version": 999, "hints": [{"x": 0.5, "y": 0.5, "a": 1, "b": 1}]}),
    json.dumps({"format": "rehue-hints", "hints": [{"x": 0.5, "y": 0.5, "a": 1, "b": 1}] * (sidecar.MAX_HINTS + 1)}),
    json.dumps({"format": "rehue-hints", "hints": [], "pad": "x" * (sidecar.MAX_BYTES + 1)}),
    json.dumps([1, 2, 3]),
], ids=["nested", "infinite-radius", "nan-reach", "negative-reach", "newer-version", "too-many-hints", "too-big", "not-an-object"])
def test_damaged_or_hostile_sidecars_are_ignored(tmp_path: Path, content: str, caplog):
    """Issue 23: a hints file that is damaged, hostile or from a newer Rehue is ignored with a
    warning naming it; it never fails the photo (RecursionError, OverflowError), never applies
    hints that do nothing (NaN or negative reach), never holds more than a person could place."""
    photo = tmp_path / "grandma.jpg"
    photo.write_bytes(b"jpeg")
    sidecar.path_for(photo).write_text(content)
    assert sidecar.read(photo) is None
    assert "ignoring the hints file" in caplog.text and "grandma.jpg.rehue.json" in caplog.text


def test_a_sidecar_that_links_to_another_photos_is_not_this_photos(tmp_path: Path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    sidecar.write(b, sidecar.Sidecar((Hint(0.5, 0.5, 30.0, -20.0),), 1.0, "test"))
    sidecar.path_for(a).symlink_to(sidecar.path_for(b))
    assert sidecar.read(b) is not None and sidecar.read(a) is None


def test_a_photo_whose_sidecar_name_is_too_long_still_reads(tmp_path: Path):
    """Issue 23: a valid photo named 245+ bytes: its sidecar's name passes NAME_MAX and
    Path.is_file() raised instead of saying there is none."""
    photo = tmp_path / ("p" * 246 + ".jpg")
    photo.write_bytes(b"jpeg")
    assert sidecar.read(photo) is None  # quietly: there can be none


def test_names_are_printed_without_their_control_characters():
    from rehue.photo_io import printable

    assert printable("a\x1b]0;pwned\x07\nb.jpg") == "a\\x1b]0;pwned\\x07\\x0ab.jpg"
    assert printable(os.fsdecode(b"caf\xe9.jpg")) == "caf\\xe9.jpg" and printable("фото.jpg") == "фото.jpg"
