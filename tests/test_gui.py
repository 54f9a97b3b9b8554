"""The desktop app driven through real widgets (pytest-qt, offscreen): open, hints, undo, save, batch."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QMessageBox

from desktop import dialogs, main_window, workers
from desktop.main_window import MainWindow
from helpers import gray_scene
from rehue import sidecar
from rehue.contract import Hint
from rehue.session import DISPLAY_SIDE, PREVIEW_SIDE, PhotoSession

TIMEOUT = 20000


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    s.setValue("provider", "cpu")
    return s


@pytest.fixture
def window(qtbot, settings):
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    yield w
    w.hints.undo_stack.setClean()
    w.close()


@pytest.fixture
def photo(tmp_path) -> Path:
    p = tmp_path / "grandma.jpg"
    cv2.imwrite(str(p), gray_scene(300, 400, seed=5))
    return p


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch):
    """Fail loudly instead of blocking on a modal dialog; tests that expect one patch it again."""
    shown = []

    def record(*args, **kwargs):
        shown.append(args)
        return QMessageBox.StandardButton.Yes

    for name in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(record))
    return shown


def open_and_wait(qtbot, window: MainWindow, path: Path) -> None:
    """Open ``path`` and wait for *its* first preview (a preview of the photo before may still
    arrive after the open starts: waiting for any `ready` signal was a race under load)."""
    old = window.session
    window.open_path(path)
    qtbot.waitUntil(lambda: window.session is not old and window.current_path == path and window.last_result is not None,
                    timeout=TIMEOUT)


def drop(qtbot, widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def click_view(qtbot, view, fx: float, fy: float) -> None:
    p = view.mapFromScene(view.from_fraction(fx, fy))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=p)


def test_window_starts_with_model_and_provider(window: MainWindow):
    assert window.colorizer is not None
    assert "CPU" in window.device_label.text()
    assert window.windowTitle() == "Rehue"
    assert not window.act.save.isEnabled()


def test_drop_photo_shows_before_and_after(qtbot, window: MainWindow, photo: Path):
    with qtbot.waitSignal(window.scheduler.ready, timeout=TIMEOUT):
        drop(qtbot, window, [photo])
    assert window.current_path == photo
    assert window.before_view.image_rect.width() == 400
    assert window.last_result is not None and window.last_result.rgb.shape == (300, 400, 3)
    assert "grandma.jpg" in window.windowTitle()
    assert window.act.save.isEnabled()
    # the "after" view really shows colour
    rgb = window.last_result.rgb.astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 0.5


def test_bad_file_dropped_shows_message(qtbot, window: MainWindow, tmp_path, no_modal_dialogs):
    bad = tmp_path / "scan.jpg"
    bad.write_bytes(b"%PDF-1.5 not a photo")
    window.open_path(bad)
    qtbot.waitUntil(lambda: len(no_modal_dialogs) > 0, timeout=TIMEOUT)
    assert "PDF document" in str(no_modal_dialogs[0])
    assert window.session is None


def test_click_adds_hint_move_delete_undo_redo(qtbot, window: MainWindow, photo: Path):
    open_and_wait(qtbot, window, photo)
    with qtbot.waitSignal(window.scheduler.ready, timeout=TIMEOUT):
        click_view(qtbot, window.before_view, 0.25, 0.5)
    assert len(window.hints) == 1
    hint_id, hint = window.hints.items()[0]
    assert hint.x == pytest.approx(0.25, abs=0.01) and hint.y == pytest.approx(0.5, abs=0.01)
    assert window.hints.selected == hint_id
    assert hint_id in window.before_view.markers and hint_id in window.after_view.markers
    assert window.act.delete.isEnabled()

    # Drag the marker to a new place.
    view = window.before_view
    marker = view.markers[hint_id]
    start = view.mapFromScene(marker.pos())
    end = view.mapFromScene(view.from_fraction(0.6, 0.4))
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for t in (0.3, 0.6, 1.0):
        qtbot.mouseMove(view.viewport(), QPoint(int(start.x() + (end.x() - start.x()) * t), int(start.y() + (end.y() - start.y()) * t)))
    with qtbot.waitSignal(window.scheduler.ready, timeout=TIMEOUT):
        qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    moved = window.hints.get(hint_id)
    assert moved.x == pytest.approx(0.6, abs=0.03) and moved.y == pytest.approx(0.4, abs=0.03)

    window.hints.undo_stack.undo()
    assert window.hints.get(hint_id).x == pytest.approx(0.25, abs=0.01)
    window.hints.undo_stack.redo()
    assert window.hints.get(hint_id).x == pytest.approx(0.6, abs=0.03)

    # Delete with the Del key, then undo brings it back.
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert len(window.hints) == 0 and not window.before_view.markers
    window.act.undo.trigger()
    assert len(window.hints) == 1 and hint_id in window.before_view.markers


def test_right_click_deletes_hint(qtbot, window: MainWindow, photo: Path):
    open_and_wait(qtbot, window, photo)
    click_view(qtbot, window.after_view, 0.5, 0.5)
    hint_id = window.hints.selected
    p = window.after_view.mapFromScene(window.after_view.markers[hint_id].pos())
    qtbot.mouseClick(window.after_view.viewport(), Qt.MouseButton.RightButton, pos=p)
    assert len(window.hints) == 0


def test_hint_colour_changes_preview(qtbot, window: MainWindow, photo: Path):
    open_and_wait(qtbot, window, photo)
    before = window.last_result.rgb.copy()
    click_view(qtbot, window.before_view, 0.5, 0.5)
    qtbot.waitUntil(lambda: not window.scheduler.is_busy(), timeout=TIMEOUT)
    with qtbot.waitSignal(window.scheduler.ready, timeout=TIMEOUT):
        window._recolor_selected((20, 60, 230))  # a strong blue
    qtbot.waitUntil(lambda: not window.scheduler.is_busy(), timeout=TIMEOUT)
    after = window.last_result.rgb
    h, w = after.shape[:2]
    centre = (slice(h // 2 - 5, h // 2 + 5), slice(w // 2 - 5, w // 2 + 5))
    assert after[centre][..., 2].mean() - after[centre][..., 0].mean() > before[centre][..., 2].mean() - before[centre][..., 0].mean() + 10
    assert window.last_result.seconds < 5
    # Suggested colours are offered for the selected hint.
    assert any(b.isEnabled() for b in window.panel.swatches)


def test_strength_is_the_photos_and_undoable(qtbot, window: MainWindow, photo: Path, settings, tmp_path):
    """Issue 25: the strength belongs to the photo (a new photo starts at 100 %), is undone with
    Ctrl+Z and redone with Ctrl+Y, and is saved with the hints; hints are numbered from 1 per photo."""
    open_and_wait(qtbot, window, photo)
    click_view(qtbot, window.after_view, 0.5, 0.5)
    assert [i for i, _ in window.hints.items()] == [1]
    with qtbot.waitSignal(window.scheduler.ready, timeout=TIMEOUT):
        window.panel.strength.setValue(0)
    qtbot.waitUntil(lambda: not window.scheduler.is_busy(), timeout=TIMEOUT)
    rgb = window.last_result.rgb.astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() <= 2  # 0 % strength is gray
    assert window.hints.undo_stack.undoText().startswith("Colour strength")
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.hints.strength == 1.0 and window.panel.strength.value() == 100
    qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.hints.strength == 0.0 and window.panel.strength.value() == 0
    window.panel.strength.setValue(60)
    out = tmp_path / "grandma_colour.png"
    window._save_to(out)
    qtbot.waitUntil(lambda: window.saved_path == out, timeout=TIMEOUT)
    assert sidecar.read(photo).strength == pytest.approx(0.6)

    other = tmp_path / "grandpa.jpg"
    cv2.imwrite(str(other), gray_scene(200, 260, seed=8))
    open_and_wait(qtbot, window, other)
    assert window.hints.strength == 1.0 and window.panel.strength.value() == 100  # not the last photo's 60 %
    click_view(qtbot, window.after_view, 0.3, 0.3)
    assert [i for i, _ in window.hints.items()] == [1]  # numbered from 1 again
    window.set_split(True)
    assert settings.value("view/split", type=bool) is True and not window.right_pane.isVisible()


def test_save_full_resolution_keeps_metadata(qtbot, window: MainWindow, tmp_path, monkeypatch):
    src = tmp_path / "scan.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Old Scanner"
    Image.fromarray(gray_scene(600, 800)).save(src, "JPEG", exif=exif.tobytes())
    open_and_wait(qtbot, window, src)
    out = tmp_path / "scan_colour.png"
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    window.save_as()
    qtbot.waitUntil(lambda: window.saved_path == out, timeout=TIMEOUT)
    with Image.open(out) as im:
        assert im.size == (800, 600) and im.mode == "RGB"
        assert im.getexif().get(0x010F) == "Old Scanner"
        assert im.getexif().get(0x9213, "").startswith("Colorized by Rehue")  # the app marks what it saves, by default
    assert src.read_bytes()[:2] == b"\xff\xd8"  # original untouched
    assert "*" not in window.windowTitle()


def test_save_over_original_asks_first(qtbot, window: MainWindow, photo: Path, monkeypatch):
    open_and_wait(qtbot, window, photo)
    original = photo.read_bytes()
    asked = []
    monkeypatch.setattr(main_window.QMessageBox, "warning",
                        staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel))
    window._save_to(photo)
    assert asked and "Replace the original?" in str(asked[0])  # asked before anything started
    assert workers.QThreadPool.globalInstance().activeThreadCount() == 0  # no save job started
    assert photo.read_bytes() == original and window.saved_path is None


def test_zoom_is_synchronised(qtbot, window: MainWindow, photo: Path):
    open_and_wait(qtbot, window, photo)
    window.set_zoom(2.0)
    assert window.before_view.zoom_factor() == pytest.approx(2.0, rel=0.01)
    assert window.after_view.transform().m11() == pytest.approx(window.before_view.transform().m11())
    window.fit()
    assert window.before_view.zoom_factor() < 2.0


def test_batch_dialog_runs_and_cancels(qtbot, settings, tmp_path, colorizer):
    scans = tmp_path / "scans"
    (scans / "album").mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(scans / "album" / f"p{i}.jpg"), gray_scene(200, 260, seed=i))
    (scans / "broken.jpg").write_bytes(b"garbage")
    out = tmp_path / "out"
    dlg = dialogs.BatchDialog(lambda: colorizer, settings, [scans])
    qtbot.addWidget(dlg)
    dlg.output_row.edit.setText(str(out))
    with qtbot.waitSignal(dlg.job_finished if hasattr(dlg, "job_finished") else dlg.progress.valueChanged, timeout=TIMEOUT):
        dlg.start()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=TIMEOUT)
    assert dlg.result is not None and len(dlg.result.written) == 4
    assert any("broken.jpg" in dlg.failures.item(i).text() for i in range(dlg.failures.count()))
    assert sorted(p.name for p in (out / "album").iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]

    # Cancel: a second run over more photos stops early and leaves no partial files.
    for i in range(4, 12):
        cv2.imwrite(str(scans / "album" / f"p{i}.jpg"), gray_scene(400, 500, seed=i))
    dlg.start()
    # Cancel once a photo is written (the unreadable file's line may come first; a cancel queued
    # then could land before any photo starts, which is right but not what this checks).
    dlg.job.signals.progress.connect(lambda p: dlg.cancel() if p.current is not None and p.current.name != "broken.jpg" else None)
    qtbot.waitUntil(lambda: dlg.job is None, timeout=TIMEOUT)
    assert dlg.result.cancelled and 1 <= len(dlg.result.written) < 8
    assert not list(out.rglob("*.rehue-partial"))


def test_batch_dialog_suggests_an_output_per_input_and_speaks_the_apps_words(qtbot, settings, tmp_path, colorizer):
    """Issue 25: a new input gets its own output ("<input> (colour)"), not the last batch's; the
    summary names the check box, not the command line's --recolour; a long reason wraps; the
    output folder keeps no lock file after a clean finish."""
    first, second = tmp_path / "first box", tmp_path / "second box"
    for d in (first, second):
        d.mkdir()
        cv2.imwrite(str(d / "gray.jpg"), gray_scene(120, 160, seed=1))
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[:, :80], rgb[:, 80:] = (40, 40, 200), (200, 90, 40)
    cv2.imwrite(str(first / "colour.png"), rgb)
    (first / ("a very long name of a damaged scan from the attic " * 3 + ".jpg")).write_bytes(b"garbage")
    dlg = dialogs.BatchDialog(lambda: colorizer, settings, [first])
    qtbot.addWidget(dlg)
    assert dlg.output_row.path() == tmp_path / "first box (colour)"
    qtbot.keyClicks(dlg.output_row.edit, "")  # nothing typed: still the suggestion
    dlg.output_row.edit.clear()
    qtbot.keyClicks(dlg.output_row.edit, str(tmp_path / "chosen"))  # typed by the person: kept
    dlg.start()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=TIMEOUT)
    assert dlg.result is not None and len(dlg.result.written) == 1 and len(dlg.result.skipped_colour) == 1
    status = dlg.status.text()
    assert "--recolour" not in status and "Also recolour photos that already have colour" in status
    assert dlg.failures.count() == 1 and dlg.failures.wordWrap()
    assert "attic" in dlg.failures.item(0).text() and "damaged" in dlg.failures.item(0).toolTip()
    assert not (tmp_path / "chosen" / ".rehue-batch.lock").exists()
    dlg.close()

    again = dialogs.BatchDialog(lambda: colorizer, settings, [second])  # a new box: its own output
    qtbot.addWidget(again)
    assert again.output_row.path() == tmp_path / "second box (colour)"
    again.set_inputs([first])  # the last batch's box: its output comes back
    assert again.output_row.path() == tmp_path / "chosen"
    again.close()


def test_dropping_folder_opens_batch(qtbot, window: MainWindow, tmp_path):
    (tmp_path / "box").mkdir()
    drop(qtbot, window, [tmp_path / "box"])
    assert isinstance(window.batch_dialog, dialogs.BatchDialog)
    assert window.batch_dialog.input_row.path() == tmp_path / "box"
    window.batch_dialog.close()


def test_preview_scheduler_keeps_only_newest(qtbot, window: MainWindow, photo: Path):
    open_and_wait(qtbot, window, photo)
    results = []
    window.scheduler.ready.connect(results.append)
    for s in (10, 20, 30, 40, 50):
        window.panel.strength.setValue(s)
    qtbot.waitUntil(lambda: not window.scheduler.is_busy(), timeout=TIMEOUT)
    strengths = [r.request.strength for r in results if r.request.quality == "preview"]
    assert strengths[-1] == pytest.approx(0.5) and len(strengths) < 5


def test_photo_session_reduces_large_scan(colorizer, tmp_path):
    p = tmp_path / "big.png"
    cv2.imwrite(str(p), gray_scene(3000, 4000))
    session = PhotoSession.open(p, colorizer)
    assert max(session.display.shape[:2]) == DISPLAY_SIDE
    assert max(session.preview_pixels.shape[:2]) == PREVIEW_SIDE
    assert session.photo.size == (4000, 3000)


def test_signals_do_not_leak_references_to_true(qtbot):
    """PySide6 6.12.0 on Python 3.11 leaks one reference to True per Signal.emit() and aborts
    after ~2000 (a GUI batch of 2000 photos died); the pinned PySide6 must not."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        ping = Signal(object)

    e = Emitter()
    got = []
    e.ping.connect(got.append)
    for i in range(200):  # warm up caches
        e.ping.emit(i)
    before = sys.getrefcount(True)
    for i in range(10_000):
        e.ping.emit(i)
    assert len(got) == 10_200
    assert abs(sys.getrefcount(True) - before) < 50


