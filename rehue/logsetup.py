"""One logging setup for the GUI and the command line: console plus a rotating file in the
user's log folder, whose path the crash dialog and error messages can name."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

_LOG_FILE: Path | None = None


def log_dir() -> Path:
    """Per-user log folder: %LOCALAPPDATA%\\Rehue\\logs, ~/Library/Logs/Rehue or $XDG_STATE_HOME/rehue."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "Rehue" / "logs"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Logs" / "Rehue"
    else:
        base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "rehue"
    return base


def log_file() -> Path | None:
    """The file this process logs to, once setup_logging has run."""
    return _LOG_FILE


def setup_logging(console_level: int = logging.WARNING, file_level: int = logging.INFO) -> Path | None:
    """Configure the root logger once; returns the log file path (None if it cannot be created)."""
    global _LOG_FILE
    root = logging.getLogger()
    if getattr(root, "_rehue_configured", False):
        return _LOG_FILE
    root.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(console)
    try:
        d = log_dir()
        d.mkdir(parents=True, exist_ok=True)
        _LOG_FILE = d / "rehue.log"
        fh = logging.handlers.RotatingFileHandler(_LOG_FILE, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        fh.setLevel(file_level)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
    except OSError:
        _LOG_FILE = None
    root._rehue_configured = True  # type: ignore[attr-defined]
    return _LOG_FILE
