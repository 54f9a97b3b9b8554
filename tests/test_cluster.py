"""rehue-batch on a local Ray cluster (2 CPUs): the same outputs as one machine, a worker killed
mid-run, a killed driver resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import gray_scene
from rehue.batch import plan_batch, run_batch

ray = pytest.importorskip("ray")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from rehue.cluster import run_batch_on_ray  # noqa: E402

CLI = [sys.executable, "-m", "rehue.cli"]


def mixed_folder(root: Path, n: int = 6, size=(300, 400)) -> Path:
    (root / "album").mkdir(parents=True)
    for i in range(n):
        sub = root / ("album" if i % 2 else "")
        ext = (".jpg", ".png", ".tif")[i % 3]
        ok, buf = cv2.imencode(ext, gray_scene(*size, seed=i))
        (sub / f"p{i}{ext}").write_bytes(buf.tobytes())
    (root / "broken.jpg").write_bytes(b"not a photo")
    return root


def test_ray_gives_the_same_outputs_as_one_machine(tmp_path, colorizer):
    src = mixed_folder(tmp_path / "in")
    local = run_batch(plan_batch([src], tmp_path / "one"), colorizer)
    seen = []
    clustered = run_batch_on_ray(plan_batch([src], tmp_path / "ray"), workers=2, progress=seen.append)
    assert len(clustered.written) == len(local.written) == 6
    assert [p.name for p, _ in clustered.failed] == ["broken.jpg"]
    assert seen[-1].done == 7 and seen[-1].eta_s == 0
    for a in local.written:
        b = tmp_path / "ray" / a.relative_to(tmp_path / "one")
        x, y = cv2.imread(str(a)).astype(int), cv2.imread(str(b)).astype(int)
        assert np.abs(x - y).max() <= 1, a.name


def worker_pids() -> list[int]:
    """Processes of Ray workers holding a Rehue model (their title is ray::ColorizeWorker...)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ray::ColorizeWorker" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_a_worker_killed_mid_run_loses_nothing(tmp_path):
    src = mixed_folder(tmp_path / "in", n=12, size=(900, 1200))
    killed = []

    def kill_one(p) -> None:
        if killed:
            return
        pids = worker_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    result = run_batch_on_ray(plan_batch([src], tmp_path / "out"), workers=2, chunk=2, progress=kill_one)
    assert killed
    assert len(result.written) == 12 and [p.name for p, _ in result.failed] == ["broken.jpg"]
    for p in result.written:
        assert cv2.imread(str(p)) is not None
    assert not list((tmp_path / "out").rglob("*.rehue-partial"))


def test_a_killed_driver_resumes(tmp_path):
    src = mixed_folder(tmp_path / "in", n=10, size=(900, 1200))
    out = tmp_path / "out"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    proc = subprocess.Popen(CLI + [str(src), "-o", str(out), "--ray", "--ray-workers", "2"], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len([p for p in out.rglob("p*") if p.is_file()]) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run([str(Path(sys.executable).parent / "ray"), "stop", "--force"], capture_output=True)  # the killed driver's local instance
    finished = [p for p in out.rglob("p*") if p.is_file()]
    assert 1 <= len(finished) < 10
    r = subprocess.run(CLI + [str(src), "-o", str(out), "--ray", "--ray-workers", "2"], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 1, r.stderr  # broken.jpg
    assert "already done" in r.stderr and "10 colorized" not in r.stderr
    assert len([p for p in out.rglob("p*") if p.is_file()]) == 10
    assert not list(out.rglob("*.rehue-partial"))


def test_a_photo_that_always_kills_its_worker_is_given_up():
    """Issue 23: a chunk whose worker died was put back with no limit. Now: retried once, then its
    photos one by one; a photo that takes MAX_DEATHS workers with it fails alone."""
    from rehue.cluster import MAX_DEATHS, after_death

    chunk = [("a.jpg", "out/a.jpg"), ("killer.jpg", "out/killer.jpg"), ("c.jpg", "out/c.jpg")]
    deaths: dict = {}
    queue, given_up, rounds = [chunk], [], 0
    while queue and rounds < 50:
        rounds += 1
        items = queue.pop(0)
        if any(src == "killer.jpg" for src, _ in items):  # the worker dies on this chunk
            again, lost = after_death(items, deaths)
            queue += again
            given_up += lost
    assert given_up == ["killer.jpg"] and not queue and rounds <= 1 + MAX_DEATHS + MAX_DEATHS + 2


def test_workers_stop_when_the_driver_is_gone(tmp_path):
    """Issue 23: chunks queued for a killed driver went on writing for ~20 s after its lock was
    gone. A worker checks the driver's lock before each photo."""
    from rehue.batch import LOCK_NAME, output_lock
    from rehue.cluster import driver_alive

    out = tmp_path / "out"
    with output_lock(out):
        assert driver_alive(out / LOCK_NAME)
    assert not driver_alive(out / LOCK_NAME)  # a finished batch: no lock file
    (out / LOCK_NAME).write_text("12345")  # a killed driver's file, no process holding its lock
    assert not driver_alive(out / LOCK_NAME)


def test_ray_worker_deaths_are_one_plain_line(capsys):
    """Issue 23: Ray's raw multi-line worker-death block in ANSI colours reached the console."""
    from ray._private import worker as ray_worker

    from rehue.cluster import WORKER_DIED, one_line_ray_errors

    one_line_ray_errors()
    for text in ("\x1b[33m(raylet)\x1b[0m Task ColorizeWorker.run failed. There are 2 retries remaining, so the task will be retried.",
                 "A worker died or was killed while executing a task by an unexpected system error.\nTo troubleshoot ...\nLease ID: 0100"):
        ray_worker.print_to_stdstream({"lines": [text], "pid": "raylet", "is_err": False}, ignore_prefix=False)
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [WORKER_DIED] and "\x1b" not in err