def test_redo_from_the_keyboard(qtbot, window: MainWindow, photo: Path):
    """Ctrl+Shift+Z must not be registered twice (an 'ambiguous shortcut' Qt ignores on X11)."""
    keys = [k.toString() for k in window.act.redo.shortcuts()]
    assert len(keys) == len(set(keys)) and "Ctrl+Shift+Z" in keys
    open_and_wait(qtbot, window, photo)
    click_view(qtbot, window.before_view, 0.5, 0.5)
    assert len(window.hints) == 1
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.hints) == 0
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(window.hints) == 1


def test_zoom_readout_follows_the_wheel_on_either_pane(qtbot, window: MainWindow, photo: Path):
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    open_and_wait(qtbot, window, photo)
    window.set_zoom(1.0)
    assert window.zoom_label.text() == "100 %"
    view = window.after_view
    centre = QPointF(view.viewport().width() / 2, view.viewport().height() / 2)
    event = QWheelEvent(centre, view.mapToGlobal(centre.toPoint()).toPointF(), P(0, 0), P(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    view.wheelEvent(event)
    assert window.zoom_label.text() == "125 %"


def test_quitting_with_unsaved_hints_asks_to_quit_and_closes_cleanly(qtbot, settings, photo: Path, no_modal_dialogs):
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    open_and_wait(qtbot, w, photo)
    click_view(qtbot, w.before_view, 0.5, 0.5)
    w.close()  # the fixture answers Yes: discard
    assert "lost when Rehue quits" in str(no_modal_dialogs[-1])
    assert not w.isVisible()
    qtbot.wait(50)  # nothing may call back into the deleted undo stack


def test_quitting_with_unsaved_hints_can_save_first(qtbot, settings, photo: Path, tmp_path, monkeypatch):
    """Issue 25: the quit prompt offers Save; saving writes the photo and its hints, then quits."""
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    open_and_wait(qtbot, w, photo)
    click_view(qtbot, w.before_view, 0.5, 0.5)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: asked.append(a) or QMessageBox.StandardButton.Save))
    out = tmp_path / "grandma_colour.jpg"
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    w.close()
    assert asked and asked[0][3] & QMessageBox.StandardButton.Save  # Save is offered
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=TIMEOUT)
    assert out.exists() and sidecar.read(photo) is not None and len(sidecar.read(photo).hints) == 1


