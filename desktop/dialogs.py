"""Dialogs: batch folder conversion, settings, and the crash report."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import workers
from rehue.batch import BatchOptions, BatchProgress, BatchResult, format_duration, plan_batch
from rehue.logsetup import log_file
from rehue.photo_io import SAVE_FORMATS, printable
from rehue.providers import cuda_problem, usable_choices

RECOLOUR_LABEL = "Also recolour photos that already have colour"
RESTORE_LABEL = "Restore faded colour photos"
MARK_SETTING = "save/mark"  # say in a saved photo's metadata that Rehue colorized it (app and batch; on by default)
MARK_LABEL = "Note in each saved photo that Rehue colorized it"
MARK_TIP = ("Writes “Colorized by Rehue …” into the photo's EXIF (ImageHistory and Software), so archives can tell a "
            "colorized photo from an original scan")
def mark_box(settings: QSettings) -> QCheckBox:
    """The "colorized by Rehue" check box, one setting for the app's saves and the batch."""
    box = QCheckBox(MARK_LABEL)
    box.setToolTip(MARK_TIP)
    box.setChecked(settings.value(MARK_SETTING, True, bool))
    return box


FORMATS = [("Same as original", None), *((label, name) for name, (label, _) in SAVE_FORMATS.items())]


def _fmt_eta(seconds: float | None) -> str:
    return "estimating…" if seconds is None else f"{format_duration(seconds)} left"


class _PathRow(QWidget):
    """A line edit with a Browse… button for a folder."""

    changed = Signal()

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        self.edit = QLineEdit()
        self.edit.textChanged.connect(self.changed)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(browse)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, self.caption, self.edit.text() or str(Path.home()))
        if d:
            self.edit.setText(d)

    def path(self) -> Path | None:
        t = self.edit.text().strip()
        return Path(t) if t else None


