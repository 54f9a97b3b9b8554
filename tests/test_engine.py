"""The engine on the shipped ONNX model: shapes, detail kept, hints, gamut, providers, metadata."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from helpers import gray_scene
from rehue import contract, providers, recombine
from rehue.contract import Hint
from rehue.engine import Colorizer, EngineError, choose_providers
from rehue.resources import default_model_path
from rehue.session import PhotoSession


def test_shipped_model_metadata(colorizer: Colorizer):
    meta = colorizer.metadata
    assert meta["contract_version"] == contract.CONTRACT_VERSION
    assert meta["working_size"] % 32 == 0
    assert len(meta["ab_bins"]) == len(contract.AB_BINS)
    assert colorizer.providers[-1] == "CPUExecutionProvider"
    assert colorizer.device_name == "CPU"


@pytest.mark.parametrize("shape", [(240, 320), (333, 517), (1, 1), (7, 1000), (64, 64, 3)])
def test_colorize_keeps_size_dtype_and_lightness(colorizer: Colorizer, shape):
    g = gray_scene(shape[0], shape[1])
    img = np.dstack([g, g, g]) if len(shape) == 3 else g
    out = colorizer.colorize(img)
    assert out.shape == (shape[0], shape[1], 3) and out.dtype == np.uint8
    l_in = contract.rgb_to_l(np.dstack([g, g, g]))
    l_out = contract.rgb_to_l(out)
    # Colour changes only chroma: lightness stays within rounding and gamut limits.
    assert np.abs(l_out - l_in).mean() < 1.0


def test_colorize_16bit(colorizer: Colorizer):
    g16 = gray_scene(200, 300).astype(np.uint16) * 257
    out = colorizer.colorize(g16)
    assert out.dtype == np.uint16 and out.shape == (200, 300, 3)
    assert out.max() > 255  # really uses the 16-bit range


def test_strength_zero_is_gray_and_strength_scales_chroma(colorizer: Colorizer):
    g = gray_scene()
    prepared = colorizer.prepare(g)
    chroma = colorizer.predict(prepared, [Hint(0.5, 0.5, 50, 40, radius=3)])
    gray = colorizer.render(g, chroma, strength=0.0)
    assert np.abs(gray.astype(int) - g[..., None]).max() <= 1
    weak = contract.rgb_to_lab(colorizer.render(g, chroma, strength=0.5))[..., 1:]
    full = contract.rgb_to_lab(colorizer.render(g, chroma, strength=1.0))[..., 1:]
    assert np.hypot(*weak.reshape(-1, 2).T).mean() < np.hypot(*full.reshape(-1, 2).T).mean()


def test_hint_pulls_colour_towards_it(colorizer: Colorizer):
    g = gray_scene(256, 256, seed=3)
    prepared = colorizer.prepare(g)
    target = np.array([60.0, -50.0])  # a strong green-blue nobody would guess
    auto = colorizer.predict(prepared).ab
    hinted = colorizer.predict(prepared, [Hint(0.5, 0.5, *target, radius=3)]).ab
    h, w = auto.shape[:2]
    centre = (slice(h // 2 - 2, h // 2 + 3), slice(w // 2 - 2, w // 2 + 3))
    d_auto = np.linalg.norm(auto[centre].reshape(-1, 2).mean(0) - target)
    d_hint = np.linalg.norm(hinted[centre].reshape(-1, 2).mean(0) - target)
    assert d_hint < d_auto


def test_output_inside_gamut_no_clipped_red(colorizer: Colorizer):
    # Extreme chroma on black and white must come out neutral, not saturated red/cyan.
    l_ch = np.array([[1.0, 50.0, 99.0]], np.float32)
    ab = np.array([[[100.0, 80.0], [100.0, 80.0], [-80.0, -60.0]]], np.float32)
    recombine.limit_to_gamut(l_ch, ab)
    rgb = contract.lab_to_rgb(np.dstack([l_ch, ab]))
    back = contract.rgb_to_lab(rgb)
    assert np.abs(back[..., 0] - l_ch).max() < 1.5  # L survives: nothing was clipped
    assert np.hypot(*ab[0, 0]) < 10 and np.hypot(*ab[0, 2]) < 10


def test_recombine_in_strips_matches_whole(colorizer: Colorizer, monkeypatch):
    g = gray_scene(700, 300)
    chroma = colorizer.predict(colorizer.prepare(g))
    whole = colorizer.render(g, chroma)
    monkeypatch.setattr(recombine, "STRIP_ROWS", 64)
    strips = colorizer.render(g, chroma)
    assert np.array_equal(whole, strips)


def test_in_place_render_matches(colorizer: Colorizer):
    g = gray_scene(300, 200)
    rgb = np.dstack([g, g, g])
    chroma = colorizer.predict(colorizer.prepare(rgb))
    expected = colorizer.render(rgb.copy(), chroma)
    got = colorizer.render(rgb, chroma, in_place=True)
    assert got is rgb and np.array_equal(got, expected)


def test_suggested_colours(colorizer: Colorizer):
    g = gray_scene()
    chroma = colorizer.predict(colorizer.prepare(g))
    colours = colorizer.suggest_colors(chroma, 0.3, 0.6, l_value=60.0, k=5)
    assert 1 <= len(colours) <= 5
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in colours)
    assert len(set(colours)) == len(colours)


def test_choose_providers():
    assert choose_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("cuda", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(EngineError):
        choose_providers("tpu", [])


def test_cuda_request_on_the_cpu_runtime_runs_on_the_cpu_and_says_why_once():
    """Issue 23: asking for CUDA with the CPU build of ONNX Runtime ran on the CPU and said
    nothing; with a runtime that has CUDA this is the GPU's business (tests run on the CPU build)."""
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this runtime has CUDA")
    c = Colorizer(provider="cuda")
    assert c.encoder.get_providers() == c.decoder.get_providers() == ["CPUExecutionProvider"] and c.device_name == "CPU"
    assert c.fallback_reason and "rehue[gpu]" in c.fallback_reason


