"""The user's edits of the open photo — colour hints, colour strength and, for a faded colour
print, whether its colours are restored instead — with undo/redo.

Every edit is a QUndoCommand on one QUndoStack, so Ctrl+Z walks back through adds, moves,
colour changes, deletions and strength changes alike. Hints keep a stable id (numbered from 1 for
each photo) so the views can follow a hint as it moves or changes colour. The strength belongs to
the photo: a new photo starts at 100 %, and it is saved with the hints.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from rehue.contract import Hint


class HintStore(QObject):
    """Ordered hints by id. ``changed`` fires after every edit, undo and redo."""

    changed = Signal()
    selection_changed = Signal(object)  # id or None
    strength_changed = Signal(float)  # after a strength edit, undo or redo
    restoring_changed = Signal(bool)  # restore the photo's faded colours (rehue.restore) instead of colorizing it

    DEFAULT_STRENGTH = 1.0

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._hints: dict[int, Hint] = {}
        self._ids = itertools.count(1)
        self.selected: int | None = None
        self.strength = self.DEFAULT_STRENGTH
        self.restoring = False
        self.undo_stack = QUndoStack(self)

    # ------------------------------------------------------------------ reading
    def items(self) -> list[tuple[int, Hint]]:
        return list(self._hints.items())

    def hints(self) -> tuple[Hint, ...]:
        return tuple(self._hints.values())

    def get(self, hint_id: int) -> Hint | None:
        return self._hints.get(hint_id)

    def __len__(self) -> int:
        return len(self._hints)

    # ------------------------------------------------------------------ editing (undoable)
    def add(self, hint: Hint) -> int:
        hint_id = next(self._ids)
        self.undo_stack.push(_Put(self, hint_id, None, hint, "Add hint"))
        self.select(hint_id)
        return hint_id

    def move(self, hint_id: int, x: float, y: float) -> None:
        old = self._hints[hint_id]
        if (old.x, old.y) != (x, y):
            self.undo_stack.push(_Put(self, hint_id, old, replace(old, x=x, y=y), "Move hint"))

    def recolor(self, hint_id: int, a: float, b: float) -> None:
        old = self._hints[hint_id]
        if (old.a, old.b) != (a, b):
            self.undo_stack.push(_Put(self, hint_id, old, replace(old, a=a, b=b), "Change hint colour"))

    def replace(self, hint_id: int, hint: Hint, text: str) -> None:
        """Any change to one hint (e.g. a move that also re-snaps its colour), one undo step."""
        old = self._hints[hint_id]
        if old != hint:
            self.undo_stack.push(_Put(self, hint_id, old, hint, text))

    def set_reach(self, hint_id: int, reach: float) -> None:
        old = self._hints[hint_id]
        if old.reach != reach:
            self.undo_stack.push(_Put(self, hint_id, old, replace(old, reach=reach), "Change brush size"))

    def set_strength(self, value: float) -> None:
        """The photo's colour strength (0..2). One drag of the slider is one undo step: changes
        within a moment of each other merge."""
        if value != self.strength:
            self.undo_stack.push(_Strength(self, self.strength, value))

    def set_restoring(self, on: bool) -> None:
        """Restore the faded colours of a colour photo (True) or colorize it from its lightness (False): one undo step."""
        if on != self.restoring:
            self.undo_stack.push(_Restoring(self, on))

    def restore(self, hints: tuple[Hint, ...], strength: float | None = None) -> None:
        """Put back hints (and the strength) saved with the photo, as one undoable step."""
        self.undo_stack.beginMacro("Restore saved hints")
        for hint in hints:
            self.undo_stack.push(_Put(self, next(self._ids), None, hint, "Add hint"))
        if strength is not None and strength != self.strength:
            self.undo_stack.push(_Strength(self, self.strength, strength, mergeable=False))
        self.undo_stack.endMacro()

    def delete(self, hint_id: int) -> None:
        if hint_id in self._hints:
            self.undo_stack.push(_Put(self, hint_id, self._hints[hint_id], None, "Delete hint"))

    def clear(self) -> None:
        if not self._hints:
            return
        self.undo_stack.beginMacro("Clear hints")
        for hint_id in list(self._hints):
            self.delete(hint_id)
        self.undo_stack.endMacro()

    def reset(self) -> None:
        """Forget all hints, the strength and the history (a new photo was opened): its hints are
        numbered from 1 again and its strength starts at 100 %."""
        self._hints.clear()
        self._ids = itertools.count(1)
        self.undo_stack.clear()
        self.select(None)
        self._set_strength(self.DEFAULT_STRENGTH)
        self._set_restoring(False)
        self.changed.emit()

    def select(self, hint_id: int | None) -> None:
        if hint_id is not None and hint_id not in self._hints:
            hint_id = None
        if hint_id != self.selected:
            self.selected = hint_id
            self.selection_changed.emit(hint_id)

    # ------------------------------------------------------------------ used by commands
    def _set_strength(self, value: float) -> None:
        if value != self.strength:
            self.strength = value
            self.strength_changed.emit(value)

    def _set_restoring(self, on: bool) -> None:
        if on != self.restoring:
            self.restoring = on
            self.restoring_changed.emit(on)

    def _set(self, hint_id: int, hint: Hint | None) -> None:
        if hint is None:
            self._hints.pop(hint_id, None)
            if self.selected == hint_id:
                self.select(None)
        else:
            self._hints[hint_id] = hint
        self.changed.emit()


class _Put(QUndoCommand):
    """Replace hint ``hint_id`` (None = absent) by ``new``; undo puts ``old`` back."""

    def __init__(self, store: HintStore, hint_id: int, old: Hint | None, new: Hint | None, text: str) -> None:
        super().__init__(text)
        self.store, self.hint_id, self.old, self.new = store, hint_id, old, new

    def redo(self) -> None:
        self.store._set(self.hint_id, self.new)

    def undo(self) -> None:
        self.store._set(self.hint_id, self.old)


class _Strength(QUndoCommand):
    """Set the photo's colour strength; changes in quick succession (one slider drag) merge."""

    ID = 1
    MERGE_WITHIN_S = 1.0

    def __init__(self, store: HintStore, old: float, new: float, mergeable: bool = True) -> None:
        super().__init__(f"Colour strength {round(new * 100)} %")
        self.store, self.old, self.new, self.mergeable = store, old, new, mergeable
        self.stamp = time.monotonic()

    def id(self) -> int:
        return self.ID if self.mergeable else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _Strength) or other.stamp - self.stamp > self.MERGE_WITHIN_S:
            return False
        self.new, self.stamp = other.new, other.stamp
        self.setText(f"Colour strength {round(self.new * 100)} %")
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.store._set_strength(self.new)
        self.store.changed.emit()

    def undo(self) -> None:
        self.store._set_strength(self.old)
        self.store.changed.emit()


class _Restoring(QUndoCommand):
    """Switch between restoring a faded colour photo and colorizing it."""

    def __init__(self, store: HintStore, on: bool) -> None:
        super().__init__("Restore faded colours" if on else "Colorize instead of restoring")
        self.store, self.on = store, on

    def redo(self) -> None:
        self.store._set_restoring(self.on)
        self.store.changed.emit()

    def undo(self) -> None:
        self.store._set_restoring(not self.on)
        self.store.changed.emit()
