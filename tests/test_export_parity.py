"""Training/inference parity: a seeded network exported by rehue-export's code runs the same in
torch and in onnxruntime, and the engine, fed through the contract, sees what torch sees."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from export.model import seeded_model  # noqa: E402
from export.onnx_export import OPSET, export_onnx, parity  # noqa: E402
from helpers import gray_scene  # noqa: E402
from rehue import contract  # noqa: E402
from rehue.engine import Colorizer  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = seeded_model(0)
    # Random BN statistics and a live attention branch (its output projection starts at zero), so
    # the test is not passing on a near-constant network or a skipped branch.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        model.decoder.attn16.proj.weight.normal_(0, 0.05)
    path = tmp_path_factory.mktemp("export") / "seeded.onnx"
    meta = contract.make_metadata(part="encoder", model_name="seeded", model_version="0", working_size=256,
                                  training_data=[], metrics={}, created="2026-01-01")
    export_onnx(model, path, meta)
    return model, path


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_export_is_checked_and_carries_metadata(exported, part):
    _, path = exported
    file = contract.model_files(path)[0 if part == "encoder" else 1]
    proto = onnx.load(str(file))
    onnx.checker.check_model(proto, full_check=True)
    names_in, names_out = contract.PARTS[part]
    assert [i.name for i in proto.graph.input] == list(names_in)
    assert [o.name for o in proto.graph.output] == list(names_out)
    assert any(op.version == OPSET for op in proto.opset_import if op.domain in ("", "ai.onnx"))
    meta = contract.parse_metadata({p.key: p.value for p in proto.metadata_props}[contract.METADATA_KEY])
    assert meta["model_name"] == "seeded" and meta["part"] == part
    for inp in proto.graph.input:
        dims = inp.type.tensor_type.shape.dim
        assert not dims[0].HasField("dim_value") and not dims[2].HasField("dim_value") and not dims[3].HasField("dim_value")


def test_exported_encoder_has_relu6_and_tf_padding(exported):
    """The ImageNet prior depends on both (issue 12): Clip(0, 6) activations, and stride-2
    convolutions padded TF-style, one pixel more at the bottom/right (folded into Conv's pads)."""
    _, path = exported
    nodes = onnx.load(str(contract.model_files(path)[0])).graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("Clip") >= 30 and "Sigmoid" not in ops  # ReLU6, no Swish
    pads = {tuple(a.ints) for n in nodes if n.op_type == "Conv" for a in n.attribute if a.name == "pads"}
    assert (0, 0, 1, 1) in pads and (1, 1, 2, 2) in pads  # 3×3 and 5×5 at stride 2


def test_torch_and_onnxruntime_agree(exported):
    model, path = exported
    assert parity(model, path, sizes=((96, 128), (64, 224))) < 1e-3


def test_unsure_cells_are_muted_and_the_graph_agrees(tmp_path):
    """With mute_gain an unsure cell (flat distribution) decodes to a more muted colour, and the
    graph computes exactly what torch does."""
    model = seeded_model(1)
    logits = torch.zeros(1, len(contract.AB_BINS), 2, 2)
    logits[0, 10, 0, 0] = 8.0  # confident cell
    logits[0, :, 1, 1] = torch.linspace(0, 1.5, len(contract.AB_BINS))  # an unsure, slightly tilted one
    plain, _ = model.decoder.decode(logits, (2, 2))
    model.decoder.mute_gain = 1.5
    muted, _ = model.decoder.decode(logits, (2, 2))
    assert torch.allclose(plain[0, :, 0, 0], muted[0, :, 0, 0], atol=1e-3)  # confident: unchanged
    assert muted[0, :, 1, 1].norm() < plain[0, :, 1, 1].norm()  # unsure: less vivid
    meta = contract.make_metadata(part="encoder", model_name="gain", model_version="0", working_size=256,
                                  training_data=[], metrics={}, created="2026-01-01")
    path = tmp_path / "gain.onnx"
    export_onnx(model, path, meta)
    assert parity(model, path, sizes=((64, 96),)) < 1e-3


def test_engine_matches_torch_through_the_contract(exported):
    model, path = exported
    c = Colorizer(path, provider="cpu", local_hints=False)
    g = gray_scene(128, 160)
    prepared = c.prepare(g)
    hint = contract.Hint.from_rgb(0.4, 0.6, (200, 60, 40), radius=2)
    chroma = c.predict(prepared, [hint])
    l_norm = contract.normalise_l(prepared.l_work)[None, None]
    hab, hm = contract.encode_hints([hint], *prepared.l_work.shape)
    assert prepared.l_work.shape == (128, 160)  # already a multiple of the stride: no padding to undo
    with torch.no_grad():
        ab_t, probs_t = model(torch.from_numpy(l_norm), torch.from_numpy(hab[None]), torch.from_numpy(hm[None]))
    ab_ref = contract.denormalise_ab(ab_t[0].numpy()).transpose(1, 2, 0)
    np.testing.assert_allclose(chroma.ab, ab_ref, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(chroma.probs, probs_t[0].numpy(), rtol=1e-3, atol=1e-5)


def test_quantized_copy_of_both_graphs_runs_in_the_engine(exported, tmp_path):
    """Issue 23: rehue-quantize fed the old single graph's inputs (L and hints) and was untested.
    Now each of the two graphs is calibrated on what it sees, and the engine runs the int8 pair."""
    from export.quantize import quantize

    model, path = exported
    rng = np.random.default_rng(0)
    photos = [np.dstack([gray_scene(120, 160, seed=i)] * 3).astype(np.int16) + rng.integers(-40, 40, 3).astype(np.int16)
              for i in range(4)]
    photos = [np.clip(p, 0, 255).astype(np.uint8) for p in photos]
    enc, dec = quantize(path, tmp_path / "seeded-int8.onnx", photos)
    assert enc.name == "seeded-int8.encoder.onnx" and dec.name == "seeded-int8.decoder.onnx"
    for f in (enc, dec):
        ops = {n.op_type for n in onnx.load(str(f)).graph.node}
        assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    int8 = Colorizer(tmp_path / "seeded-int8.onnx", provider="cpu")
    assert int8.metadata["model_name"] == "seeded"
    out = int8.colorize(gray_scene(120, 160, seed=7))
    assert out.shape == (120, 160, 3) and out.dtype == np.uint8