def _copy_model(tmp_path: Path, stem: str) -> tuple[Path, Path]:
    """The shipped model's two files copied under a new stem."""
    import shutil

    src = contract.model_files(default_model_path())
    dst = contract.model_files(tmp_path / f"{stem}.onnx")
    for a, b in zip(src, dst):
        shutil.copyfile(a, b)
    return dst


def test_both_parts_of_the_model_are_found_from_any_name(tmp_path: Path):
    enc, dec = _copy_model(tmp_path, "m")
    for name in ("m.onnx", "m.encoder.onnx", "m.decoder.onnx", "m"):
        assert contract.model_files(tmp_path / name) == (enc, dec)
    assert Colorizer(dec, provider="cpu").metadata["model_version"] == Colorizer(provider="cpu").metadata["model_version"]


@pytest.mark.parametrize("part", [0, 1])
def test_refuses_model_without_metadata(tmp_path: Path, part: int):
    files = _copy_model(tmp_path, "nometa")
    proto = onnx.load(str(files[part]))
    del proto.metadata_props[:]
    onnx.save(proto, str(files[part]))
    with pytest.raises(EngineError, match="not exported by rehue-export"):
        Colorizer(files[0])


def test_refuses_swapped_parts(tmp_path: Path):
    enc, dec = _copy_model(tmp_path, "swapped")
    enc_bytes, dec_bytes = enc.read_bytes(), dec.read_bytes()
    enc.write_bytes(dec_bytes)
    dec.write_bytes(enc_bytes)
    with pytest.raises(EngineError, match="not a Rehue encoder"):
        Colorizer(enc)


def test_missing_model_says_where(tmp_path: Path):
    with pytest.raises(EngineError, match=r"no model file .*absent\.encoder\.onnx"):
        Colorizer(tmp_path / "absent.onnx")
    enc, dec = _copy_model(tmp_path, "half")
    dec.unlink()
    with pytest.raises(EngineError, match=r"half\.decoder\.onnx"):
        Colorizer(enc)


def test_not_an_onnx_file(tmp_path: Path):
    for f in contract.model_files(tmp_path / "junk.onnx"):
        f.write_bytes(b"not a model")
    with pytest.raises(EngineError, match="not a usable ONNX model"):
        Colorizer(tmp_path / "junk.onnx")


def test_manifest_matches_shipped_model():
    import hashlib
    import json

    from rehue.resources import models_dir

    manifest = json.loads((models_dir() / "manifest.json").read_text())
    stem = manifest["default"].removesuffix(".onnx")
    entry = next(m for m in manifest["models"] if m["files"][0]["file"].startswith(stem + "."))
    assert sorted(f["file"] for f in entry["files"]) == sorted(p.name for p in contract.model_files(models_dir() / manifest["default"]))
    for f in entry["files"]:
        data = (models_dir() / f["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]


def test_cuda_listed_without_a_driver_falls_back_with_a_reason(monkeypatch):
    """The GPU build lists CUDA even with no NVIDIA card: the engine says why it uses the CPU."""
    import onnxruntime as ort


    real = ort.get_available_providers
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *real()])
    monkeypatch.setattr(providers, "library_loads", lambda name: False)  # no libcuda
    c = Colorizer(provider="cuda")
    assert c.device_name == "CPU" and c.decoder.get_providers() == ["CPUExecutionProvider"]
    assert "NVIDIA driver" in c.fallback_reason
    assert "cuda" not in providers.usable_choices()
    assert Colorizer(provider="cpu").fallback_reason is None


