"""The side panel: colour strength, and the selected hint's colour, brush size and actions.

A plain widget with signals; the main window connects them to the hint store. It never touches the
model: the window hands it the suggested colours (already as they will be rendered).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from rehue import contract

IDLE_TEXT = "Click the photo to place a hint on the thing you want to recolour. Drag to move; right-click or Del deletes."
RESTING_TEXT = ("Hints colour black-and-white photos, so they rest while a faded print is restored. "
                "Edit ▸ Restore Faded Colours (Ctrl+R) switches back to colorizing.")
N_SWATCHES = 6


def reach_to_slider(reach: float) -> int:
    return int(round(reach * 100))


def slider_to_reach(value: int) -> float:
    return min(max(value / 100.0, contract.REACH_RANGE[0]), contract.REACH_RANGE[1])


class HintPanel(QWidget):
    """Strength slider and hint controls. Emits what the user asked for; shows what it is told."""

    strength_changed = Signal(float)  # 0..2
    colour_chosen = Signal(tuple)  # (r, g, b) 8-bit, for the selected hint
    pick_requested = Signal()
    reach_changed = Signal(float)  # the brush size: fraction of the photo's long side
    delete_requested = Signal()
    clear_requested = Signal()

    def __init__(self, strength: float = 1.0, reach: float = contract.DEFAULT_REACH, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(240)
        self.setMaximumWidth(290)
        lay = QVBoxLayout(self)

        strength_box = QGroupBox("Colour strength")
        sl = QHBoxLayout(strength_box)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 200)
        self.strength.setValue(int(round(strength * 100)))
        self.strength.setToolTip("0 % is the original gray, 100 % the model's colour, 200 % twice as vivid")
        self.strength_label = QLabel()
        self.strength.valueChanged.connect(self._on_strength)
        sl.addWidget(self.strength, 1)
        sl.addWidget(self.strength_label)
        self.strength_label.setText(f"{self.strength.value()} %")
        lay.addWidget(strength_box)

        hint_box = self.hint_box = QGroupBox("Colour hint")
        self._restoring = False
        hl = QVBoxLayout(hint_box)
        self.info = QLabel(IDLE_TEXT)
        self.info.setWordWrap(True)
        hl.addWidget(self.info)
        hl.addWidget(QLabel("Suggested colours:"))
        grid = QGridLayout()
        self.swatches: list[QPushButton] = []
        for i in range(N_SWATCHES):
            b = QPushButton()
            b.setFixedSize(34, 34)
            b.clicked.connect(lambda _=False, i=i: self._on_swatch(i))
            grid.addWidget(b, i // 3, i % 3)
            self.swatches.append(b)
        hl.addLayout(grid)
        self.pick_btn = QPushButton("Choose colour…")
        self.pick_btn.clicked.connect(self.pick_requested)
        hl.addWidget(self.pick_btn)
        reach_row = QHBoxLayout()
        reach_row.addWidget(QLabel("Brush size:"))
        self.reach = QSlider(Qt.Orientation.Horizontal)
        lo, hi = contract.REACH_RANGE
        self.reach.setRange(reach_to_slider(lo), reach_to_slider(hi) // 2)
        self.reach.setValue(reach_to_slider(reach))
        self.reach.setToolTip("How far along the object a hint reaches (the circle around its marker). "
                              "It stops at strong edges whatever the size.")
        self.reach_label = QLabel()
        self.reach.valueChanged.connect(self._on_reach)
        reach_row.addWidget(self.reach, 1)
        reach_row.addWidget(self.reach_label)
        self._show_reach(self.reach.value())
        hl.addLayout(reach_row)
        self.delete_btn = QPushButton("Delete hint")
        self.delete_btn.clicked.connect(self.delete_requested)
        self.clear_btn = QPushButton("Clear all hints")
        self.clear_btn.clicked.connect(self.clear_requested)
        hl.addWidget(self.delete_btn)
        hl.addWidget(self.clear_btn)
        lay.addWidget(hint_box)
        lay.addStretch(1)
        self.show_hint(None, None, [])

    # ------------------------------------------------------------------ shown state
    def show_strength(self, value: float) -> None:
        """Show the photo's strength (a new photo, an undo) without announcing it as an edit."""
        self.strength.blockSignals(True)
        self.strength.setValue(int(round(value * 100)))
        self.strength.blockSignals(False)
        self.strength_label.setText(f"{self.strength.value()} %")

    def reach_value(self) -> float:
        return slider_to_reach(self.reach.value())

    def show_hint(self, hint_id: int | None, rgb: tuple[int, int, int] | None, suggestions: list[tuple[int, int, int]],
                  reach: float | None = None) -> None:
        """The selected hint (None: no selection), its rendered colour and the suggested colours."""
        for i, b in enumerate(self.swatches):
            if i < len(suggestions):
                c = QColor(*suggestions[i])
                b.setStyleSheet(f"background-color: {c.name()}; border: 1px solid #555")
                b.setToolTip(f"Use {c.name()} for this hint")
                b.setEnabled(True)
                b.setProperty("rgb", tuple(suggestions[i]))
            else:
                b.setStyleSheet("")
                b.setEnabled(False)
                b.setProperty("rgb", None)
        if self._restoring:
            self.info.setText(RESTING_TEXT)
        elif hint_id is None or rgb is None:
            self.info.setText(IDLE_TEXT)
        else:
            self.info.setText(f"Hint {hint_id}, colour {QColor(*rgb).name()} as rendered there. "
                              "Pick a suggestion or choose any colour.")
        if reach is not None:
            self.reach.blockSignals(True)
            self.reach.setValue(reach_to_slider(reach))
            self._show_reach(self.reach.value())
            self.reach.blockSignals(False)
        for w in (self.pick_btn, self.delete_btn):
            w.setEnabled(hint_id is not None)

    def set_restoring(self, on: bool) -> None:
        """While a faded colour print is restored the hint controls rest (the strength stays)."""
        self._restoring = on
        for w in self.hint_box.findChildren(QWidget):
            if w is not self.info:
                w.setEnabled(not on)
        self.info.setText(RESTING_TEXT if on else IDLE_TEXT)

    def set_hint_count(self, n: int) -> None:
        self.clear_btn.setEnabled(n > 0)

    # ------------------------------------------------------------------ user input
    def _on_strength(self, value: int) -> None:
        self.strength_label.setText(f"{value} %")
        self.strength_changed.emit(value / 100.0)

    def _on_swatch(self, i: int) -> None:
        rgb = self.swatches[i].property("rgb")
        if rgb is not None:
            self.colour_chosen.emit(tuple(rgb))

    def _show_reach(self, value: int) -> None:
        self.reach_label.setText(f"{value} %")

    def _on_reach(self, value: int) -> None:
        self._show_reach(value)
        self.reach_changed.emit(slider_to_reach(value))
