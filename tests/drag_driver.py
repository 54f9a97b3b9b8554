"""Drives real drags onto the main window, for test_real_drag.py (run as a script, not collected).

Qt's offscreen platform refuses every drag outright, so this runs on the ``minimal`` platform,
whose drag is Qt's own QSimpleDrag: a QDrag from another widget, moved and released by mouse
events, goes through Qt's real drop-target search (the widget under the pointer, then its parents
until one accepts drops) and the real DragEnter/DragMove/Drop events, as a file manager's drag
does. Prints one JSON line per drag: where, what, the drop action and what the window did.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QToolBar, QWidget


def real_drag(app: QApplication, target: QWidget, local: QPoint, paths: list[Path]) -> Qt.DropAction:
    """Drag ``paths`` from another window and release them over ``local`` in ``target``."""
    source = QLabel("a file manager")
    source.move(0, 0)
    source.show()
    drag = QDrag(source)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    drag.setMimeData(mime)
    gp = target.mapToGlobal(local)

    def send(kind: QEvent.Type, at: QPoint) -> None:
        held = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else Qt.MouseButton.LeftButton
        QApplication.sendEvent(target, QMouseEvent(kind, QPointF(target.mapFromGlobal(at)), QPointF(at),
                                                   Qt.MouseButton.LeftButton, held, Qt.KeyboardModifier.NoModifier))

    def steer() -> None:
        send(QEvent.Type.MouseMove, gp - QPoint(5, 5))
        send(QEvent.Type.MouseMove, gp)
        send(QEvent.Type.MouseButtonRelease, gp)

    QTimer.singleShot(50, steer)
    action = drag.exec(Qt.DropAction.CopyAction)
    source.close()
    return action


def settle(app: QApplication, until, timeout: float = 20.0) -> bool:
    t0 = time.time()
    while time.time() - t0 < timeout:
        app.processEvents()
        if until():
            return True
        time.sleep(0.01)
    return False


def main() -> int:
    photo, second, folder, settings_file = (Path(a) for a in sys.argv[1:5])
    app = QApplication([sys.argv[0], "-platform", "minimal"])
    from desktop.main_window import MainWindow

    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    settings.setValue("provider", "cpu")
    w = MainWindow(settings)
    w.resize(1100, 700)
    w.show()
    settle(app, lambda: w.colorizer is not None)

    def report(where: str, what: str, action: Qt.DropAction, outcome: str) -> None:
        print(json.dumps({"where": where, "what": what, "action": action.name, "outcome": outcome}), flush=True)

    # One photo on each part of the window, by name, then on a grid over the whole window.
    parts = {"before pane": w.before_view.viewport(), "after pane": w.after_view.viewport(), "side panel": w.panel,
             "tool bar": w.findChild(QToolBar, "main-toolbar"), "status bar": w.statusBar(), "menu bar": w.menuBar()}
    targets = [(name, widget, widget.rect().center()) for name, widget in parts.items()]
    targets += [(f"window at {fx:.2f},{fy:.2f}", w, QPoint(int(w.width() * fx), int(w.height() * fy)))
                for fx in (0.05, 0.35, 0.65, 0.95) for fy in (0.05, 0.35, 0.65, 0.95)]
    for name, widget, local in targets:
        w.current_path = None
        action = real_drag(app, widget, local, [photo])
        opened = settle(app, lambda: w.current_path == photo, timeout=20 if action != Qt.DropAction.IgnoreAction else 0.2)
        report(name, "photo", action, "opened" if opened else "nothing")

    for what, paths in (("photos", [photo, second]), ("folder", [folder])):
        for name in ("before pane", "after pane", "side panel"):
            w.batch_dialog = None
            action = real_drag(app, parts[name], parts[name].rect().center(), paths)
            settle(app, lambda: getattr(w, "batch_dialog", None) is not None, timeout=2 if action != Qt.DropAction.IgnoreAction else 0.2)
            dlg = getattr(w, "batch_dialog", None)
            outcome = f"batch dialog for {dlg.input_row.edit.text()} (+{len(dlg.extra_inputs)})" if dlg else "nothing"
            if dlg:
                dlg.close()
            report(name, what, action, outcome)
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
