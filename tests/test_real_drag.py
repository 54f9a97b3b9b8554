"""Drops on every part of the main window, through Qt's real drag-and-drop machinery (issue 25: the
picture panes said "Drop an old photo here" and refused the drop; the old test called dropEvent
directly and never saw it). ``drag_driver.py`` runs in its own process on Qt's ``minimal``
platform, where a QDrag from another window really moves and drops (offscreen refuses all drags)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from helpers import gray_scene

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def drags(tmp_path_factory) -> list[dict]:
    d = tmp_path_factory.mktemp("drag")
    photo, second, folder = d / "grandma.jpg", d / "grandpa.jpg", d / "shoebox"
    folder.mkdir()
    for i, p in enumerate((photo, second, folder / "aunt.jpg")):
        cv2.imwrite(str(p), gray_scene(240, 320, seed=i))
    env = {**os.environ, "QT_QPA_PLATFORM": "minimal", "HOME": str(d)}
    r = subprocess.run([sys.executable, str(HERE / "drag_driver.py"), str(photo), str(second), str(folder), str(d / "s.ini")],
                       capture_output=True, text=True, timeout=600, env=env, cwd=HERE)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def test_a_photo_dropped_anywhere_on_the_window_opens(drags):
    photo = [d for d in drags if d["what"] == "photo"]
    assert {"before pane", "after pane", "side panel", "tool bar", "status bar", "menu bar"} <= {d["where"] for d in photo}
    assert len(photo) >= 22
    refused = [d for d in photo if d["action"] != "CopyAction" or d["outcome"] != "opened"]
    assert not refused, refused


@pytest.mark.parametrize("what, expected", [("photos", "grandma.jpg (+1)"), ("folder", "shoebox (+0)")])
def test_several_photos_or_a_folder_dropped_on_a_pane_open_the_batch_dialog(drags, what, expected):
    rows = [d for d in drags if d["what"] == what]
    assert {d["where"] for d in rows} == {"before pane", "after pane", "side panel"}
    for d in rows:
        assert d["action"] == "CopyAction" and d["outcome"].startswith("batch dialog for") and d["outcome"].endswith(expected), d
