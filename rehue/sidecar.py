"""Hints kept with the photo: a small JSON file beside it, ``photo.jpg.rehue.json``.

Saving in the app writes it (hints, strength, the model that saw them), so a person can come back
and revise; opening the photo again offers to restore them; ``rehue-batch`` applies one it finds
next to a photo. The original photo itself is never touched.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from rehue import photo_io
from rehue.contract import ContractError, Hint

log = logging.getLogger(__name__)

SUFFIX = ".rehue.json"
FORMAT = "rehue-hints"
VERSION = 1
# What a hints file may hold: far more than a person places by hand (the app's densest real use is
# a few dozen), far less than what froze the app or filled memory (issue 23: 10⁴ and 10⁶ hints).
MAX_HINTS = 256
MAX_BYTES = 256 * 1024
NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems


@dataclass(frozen=True)
class Sidecar:
    hints: tuple[Hint, ...]
    strength: float = 1.0
    model_version: str = ""
    saved: str = ""


def path_for(photo: Path) -> Path:
    """``photo.jpg`` -> ``photo.jpg.rehue.json`` (beside it)."""
    photo = Path(photo)
    return photo.with_name(photo.name + SUFFIX)


def write(photo: Path, sidecar: Sidecar) -> Path:
    """Write the sidecar of ``photo`` atomically; returns its path (PhotoError if it cannot)."""
    data = {
        "format": FORMAT,
        "version": VERSION,
        "hints": [h.to_dict() for h in sidecar.hints],
        "strength": sidecar.strength,
        "model_version": sidecar.model_version,
        "saved": sidecar.saved or _dt.datetime.now().isoformat(timespec="seconds"),
    }
    dst = path_for(photo)
    photo_io.write_atomically(dst, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
    return dst


def read(photo: Path) -> Sidecar | None:
    """The sidecar beside ``photo``, or None if there is none; a damaged, oversized, linked or
    newer one is logged and ignored (it must never stop a photo from opening or a batch from running)."""
    src = path_for(photo)
    if len(os.fsencode(src.name)) > NAME_MAX:
        return None  # a photo named near the limit can have no hints file beside it (the app cannot write one either)
    try:
        if src.is_symlink():
            raise ContractError("it is a link to another file, not this photo's own hints")
        if not src.is_file():
            return None
        size = src.stat().st_size
        if size > MAX_BYTES:
            raise ContractError(f"it is {size // 1024} KB; a hints file holds at most {MAX_BYTES // 1024} KB")
        data = json.loads(src.read_text(encoding="utf-8"), parse_constant=_no_constant)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ContractError("not a Rehue hints file")
        version = data.get("version", VERSION)
        if not isinstance(version, int) or version > VERSION:
            raise ContractError(f"written by a newer Rehue (format version {version!r}); update Rehue to use it")
        raw = data.get("hints", [])
        if not isinstance(raw, list) or len(raw) > MAX_HINTS:
            raise ContractError(f"{len(raw) if isinstance(raw, list) else 'no list of'} hints; a photo keeps at most {MAX_HINTS}")
        hints = tuple(Hint.from_dict(h) for h in raw)
        strength = float(data.get("strength", 1.0))
        if not 0.0 <= strength <= 2.0:
            raise ContractError(f"strength {strength} out of range")
        return Sidecar(hints, strength, str(data.get("model_version", "")), str(data.get("saved", "")))
    except (OSError, ValueError, ContractError, AttributeError, TypeError, RecursionError, OverflowError) as exc:
        log.warning("ignoring the hints file %s: %s", photo_io.printable(src), exc)
        return None


def _no_constant(name: str) -> None:
    raise ContractError(f"{name} is not a number a hint can hold")
