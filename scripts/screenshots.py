"""Take the README's screenshots of the real app (run under Xvfb: scripts/screenshots.sh).

    python scripts/screenshots.py PHOTO HINT_PHOTO OUT_DIR

Opens PHOTO and grabs the automatic colour (side by side and split); opens HINT_PHOTO and places one
hint, then a second one, grabbing each; and the batch dialog. Hint positions and colours come from
the environment (REHUE_HINTS="x,y,r,g,b;x,y,r,g,b") so the same script shows any photo; with
REHUE_FADED=PRINT it also opens a faded colour print and grabs the offer and the restored photo.
"""

from __future__ import annotations

import os
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


def wait_preview(w) -> None:
    spin(200)
    while w.last_result is None or w.scheduler.is_busy():
        spin(100)
    spin(900)


def main() -> int:
    photo, hint_photo, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    hints = [tuple(float(v) for v in h.split(",")) for h in os.environ.get("REHUE_HINTS", "0.2,0.3,200,40,40;0.5,0.85,60,130,50").split(";")]
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    from desktop.main_window import MainWindow

    settings = QSettings(str(out / ".screenshot-settings.ini"), QSettings.Format.IniFormat)
    settings.clear()
    w = MainWindow(settings)
    w.setGeometry(0, 0, 1400, 820)
    w.show()
    w.open_path(photo)
    wait_preview(w)
    grab(app, out / "main-window.png")
    w.set_split(True)
    spin(1200)
    grab(app, out / "split-view.png")
    w.set_split(False)
    spin(500)
    w.open_path(hint_photo)
    w.last_result = None
    wait_preview(w)
    grab(app, out / "hints-none.png")
    for k, (x, y, r, g, b) in enumerate(hints, 1):
        w._on_click(x, y)
        wait_preview(w)
        w._recolor_selected((int(r), int(g), int(b)))
        wait_preview(w)
        grab(app, out / ("hints-one.png" if k == 1 else "hints-two.png"))
        if k == 2:
            break
    w.open_batch([photo.parent])
    w.batch_dialog.move(300, 150)
    spin(500)
    grab(app, out / "batch-dialog.png")
    w.batch_dialog.close()
    faded = os.environ.get("REHUE_FADED")  # a faded colour print: the offer, then the restored photo
    if faded:
        w.hints.undo_stack.setClean()
        w.last_result = None
        w.open_path(Path(faded))
        wait_preview(w)
        grab(app, out / "faded-offer.png")
        w.restore_button.click()
        w.last_result = None
        wait_preview(w)
        grab(app, out / "faded-restored.png")
    w.hints.undo_stack.setClean()
    w.close()
    (out / ".screenshot-settings.ini").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
