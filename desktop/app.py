"""``rehue``: start the desktop application.

    rehue                  # empty window: drop a photo on it
    rehue photo.jpg        # open a photo (what a file manager's "Open with" does)
    rehue SCANS/           # open the batch dialog for a folder
    rehue --startup-check  # start, load the model, show the window, quit (for packaging checks)
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from rehue import __version__
from rehue.logsetup import setup_logging

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if "--version" in argv[1:]:
        print(f"rehue {__version__}")
        return 0
    setup_logging(console_level=logging.WARNING)
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from desktop.dialogs import show_crash_dialog
    from desktop.main_window import MainWindow
    from rehue.resources import assets_dir

    QCoreApplication.setOrganizationName("Rehue")
    QCoreApplication.setApplicationName("Rehue")
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationDisplayName("Rehue")
    app.setDesktopFileName("rehue")
    icon = assets_dir() / "rehue.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    window = MainWindow()

    def excepthook(exc_type, exc, tb) -> None:
        log.critical("unhandled exception:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        show_crash_dialog(window, f"{exc_type.__name__}: {exc}")

    sys.excepthook = excepthook
    window.show()
    paths = [Path(a) for a in argv[1:] if not a.startswith("-")]
    if paths:
        window.open_paths(paths)
    if "--startup-check" in argv[1:]:
        # Packaging smoke check and cold-start measurement: quit once the window is up with its model.
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: (print(f"started: {window.device_label.text()}", flush=True), app.quit()))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