def test_restore_prompt_speaks_plainly(qtbot, window: MainWindow, photo: Path, no_modal_dialogs):
    sidecar.write(photo, sidecar.Sidecar((Hint(0.5, 0.5, 20.0, 10.0),), 0.8, "2.0.0", "2026-12-05T14:03:00"))
    open_and_wait(qtbot, window, photo)
    text = str(no_modal_dialogs[-1])
    assert "One colour hint was saved with grandma.jpg on 5 December 2026 at 14:03" in text and "(s)" not in text
    assert window.hints.strength == pytest.approx(0.8) and window.panel.strength.value() == 80


def test_markers_show_the_rendered_colour_and_brush_size(qtbot, window: MainWindow, photo: Path):
    open_and_wait(qtbot, window, photo)
    window.panel.reach.setValue(35)
    click_view(qtbot, window.before_view, 0.5, 0.5)
    hint_id, hint = window.hints.items()[0]
    assert hint.reach == pytest.approx(0.35)
    marker = window.before_view.markers[hint_id]
    assert marker.brush().color().getRgb()[:3] == window.session.rendered_rgb(hint)
    ring = marker.ring.rect()
    assert ring.width() / 2 == pytest.approx(0.35 * 400, rel=0.02) and marker.ring.isVisible()
    with qtbot.waitSignal(window.scheduler.ready, timeout=TIMEOUT):
        window.panel.reach.setValue(10)  # the brush size of the selected hint, undoable
    assert window.hints.get(hint_id).reach == pytest.approx(0.10)
    window.act.undo.trigger()
    assert window.hints.get(hint_id).reach == pytest.approx(0.35)


