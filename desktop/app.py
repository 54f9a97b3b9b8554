"""``rehue``: start the desktop application.

    rehue                  # empty window: drop a photo on it
    rehue photo.jpg        # open a photo (what a file manager's "Open with" does)
    rehue SCANS/           # open the batch dialog for a folder
    rehue --startup-check  # start, load the model, show the window, quit (for packaging checks)
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

from rehue import __version__
from rehue.logsetup import setup_logging
from rehue.providers import library_loads

log = logging.getLogger(__name__)

# What Qt's X11 plugin (xcb) needs beyond a desktop's usual libraries: Debian/Ubuntu package -> library.
XCB_LIBRARIES = {
    "libxcb-cursor0": "libxcb-cursor.so.0", "libxcb-icccm4": "libxcb-icccm.so.4", "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0", "libxcb-shape0": "libxcb-shape.so.0", "libxcb-randr0": "libxcb-randr.so.0",
    "libxcb-render-util0": "libxcb-render-util.so.0", "libxcb-image0": "libxcb-image.so.0",
}


def display_problem(env: dict[str, str] | None = None, loads=library_loads, platform: str = sys.platform) -> str | None:
    """Why the window cannot open here, in one line a person can act on; None when it can. Qt's
    own text for these cases is a page about plugins that never says what to install (issue 25)."""
    env = dict(os.environ if env is None else env)
    qpa = env.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux") or (qpa and not qpa.startswith("xcb")):
        return None  # Windows, macOS, Wayland, offscreen: Qt finds its own way
    if not qpa and env.get("WAYLAND_DISPLAY"):
        return None
    if not env.get("DISPLAY"):
        return ("Rehue needs a desktop to show its window, and there is none here (DISPLAY is not set). "
                "Run it from your desktop session, or colorize without a window: rehue-batch PHOTOS -o OUTPUT")
    missing = [pkg for pkg, lib in XCB_LIBRARIES.items() if not loads(lib)]
    if missing:
        return ("Rehue's window needs system libraries that are missing: " + ", ".join(missing)
                + f". Install them (Debian/Ubuntu): sudo apt install {' '.join(missing)}")
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if "--version" in argv[1:]:
        print(f"rehue {__version__}")
        return 0
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
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
