"""Take the README's screenshots of the real app (run under Xvfb: scripts/screenshots.sh).

    python scripts/screenshots.py PHOTO OUT_DIR

Opens PHOTO, waits for the colour preview, places a hint and gives it a colour, and grabs the screen in side-by-side
and split mode, plus the batch dialog.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication


def spin(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab(app: QApplication, path: Path) -> None:
    spin(300)
    app.primaryScreen().grabWindow(0).save(str(path))
    print("wrote", path)


def main() -> int:
    photo, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    from desktop.main_window import MainWindow

    settings = QSettings(str(out / ".screenshot-settings.ini"), QSettings.Format.IniFormat)
    settings.clear()
    w = MainWindow(settings)
    w.setGeometry(0, 0, 1400, 820)
    w.show()
    w.open_path(photo)
    while w.last_result is None:
        spin(100)
    spin(1500)
    grab(app, out / "main-window.png")
    w._on_click(0.3, 0.35)  # a hint on the tree trunk, then a bark brown for it
    spin(800)
    w._recolor_selected((118, 92, 66))
    spin(800)
    grab(app, out / "hints.png")
    w.set_split(True)
    spin(1200)
    grab(app, out / "split-view.png")
    w.set_split(False)
    w.open_batch([photo.parent])
    w.batch_dialog.move(300, 150)
    spin(500)
    grab(app, out / "batch-dialog.png")
    w.batch_dialog.close()
    w.hints.undo_stack.setClean()
    w.close()
    (out / ".screenshot-settings.ini").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