def test_saved_hints_are_offered_when_the_photo_opens_again(qtbot, window: MainWindow, photo: Path, tmp_path, monkeypatch,
                                                            no_modal_dialogs):
    open_and_wait(qtbot, window, photo)
    click_view(qtbot, window.before_view, 0.3, 0.6)
    saved_hint = window.hints.hints()[0]
    out = tmp_path / "grandma_colour.jpg"
    window._save_to(out)
    qtbot.waitUntil(lambda: window.saved_path == out, timeout=TIMEOUT)
    assert (tmp_path / "grandma.jpg.rehue.json").exists()
    first = window.session
    window.open_path(photo)
    qtbot.waitUntil(lambda: window.session is not first and not window.scheduler.is_busy(), timeout=TIMEOUT)
    assert any("Restore them" in str(args) for args in no_modal_dialogs)
    assert window.hints.hints() == (saved_hint,)
    assert window.windowTitle().endswith("— Rehue") and "*" not in window.windowTitle()


def test_a_bug_and_a_bad_photo_look_different(qtbot, window: MainWindow, monkeypatch, no_modal_dialogs):
    """Worker errors arrive as exceptions: a bad photo is a message, a bug is the crash dialog."""
    from rehue import photo_io

    crashes = []
    monkeypatch.setattr(main_window, "show_crash_dialog", lambda parent, summary: crashes.append(summary))
    window._error(photo_io.PhotoError("scan.jpg: the file is empty"), title="Cannot open this photo")
    assert "scan.jpg: the file is empty" in str(no_modal_dialogs[-1]) and not crashes
    window._error(ZeroDivisionError("division by zero"))
    assert crashes == ["ZeroDivisionError: division by zero"]
    assert workers.user_message(MemoryError()).startswith("Not enough memory")
    assert workers.user_message(KeyError("x")) is None


