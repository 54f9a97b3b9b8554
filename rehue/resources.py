"""Where the shipped model and the assets are: a checkout, an installed wheel or a frozen bundle.

The folders ``models/`` and ``assets/`` are installed as the packages ``models`` and
``assets``; PyInstaller bundles them under the same names. We look there first, then beside
this file in a source checkout.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

DEFAULT_MODEL = "rehue-colorizer.onnx"


def _package_dir(package: str, checkout_name: str) -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen and (Path(frozen) / package).is_dir():
        return Path(frozen) / package
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / checkout_name


def models_dir() -> Path:
    """The folder holding the shipped .onnx model(s), the manifest and the model card."""
    return _package_dir("models", "models")


def assets_dir() -> Path:
    """The folder holding icons and sample photos."""
    return _package_dir("assets", "assets")


def default_model_path() -> Path:
    """The model named as default in models/manifest.json (or rehue-colorizer.onnx)."""
    d = models_dir()
    manifest = d / "manifest.json"
    if manifest.is_file():
        try:
            return d / json.loads(manifest.read_text(encoding="utf-8"))["default"]
        except (KeyError, ValueError):
            pass
    return d / DEFAULT_MODEL
