"""The main window: before/after views, hint editing, strength, saving, batch and settings."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from rehue import __version__, contract, photo_io
from rehue.contract import Hint
from rehue.engine import Colorizer, EngineError
from rehue.logsetup import log_file
from rehue.resources import assets_dir
from desktop import workers
from desktop.dialogs import BatchDialog, SettingsDialog
from desktop.hints import HintStore
from desktop.views import ImageView, hint_qcolor, qimage_from_rgb

log = logging.getLogger(__name__)

OPEN_FILTER = "Photos (*.jpg *.jpeg *.jpe *.png *.tif *.tiff *.bmp *.webp);;All files (*)"
SAVE_FILTERS = {"jpeg": "JPEG (*.jpg *.jpeg)", "png": "PNG (*.png)", "tiff": "TIFF (*.tif *.tiff)"}
MAX_RECENT = 8
IDLE_MS = 350  # after this pause in editing, render the sharper display image


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings("Rehue", "Rehue")
        self.setWindowTitle("Rehue")
        icon = assets_dir() / "rehue.png"
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.setAcceptDrops(True)
        self.colorizer: Colorizer | None = None
        self.opened: workers.OpenedPhoto | None = None
        self.current_path: Path | None = None
        self.saved_path: Path | None = None
        self.last_result: workers.PreviewResult | None = None
        self.photo_generation = 0
        self.hints = HintStore(self)
        self.scheduler = workers.PreviewScheduler(self)
        self.scheduler.ready.connect(self._on_preview)
        self.scheduler.failed.connect(self._error)
        self.idle_timer = QTimer(self, singleShot=True, interval=IDLE_MS)
        self.idle_timer.timeout.connect(lambda: self.request_preview("display"))
        self._syncing = False

        self._build_views()
        self._build_panel()
        self._build_actions()
        self._build_status()
        self.hints.changed.connect(self._on_hints_changed)
        self.hints.selection_changed.connect(self._on_selection)
        self.hints.undo_stack.cleanChanged.connect(lambda _c: self._update_title())
        self.restoreGeometry(self.settings.value("window/geometry", b""))
        self.set_split(self.settings.value("view/split", False, bool))
        self.load_model()
        self._update_actions()

    # ================================================================== construction
    def _build_views(self) -> None:
        self.before_view = ImageView(placeholder="Drop an old photo here\nor use File ▸ Open (Ctrl+O)")
        self.after_view = ImageView(placeholder="The colour version appears here.\nClick the photo to add a colour hint.")
        self.before_label = QLabel("Original")
        self.after_label = QLabel("Colour")
        for lab in (self.before_label, self.after_label):
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setStyleSheet("font-weight: bold; padding: 2px")
        left, right = QWidget(), QWidget()
        for w, lab, view in ((left, self.before_label, self.before_view), (right, self.after_label, self.after_view)):
            lay = QVBoxLayout(w)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(0)
            lay.addWidget(lab)
            lay.addWidget(view, 1)
        self.right_pane = right
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        for view, other in ((self.before_view, self.after_view), (self.after_view, self.before_view)):
            view.clicked.connect(self._on_click)
            view.hint_moved.connect(self.hints.move)
            view.hint_selected.connect(self.hints.select)
            view.hint_delete_requested.connect(self.hints.delete)
            view.view_changed.connect(lambda v=view, o=other: self._sync(v, o))
        self.before_view.zoom_changed.connect(self._on_zoom)

    def _build_panel(self) -> None:
        panel = QWidget()
        panel.setMinimumWidth(230)
        panel.setMaximumWidth(280)
        lay = QVBoxLayout(panel)
        strength_box = QGroupBox("Colour strength")
        sl = QHBoxLayout(strength_box)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 200)
        self.strength.setValue(int(round(float(self.settings.value("strength", 1.0)) * 100)))
        self.strength.setToolTip("0 % is the original gray, 100 % the model's colour, 200 % twice as vivid")
        self.strength_label = QLabel()
        self.strength.valueChanged.connect(self._on_strength)
        sl.addWidget(self.strength, 1)
        sl.addWidget(self.strength_label)
        self._on_strength(self.strength.value(), request=False)
        lay.addWidget(strength_box)

        hint_box = QGroupBox("Colour hint")
        hl = QVBoxLayout(hint_box)
        self.hint_info = QLabel("Click the photo to place a hint. Drag to move; right-click or Del deletes.")
        self.hint_info.setWordWrap(True)
        hl.addWidget(self.hint_info)
        hl.addWidget(QLabel("Suggested colours:"))
        grid = QGridLayout()
        self.swatches: list[QPushButton] = []
        for i in range(6):
            b = QPushButton()
            b.setFixedSize(34, 34)
            b.clicked.connect(lambda _=False, i=i: self._apply_swatch(i))
            grid.addWidget(b, i // 3, i % 3)
            self.swatches.append(b)
        hl.addLayout(grid)
        self.pick_btn = QPushButton("Choose colour…")
        self.pick_btn.clicked.connect(self.pick_colour)
        hl.addWidget(self.pick_btn)
        size_row = QHBoxLayout()
        size_row.addWidget(QLabel("Size:"))
        self.radius = QSpinBox()
        self.radius.setRange(0, 8)
        self.radius.setValue(2)
        self.radius.setToolTip("Half-size of the hint patch at the model's working resolution")
        self.radius.valueChanged.connect(self._on_radius)
        size_row.addWidget(self.radius)
        size_row.addStretch(1)
        hl.addLayout(size_row)
        self.delete_btn = QPushButton("Delete hint")
        self.delete_btn.clicked.connect(self.delete_selected)
        self.clear_btn = QPushButton("Clear all hints")
        self.clear_btn.clicked.connect(self.hints.clear)
        hl.addWidget(self.delete_btn)
        hl.addWidget(self.clear_btn)
        lay.addWidget(hint_box)
        lay.addStretch(1)
        self.panel = panel

        central = QSplitter(Qt.Orientation.Horizontal)
        central.addWidget(self.splitter)
        central.addWidget(panel)
        central.setStretchFactor(0, 1)
        self.setCentralWidget(central)
        self.resize(1280, 760)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_actions(self) -> None:
        S = QKeySequence.StandardKey
        self.open_act = self._action("&Open…", self.open_dialog, S.Open, "Open a photo")
        self.save_act = self._action("&Save", self.save, S.Save, "Save the colour photo at full resolution")
        self.save_as_act = self._action("Save &As…", self.save_as, S.SaveAs)
        self.compare_act = self._action("Export &Comparison…", self.export_comparison, "Ctrl+E", "Save original and colour side by side")
        self.batch_act = self._action("&Batch Colorize Folder…", self.open_batch, "Ctrl+B", "Colorize a whole folder")
        self.quit_act = self._action("&Quit", self.close, S.Quit)
        self.undo_act = self.hints.undo_stack.createUndoAction(self, "&Undo")
        self.undo_act.setShortcut(QKeySequence(S.Undo))
        self.redo_act = self.hints.undo_stack.createRedoAction(self, "&Redo")
        self.redo_act.setShortcuts([QKeySequence(S.Redo), QKeySequence("Ctrl+Shift+Z")])
        self.delete_act = self._action("&Delete Hint", self.delete_selected, S.Delete)
        self.clear_act = self._action("C&lear Hints", self.hints.clear, "Ctrl+Shift+Backspace")
        self.settings_act = self._action("&Settings…", self.open_settings, S.Preferences)
        self.fit_act = self._action("&Fit to Window", self.fit, "Ctrl+0")
        self.actual_act = self._action("&100 %", lambda: self.set_zoom(1.0), "Ctrl+1")
        self.zoom_in_act = self._action("Zoom &In", lambda: self.zoom_by(1.25), S.ZoomIn)
        self.zoom_out_act = self._action("Zoom &Out", lambda: self.zoom_by(0.8), S.ZoomOut)
        self.side_act = self._action("&Side by Side", lambda: self.set_split(False), "Ctrl+2")
        self.split_act = self._action("S&plit View", lambda: self.set_split(True), "Ctrl+3")
        group = QActionGroup(self)
        for a in (self.side_act, self.split_act):
            a.setCheckable(True)
            group.addAction(a)
        self.about_act = self._action("&About Rehue", self.about)
        self.log_act = self._action("Show &Log File", self.show_log)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.open_act)
        self.recent_menu = m.addMenu("Open &Recent")
        m.addSeparator()
        for a in (self.save_act, self.save_as_act, self.compare_act):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.batch_act)
        m.addSeparator()
        m.addAction(self.quit_act)
        m = mb.addMenu("&Edit")
        for a in (self.undo_act, self.redo_act):
            m.addAction(a)
        m.addSeparator()
        for a in (self.delete_act, self.clear_act):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.settings_act)
        m = mb.addMenu("&View")
        for a in (self.side_act, self.split_act):
            m.addAction(a)
        m.addSeparator()
        for a in (self.fit_act, self.actual_act, self.zoom_in_act, self.zoom_out_act):
            m.addAction(a)
        m = mb.addMenu("&Help")
        m.addAction(self.about_act)
        m.addAction(self.log_act)
        style = self.style()
        SP = QStyle.StandardPixmap
        for act, pix in ((self.open_act, SP.SP_DialogOpenButton), (self.save_act, SP.SP_DialogSaveButton),
                         (self.batch_act, SP.SP_DirIcon), (self.undo_act, SP.SP_ArrowBack), (self.redo_act, SP.SP_ArrowForward)):
            act.setIcon(style.standardIcon(pix))
        tb = self.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.open_act, self.save_act, self.batch_act):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.undo_act, self.redo_act):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.side_act, self.split_act, self.fit_act, self.actual_act):
            tb.addAction(a)
        self._fill_recent()

    def _build_status(self) -> None:
        self.device_label = QLabel()
        self.timing_label = QLabel()
        self.zoom_label = QLabel()
        sb = self.statusBar()
        sb.addPermanentWidget(self.timing_label)
        sb.addPermanentWidget(self.zoom_label)
        sb.addPermanentWidget(self.device_label)

    # ================================================================== model
    def load_model(self) -> None:
        """(Re)load the model with the provider and file from the settings."""
        provider = self.settings.value("provider", "auto", str)
        model = self.settings.value("model", "", str) or None
        try:
            self.colorizer = Colorizer(model, provider=provider)
        except EngineError as exc:
            self.colorizer = None
            self.device_label.setText("No model")
            QMessageBox.critical(self, "Rehue", f"The colorization model could not be loaded.\n\n{exc}")
            return
        meta = self.colorizer.metadata
        self.device_label.setText(f"{meta['model_name']} {meta['model_version']} · {self.colorizer.device_name}")
        self.device_label.setToolTip("ONNX Runtime providers: " + ", ".join(self.colorizer.providers))
        if provider == "cuda" and self.colorizer.device_name != "CUDA":
            self.statusBar().showMessage("CUDA is not available on this computer; running on the CPU.", 8000)
        if self.opened is not None:
            self.open_path(self.current_path)

    # ================================================================== opening
    def open_dialog(self) -> None:
        start = self.settings.value("last_dir", str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", start, OPEN_FILTER)
        if path:
            self.open_path(Path(path))

    def open_paths(self, paths: list[Path]) -> None:
        """Open one photo, or hand several photos / folders to the batch dialog."""
        paths = [p for p in paths if str(p)]
        if not paths:
            return
        if len(paths) == 1 and not paths[0].is_dir():
            self.open_path(paths[0])
        else:
            self.open_batch(paths)

    def open_path(self, path: Path | None) -> None:
        if path is None or self.colorizer is None:
            return
        if not self._confirm_discard():
            return
        self.photo_generation += 1
        gen = self.photo_generation
        self.statusBar().showMessage(f"Opening {path.name}…")
        _busy_cursor(True)
        job = workers.Job(workers.open_photo, path, self.colorizer)
        job.signals.result.connect(lambda opened, gen=gen, path=path: self._on_opened(opened, path, gen))
        job.signals.errored.connect(lambda msg: self._error(msg, title="Cannot open this photo"))
        job.signals.finished.connect(lambda: _busy_cursor(False))
        self._run(job)

    def _on_opened(self, opened: workers.OpenedPhoto, path: Path, gen: int) -> None:
        if gen != self.photo_generation:
            return
        self.opened = opened
        self.current_path = path
        self.saved_path = None
        self.last_result = None
        self.hints.reset()
        img = qimage_from_rgb(opened.display_rgb)
        full_w = opened.photo.size[0]
        self.before_view.set_image(img, full_w)
        self.after_view.set_image(img, full_w)
        self.after_view.fit()
        self.before_view.fit()
        self.settings.setValue("last_dir", str(path.parent))
        self._add_recent(path)
        w, h = opened.photo.size
        depth = "16-bit" if opened.photo.is_16bit else "8-bit"
        note = f" — {opened.photo.notes[0]}" if opened.photo.notes else ""
        self.statusBar().showMessage(f"{path.name}: {w} × {h}, {depth}{note}", 10000)
        self._update_title()
        self._update_actions()
        self.request_preview("preview")

    # ================================================================== preview
    def request_preview(self, quality: str = "preview") -> None:
        if self.opened is None or self.colorizer is None:
            return
        req = workers.PreviewRequest(self.hints.hints(), self.strength.value() / 100.0, quality, self.photo_generation)
        self.scheduler.request(self.opened, self.colorizer, req)
        if quality == "preview":
            self.idle_timer.start()

    def _on_preview(self, result: workers.PreviewResult) -> None:
        if result.request.generation != self.photo_generation or self.opened is None:
            return
        self.last_result = result
        img = qimage_from_rgb(result.rgb)
        if self.after_view.split is False:
            self.after_view.replace_image(img)
        self.before_view.set_after_image(img)
        kind = "preview" if result.request.quality == "preview" else "display"
        self.timing_label.setText(f"{kind} {result.seconds * 1000:.0f} ms")
        self._refresh_panel()

    def _on_hints_changed(self) -> None:
        for v in (self.before_view, self.after_view):
            v.sync_markers(self.hints.items(), self.hints.selected)
        self._update_actions()
        self._update_title()
        self.request_preview("preview")

    def _on_strength(self, value: int, request: bool = True) -> None:
        self.strength_label.setText(f"{value} %")
        self.settings.setValue("strength", value / 100.0)
        if request:
            self.request_preview("preview")

    # ================================================================== hints
    def _on_click(self, x: float, y: float) -> None:
        if self.opened is None:
            return
        colours = self._suggestions(x, y)
        rgb = colours[0] if colours else (128, 128, 128)
        hint = Hint.from_rgb(x, y, rgb, radius=self.radius.value())
        self.hints.add(hint)

    def _suggestions(self, x: float, y: float) -> list[tuple[int, int, int]]:
        if self.last_result is None or self.colorizer is None or self.opened is None:
            return []
        lw = self.opened.prepared.l_work
        lv = float(lw[min(int(y * lw.shape[0]), lw.shape[0] - 1), min(int(x * lw.shape[1]), lw.shape[1] - 1)])
        return self.colorizer.suggest_colors(self.last_result.chroma, x, y, l_value=max(35.0, min(lv, 80.0)), k=6)

    def _on_selection(self, hint_id) -> None:
        for v in (self.before_view, self.after_view):
            v.sync_markers(self.hints.items(), hint_id)
        hint = self.hints.get(hint_id) if hint_id is not None else None
        if hint is not None:
            self.radius.blockSignals(True)
            self.radius.setValue(hint.radius)
            self.radius.blockSignals(False)
        self._refresh_panel()
        self._update_actions()

    def _refresh_panel(self) -> None:
        hint_id = self.hints.selected
        hint = self.hints.get(hint_id) if hint_id is not None else None
        colours = self._suggestions(hint.x, hint.y) if hint else []
        for i, b in enumerate(self.swatches):
            if i < len(colours):
                c = QColor(*colours[i])
                b.setStyleSheet(f"background-color: {c.name()}; border: 1px solid #555")
                b.setToolTip(f"Use {c.name()} for this hint")
                b.setEnabled(True)
                b.setProperty("rgb", colours[i])
            else:
                b.setStyleSheet("")
                b.setEnabled(False)
                b.setProperty("rgb", None)
        if hint:
            c = hint_qcolor(hint)
            self.hint_info.setText(f"Hint {hint_id} at ({hint.x:.0%}, {hint.y:.0%}), colour {c.name()}. Pick a suggestion or choose any colour.")
        else:
            self.hint_info.setText("Click the photo to place a hint. Drag to move; right-click or Del deletes.")

    def _apply_swatch(self, i: int) -> None:
        rgb = self.swatches[i].property("rgb")
        if rgb is None or self.hints.selected is None:
            return
        self._recolor_selected(tuple(rgb))

    def _recolor_selected(self, rgb: tuple[int, int, int]) -> None:
        hint_id = self.hints.selected
        if hint_id is None:
            return
        lab = contract.rgb_to_lab(np.array([[rgb]], np.uint8))[0, 0]
        self.hints.recolor(hint_id, float(lab[1]), float(lab[2]))

    def pick_colour(self) -> None:
        hint_id = self.hints.selected
        if hint_id is None:
            return
        c = QColorDialog.getColor(hint_qcolor(self.hints.get(hint_id)), self, "Hint colour")
        if c.isValid():
            self._recolor_selected((c.red(), c.green(), c.blue()))

    def _on_radius(self, value: int) -> None:
        if self.hints.selected is not None:
            self.hints.resize(self.hints.selected, value)

    def delete_selected(self) -> None:
        if self.hints.selected is not None:
            self.hints.delete(self.hints.selected)

    # ================================================================== views
    def _sync(self, source: ImageView, target: ImageView) -> None:
        if self._syncing or self.settings is None or not target.isVisible():
            return
        self._syncing = True
        try:
            target.follow(source)
        finally:
            self._syncing = False

    def _on_zoom(self, factor: float) -> None:
        self.zoom_label.setText(f"{factor * 100:.0f} %")

    def fit(self) -> None:
        self.before_view.fit()
        self._sync(self.before_view, self.after_view)

    def set_zoom(self, factor: float) -> None:
        self.before_view.set_zoom(factor)
        self._sync(self.before_view, self.after_view)

    def zoom_by(self, step: float) -> None:
        self.before_view.zoom_by(step)
        self._sync(self.before_view, self.after_view)

    def set_split(self, on: bool) -> None:
        self.settings.setValue("view/split", on)
        (self.split_act if on else self.side_act).setChecked(True)
        self.right_pane.setVisible(not on)
        self.before_view.set_split(on)
        self.before_label.setText("Original  |  Colour — drag the line" if on else "Original")
        if self.last_result is not None:
            img = qimage_from_rgb(self.last_result.rgb)
            self.before_view.set_after_image(img)
            self.after_view.replace_image(img)
        QTimer.singleShot(0, self.fit)  # after the layout has given the view its new size

    # ================================================================== saving
    def _default_save_path(self) -> Path:
        assert self.current_path is not None
        fmt = self.settings.value("save/format", None) or photo_io.format_for(self.current_path)
        return self.current_path.with_name(f"{self.current_path.stem}_colour{photo_io.output_suffix(fmt)}")

    def save(self) -> None:
        if self.saved_path is None:
            self.save_as()
        else:
            self._save_to(self.saved_path)

    def save_as(self) -> None:
        if self.opened is None:
            return
        default = self._default_save_path()
        fmt = photo_io.format_for(default)
        filters = ";;".join(SAVE_FILTERS.values())
        path, chosen = QFileDialog.getSaveFileName(self, "Save colour photo", str(default), filters, SAVE_FILTERS[fmt])
        if not path:
            return
        path = Path(path)
        if not path.suffix:
            fmt = next((k for k, v in SAVE_FILTERS.items() if v == chosen), fmt)
            path = path.with_suffix(photo_io.output_suffix(fmt))
        self._save_to(path)

    def _save_to(self, path: Path) -> None:
        if self.opened is None or self.colorizer is None:
            return
        if self.current_path is not None and path.resolve() == self.current_path.resolve():
            answer = QMessageBox.warning(
                self, "Replace the original?",
                f"{path.name} is the original photo. Replace it with the colour version? The gray original will be lost.",
                QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        progress = QProgressDialog(f"Saving {path.name} at full resolution…", "", 0, 0, self)
        progress.setCancelButton(None)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)
        job = workers.Job(workers.save_full, self.opened, self.colorizer, self.hints.hints(), self.strength.value() / 100.0, path, photo_io.format_for(path))
        job.signals.result.connect(lambda p: self._on_saved(p))
        job.signals.errored.connect(lambda msg: self._error(msg, title="Could not save"))
        job.signals.finished.connect(progress.close)
        self._run(job)

    def _on_saved(self, path: Path) -> None:
        self.saved_path = path
        self.hints.undo_stack.setClean()
        self.statusBar().showMessage(f"Saved {path}", 8000)
        self._update_title()

    def export_comparison(self) -> None:
        if self.opened is None or self.last_result is None:
            return
        default = self.current_path.with_name(f"{self.current_path.stem}_before-after.jpg") if self.current_path else Path("comparison.jpg")
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison", str(default), "JPEG (*.jpg);;PNG (*.png)")
        if not path:
            return
        import cv2

        before = self.opened.display_rgb
        after = self.last_result.rgb
        if after.shape[:2] != before.shape[:2]:
            after = cv2.resize(after, (before.shape[1], before.shape[0]), interpolation=cv2.INTER_LINEAR)
        gap = np.full((before.shape[0], max(8, before.shape[1] // 100), 3), 255, np.uint8)
        try:
            photo_io.write_photo(Path(path), np.hstack([before, gap, after]))
        except photo_io.PhotoError as exc:
            self._error(str(exc), title="Could not export")
            return
        self.statusBar().showMessage(f"Saved comparison {path}", 8000)

    # ================================================================== batch, settings, help
    def open_batch(self, inputs: list[Path] | None = None) -> None:
        if self.colorizer is None:
            return
        dlg = BatchDialog(lambda: self.colorizer, self.settings, inputs if isinstance(inputs, list) else None, self)
        self.batch_dialog = dlg
        dlg.show()

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self.colorizer.device_name if self.colorizer else "no model", self)
        if dlg.exec():
            self.load_model()

    def about(self) -> None:
        meta = self.colorizer.metadata if self.colorizer else {}
        QMessageBox.about(
            self, "About Rehue",
            f"<h3>Rehue {__version__}</h3><p>Brings colour back to black-and-white photographs.</p>"
            f"<p>Model: {meta.get('model_name', '?')} {meta.get('model_version', '')}, running on "
            f"{self.colorizer.device_name if self.colorizer else '—'}.</p>"
            "<p>After Zhang, Isola &amp; Efros (2016) and Zhang et al. (2017).</p>",
        )

    def show_log(self) -> None:
        path = log_file()
        QMessageBox.information(self, "Log file", f"Rehue writes its log to:\n{path}" if path else "Logging to a file is not available.")

    # ================================================================== helpers
    def _run(self, job: workers.Job) -> None:
        workers.start(job)

    def _error(self, message: str, title: str = "Rehue") -> None:
        self.statusBar().clearMessage()
        QMessageBox.warning(self, title, message)

    def _update_title(self) -> None:
        name = self.current_path.name if self.current_path else ""
        dirty = self.opened is not None and not self.hints.undo_stack.isClean()
        self.setWindowTitle(f"{name}{' *' if dirty else ''} — Rehue" if name else "Rehue")

    def _update_actions(self) -> None:
        has = self.opened is not None
        for a in (self.save_act, self.save_as_act, self.compare_act, self.fit_act, self.actual_act, self.zoom_in_act, self.zoom_out_act):
            a.setEnabled(has)
        sel = self.hints.selected is not None
        for w in (self.delete_act, self.delete_btn, self.pick_btn):
            w.setEnabled(sel)
        self.clear_act.setEnabled(len(self.hints) > 0)
        self.clear_btn.setEnabled(len(self.hints) > 0)

    def _confirm_discard(self) -> bool:
        if self.opened is None or self.hints.undo_stack.isClean() or len(self.hints) == 0:
            return True
        answer = QMessageBox.question(
            self, "Rehue", "Your hints on this photo are not saved. Open another photo anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in self.settings.value("recent", [], list) or [] if p]
        for p in recent:
            self.recent_menu.addAction(Path(p).name, lambda p=p: self.open_path(Path(p))).setStatusTip(p)
        self.recent_menu.setEnabled(bool(recent))

    def _add_recent(self, path: Path) -> None:
        recent = [p for p in self.settings.value("recent", [], list) or [] if p and p != str(path)]
        self.settings.setValue("recent", [str(path), *recent][:MAX_RECENT])
        self._fill_recent()

    # ================================================================== events
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.open_paths(paths)

    def closeEvent(self, event) -> None:
        if not self._confirm_discard():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.idle_timer.stop()
        self.scheduler.shutdown()
        super().closeEvent(event)


def _busy_cursor(busy: bool) -> None:
    """Show a busy cursor while a photo opens."""
    from PySide6.QtWidgets import QApplication

    if busy:
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
    else:
        QApplication.restoreOverrideCursor()