def test_hold_backslash_to_compare_with_the_original(qtbot, window: MainWindow, photo: Path):
    """Issue 25: holding \\ shows the original where the colour is; releasing brings the colour back."""
    open_and_wait(qtbot, window, photo)
    qtbot.waitUntil(lambda: not window.scheduler.is_busy(), timeout=TIMEOUT)

    def shown() -> np.ndarray:
        img = window.after_view.pixmap_item.pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
        return np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3].reshape(img.height(), img.width(), 3)

    def chroma(rgb: np.ndarray) -> float:
        return float(np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).mean())

    assert chroma(shown()) > 0.5
    qtbot.keyPress(window.after_view.viewport(), Qt.Key.Key_Backslash)
    assert window.comparing and chroma(shown()) < 0.5 and "Original" in window.after_label.text()
    qtbot.keyRelease(window.after_view.viewport(), Qt.Key.Key_Backslash)
    assert not window.comparing and chroma(shown()) > 0.5 and window.after_label.text() == "Colour"


def test_first_start_uses_the_screen(qtbot, tmp_path):
    """Issue 25: with no saved geometry the window takes most of the screen, not a fixed 1280 × 760."""
    s = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    s.setValue("provider", "cpu")
    w = MainWindow(s)
    qtbot.addWidget(w)
    area = w.screen().availableGeometry()
    assert w.width() >= 0.85 * area.width() and w.height() >= 0.85 * area.height()
    assert area.contains(w.geometry().center())
    w.close()


