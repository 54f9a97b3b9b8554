"""Hints kept with the photo: a small JSON file beside it, ``photo.jpg.rehue.json``.

Saving in the app writes it (hints, strength, the model that saw them), so a person can come back
and revise; opening the photo again offers to restore them; ``rehue-batch`` applies one it finds
next to a photo. The original photo itself is never touched.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from rehue import photo_io
from rehue.contract import ContractError, Hint

log = logging.getLogger(__name__)

SUFFIX = ".rehue.json"
FORMAT = "rehue-hints"
VERSION = 1


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
    """The sidecar beside ``photo``, or None if there is none; a damaged one is logged and ignored
    (it must never stop a photo from opening or a batch from running)."""
    src = path_for(photo)
    if not src.is_file():
        return None
    try:
        data = json.loads(src.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ContractError("not a Rehue hints file")
        hints = tuple(Hint.from_dict(h) for h in data.get("hints", []))
        strength = float(data.get("strength", 1.0))
        if not 0.0 <= strength <= 2.0:
            raise ContractError(f"strength {strength} out of range")
        return Sidecar(hints, strength, str(data.get("model_version", "")), str(data.get("saved", "")))
    except (OSError, ValueError, ContractError, AttributeError, TypeError) as exc:
        log.warning("ignoring unreadable hints file %s: %s", src, exc)
        return None