def test_gpu_failures_are_named():
    from rehue.providers import describe_failure

    assert "out of memory" in describe_failure(RuntimeError("CUDA failure 2: out of memory ; GPU=0"))
    assert "rehue[gpu]" in describe_failure(OSError("libcublasLt.so.12: cannot open shared object file"))


def test_damaged_runtime_is_named(monkeypatch):
    """Uninstalling one of onnxruntime/onnxruntime-gpu over the other leaves a module without
    SessionOptions: say so instead of an AttributeError."""
    import types


    monkeypatch.setattr(providers.importlib, "import_module", lambda name: types.ModuleType("onnxruntime"))
    with pytest.raises(EngineError, match="damaged.*rehue\\[cpu\\]"):
        Colorizer(provider="cpu")


def test_corrupt_model_with_cuda_listed_is_an_engine_error(monkeypatch, tmp_path: Path, caplog):
    import onnxruntime as ort

    real = ort.get_available_providers
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *real()])
    for f in contract.model_files(tmp_path / "junk.onnx"):
        f.write_bytes(b"garbage")
    monkeypatch.setattr(providers, "cuda_problem", lambda ort=None: None)  # as if CUDA could run
    with caplog.at_level(logging.INFO, logger="rehue.engine"):
        with pytest.raises(EngineError, match="not a usable ONNX model"):
            Colorizer(tmp_path / "junk.onnx", provider="auto")
    assert "running on the CPU" not in caplog.text  # the file is the problem, not CUDA (issue 23)
    with pytest.raises(EngineError):
        Colorizer(tmp_path / "junk.onnx", provider=None)


def test_model_with_right_names_but_wrong_shapes_is_refused(tmp_path: Path):
    """A decoder whose ab_probs has the wrong number of bins loads, then is refused at once."""
    import json as _json

    enc, dec = _copy_model(tmp_path, "shapes")
    proto = onnx.load(str(dec))
    meta = _json.loads(proto.metadata_props[0].value)
    meta["ab_bins"] = meta["ab_bins"][:-3]
    proto.metadata_props[0].value = _json.dumps(meta)
    onnx.save(proto, str(dec))
    with pytest.raises(EngineError, match="not a Rehue model"):
        Colorizer(enc)


def test_full_resolution_save_reports_progress(colorizer: Colorizer, tmp_path: Path):
    """A large save reports its progress strip by strip, ending at 1.0 once the file is written."""

    src = tmp_path / "big.png"
    cv2.imwrite(str(src), gray_scene(1500, 1200))
    seen: list[float] = []
    PhotoSession.open(src, colorizer).save(tmp_path / "out.jpg", "jpeg", (), 1.0, progress=seen.append)
    assert len(seen) >= 5 and seen[-1] == 1.0
    assert all(0 < f <= 1 for f in seen) and max(seen[:-1]) <= 0.8 + 1e-9
    assert (tmp_path / "out.jpg").stat().st_size > 0