def test_a_sidecar_with_the_most_hints_a_photo_keeps_restores(qtbot, window: MainWindow, photo: Path):
    """Issue 23: a 10,000-hint sidecar froze the app on "Restore your hints?"; a photo now keeps at
    most sidecar.MAX_HINTS, and that many restore and render (a bigger file is ignored, tested in test_hints)."""
    rng = np.random.default_rng(0)
    hints = tuple(Hint(float(rng.uniform()), float(rng.uniform()), float(rng.uniform(-40, 40)), float(rng.uniform(-40, 40)))
                  for _ in range(sidecar.MAX_HINTS))
    sidecar.write(photo, sidecar.Sidecar(hints, 1.0, "2.0.0"))
    open_and_wait(qtbot, window, photo)
    assert len(window.hints) == sidecar.MAX_HINTS
    qtbot.waitUntil(lambda: not window.scheduler.is_busy() and window.last_result is not None, timeout=TIMEOUT)


def test_closing_during_a_save_waits_for_the_photo_and_says_nothing(qtbot, settings, tmp_path, monkeypatch, capfd):
    """Issue 23: closing the window while a save ran printed "RuntimeError: Signal source has been
    deleted"; the photo being saved must be written whole all the same."""
    src = tmp_path / "scan.jpg"
    cv2.imwrite(str(src), gray_scene(1500, 2000))
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    open_and_wait(qtbot, w, src)
    out = tmp_path / "scan_colour.png"
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    w.save_as()
    w.close()  # at once, the save still running
    assert not w.isVisible() and out.exists()
    with Image.open(out) as im:
        assert im.size == (2000, 1500)
    qtbot.wait(300)
    assert "Signal source has been deleted" not in capfd.readouterr().err