class BatchDialog(QDialog):
    """Colorize whole folders: the same engine path as rehue-batch, with progress, ETA and cancel."""

    def __init__(self, colorizer_getter, settings: QSettings, inputs: list[Path] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch colorize — Rehue")
        self.setAcceptDrops(True)
        self.resize(640, 520)
        self.settings = settings
        self.colorizer_getter = colorizer_getter
        self.job: workers.BatchJob | None = None
        self.result: BatchResult | None = None
        self.extra_inputs: list[Path] = []

        self.input_row = _PathRow("Folder of photos to colorize")
        self.output_row = _PathRow("Folder for the colour photos")
        # The output follows the input ("<input> (colour)") until the person types or browses one;
        # the last batch's output comes back only for the last batch's input.
        self._output_is_suggested = True
        self.output_row.edit.textEdited.connect(self._output_chosen)
        self.input_row.changed.connect(self._suggest_output)
        last_input = settings.value("batch/input", "", str)
        if last_input and not inputs:
            self.input_row.edit.setText(last_input)
        self.format_box = QComboBox()
        for label, value in FORMATS:
            self.format_box.addItem(label, value)
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(settings.value("batch/format", None))))
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, 2.0)
        self.strength.setSingleStep(0.1)
        self.strength.setValue(float(settings.value("batch/strength", 1.0)))  # the batch's own, not the open photo's
        self.overwrite = QCheckBox("Redo photos that already have an output")
        self.recolour = QCheckBox(RECOLOUR_LABEL)
        self.recolour.setToolTip("Sepia and other toned photos are always colorized; real colour photos are left alone unless this is on")
        self.restore_faded = QCheckBox(RESTORE_LABEL)
        self.restore_faded.setToolTip("Colour prints that have faded (a red or yellow cast, washed-out contrast) get their colours "
                                      "back; colour photos that are not faded are left alone")
        self.restore_faded.setChecked(settings.value("batch/restore_faded", False, bool))
        self.recolour.toggled.connect(lambda on: self.restore_faded.setEnabled(not on))  # recolouring takes every colour photo
        self.mark = mark_box(settings)
        form = QFormLayout()
        form.addRow("Photos (folder):", self.input_row)
        form.addRow("Save colour photos to:", self.output_row)
        form.addRow("Format:", self.format_box)
        form.addRow("Colour strength:", self.strength)
        form.addRow("", self.overwrite)
        form.addRow("", self.restore_faded)
        form.addRow("", self.recolour)
        form.addRow("", self.mark)

        self.status = QLabel("Drop a folder here or choose one above. The folder tree is mirrored in the output folder; originals are never changed.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.failures = QListWidget()
        self.failures.setToolTip("Photos that could not be colorized, with the reason")
        self.failures.setWordWrap(True)  # a long reason wraps instead of running off the right edge
        self.failures.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.failures.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.start_btn = QPushButton("Start")
        self.start_btn.setDefault(True)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.setEnabled(False)
        self.open_btn = QPushButton("Open output folder")
        self.open_btn.clicked.connect(self._open_output)
        self.open_btn.setEnabled(False)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(self.progress)
        lay.addWidget(QLabel("Problems:"))
        lay.addWidget(self.failures, 1)
        lay.addLayout(buttons)
        if inputs:
            self.set_inputs(inputs)

    def set_inputs(self, inputs: list[Path]) -> None:
        folders = [p for p in inputs if p.is_dir()]
        first = folders[0] if folders else inputs[0]
        self.extra_inputs = [p for p in inputs if p != first]
        self._output_is_suggested = True  # new photos: a new output beside them
        self.input_row.edit.setText(str(first))
        self._suggest_output()
        n = len(inputs)
        if n > 1:
            self.status.setText(f"{n} items dropped; the first is shown above.")

    def _output_chosen(self, _text: str = "") -> None:
        self._output_is_suggested = False

    def _suggest_output(self) -> None:
        """``<input> (colour)`` beside the input, or the last batch's output for the last batch's input."""
        src = self.input_row.path()
        if src is None or not self._output_is_suggested:
            return
        if str(src) == self.settings.value("batch/input", "", str) and self.settings.value("batch/output", "", str):
            self.output_row.edit.setText(self.settings.value("batch/output", "", str))
            return
        base = src if src.is_dir() or not src.suffix else src.parent
        self.output_row.edit.setText(str(base.parent / f"{base.name} (colour)"))

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths and self.job is None:
            self.set_inputs(paths)

    # ------------------------------------------------------------------ running
    def options(self) -> BatchOptions:
        return BatchOptions(strength=self.strength.value(), fmt=self.format_box.currentData(), overwrite=self.overwrite.isChecked(),
                            recolour=self.recolour.isChecked(), restore_faded=self.restore_faded.isChecked() and not self.recolour.isChecked(),
                            mark=self.mark.isChecked())

    def start(self) -> None:
        src, out = self.input_row.path(), self.output_row.path()
        if src is None or out is None:
            QMessageBox.warning(self, "Rehue", "Choose the folder of photos and the output folder first.")
            return
        opts = self.options()
        plan = plan_batch([src, *self.extra_inputs], out, opts)
        if plan.fatal:
            QMessageBox.warning(self, "Rehue", plan.fatal[0].upper() + plan.fatal[1:] + ".")
            return
        self.failures.clear()
        for path, reason in plan.problems:
            self.failures.addItem(printable(f"{path.name}: {reason}"))
        if not plan.items:
            done = len(plan.skipped_existing)
            self.status.setText(f"Nothing to do: all {done} photo(s) already have an output." if done else "No photos found there.")
            return
        self.settings.setValue("batch/input", str(src))
        self.settings.setValue("batch/output", str(out))
        self.settings.setValue("batch/format", opts.fmt)
        self.settings.setValue("batch/strength", opts.strength)
        self.settings.setValue("batch/restore_faded", self.restore_faded.isChecked())
        self.settings.setValue(MARK_SETTING, opts.mark)
        self.progress.setRange(0, len(plan.items))
        self.progress.setValue(0)
        doing = "Colorizing (or restoring)" if opts.restore_faded else "Colorizing"
        self.status.setText(f"{doing} {len(plan.items)} photo(s); {len(plan.skipped_existing)} already done will be skipped…")
        self.job = workers.BatchJob(plan, self.colorizer_getter(), opts)
        self.job.signals.progress.connect(self._on_progress)
        self.job.signals.result.connect(self._on_result)
        self.job.signals.errored.connect(self._on_error)
        self.job.signals.finished.connect(self._on_finished)
        self.start_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        workers.start(self.job)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel.set()
            self.cancel_btn.setEnabled(False)
            self.status.setText("Cancelling after the photo in progress…")

    def _on_error(self, exc: BaseException) -> None:
        message = workers.user_message(exc)
        if message is None:
            show_crash_dialog(self, f"{type(exc).__name__}: {exc}")
        else:
            QMessageBox.critical(self, "Rehue", message)

    def _on_progress(self, p: BatchProgress) -> None:
        self.progress.setValue(p.done)
        if p.problem:  # as it happens, as on the command line
            item = QListWidgetItem(printable(p.problem))
            item.setToolTip(printable(p.problem))
            self.failures.addItem(item)
        name = p.current.name if p.current else ""
        self.status.setText(f"{p.done} of {p.total} — {_fmt_eta(p.eta_s)} — {name}")

    def _on_result(self, result: BatchResult) -> None:
        self.result = result
        self.failures.clear()
        for path, reason in result.failed:
            item = QListWidgetItem(printable(reason if path.name in reason else f"{path.name}: {reason}"))
            item.setToolTip(f"{printable(path)}\n{printable(reason)}")
            self.failures.addItem(item)
        summary = result.summary(redo_colour=f"tick “{RECOLOUR_LABEL}” to colour them too",
                                 restore_colour=f"tick “{RESTORE_LABEL}”")
        self.status.setText(summary[:1].upper() + summary[1:] + ".")  # not capitalize(): it lowercases the rest
        self.open_btn.setEnabled(bool(result.written or result.skipped))

    def _on_finished(self) -> None:
        self.job = None
        self.start_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)

    def _open_output(self) -> None:
        out = self.output_row.path()
        if out:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(out)))

    def closeEvent(self, event) -> None:
        if self.job is not None:
            if QMessageBox.question(self, "Rehue", "Stop the batch? Photos already finished are kept.") != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.cancel()
        super().closeEvent(event)


