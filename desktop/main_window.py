"""The main window: it orchestrates. The photo session (``rehue.session``) does the work off the
GUI thread; the views show it (``views``), the side panel edits hints (``hint_panel``), the
actions and menus live in ``menus``."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop import menus, workers
from desktop.dialogs import MARK_SETTING, BatchDialog, SettingsDialog, show_crash_dialog
from desktop.hint_panel import HintPanel
from desktop.hints import HintStore
from desktop.views import ImageView, qimage_from_rgb
from rehue import __version__, contract, photo_io
from rehue.contract import Hint
from rehue.engine import Colorizer, EngineError
from rehue.logsetup import log_file
from rehue.resources import assets_dir
from rehue.session import PhotoSession, PreviewRequest, PreviewResult, side_by_side

log = logging.getLogger(__name__)

OPEN_FILTER = f"Photos ({' '.join('*' + s for s in sorted(photo_io.READ_SUFFIXES))});;All files (*)"
SAVE_FILTERS = {name: f"{label} ({' '.join('*' + s for s in suffixes)})" for name, (label, suffixes) in photo_io.SAVE_FORMATS.items()}
MAX_RECENT = 8
COMPARE_KEY = Qt.Key.Key_Backslash  # hold to see the original in place of the colour (as in Lightroom)
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
        self.session: PhotoSession | None = None
        self.current_path: Path | None = None
        self.saved_path: Path | None = None
        self.last_result: PreviewResult | None = None
        self.photo_generation = 0
        self.closing = False
        self.hints = HintStore(self)
        self.scheduler = workers.PreviewScheduler(self)
        self.scheduler.ready.connect(self._on_preview)
        self.scheduler.failed.connect(self._error)
        self.idle_timer = QTimer(self, singleShot=True, interval=IDLE_MS)
        self.idle_timer.timeout.connect(lambda: self.request_preview("display"))
        self._syncing = False
        self._after_save: Callable[[], None] | None = None  # what to do once the save the prompt asked for is written

        self._build_views()
        self.panel = HintPanel(HintStore.DEFAULT_STRENGTH, float(self.settings.value("hints/reach", contract.DEFAULT_REACH)))
        self.panel.strength_changed.connect(self.hints.set_strength)
        self.hints.strength_changed.connect(self.panel.show_strength)
        self.panel.colour_chosen.connect(self._recolor_selected)
        self.panel.pick_requested.connect(self.pick_colour)
        self.panel.reach_changed.connect(self._on_reach)
        self.panel.delete_requested.connect(self.delete_selected)
        self.panel.clear_requested.connect(self.hints.clear)
        central = QSplitter(Qt.Orientation.Horizontal)
        photo_side = QWidget()
        lay = QVBoxLayout(photo_side)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.restore_banner)
        lay.addWidget(self.splitter, 1)
        central.addWidget(photo_side)
        central.addWidget(self.panel)
        central.setStretchFactor(0, 1)
        self.setCentralWidget(central)
        self.resize(1280, 760)
        self.act = menus.create_actions(self)
        menus.install(self, self.act)
        self._fill_recent()
        self._build_status()
        self.hints.changed.connect(self._on_hints_changed)
        self.hints.restoring_changed.connect(self._on_restoring)
        self.hints.selection_changed.connect(self._on_selection)
        self.hints.undo_stack.cleanChanged.connect(self._on_clean_changed)
        if not self.restoreGeometry(self.settings.value("window/geometry", b"")):
            self._use_the_screen()
        self.comparing = False  # the original shown in place of the colour while the compare key is held
        QApplication.instance().installEventFilter(self)
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
            view.hint_moved.connect(self._on_hint_moved)
            view.hint_selected.connect(self.hints.select)
            view.hint_delete_requested.connect(self.hints.delete)
            view.view_changed.connect(lambda v=view, o=other: self._sync(v, o))
            view.zoom_changed.connect(self._on_zoom)  # either pane: the readout follows the wheel
        self._build_restore_banner()

    def _build_restore_banner(self) -> None:
        """The offer shown when a faded colour print opens: restore its colours, or leave it."""
        self.restore_banner = QFrame()
        self.restore_banner.setObjectName("restore-banner")
        self.restore_banner.setStyleSheet("#restore-banner { background: #fff4d6; border-bottom: 1px solid #e0c36a; }")
        self.restore_text = QLabel()
        self.restore_text.setWordWrap(True)
        self.restore_button = QPushButton("Restore Its Colours")
        self.restore_button.clicked.connect(lambda: self.hints.set_restoring(True))
        dismiss = QPushButton("Keep As It Is")
        dismiss.clicked.connect(self.restore_banner.hide)
        row = QHBoxLayout(self.restore_banner)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.restore_text, 1)
        row.addWidget(self.restore_button)
        row.addWidget(dismiss)
        self.restore_banner.hide()

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
        reason = self.colorizer.fallback_reason
        self.device_label.setToolTip("ONNX Runtime providers: " + ", ".join(self.colorizer.providers)
                                     + (f"\nNot on the GPU: {reason}" if reason else ""))
        if reason and provider != "cpu":
            self.statusBar().showMessage(f"Running on the CPU: {reason}", 15000)
        if self.session is not None:  # the open photo on the new model, with the edits not yet saved
            self.open_path(self.current_path, confirm=False, keep=(self.hints.hints(), self.hints.strength, self.saved_path))

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

    def open_path(self, path: Path | None, confirm: bool = True,
                  keep: tuple[tuple[Hint, ...], float, Path | None] | None = None) -> None:
        """Open a photo; ``keep``: (hints, strength, saved path) to carry over when the same photo is
        opened again on another model (Settings), instead of starting afresh."""
        if path is None or self.colorizer is None:
            return
        if confirm and not self._confirm_discard("Otherwise they are lost when the next photo opens.",
                                                  then=lambda: self.open_path(path, confirm=False)):
            return
        self.photo_generation += 1
        gen = self.photo_generation
        self.statusBar().showMessage(f"Opening {path.name}…")
        _busy_cursor(True)
        job = workers.Job(PhotoSession.open, path, self.colorizer)
        job.signals.result.connect(lambda session, gen=gen, path=path: self._on_opened(session, path, gen, keep))
        job.signals.errored.connect(lambda exc: self._error(exc, title="Cannot open this photo"))
        job.signals.finished.connect(lambda: _busy_cursor(False))
        workers.start(job)

    def _on_opened(self, session: PhotoSession, path: Path, gen: int,
                   keep: tuple[tuple[Hint, ...], float, Path | None] | None = None) -> None:
        if gen != self.photo_generation or self.closing:
            return
        self.session = session
        self.current_path = path
        self.saved_path = None
        self.last_result = None
        self.hints.reset()
        img = qimage_from_rgb(session.display_rgb)
        full_w = session.photo.size[0]
        self.before_view.set_image(img, full_w)
        self.after_view.set_image(img, full_w)
        self.after_view.fit()
        self.before_view.fit()
        self.settings.setValue("last_dir", str(path.parent))
        self._add_recent(path)
        w, h = session.photo.size
        depth = "16-bit" if session.photo.is_16bit else "8-bit"
        note = f" — {session.photo.notes[0]}" if session.photo.notes else ""
        self.statusBar().showMessage(f"{path.name}: {w} × {h}, {depth}{note}", 10000)
        self._update_title()
        self._update_actions()
        self._offer_restoring(session)
        if keep is not None:
            hints, strength, self.saved_path = keep
            if hints or strength != HintStore.DEFAULT_STRENGTH:
                self.hints.restore(tuple(session.snap(h) for h in hints), strength)  # still unsaved: the title keeps its *
        else:
            self._offer_saved_hints(session)
        self.request_preview("preview")

    def _offer_restoring(self, session: PhotoSession) -> None:
        """A faded colour print gets the banner's offer; any colour photo can be restored from Edit."""
        a = session.assessment
        if a is not None and a.faded:
            self.restore_text.setText(
                f"<b>{session.path.name} looks like a faded colour print.</b> Rehue can bring its colours back "
                f"(they would change by {a.change:.0f} ΔE on average) instead of colorizing it. Ctrl+R switches at any time.")
            self.restore_banner.show()
        else:
            self.restore_banner.hide()

    def toggle_restoring(self) -> None:
        """Edit ▸ Restore Faded Colours: an undoable switch, for any colour photo."""
        if self.session is None or not self.session.can_restore:
            self.act.restore.setChecked(False)
            return
        self.hints.set_restoring(not self.hints.restoring)

    def _on_restoring(self, on: bool) -> None:
        self.act.restore.setChecked(on)
        self.after_label.setText("Restored" if on else "Colour")
        self.panel.set_restoring(on)
        if on:
            self.restore_banner.hide()
            self.statusBar().showMessage("Restoring the faded colours; the strength slider sets how far. "
                                         "Hints colour black-and-white photos, so they rest while restoring.", 10000)
        self._sync_markers()

    def _offer_saved_hints(self, session: PhotoSession) -> None:
        saved = session.saved_hints()
        if saved is None or not saved.hints:
            return
        n = len(saved.hints)
        answer = QMessageBox.question(
            self, "Restore your hints?",
            f"{'One colour hint was' if n == 1 else f'{n} colour hints were'} saved with {session.path.name}"
            f"{' on ' + human_time(saved.saved) if saved.saved else ''}. Restore them to keep working?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.hints.restore(tuple(session.snap(h) for h in saved.hints), saved.strength)
            self.hints.undo_stack.setClean()

    # ================================================================== preview
    def request_preview(self, quality: str = "preview") -> None:
        if self.session is None or self.colorizer is None:
            return
        req = PreviewRequest(self.hints.hints(), self.hints.strength, quality, self.photo_generation, restore=self.hints.restoring)
        self.scheduler.request(self.session, req)
        if quality == "preview":
            self.idle_timer.start()

    def _on_preview(self, result: PreviewResult) -> None:
        if result.request.generation != self.photo_generation or self.session is None:
            return
        self.last_result = result
        img = qimage_from_rgb(result.rgb)
        if not self.comparing:  # the original stays up while the compare key is held; the release shows this result
            if self.after_view.split is False:
                self.after_view.replace_image(img)
            self.before_view.set_after_image(img)
        kind = "preview" if result.request.quality == "preview" else "display"
        self.timing_label.setText(f"{kind} {result.seconds * 1000:.0f} ms")
        self._refresh_panel()

    def _on_hints_changed(self) -> None:
        self._sync_markers()
        self._update_actions()
        self._update_title()
        self.request_preview("preview")

    # ================================================================== hints
    def _marker_colour(self, hint: Hint) -> tuple[int, int, int]:
        return self.session.rendered_rgb(hint) if self.session else (128, 128, 128)

    def _sync_markers(self) -> None:
        items = [] if self.hints.restoring else self.hints.items()  # hints rest while a colour photo is restored
        for v in (self.before_view, self.after_view):
            v.sync_markers(items, self.hints.selected, self._marker_colour)

    def _on_click(self, x: float, y: float) -> None:
        if self.session is None:
            return
        if self.hints.restoring:
            self.statusBar().showMessage("Hints colour black-and-white photos: turn off Edit ▸ Restore Faded Colours "
                                         "(Ctrl+R) to colorize this photo with hints instead.", 8000)
            return
        colours = self._suggestions(x, y)
        rgb = colours[0] if colours else (128, 128, 128)
        self.hints.add(self.session.snap(Hint.from_rgb(x, y, rgb, reach=self.panel.reach_value())))

    def _on_hint_moved(self, hint_id: int, x: float, y: float) -> None:
        """A moved hint keeps its colour, snapped again to the gamut at its new spot."""
        old = self.hints.get(hint_id)
        if old is None or self.session is None:
            return
        self.hints.replace(hint_id, self.session.snap(replace(old, x=x, y=y)), "Move hint")

    def _suggestions(self, x: float, y: float) -> list[tuple[int, int, int]]:
        if self.session is None:
            return []
        chroma = self.last_result.chroma if self.last_result else self.session.last_chroma
        return self.session.suggestions(chroma, x, y) if chroma is not None else []

    def _on_selection(self, hint_id) -> None:
        self._sync_markers()
        self._refresh_panel()
        self._update_actions()

    def _refresh_panel(self) -> None:
        hint_id = self.hints.selected
        hint = self.hints.get(hint_id) if hint_id is not None else None
        if hint is None:
            self.panel.show_hint(None, None, [])
        else:
            self.panel.show_hint(hint_id, self._marker_colour(hint), self._suggestions(hint.x, hint.y), hint.reach)

    def _recolor_selected(self, rgb: tuple[int, int, int]) -> None:
        hint_id = self.hints.selected
        if hint_id is None or self.session is None:
            return
        old = self.hints.get(hint_id)
        lab = contract.rgb_to_lab(np.array([[rgb]], np.uint8))[0, 0]
        self.hints.replace(hint_id, self.session.snap(replace(old, a=float(lab[1]), b=float(lab[2]))), "Change hint colour")

    def pick_colour(self) -> None:
        hint_id = self.hints.selected
        if hint_id is None:
            return
        c = QColorDialog.getColor(QColor(*self._marker_colour(self.hints.get(hint_id))), self, "Hint colour")
        if c.isValid():
            self._recolor_selected((c.red(), c.green(), c.blue()))

    def _on_reach(self, reach: float) -> None:
        self.settings.setValue("hints/reach", reach)
        if self.hints.selected is not None:
            self.hints.set_reach(self.hints.selected, reach)

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
        (self.act.split if on else self.act.side).setChecked(True)
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
        what = "restored" if self.hints.restoring else "colour"
        return self.current_path.with_name(f"{self.current_path.stem}_{what}{photo_io.output_suffix(fmt)}")

    def save(self) -> None:
        if self.saved_path is None:
            self.save_as()
        else:
            self._save_to(self.saved_path)

    def save_as(self) -> None:
        if self.session is None:
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
        if self.session is None or self.colorizer is None:
            return
        if self.current_path is not None and path.resolve() == self.current_path.resolve():
            answer = QMessageBox.warning(
                self, "Replace the original?",
                f"{path.name} is the original photo. Replace it with the colour version? The gray original will be lost.",
                QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        w, h = self.session.photo.size
        progress = QProgressDialog(f"Saving {path.name} at full resolution ({w * h / 1e6:.0f} MP)…", "", 0, 100, self)
        progress.setCancelButton(None)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)  # a 50 MP save takes seconds: show at once
        progress.setValue(0)
        job = workers.SaveJob(self.session, path, photo_io.format_for(path), self.hints.hints(), self.hints.strength,
                              mark=self.settings.value(MARK_SETTING, True, bool), restoring=self.hints.restoring)
        job.signals.progress.connect(lambda f: progress.setValue(int(100 * f)))
        job.signals.result.connect(self._on_saved)
        job.signals.errored.connect(lambda exc: self._error(exc, title="Could not save"))
        job.signals.finished.connect(progress.close)
        workers.start(job)

    def _on_saved(self, path: Path) -> None:
        self.saved_path = path
        self.hints.undo_stack.setClean()
        then, self._after_save = self._after_save, None
        if then is not None:
            QTimer.singleShot(0, then)  # what the save prompt was asked before (quit, open another)
        self.statusBar().showMessage(f"Saved {path}" + (" (hints kept beside the original)" if len(self.hints) else ""), 8000)
        self._update_title()

    def export_comparison(self) -> None:
        if self.session is None or self.last_result is None:
            return
        default = self.current_path.with_name(f"{self.current_path.stem}_before-after.jpg") if self.current_path else Path("comparison.jpg")
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison", str(default), "JPEG (*.jpg);;PNG (*.png)")
        if not path:
            return
        try:
            photo_io.write_photo(Path(path), side_by_side(self.session.display_rgb, self.last_result.rgb))
        except photo_io.PhotoError as exc:
            self._error(exc, title="Could not export")
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
        before = (self.settings.value("provider", "auto", str), self.settings.value("model", "", str))
        dlg = SettingsDialog(self.settings, self.colorizer.device_name if self.colorizer else "no model", self)
        if dlg.exec() and (self.settings.value("provider", "auto", str), self.settings.value("model", "", str)) != before:
            self.load_model()  # only when where or what runs changed; the open photo keeps its hints

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
    def _error(self, exc: BaseException | str, title: str = "Rehue") -> None:
        """An expected problem (a bad photo, a full disk) as a message; anything else is a bug:
        the crash dialog, which names the log file with the traceback."""
        self.statusBar().clearMessage()
        message = exc if isinstance(exc, str) else workers.user_message(exc)
        if message is None:
            show_crash_dialog(self, f"{type(exc).__name__}: {exc}")
        else:
            QMessageBox.warning(self, title, message)

    def _on_clean_changed(self, _clean: bool) -> None:
        if not self.closing:
            self._update_title()

    def _update_title(self) -> None:
        name = self.current_path.name if self.current_path else ""
        dirty = self.session is not None and not self.hints.undo_stack.isClean()
        self.setWindowTitle(f"{name}{' *' if dirty else ''} — Rehue" if name else "Rehue")

    def _update_actions(self) -> None:
        has = self.session is not None
        for a in self.act.photo_actions():
            a.setEnabled(has)
        self.act.delete.setEnabled(self.hints.selected is not None)
        self.act.clear.setEnabled(len(self.hints) > 0 and not self.hints.restoring)
        self.act.restore.setEnabled(has and self.session is not None and self.session.can_restore)
        self.panel.set_hint_count(len(self.hints))

    def _confirm_discard(self, question: str, then: Callable[[], None] | None = None) -> bool:
        """True when nothing unsaved would be lost, or the person chose to discard it. Save saves
        first (the save dialog when the photo has no output yet) and, once written, runs ``then``
        (quit, open the next photo); False meanwhile."""
        unsaved = len(self.hints) > 0 or self.hints.strength != HintStore.DEFAULT_STRENGTH or self.hints.restoring
        if self.session is None or self.hints.undo_stack.isClean() or not unsaved:
            return True
        name = self.current_path.name if self.current_path else "this photo"
        B = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Rehue", f"Your {'restored colours' if self.hints.restoring else 'hints'} on {name} are not saved. Save them first? {question}",
            B.Save | B.Discard | B.Cancel, B.Save,
        )
        if answer == B.Save:
            self._after_save = then
            self.save()
            return False
        return answer in (B.Discard, B.Yes)

    def _fill_recent(self) -> None:
        menu = self.act.recent_menu
        menu.clear()
        recent = [p for p in self.settings.value("recent", [], list) or [] if p]
        for p in recent:
            menu.addAction(Path(p).name, lambda p=p: self.open_path(Path(p))).setStatusTip(p)
        menu.setEnabled(bool(recent))

    def _add_recent(self, path: Path) -> None:
        recent = [p for p in self.settings.value("recent", [], list) or [] if p and p != str(path)]
        self.settings.setValue("recent", [str(path), *recent][:MAX_RECENT])
        self._fill_recent()

    def _use_the_screen(self) -> None:
        """First start: most of the screen, centred (a photo deserves the room), not a fixed size."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        self.resize(int(area.width() * 0.9), int(area.height() * 0.9))
        self.move(area.center() - self.rect().center())

    def show_original(self, on: bool) -> None:
        """Hold-to-compare: while ``on``, the colour pane (or the split view's colour side) shows
        the original; released, the colour comes back."""
        if on == self.comparing or self.session is None:
            return
        self.comparing = on
        img = qimage_from_rgb(self.session.display_rgb if on or self.last_result is None else self.last_result.rgb)
        self.after_view.replace_image(img)
        self.before_view.set_after_image(img)
        self.after_label.setText("Original (release \\ to see the colour)" if on else "Colour")

    def eventFilter(self, obj, event) -> bool:
        """The compare key (\\) held anywhere in this window; auto-repeats ignored."""
        kind = event.type()
        if (kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and event.key() == COMPARE_KEY
                and not event.isAutoRepeat() and isinstance(obj, QWidget) and obj.window() is self):
            self.show_original(kind == QEvent.Type.KeyPress)
            return True
        return super().eventFilter(obj, event)

    # ================================================================== events
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.open_paths(paths)

    def closeEvent(self, event) -> None:
        if self.closing:  # already shut down (a second close)
            super().closeEvent(event)
            return
        if not self._confirm_discard("Otherwise they are lost when Rehue quits.", then=self.close):
            event.ignore()
            return
        self.closing = True
        QApplication.instance().removeEventFilter(self)
        if not workers.wait_for_saves():  # a save in progress finishes before the window goes
            log.warning("a save was still running when Rehue closed")
        # The undo stack goes with the window: nothing may call back into it after this.
        self.hints.undo_stack.cleanChanged.disconnect(self._on_clean_changed)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.idle_timer.stop()
        self.scheduler.shutdown()
        super().closeEvent(event)


def human_time(iso: str) -> str:
    """'2026-12-05T14:03:00' -> '5 December 2026 at 14:03' (the ISO text itself if it is not one)."""
    try:
        t = _dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{t.day} {t:%B %Y} at {t:%H:%M}"


def _busy_cursor(busy: bool) -> None:
    """Show a busy cursor while a photo opens."""
    from PySide6.QtWidgets import QApplication

    if busy:
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
    else:
        QApplication.restoreOverrideCursor()
