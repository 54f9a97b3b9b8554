"""The main window's actions, menus, toolbar and keyboard shortcuts, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QStyle

if TYPE_CHECKING:
    from desktop.main_window import MainWindow


@dataclass
class Actions:
    open: QAction
    save: QAction
    save_as: QAction
    compare: QAction
    batch: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    delete: QAction
    clear: QAction
    restore: QAction
    settings: QAction
    fit: QAction
    actual: QAction
    zoom_in: QAction
    zoom_out: QAction
    side: QAction
    split: QAction
    about: QAction
    log: QAction
    recent_menu: QMenu | None = None

    def photo_actions(self) -> tuple[QAction, ...]:
        """Enabled only while a photo is open."""
        return (self.save, self.save_as, self.compare, self.fit, self.actual, self.zoom_in, self.zoom_out)


def _keys(*sequences: QKeySequence.StandardKey | str) -> list[QKeySequence]:
    """Shortcuts without duplicates: on X11 StandardKey.Redo already holds Ctrl+Shift+Z, and the
    same key registered twice is an "ambiguous shortcut" that Qt then ignores."""
    out: list[QKeySequence] = []
    for s in sequences:
        for k in QKeySequence.keyBindings(s) if isinstance(s, QKeySequence.StandardKey) else [QKeySequence(s)]:
            if not k.isEmpty() and k not in out:
                out.append(k)
    return out


def create_actions(w: MainWindow) -> Actions:
    S = QKeySequence.StandardKey

    def act(text: str, slot: Callable, keys: list[QKeySequence] | None = None, tip: str = "") -> QAction:
        a = QAction(text, w)
        if keys:
            a.setShortcuts(keys)
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    undo = w.hints.undo_stack.createUndoAction(w, "&Undo")
    undo.setShortcuts(_keys(S.Undo))
    redo = w.hints.undo_stack.createRedoAction(w, "&Redo")
    redo.setShortcuts(_keys(S.Redo, "Ctrl+Shift+Z", "Ctrl+Y"))  # Ctrl+Y: what Windows and Photoshop users press
    actions = Actions(
        open=act("&Open…", w.open_dialog, _keys(S.Open), "Open a photo"),
        save=act("&Save", w.save, _keys(S.Save), "Save the colour photo at full resolution"),
        save_as=act("Save &As…", w.save_as, _keys(S.SaveAs)),
        compare=act("Export &Comparison…", w.export_comparison, _keys("Ctrl+E"), "Save original and colour side by side"),
        batch=act("&Batch Colorize Folder…", w.open_batch, _keys("Ctrl+B"), "Colorize a whole folder"),
        quit=act("&Quit", w.close, _keys(S.Quit)),
        undo=undo,
        redo=redo,
        delete=act("&Delete Hint", w.delete_selected, _keys(S.Delete)),
        clear=act("C&lear Hints", w.hints.clear, _keys("Ctrl+Shift+Backspace")),
        restore=act("&Restore Faded Colours", w.toggle_restoring, _keys("Ctrl+R"),
                    "Bring back the colours of a faded colour print (instead of colorizing it)"),
        settings=act("&Settings…", w.open_settings, _keys(S.Preferences) or _keys("Ctrl+,")),
        fit=act("&Fit to Window", w.fit, _keys("Ctrl+0")),
        actual=act("&100 %", lambda: w.set_zoom(1.0), _keys("Ctrl+1")),
        zoom_in=act("Zoom &In", lambda: w.zoom_by(1.25), _keys(S.ZoomIn)),
        zoom_out=act("Zoom &Out", lambda: w.zoom_by(0.8), _keys(S.ZoomOut)),
        side=act("&Side by Side", lambda: w.set_split(False), _keys("Ctrl+2")),
        split=act("S&plit View", lambda: w.set_split(True), _keys("Ctrl+3")),
        about=act("&About Rehue", w.about),
        log=act("Show &Log File", w.show_log),
    )
    group = QActionGroup(w)
    actions.restore.setCheckable(True)
    for a in (actions.side, actions.split):
        a.setCheckable(True)
        group.addAction(a)
    return actions


def install(w: MainWindow, a: Actions) -> None:
    """Menus and toolbar of the window."""
    mb = w.menuBar()
    recent = "recent"  # where File ▸ Open Recent goes
    layout: list[tuple[str, list]] = [
        ("&File", [a.open, recent, None, a.save, a.save_as, a.compare, None, a.batch, None, a.quit]),
        ("&Edit", [a.undo, a.redo, None, a.delete, a.clear, None, a.restore, None, a.settings]),
        ("&View", [a.side, a.split, None, a.fit, a.actual, a.zoom_in, a.zoom_out]),
        ("&Help", [a.about, a.log]),
    ]
    for title, entries in layout:
        m = mb.addMenu(title)
        for entry in entries:
            if entry is None:
                m.addSeparator()
            elif entry == recent:
                a.recent_menu = m.addMenu("Open &Recent")
            else:
                m.addAction(entry)
    style = w.style()
    SP = QStyle.StandardPixmap
    for x, pix in ((a.open, SP.SP_DialogOpenButton), (a.save, SP.SP_DialogSaveButton), (a.batch, SP.SP_DirIcon),
                   (a.undo, SP.SP_ArrowBack), (a.redo, SP.SP_ArrowForward)):
        x.setIcon(style.standardIcon(pix))
    tb = w.addToolBar("Main")
    tb.setObjectName("main-toolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for x in (a.open, a.save, a.batch):
        tb.addAction(x)
    tb.addSeparator()
    tb.addAction(a.restore)
    tb.addSeparator()
    for x in (a.undo, a.redo):
        tb.addAction(x)
        # Icon only: the action's text grows with what it undoes ("Undo Change hint colour") and
        # the whole toolbar jumped sideways with it; the tooltip still says it.
        tb.widgetForAction(x).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    tb.addSeparator()
    for x in (a.side, a.split, a.fit, a.actual):
        tb.addAction(x)