def test_settings_ok_keeps_the_unsaved_hints(qtbot, window: MainWindow, photo: Path, monkeypatch):
    """Issue 23: Settings → OK reloaded the model and reopened the photo, silently discarding its
    unsaved hints. Now OK reloads only when the provider or model changed, and keeps the edits."""
    open_and_wait(qtbot, window, photo)
    click_view(qtbot, window.after_view, 0.5, 0.5)
    window.panel.strength.setValue(70)
    hints = window.hints.hints()

    def accept_with(provider: str):
        def exec_(dlg):
            dlg.provider.setCurrentIndex(dlg.provider.findData(provider))
            dlg.accept()
            return True
        return exec_

    gen, session = window.photo_generation, window.session
    monkeypatch.setattr(dialogs.SettingsDialog, "exec", accept_with("cpu"))  # nothing changed: nothing reloaded
    window.open_settings()
    qtbot.wait(300)
    assert window.photo_generation == gen and window.session is session
    assert window.hints.hints() == hints and window.hints.strength == pytest.approx(0.7)
    monkeypatch.setattr(dialogs.SettingsDialog, "exec", accept_with("auto"))  # the model is reloaded
    window.open_settings()
    qtbot.waitUntil(lambda: window.session is not session, timeout=TIMEOUT)
    assert len(window.hints) == 1 and window.hints.strength == pytest.approx(0.7) and "*" in window.windowTitle()


def test_the_app_survives_the_hostile_folder(qtbot, window: MainWindow, settings, tmp_path, colorizer, no_modal_dialogs):
    """Issue 23: the app on the stress run's folder — its batch dialog colorizes every good photo
    with one line per bad one, and photos with hostile hints files open without a prompt or a freeze."""
    from test_batch import hostile_folder

    good, bad = hostile_folder(tmp_path / "in", cv2.imencode(".jpg", gray_scene(120, 160, seed=3))[1].tobytes())
    dlg = dialogs.BatchDialog(lambda: colorizer, settings, [tmp_path / "in"])
    qtbot.addWidget(dlg)
    dlg.start()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=TIMEOUT)
    assert len(dlg.result.written) == len(good)
    lines = [dlg.failures.item(i).text() for i in range(dlg.failures.count())]
    assert all(sum(name in line for line in lines) == 1 for name in bad) and not any("\x1b" in line or "\n" in line for line in lines)
    dlg.close()
    for name in ("with_many_hints.jpg", "nested_sidecar.jpg", "linked.jpg"):
        shown = len(no_modal_dialogs)
        window.open_path(tmp_path / "in" / name)
        qtbot.waitUntil(lambda name=name: window.current_path is not None and window.current_path.name == name, timeout=TIMEOUT)
        assert len(window.hints) == 0 and len(no_modal_dialogs) == shown


def test_the_toolbar_stays_put_as_the_undo_text_changes(qtbot, window: MainWindow, photo: Path):
    """Issue 25: Undo's text grows with what it undoes ("Undo Change hint colour") and the toolbar
    jumped sideways with it; its buttons are icons, so nothing after them moves."""
    from PySide6.QtWidgets import QToolBar

    open_and_wait(qtbot, window, photo)
    bar = window.findChild(QToolBar, "main-toolbar")
    side = bar.widgetForAction(window.act.side)
    before = side.geometry()
    click_view(qtbot, window.after_view, 0.5, 0.5)
    window._recolor_selected((20, 60, 230))
    qtbot.wait(50)
    assert window.act.undo.text().startswith("&Undo ") or window.act.undo.text().startswith("Undo ")
    assert side.geometry() == before


def test_the_batch_dialog_lists_a_problem_as_it_happens(qtbot, settings, tmp_path, colorizer):
    """Issue 23: one shape of progress for the command line, the dialog and Ray (BatchProgress with
    the photo's problem): the dialog shows a failed photo's line while the batch still runs."""
    d = tmp_path / "box"
    d.mkdir()
    (d / "a_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    for i in range(3):
        cv2.imwrite(str(d / f"b{i}.jpg"), gray_scene(600, 800, seed=i))
    dlg = dialogs.BatchDialog(lambda: colorizer, settings, [d])
    qtbot.addWidget(dlg)
    seen = []
    shown = dlg._on_progress
    dlg._on_progress = lambda p: (shown(p), seen.append((p.done, dlg.failures.count())))  # what start() connects
    dlg.start()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=TIMEOUT)
    assert seen and seen[0][0] == 1 and seen[0][1] >= 1 and "a_broken.jpg" in dlg.failures.item(0).text()


