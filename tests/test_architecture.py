"""The layers of ARCHITECTURE.md, checked: the engine imports neither Qt, torch, the app nor
training; training imports no Qt and not the app; the app imports no torch and not training.
Both the source (every import statement, also inside functions) and a real import are checked."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "rehue": {"PySide6", "shiboken6", "torch", "desktop", "export", "onnx"},
    "export": {"PySide6", "shiboken6", "desktop"},
    "desktop": {"torch", "export", "onnx"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_source_file_crosses_its_layer(layer: str):
    offenders = {str(p.relative_to(ROOT)): sorted(imported_packages(p) & FORBIDDEN[layer])
                 for p in sorted((ROOT / layer).rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("modules, banned", [
    ("rehue.engine, rehue.batch, rehue.cli, rehue.session, rehue.photo_io", ("PySide6", "torch", "desktop", "export")),
    ("desktop.main_window, desktop.app", ("torch", "export")),
])
def test_importing_a_layer_loads_nothing_it_must_not(modules: str, banned: tuple[str, ...]):
    code = (f"import sys; import {modules}; "
            f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & {set(banned)!r}); print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_training_imports_no_qt():
    pytest.importorskip("torch")
    code = "import sys, export.train, export.onnx_export, export.evaluate; sys.exit(1 if 'PySide6' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