def test_stacked_runs_give_the_one_photo_answers(monkeypatch):
    """prepare_many stacks photos of equal padded working size into one run (what a GPU batch
    does) and gives each photo what prepare + predict give it alone."""
    stacked = Colorizer(provider="cpu", threads=2, photos_per_run=3)
    assert stacked.photos_per_run == 3 and Colorizer(provider="cpu", threads=2).photos_per_run == 1
    shapes = [(240, 320), (230, 320), (320, 240), (240, 320), (100, 90), (240, 320)]
    photos = [gray_scene(h, w, seed=i) for i, (h, w) in enumerate(shapes)]
    batch_sizes = []
    real_run = stacked._run
    monkeypatch.setattr(stacked, "_run", lambda part, outs, feeds: batch_sizes.append((part, len(next(iter(feeds.values()))))) or real_run(part, outs, feeds))
    prepared = stacked.prepare_many(photos)
    # 240×320 and 230×320 pad alike: four photos in runs of 3 + 1; the others alone. Both parts.
    assert sorted(n for part, n in batch_sizes if part == "encoder") == [1, 1, 1, 3]
    assert sorted(n for part, n in batch_sizes if part == "decoder") == [1, 1, 1, 3]
    monkeypatch.undo()
    for photo, pr in zip(photos, prepared):
        alone = stacked.prepare(photo)
        assert pr.full_size == alone.full_size and pr.l_work.shape == alone.l_work.shape
        for f_stacked, f_alone in zip(pr.features, alone.features):
            assert f_stacked.shape == f_alone.shape and np.abs(f_stacked - f_alone).max() < 1e-3
        auto = pr.cache["auto"]
        assert np.abs(auto.ab - stacked.predict(alone).ab).max() < 0.05  # Lab units
        assert stacked.predict(pr) is auto  # already decoded: no second run
        ab = stacked.predict(pr, [Hint(0.5, 0.5, 40.0, 20.0)]).ab  # hints still work on a stacked photo
        assert np.abs(ab - stacked.predict(alone, [Hint(0.5, 0.5, 40.0, 20.0)]).ab).max() < 0.05


def test_unsure_cells_take_the_colour_of_their_plain_region():
    """Issue 22: on a plain backdrop, cells the network is unsure of (each with its own random
    colour: the blotches) take the colour of the sure cells their smooth lightness connects them
    to; across a lightness edge, a sure region keeps its own colour; a sure cell is kept."""
    from rehue import propagate

    rng = np.random.default_rng(0)
    hc, wc = 40, 50
    l_cells = np.full((hc, wc), 60.0, np.float32)
    l_cells[:, 30:] = 30.0  # a darker coat on the right: a lightness edge at column 30
    blue, brown = np.array([5.0, -30.0], np.float32), np.array([20.0, 25.0], np.float32)
    cells = np.where(np.arange(wc)[None, :, None] < 30, blue, brown).astype(np.float32) * np.ones((hc, 1, 1), np.float32)
    sure = np.full((hc, wc), 0.9, np.float32)
    unsure = rng.random((hc, wc)) < 0.35
    unsure[:, 28:32] = False
    cells[unsure] = rng.uniform(-60, 60, (int(unsure.sum()), 2))  # each unsure cell its own mode
    sure[unsure] = 0.001
    out = propagate.propagate(cells, sure, l_cells)
    assert np.abs(out[unsure & (np.arange(wc) < 28)[None]] - blue).max() < 3.0
    assert np.abs(out[unsure & (np.arange(wc) >= 32)[None]] - brown).max() < 3.0
    assert np.abs(out[~unsure] - cells[~unsure]).max() < 3.0


def test_automatic_chroma_is_propagated_once_per_photo(colorizer: Colorizer):
    """The engine's automatic chroma is the propagated one (and the network alone is not)."""
    from rehue import propagate

    l_only = gray_scene(120, 160, seed=3)
    prepared = colorizer.prepare(l_only)
    auto = colorizer.predict(prepared)
    assert colorizer.predict(prepared) is auto  # once per photo, not per edit
    h, w = prepared.l_work.shape
    raw = colorizer.predict_planes(prepared, np.zeros((2, h, w), np.float32), np.zeros((1, h, w), np.float32))
    anneal_t = float(colorizer.metadata["anneal_t"])
    graph_cells = contract.annealed_mean(raw.probs, colorizer.bins, anneal_t, float(colorizer.metadata["mute_gain"]))
    cells = propagate.consistent_cells(*contract.anneal_and_entropy(raw.probs, colorizer.bins, anneal_t), prepared.l_work)
    assert np.abs(auto.ab - propagate.upsampled_change(raw.ab, graph_cells, cells)).max() < 1e-4
    assert np.abs(auto.ab - raw.ab).max() > 0.05


def test_numpy_decoding_is_the_graphs(colorizer: Colorizer):
    """contract.annealed_mean (what despeckling and hint fusion decode with) is the decoder graph's
    own decoding: upsampled as the graph upsamples, it gives the graph's ab inside the photo."""
    prepared = colorizer.prepare(gray_scene(240, 320))
    raw = colorizer.predict_planes(prepared, *contract.encode_hints((), 240, 320))
    cells = contract.annealed_mean(raw.probs, colorizer.bins, colorizer.metadata["anneal_t"], colorizer.metadata["mute_gain"])
    up = cv2.resize(cells, (320, 240), interpolation=cv2.INTER_LINEAR)
    assert np.abs(up - raw.ab)[4:-4, 4:-4].max() < 1e-3