class SettingsDialog(QDialog):
    """Where the model runs, default strength, and the save format."""

    def __init__(self, settings: QSettings, current_device: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings — Rehue")
        self.settings = settings
        self.provider = QComboBox()
        for value, label in usable_choices().items():  # only what this installation can run
            self.provider.addItem(label, value)
        self.provider.setCurrentIndex(max(0, self.provider.findData(settings.value("provider", "auto"))))
        self.model = QLineEdit(settings.value("model", "", str))
        self.model.setPlaceholderText("the shipped model")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        self.format_box = QComboBox()
        for label, value in FORMATS:
            self.format_box.addItem(label, value)
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(settings.value("save/format", None))))
        form = QFormLayout(self)
        form.addRow("Run the model on:", self.provider)
        form.addRow("", QLabel(f"Now running on: {current_device}"))
        problem = cuda_problem()
        if problem:
            note = QLabel(f"No GPU here: {problem}.")
            note.setWordWrap(True)
            form.addRow("", note)
        form.addRow("Model file:", row)
        form.addRow("Save format:", self.format_box)
        self.mark = mark_box(settings)
        form.addRow("", self.mark)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)

    def _browse(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "ONNX model (either of its two files)", "", "ONNX models (*.onnx)")
        if f:
            self.model.setText(f)

    def accept(self) -> None:
        self.settings.setValue("provider", self.provider.currentData())
        self.settings.setValue("model", self.model.text().strip())
        self.settings.setValue("save/format", self.format_box.currentData())
        self.settings.setValue(MARK_SETTING, self.mark.isChecked())
        super().accept()


def show_crash_dialog(parent: QWidget | None, summary: str) -> None:
    """An unexpected error: say so plainly and name the log file with the details."""
    path = log_file()
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("Rehue — unexpected error")
    box.setText("Something went wrong inside Rehue. Your originals are untouched.")
    box.setInformativeText(
        f"{summary}\n\nThe details are in the log file:\n{path}\nPlease attach it if you report the problem." if path else summary
    )
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()


__all__ = ["BatchDialog", "SettingsDialog", "show_crash_dialog", "MARK_SETTING"]
