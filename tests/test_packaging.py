"""The packaged bundle (slow: builds with PyInstaller, a few minutes on 2 cores).

Run with  ./run-tests.sh -m slow  (CI runs it on every run: a packaging break must never land).
Builds packaging/dist/rehue/ and the .deb from this checkout, starts the built binary headless in
batch mode on one photo and as the app with its model, and checks the .desktop file and the .deb.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import pytest

from helpers import gray_scene

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle() -> Path:
    r = subprocess.run([str(ROOT / "packaging" / "build.sh")], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    exe = ROOT / "packaging" / "dist" / "rehue" / "rehue"
    assert exe.exists()
    return exe


def test_bundle_is_lean(bundle: Path):
    internal = bundle.parent / "_internal"
    names = {p.name for p in internal.iterdir()}
    assert "torch" not in names and "onnx" not in names
    assert not any(n.startswith("PyQt5") or n.startswith("PySide2") for n in names)
    assert (internal / "models" / "rehue-colorizer.encoder.onnx").exists()
    assert (internal / "models" / "rehue-colorizer.decoder.onnx").exists()
    assert (internal / "models" / "rehue-restore.onnx").exists()


def test_bundle_colorizes_through_batch_entry(bundle: Path, tmp_path: Path):
    """The built binary colorizes a gray scan and, with --restore-faded, restores a faded colour
    print (the restore model travels in the bundle too)."""
    from test_restore import STRONGLY_FADED

    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "old.jpg"), gray_scene(300, 400))
    cv2.imwrite(str(src / "faded.png"), cv2.cvtColor(STRONGLY_FADED()[1], cv2.COLOR_RGB2BGR))
    r = subprocess.run([str(bundle), "batch", str(src), "-o", str(tmp_path / "out"), "--restore-faded"], capture_output=True,
                       text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    out = cv2.imread(str(tmp_path / "out" / "old.jpg"))
    assert out.shape == (300, 400, 3)
    assert abs(out[..., 0].astype(int) - out[..., 2]).mean() > 0.5
    assert "1 faded colour photo restored" in r.stderr and (tmp_path / "out" / "faded.png").exists()


def test_bundle_app_starts_with_its_model(bundle: Path, tmp_path: Path):
    """The installed app's window loads the shipped model and its runtime ("No model" was issue 25:
    ONNX Runtime, imported through importlib, was missing from the bundle)."""
    r = subprocess.run([str(bundle), "--startup-check"], capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    assert "started: rehue-colorizer" in r.stdout and "CPU" in r.stdout, r.stdout + r.stderr


def test_desktop_entry_and_deb(bundle: Path, tmp_path: Path):
    desktop = ROOT / "packaging" / "linux" / "rehue.desktop"
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    text = desktop.read_text()
    assert "%F" in text and "image/jpeg" in text and "image/tiff" in text
    debs = list((ROOT / "packaging" / "dist").glob("rehue_*_amd64.deb"))
    assert debs
    listing = subprocess.run(["dpkg-deb", "-c", str(debs[0])], capture_output=True, text=True, check=True).stdout
    for path in ("./opt/rehue/rehue", "./usr/share/applications/rehue.desktop", "./usr/bin/rehue-batch", "./usr/share/icons/hicolor/256x256/apps/rehue.png"):
        assert path in listing
