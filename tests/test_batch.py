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
    result = run_batch(plan, colorizer, BatchOptions(fmt="png"), failure=lambda p, r: failures.append(p.name))
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


def test_cli_unwritable_output(tmp_path, photos):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    r = subprocess.run(CLI + [str(photos["gray.jpg"]), "-o", str(blocker / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "cannot write into" in r.stderr and "gray.jpg" in r.stderr


def test_cli_version_and_bad_strength():
    r = subprocess.run(CLI + ["--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("rehue ")
    r = subprocess.run(CLI + ["x.jpg", "-o", "o", "--strength", "5"], capture_output=True, text=True)
    assert r.returncode == 2 and "strength" in r.stderr


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