def test_a_faded_colour_print_is_offered_restoration(qtbot, window: MainWindow, tmp_path, monkeypatch):
    """Issue 24 as a user meets it: a faded colour print opens with the offer; one click restores
    it (the preview changes, hints rest), Ctrl+Z goes back to colorizing, Ctrl+R restores again,
    the strength blends, and Save writes the restored photo at full size with its metadata."""
    from test_restore import STRONGLY_FADED

    truth, faded = STRONGLY_FADED(h=480, w=640)
    src = tmp_path / "print.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Shoebox Scanner"
    Image.fromarray(faded).save(src, "JPEG", quality=95, exif=exif.tobytes())
    open_and_wait(qtbot, window, src)
    assert window.restore_banner.isVisible() and "faded colour print" in window.restore_text.text()
    assert window.act.restore.isEnabled() and not window.act.restore.isChecked()
    colorized = window.last_result.rgb.copy()

    qtbot.mouseClick(window.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_result is not None and window.last_result.request.restore, timeout=TIMEOUT)
    assert not window.restore_banner.isVisible() and window.after_label.text() == "Restored" and window.act.restore.isChecked()
    restored = window.last_result.rgb.copy()
    assert np.abs(restored.astype(int) - colorized.astype(int)).mean() > 2
    click_view(qtbot, window.after_view, 0.5, 0.5)  # hints rest while restoring
    assert len(window.hints) == 0 and "Hints colour black-and-white photos" in window.statusBar().currentMessage()
    assert "rest while a faded print is restored" in window.panel.info.text() and not window.panel.pick_btn.isEnabled()

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.last_result.request.restore, timeout=TIMEOUT)
    assert window.after_label.text() == "Colour" and not window.act.restore.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_result.request.restore, timeout=TIMEOUT)

    window.hints.set_strength(0.0)  # none of the restoration: the faded print as it is
    qtbot.waitUntil(lambda: window.last_result.request.strength == 0.0, timeout=TIMEOUT)
    shown = window.last_result.rgb
    assert np.abs(shown.astype(int) - cv2.resize(faded, shown.shape[1::-1], interpolation=cv2.INTER_AREA)).mean() < 2
    window.hints.set_strength(1.0)

    out = tmp_path / "print_restored.png"
    asked = []
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName",
                        staticmethod(lambda _w, _t, default, *a: (asked.append(default), (str(out), ""))[1]))
    window.save_as()
    qtbot.waitUntil(lambda: window.saved_path == out, timeout=TIMEOUT)
    assert asked[0].endswith("print_restored.jpg")  # the default name says what was done
    with Image.open(out) as im:
        assert im.size == (640, 480) and im.getexif().get(0x010F) == "Shoebox Scanner"
        assert "restored by Rehue" in im.getexif().get(0x9213, "")
        saved = np.asarray(im.convert("RGB"))
    from test_restore import mean_de

    assert mean_de(saved, truth) < 0.8 * mean_de(faded, truth)


def test_a_gray_photo_cannot_be_restored(qtbot, window: MainWindow, photo: Path):
    open_and_wait(qtbot, window, photo)
    assert not window.restore_banner.isVisible() and not window.act.restore.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert not window.hints.restoring


def test_the_batch_dialog_restores_faded_prints_when_asked(qtbot, settings, tmp_path, colorizer):
    """The dialog's "Restore faded colour photos": ticked, the faded print gets its own output;
    the choice is remembered; recolouring every colour photo overrides it."""
    from test_restore import STRONGLY_FADED

    scans = tmp_path / "box"
    scans.mkdir()
    Image.fromarray(STRONGLY_FADED()[1]).save(scans / "faded.png")
    cv2.imwrite(str(scans / "gray.jpg"), gray_scene(200, 260))
    dlg = dialogs.BatchDialog(lambda: colorizer, settings, [scans])
    qtbot.addWidget(dlg)
    assert not dlg.restore_faded.isChecked()
    dlg.restore_faded.setChecked(True)
    dlg.output_row.edit.setText(str(tmp_path / "out"))
    dlg.start()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=TIMEOUT)
    assert [p.name for p in dlg.result.restored] == ["faded.png"] and len(dlg.result.written) == 2
    assert "1 faded colour photo restored" in dlg.status.text()
    again = dialogs.BatchDialog(lambda: colorizer, settings, [scans])
    qtbot.addWidget(again)
    assert again.restore_faded.isChecked()  # remembered
    again.recolour.setChecked(True)
    assert not again.restore_faded.isEnabled() and not again.options().restore_faded
