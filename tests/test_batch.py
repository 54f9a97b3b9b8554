"""Batch colorization through the library and the rehue-batch command, on real files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import gray_scene
from rehue.batch import BatchOptions, plan_batch, run_batch

CLI = [sys.executable, "-m", "rehue.cli"]


def make_tree(root: Path, n: int = 3, size: tuple[int, int] = (180, 240)) -> list[Path]:
    paths = []
    for i in range(n):
        sub = root / ("family" if i % 2 else "") / ("1950s" if i % 3 == 2 else "")
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / f"photo_{i}.jpg"
        cv2.imwrite(str(p), gray_scene(*size, seed=i))
        paths.append(p)
    return paths


def snapshot(paths: list[Path]) -> dict[Path, tuple[bytes, float]]:
    return {p: (p.read_bytes(), p.stat().st_mtime) for p in paths}


def test_plan_mirrors_tree_and_skips_output_inside_input(tmp_path):
    scans = tmp_path / "scans"
    make_tree(scans, 4)
    out = scans / "colour"  # output inside the input tree: must not be scanned
    plan = plan_batch([scans], out)
    rel = sorted(str(i.dst.relative_to(out.resolve())) for i in plan.items)
    assert rel == ["1950s/photo_2.jpg", "family/photo_1.jpg", "family/photo_3.jpg", "photo_0.jpg"]


def test_run_batch_writes_colour_keeps_originals_and_resumes(tmp_path, colorizer):
    scans = tmp_path / "scans"
    originals = make_tree(scans, 3)
    before = snapshot(originals)
    out = tmp_path / "out"
    seen = []
    result = run_batch(plan_batch([scans], out), colorizer, progress=seen.append)
    assert len(result.written) == 3 and not result.failed
    assert [p.done for p in seen] == [1, 2, 3] and seen[-1].eta_s == 0
    for p in result.written:
        img = cv2.imread(str(p))
        assert img.shape == (180, 240, 3)
        assert np.abs(img[..., 0].astype(int) - img[..., 2]).mean() > 0.5  # really has colour
    assert snapshot(originals) == before
    again = plan_batch([scans], out)
    assert not again.items and len(again.skipped_existing) == 3
    redo = plan_batch([scans], out, BatchOptions(overwrite=True))
    assert len(redo.items) == 3


def test_bad_files_reported_and_batch_goes_on(tmp_path, colorizer, photos):
    out = tmp_path / "out"
    plan = plan_batch([photos["document.jpg"].parent], out, BatchOptions(fmt="png"))
    failures = []
    result = run_batch(plan, colorizer, BatchOptions(fmt="png"), progress=lambda p: p.problem and failures.append(p.current.name))
    assert sorted(failures) == ["corrupt.jpg", "document.jpg", "empty.png", "truncated.jpg"]
    assert len(result.written) == len(plan.items) - 4
    assert all(p.suffix == ".png" for p in result.written)
    assert (out / "ünïcødé фото.png").exists()


def test_cancel_stops_between_photos(tmp_path, colorizer):
    scans = tmp_path / "scans"
    make_tree(scans, 5)
    cancel = threading.Event()
    result = run_batch(plan_batch([scans], tmp_path / "out"), colorizer, progress=lambda p: cancel.set(), cancel=cancel)
    assert result.cancelled and len(result.written) == 1
    assert not list((tmp_path / "out").rglob("*.rehue-partial"))


def test_empty_folder_and_missing_input(tmp_path):
    (tmp_path / "empty").mkdir()
    plan = plan_batch([tmp_path / "empty", tmp_path / "missing"], tmp_path / "out")
    reasons = dict((p.name, r) for p, r in plan.problems)
    assert "no photos" in reasons["empty"] and "does not exist" in reasons["missing"]


def test_output_same_as_input_is_refused(tmp_path):
    p = tmp_path / "a.jpg"
    cv2.imwrite(str(p), gray_scene())
    plan = plan_batch([p], tmp_path, BatchOptions(overwrite=True))
    assert not plan.items and "overwrite the original" in plan.problems[0][1]


def test_cli_end_to_end_with_summary_and_exit_code(tmp_path, photos):
    out = tmp_path / "out"
    r = subprocess.run(CLI + [str(photos["gray.jpg"]), str(photos["document.jpg"]), "-o", str(out), "--strength", "1.2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "document.jpg: this is a PDF document" in r.stderr
    assert "1 colorized, 0 already done, 1 failed" in r.stderr
    assert (out / "gray.jpg").exists()


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff"])
def test_outputs_say_rehue_colorized_them_unless_asked_not_to(tmp_path, fmt):
    """Issue 25: archivists tell a restoration from an original by its metadata: EXIF ImageHistory
    and Software name Rehue and its model (on by default); --no-mark leaves the original's EXIF as it was."""
    from PIL import Image

    src = tmp_path / "in" / "scan.jpg"
    src.parent.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "Old Scanner"
    Image.fromarray(gray_scene(120, 160)).save(src, "JPEG", exif=exif.tobytes())
    for extra, out in (([], tmp_path / "marked"), (["--no-mark"], tmp_path / "plain")):
        r = subprocess.run(CLI + [str(src), "-o", str(out), "--format", fmt, *extra], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    (marked,), (plain,) = (list((tmp_path / d).iterdir()) for d in ("marked", "plain"))
    with Image.open(marked) as im:
        tags = im.getexif()
        assert tags.get(0x9213, "").startswith("Colorized by Rehue") and "rehue-colorizer" in tags[0x9213]
        assert tags.get(0x0131, "").startswith("Rehue ") and tags.get(0x010F) == "Old Scanner"
        assert im.size == (160, 120) and im.mode == "RGB"
    assert cv2.imread(str(marked)).shape == (120, 160, 3)
    with Image.open(plain) as im:
        assert 0x9213 not in im.getexif() and im.getexif().get(0x010F) == "Old Scanner"


def test_cli_asked_for_cuda_on_the_cpu_runtime_says_why_once(tmp_path, photos):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this runtime has CUDA")
    r = subprocess.run(CLI + [str(photos["gray.jpg"]), "-o", str(tmp_path / "out"), "--provider", "cuda"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("running on the CPU") == 1 and "rehue[gpu]" in r.stderr


def test_cli_report_keeps_non_utf8_names_and_a_bad_report_path_is_found_first(tmp_path, photos):
    """Issue 23: --report crashed after a good batch on a non-UTF-8 file name, and on a report path
    that is a folder or unwritable (only found after all the work)."""
    d = tmp_path / "in"
    d.mkdir()
    raw = os.path.join(os.fsencode(d), b"caf\xe9.jpg")
    with open(raw, "wb") as f:
        f.write(photos["gray.jpg"].read_bytes())
    report = tmp_path / "report.csv"
    r = subprocess.run(CLI + [str(d), "-o", str(tmp_path / "out"), "--report", str(report)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert b"caf\xe9.jpg" in report.read_bytes() and "written" in report.read_text(errors="replace")
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    for bad, words in ((tmp_path, "is a folder"), (blocker / "report.csv", "cannot write the report")):
        r = subprocess.run(CLI + [str(d), "-o", str(tmp_path / "out2"), "--report", str(bad)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and words in r.stderr and "colorized" not in r.stderr
        assert not (tmp_path / "out2").exists()


def test_a_folder_nested_past_path_max_is_one_line_and_the_rest_is_done(tmp_path, colorizer):
    """Issue 23: a folder nested beyond PATH_MAX stopped the batch at planning (ENAMETOOLONG)."""
    d = tmp_path / "in"
    _gray(d / "a.jpg")
    deep = os.open(d, os.O_RDONLY)
    try:
        for _ in range(24):  # 24 × 200 bytes: past Linux's 4096
            os.mkdir("d" * 200, dir_fd=deep)
            nxt = os.open("d" * 200, os.O_RDONLY, dir_fd=deep)
            os.close(deep)
            deep = nxt
    finally:
        os.close(deep)
    plan = plan_batch([d], tmp_path / "out")
    assert [i.src.name for i in plan.items] == ["a.jpg"]
    assert any("longer than the system allows" in why for _, why in plan.problems)
    assert len(run_batch(plan, colorizer).written) == 1


@pytest.mark.parametrize("extra", [[], ["--jobs", "2"], ["--photos-per-run", "2"]])
def test_a_decompression_bomb_is_one_line_and_the_batch_goes_on(tmp_path, extra):
    """Issue 23: a JPEG whose header claims 65000 × 65000 pixels (Pillow's DecompressionBombError)
    ended the batch with a traceback on the default path; later photos were never done."""
    d = tmp_path / "in"
    for name in ("a.jpg", "c.jpg", "d.jpg"):
        _gray(d / name)
    (d / "b_bomb.jpg").write_bytes(decompression_bomb())
    r = subprocess.run(CLI + [str(d), "-o", str(tmp_path / "out"), *extra], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "b_bomb.jpg: claims 4,225 megapixels" in r.stderr and "3 colorized" in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "c.jpg", "d.jpg"]


def test_cli_prints_hostile_names_harmlessly(tmp_path, photos):
    """Issue 23: a file name holding a terminal escape sequence or a newline was printed raw (it
    could clear the screen or retitle the terminal): every message escapes it."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "evil\x1b]0;pwned\x07\nname.jpg").write_bytes(b"not a photo at all")
    (d / "good.jpg").write_bytes(photos["gray.jpg"].read_bytes())
    r = subprocess.run(CLI + [str(d), "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "1 colorized" in r.stderr
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
    assert "evil\\x1b]0;pwned\\x07\\x0aname.jpg" in r.stderr


def test_cli_unwritable_output_is_found_before_any_work(tmp_path, photos):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    r = subprocess.run(CLI + [str(photos["gray.jpg"]), "-o", str(blocker / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "cannot write into" in r.stderr and "file-not-folder" in r.stderr and "colorized" not in r.stderr


def test_cli_version_and_bad_strength():
    r = subprocess.run(CLI + ["--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("rehue ")
    r = subprocess.run(CLI + ["x.jpg", "-o", "o", "--strength", "5"], capture_output=True, text=True)
    assert r.returncode == 2 and "strength" in r.stderr
    r = subprocess.run(CLI + ["x.jpg", "-o", "o", "--photos-per-run", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "--photos-per-run must be at least 1" in r.stderr
    r = subprocess.run(CLI + ["x.jpg", "-o", "o", "--photos-per-run", "4", "--jobs", "2"], capture_output=True, text=True)
    assert r.returncode == 2 and "choose one" in r.stderr


def test_cli_stacked_runs(tmp_path):
    """--photos-per-run through the command: every photo written, as on a GPU."""
    scans = tmp_path / "scans"
    make_tree(scans, 3)
    r = subprocess.run(CLI + [str(scans), "-o", str(tmp_path / "out"), "--photos-per-run", "2"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "3 colorized" in r.stderr and len(list((tmp_path / "out").rglob("*.jpg"))) == 3


def test_cli_killed_batch_resumes(tmp_path):
    scans = tmp_path / "scans"
    make_tree(scans, 8, size=(900, 1200))
    out = tmp_path / "out"
    proc = subprocess.Popen(CLI + [str(scans), "-o", str(out), "--format", "png"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.rglob("*.png")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = list(out.rglob("*.png"))
    assert 1 <= len(finished) < 8
    for p in finished:  # every output under its final name is complete
        assert cv2.imread(str(p)).shape == (900, 1200, 3)
    r = subprocess.run(CLI + [str(scans), "-o", str(out), "--format", "png"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{8 - len(finished)} colorized, {len(finished)} already done, 0 failed" in r.stderr
    assert len(list(out.rglob("*.png"))) == 8
    assert not list(out.rglob("*.rehue-partial"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder(tmp_path, photos, colorizer):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = run_batch(plan_batch([photos["gray.jpg"]], out), colorizer)
        assert "permission denied" in result.failed[0][1]
    finally:
        out.chmod(0o700)


# ----------------------------------------------------------------------------- issue 14: never lose a photo


def _gray(path: Path, seed: int = 0, size=(120, 160)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix if path.suffix != ".webp" else ".webp", gray_scene(*size, seed=seed))
    path.write_bytes(buf.tobytes())
    return path


def test_no_output_ever_lands_on_an_input(tmp_path, colorizer):
    s = tmp_path / "s"
    originals = [_gray(s / "a.jpg", 1), _gray(s / "a.png", 2), _gray(s / "b.bmp", 3), _gray(s / "b.png", 4)]
    before = snapshot(originals)
    opts = BatchOptions(fmt="png", overwrite=True)
    plan = plan_batch([s], s, opts)
    result = run_batch(plan, colorizer, opts)
    assert snapshot(originals) == before  # a.png and b.png are the originals, untouched
    assert {p.name for p in result.written} == {"a_jpg.png", "b_bmp.png"}
    assert {p.name for p, _ in result.failed} == {"a.png", "b.png"}  # their own output would be themselves


def test_every_input_gets_its_own_output(tmp_path, colorizer):
    d = tmp_path / "in"
    for name, seed in (("p.png", 1), ("p.bmp", 2), ("p.webp", 3)):
        _gray(d / name, seed)
    result = run_batch(plan_batch([d], tmp_path / "out"), colorizer)
    assert sorted(p.name for p in result.written) == ["p.png", "p_bmp.png", "p_webp.png"]
    assert len({p.read_bytes() for p in result.written}) == 3 and "3 colorized" in result.summary()
    a, b = _gray(tmp_path / "A" / "x.jpg", 5), _gray(tmp_path / "B" / "x.jpg", 6)
    result = run_batch(plan_batch([a.parent, b.parent], tmp_path / "o2"), colorizer)
    assert sorted(str(p.relative_to(tmp_path / "o2")) for p in result.written) == ["A/x.jpg", "B/x.jpg"]


def test_links_loops_pipes_and_other_files_are_named_and_the_batch_goes_on(tmp_path, colorizer):
    d = tmp_path / "in"
    _gray(d / "good.jpg")
    (d / "loop.jpg").symlink_to(d / "loop.jpg")
    os.mkfifo(d / "pipe.jpg")
    (d / "anim.gif").write_bytes(b"GIF89a")
    (d / ".hidden.jpg").write_bytes(b"x")
    plan = plan_batch([d], tmp_path / "out")
    result = run_batch(plan, colorizer)  # must not block on the FIFO nor abort on the loop
    assert [p.name for p in result.written] == ["good.jpg"]
    reasons = {p.name: r for p, r in result.failed}
    assert "link loop" in reasons["loop.jpg"] and "FIFO" in reasons["pipe.jpg"]
    assert {p.name for p, _ in result.ignored} == {"anim.gif", ".hidden.jpg"}
    assert "2 other files skipped" in result.summary()
    report = result.write_report(tmp_path / "report.csv")
    rows = report.read_text().splitlines()
    assert rows[0] == "input,output,status,reason" and len(rows) == 1 + 5
    assert any("anim.gif" in r and "ignored" in r for r in rows)


def test_unreadable_folder_is_reported(tmp_path, monkeypatch):
    d = tmp_path / "in"
    _gray(d / "ok.jpg")
    (d / "locked").mkdir()
    real_walk = os.walk

    def walk(top, onerror=None, **kw):  # root reads every folder: simulate a permission error
        for entry in real_walk(top, onerror=onerror, **kw):
            if Path(entry[0]).name == "locked":
                onerror(PermissionError(13, "Permission denied", entry[0]))
                continue
            yield entry

    monkeypatch.setattr(os, "walk", walk)
    plan = plan_batch([d], tmp_path / "out")
    assert [i.src.name for i in plan.items] == ["ok.jpg"]
    assert any(p.name == "locked" and "cannot be read" in r for p, r in plan.problems)


def test_empty_output_is_redone_and_leftovers_are_cleaned(tmp_path, colorizer):
    d = tmp_path / "in"
    _gray(d / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"")  # a 0-byte file is not a finished photo
    (out / ".a.x1.rehue-partial").write_bytes(b"half")
    plan = plan_batch([d], out)
    assert [i.src.name for i in plan.items] == ["a.jpg"]
    run_batch(plan, colorizer)
    assert (out / "a.jpg").stat().st_size > 0 and not list(out.glob("*.rehue-partial"))


def test_two_batches_never_write_into_one_folder_at_once(tmp_path, colorizer):
    from rehue.batch import BatchBusy, output_lock

    d = tmp_path / "in"
    _gray(d / "a.jpg")
    out = tmp_path / "out"
    with output_lock(out):
        with pytest.raises(BatchBusy, match="another rehue-batch"):
            run_batch(plan_batch([d], out), colorizer)
    assert len(run_batch(plan_batch([d], out), colorizer).written) == 1
    assert not (out / ".rehue-batch.lock").exists()  # a finished batch leaves no lock file behind (issue 25)


def test_a_batch_waiting_on_a_removed_lock_file_locks_the_new_one(tmp_path):
    """The lock file is removed at the end of a batch; a batch that opened the old file meanwhile
    must not think it holds the lock while a third one locks a new file at the path."""
    import fcntl

    from rehue.batch import BatchBusy, output_lock

    out = tmp_path / "out"
    with output_lock(out):
        stale = os.open(out / ".rehue-batch.lock", os.O_RDWR)  # a second batch opened it, then waited
    fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ...and got the lock on a file no longer there
    with output_lock(out):  # a third batch takes the path's new file
        assert (out / ".rehue-batch.lock").exists()
        with pytest.raises(BatchBusy):
            with output_lock(out):
                pass
    os.close(stale)
    assert not (out / ".rehue-batch.lock").exists()


def test_photos_already_in_colour_are_left_alone_unless_asked(tmp_path, colorizer):
    d = tmp_path / "in"
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[:, :80] = (40, 40, 200)
    rgb[:, 80:] = (200, 90, 40)
    d.mkdir()
    cv2.imwrite(str(d / "colour.png"), rgb)
    _gray(d / "gray.png")
    g = gray_scene(120, 160)
    cv2.imwrite(str(d / "sepia.png"), np.dstack([(g * 0.7).astype(np.uint8), (g * 0.85).astype(np.uint8), g]))
    result = run_batch(plan_batch([d], tmp_path / "out"), colorizer)
    assert sorted(p.name for p in result.written) == ["gray.png", "sepia.png"]
    assert [p.name for p in result.skipped_colour] == ["colour.png"] and "1 already in colour" in result.summary()
    again = run_batch(plan_batch([d], tmp_path / "out2"), colorizer, BatchOptions(recolour=True))
    assert len(again.written) == 3


def test_cli_second_ctrl_c_and_sigterm_stop_cleanly(tmp_path):
    scans = tmp_path / "scans"
    make_tree(scans, 16, size=(2400, 3200))
    for sig, expect in ((signal.SIGTERM, "SIGTERM: stopping"), (signal.SIGINT, "Ctrl-C again")):
        out = tmp_path / f"out-{sig.name}"  # a fresh folder: its lock file appears once the batch runs
        proc = subprocess.Popen(CLI + [str(scans), "-o", str(out)], stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not out.joinpath(LOCK).exists():
            time.sleep(0.02)
        time.sleep(0.2)
        proc.send_signal(sig)
        if sig == signal.SIGINT:
            time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=120)[1]
        # 130 from our handler, also when the second Ctrl-C lands while the batch is already finishing (issue 23)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and expect in err
        assert not list(out.rglob("*.rehue-partial"))


LOCK = ".rehue-batch.lock"


def test_stacked_batch_matches_one_photo_at_a_time(tmp_path):
    """A batch with several photos per model run (the GPU route) writes what the one-photo route
    writes, with the same verdicts: a bad file fails alone, a colour photo is left alone, a saved
    hint is applied, and cancel still stops between photos."""
    from rehue import sidecar
    from rehue.contract import Hint
    from rehue.engine import Colorizer

    d = tmp_path / "in"
    for i, size in enumerate([(180, 240), (170, 240), (240, 180), (180, 240), (90, 120)]):
        _gray(d / f"g{i}.png", seed=i, size=size)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[:, :80] = (40, 40, 200)
    rgb[:, 80:] = (200, 90, 40)
    cv2.imwrite(str(d / "colour.png"), rgb)
    sidecar.write(d / "g3.png", sidecar.Sidecar((Hint(0.5, 0.5, 10.0, -60.0, reach=1.0),), 1.0, "test"))
    results = {}
    for n in (1, 3):
        colorizer = Colorizer(provider="cpu", threads=2, photos_per_run=n)
        results[n] = run_batch(plan_batch([d], tmp_path / f"out{n}"), colorizer)
    one, stacked = results[1], results[3]
    assert sorted(r[2:] for r in stacked.rows) == sorted(r[2:] for r in one.rows)
    assert [p.name for p, _ in stacked.failed] == ["broken.jpg"] and [p.name for p in stacked.skipped_colour] == ["colour.png"]
    assert [p.name for p in stacked.with_hints] == ["g3.png"] and len(stacked.written) == 5
    for a, b in zip(sorted(one.written), sorted(stacked.written)):
        assert a.name == b.name
        assert np.abs(cv2.imread(str(a)).astype(int) - cv2.imread(str(b)).astype(int)).max() <= 1
    cancel = threading.Event()
    stopped = run_batch(plan_batch([d], tmp_path / "out_cancel"), Colorizer(provider="cpu", threads=2, photos_per_run=3),
                        progress=lambda p: cancel.set(), cancel=cancel)
    assert stopped.cancelled and len(stopped.rows) == 1


def decompression_bomb() -> bytes:
    """A 16×16 JPEG whose header claims 65000 × 65000 pixels (Pillow's DecompressionBombError)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "JPEG")
    bomb = bytearray(buf.getvalue())
    sof = bomb.find(b"\xff\xc0")
    bomb[sof + 5:sof + 9] = (65000).to_bytes(2, "big") * 2
    return bytes(bomb)


def hostile_folder(root: Path, good: bytes) -> tuple[list[str], list[str]]:
    """Every input of issue 23's stress run beside good photos: (good names, bad names)."""
    import json

    root.mkdir(parents=True)
    good_names = ["good1.jpg", "p" * 246 + ".jpg", os.fsdecode(b"caf\xe9.jpg"), "evil\x1b]0;x\x07\nname.jpg",
                  "with_many_hints.jpg", "nested_sidecar.jpg", "infinite_radius.jpg", "nan_reach.jpg", "future.jpg", "linked.jpg"]
    for name in good_names:
        (root / name).write_bytes(good)
    (root / "bomb.jpg").write_bytes(decompression_bomb())
    (root / "document.jpg").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    (root / "empty.png").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(good[: len(good) // 3])
    bad_names = ["bomb.jpg", "document.jpg", "empty.png", "truncated.jpg"]
    hint = {"x": 0.5, "y": 0.5, "a": 20, "b": 10}
    side = {"format": "rehue-hints", "version": 1, "hints": [hint] * 1_000_000}
    (root / "with_many_hints.jpg.rehue.json").write_text(json.dumps(side))
    (root / "nested_sidecar.jpg.rehue.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "infinite_radius.jpg.rehue.json").write_text(json.dumps({"format": "rehue-hints", "hints": [dict(hint, radius=1)]}).replace(": 1}", ": Infinity}"))
    (root / "nan_reach.jpg.rehue.json").write_text(json.dumps({"format": "rehue-hints", "hints": [dict(hint, reach=0.5)]}).replace("0.5}", "NaN}"))
    (root / "future.jpg.rehue.json").write_text(json.dumps({"format": "rehue-hints", "version": 999, "hints": [hint]}))
    (root / "linked.jpg.rehue.json").symlink_to(root / "future.jpg.rehue.json")
    deep = os.open(root, os.O_RDONLY)
    for _ in range(24):
        os.mkdir("d" * 200, dir_fd=deep)
        nxt = os.open("d" * 200, os.O_RDONLY, dir_fd=deep)
        os.close(deep)
        deep = nxt
    os.close(deep)
    return good_names, bad_names


def test_a_folder_of_every_hostile_input_colorizes_every_good_photo(tmp_path, photos):
    """Issue 23's acceptance: one line per bad input, every good photo written (hostile sidecars
    ignored, not failing their photos), exit code 1, no traceback, names printed harmlessly."""
    good, bad = hostile_folder(tmp_path / "in", photos["gray.jpg"].read_bytes())
    out = tmp_path / "out"
    r = subprocess.run(CLI + [str(tmp_path / "in"), "-o", str(out), "--report", str(tmp_path / "report.csv")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert f"{len(good)} colorized" in r.stderr and "with their saved hints" not in r.stderr
    for name in bad:
        assert sum(name in line for line in r.stderr.splitlines() if line.startswith("failed: ")) == 1, name
    assert "longer than the system allows" in r.stderr and "\x1b" not in r.stderr
    written = {p.name for p in out.iterdir() if p.is_file()}
    assert written == set(good)
    for p in out.iterdir():
        if p.is_file():  # each reopens as what it claims (read as bytes: one name is not UTF-8)
            with open(os.fsencode(p), "rb") as f:
                assert cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR) is not None, p.name
    assert (tmp_path / "report.csv").stat().st_size > 0


def test_jobs_go_through_the_one_loop(tmp_path, colorizer):
    """Issue 23: --jobs had its own scheduler and error rule. Now it is the one loop's groups: the
    same outputs and verdicts as one at a time (a bad file fails alone), and cancel stops between photos."""
    d = tmp_path / "in"
    for i in range(5):
        _gray(d / f"g{i}.png", seed=i)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    one = run_batch(plan_batch([d], tmp_path / "one"), colorizer)
    two = run_batch(plan_batch([d], tmp_path / "two"), colorizer, BatchOptions(jobs=2))
    assert sorted(r[2:] for r in two.rows) == sorted(r[2:] for r in one.rows) and len(two.written) == 5
    for a in sorted(one.written):
        assert np.array_equal(cv2.imread(str(a)), cv2.imread(str(tmp_path / "two" / a.name)))
    cancel = threading.Event()
    stopped = run_batch(plan_batch([d], tmp_path / "cancel"), colorizer, BatchOptions(jobs=2), progress=lambda p: cancel.set(), cancel=cancel)
    assert stopped.cancelled and 1 <= len(stopped.rows) <= 2


def test_out_of_memory_on_one_photo_is_its_line(tmp_path, colorizer, monkeypatch):
    """Issue 23: a MemoryError on a huge scan (read on the read-ahead threads) ended the batch."""
    from rehue import photo_io

    d = tmp_path / "in"
    for name in ("a.jpg", "huge.jpg", "c.jpg"):
        _gray(d / name)
    real = photo_io.read_photo

    def read(path):
        if Path(path).name == "huge.jpg":
            raise MemoryError()
        return real(path)

    monkeypatch.setattr(photo_io, "read_photo", read)
    result = run_batch(plan_batch([d], tmp_path / "out"), colorizer)
    assert sorted(p.name for p in result.written) == ["a.jpg", "c.jpg"]
    assert [(p.name, "out of memory" in why) for p, why in result.failed] == [("huge.jpg", True)]
