"""Starting the app where it cannot show a window: one line saying what is missing (issue 25)."""

from __future__ import annotations

import os
import subprocess
import sys

from desktop.app import XCB_LIBRARIES, display_problem


def test_no_display_is_said_in_one_line():
    msg = display_problem({"PATH": "/usr/bin"}, platform="linux")
    assert msg and "DISPLAY is not set" in msg and "rehue-batch" in msg and "\n" not in msg


def test_missing_qt_libraries_are_named_with_the_command_to_install_them():
    msg = display_problem({"DISPLAY": ":0"}, loads=lambda lib: lib != XCB_LIBRARIES["libxcb-cursor0"], platform="linux")
    assert msg and "libxcb-cursor0" in msg and "sudo apt install libxcb-cursor0" in msg and "\n" not in msg
    assert display_problem({"DISPLAY": ":0"}, loads=lambda lib: True, platform="linux") is None


def test_other_platforms_and_headless_qt_are_left_to_qt():
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, loads=lambda lib: False, platform="linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, loads=lambda lib: False, platform="linux") is None
    assert display_problem({}, loads=lambda lib: False, platform="win32") is None


def test_the_rehue_command_without_a_display_exits_with_that_line():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "desktop.app"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "needs a desktop" in lines[0]
