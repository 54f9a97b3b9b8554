"""The training/inference contract: conversions, hint encoding and metadata checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rehue import contract
from rehue.contract import Hint


def test_lab_roundtrip_8bit():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    back = contract.lab_to_rgb(contract.rgb_to_lab(rgb))
    assert np.abs(back * 255 - rgb).max() < 1.0


def test_gray_has_no_chroma_and_l_range():
    levels = np.arange(256, dtype=np.uint8)
    lab = contract.rgb_to_lab(np.repeat(levels[None, :, None], 3, axis=2))
    assert np.abs(lab[..., 1:]).max() < 0.2
    assert lab[0, 0, 0] == pytest.approx(0, abs=0.01) and lab[0, -1, 0] == pytest.approx(100, abs=0.01)
    assert np.all(np.diff(lab[0, :, 0]) > 0)


def test_normalisation_ranges():
    assert contract.normalise_l(np.array([0.0, 50.0, 100.0])).tolist() == [-1.0, 0.0, 1.0]
    ab = np.array([-110.0, 55.0])
    np.testing.assert_allclose(contract.denormalise_ab(contract.normalise_ab(ab)), ab, rtol=1e-6)


def test_ab_bins_cover_srgb():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (1, 2000, 3), dtype=np.uint8)
    ab = contract.rgb_to_lab(rgb)[0, :, 1:]
    idx = contract.nearest_ab_bin(ab)
    dist = np.hypot(*(ab - contract.AB_BINS[idx]).T)
    assert dist.max() <= contract.AB_BIN_STEP * 0.75  # every sRGB colour is within half a cell diagonal
    assert 150 < len(contract.AB_BINS) < 400


def test_encode_hints_places_patch_and_colour():
    hints = [Hint(0.5, 0.25, 40.0, -20.0, radius=1), Hint(0.0, 1.0, 10.0, 10.0, radius=0)]
    ab, mask = contract.encode_hints(hints, 40, 60)
    assert ab.shape == (2, 40, 60) and mask.shape == (1, 40, 60)
    assert mask.sum() == 9 + 1
    ys, xs = np.nonzero(mask[0])
    assert set(ys.tolist()) >= {9, 10, 11} and set(xs.tolist()) >= {29, 30, 31}
    assert ab[0, 10, 30] == pytest.approx(40 / contract.AB_SCALE)
    assert ab[1, 10, 30] == pytest.approx(-20 / contract.AB_SCALE)
    assert mask[0, 39, 0] == 1 and ab[0, 39, 0] == pytest.approx(10 / contract.AB_SCALE)
    assert ab[:, mask[0] == 0].max() == 0


def test_hint_from_rgb_keeps_chroma():
    h = Hint.from_rgb(0.1, 0.2, (200, 40, 40))
    assert h.a > 40 and h.b > 20
    assert Hint.from_dict(h.to_dict()) == h


def test_padded_size():
    assert contract.padded_size(240, 320) == (256, 320)
    assert contract.padded_size(1, 33) == (32, 64)


def _meta(**over):
    m = contract.make_metadata(part="decoder", model_name="m", model_version="1", working_size=256, training_data=[], metrics={}, created="2026-01-01")
    m.update(over)
    return json.dumps(m)


def test_metadata_roundtrip_and_refusals():
    assert contract.parse_metadata(_meta())["working_size"] == 256
    with pytest.raises(contract.ContractError, match="no 'rehue' metadata"):
        contract.parse_metadata(None)
    with pytest.raises(contract.ContractError, match="not valid JSON"):
        contract.parse_metadata("{oops")
    with pytest.raises(contract.ContractError, match="contract version"):
        contract.parse_metadata(_meta(contract_version=99))
    with pytest.raises(contract.ContractError, match="normalisation"):
        contract.parse_metadata(_meta(normalisation={"l_center": 0, "l_scale": 100, "ab_scale": 110}))
    with pytest.raises(contract.ContractError, match="stride"):
        contract.parse_metadata(_meta(stride=16))
    with pytest.raises(contract.ContractError, match="not an encoder or a decoder"):
        contract.parse_metadata(_meta(part="head"))
    with pytest.raises(contract.ContractError, match="are not ours"):
        contract.parse_metadata(_meta(inputs=list(contract.ENCODER_INPUTS)))
