"""Photos dropped, pasted and viewed; a broken one is named, the others import."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest

from tests.conftest import FIXTURES
from tests.ui.conftest import REPORTS, Messages, wait_idle
from ui.main_window import MainWindow

PHOTOS = FIXTURES / "photos"
GOOD = ["gps_DSCN0010.jpg", "orientation_landscape_6.jpg", "heic_IMG_5195.HEIC"]


def open_first_incident(qtbot: Any, window: MainWindow) -> None:
    with qtbot.waitSignal(window.evidence.model.modelReset, timeout=5_000):
        window.table.setCurrentIndex(window.incidents.index(0, 0))


def drop(widget: Any, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def test_drop_three_photos_and_a_broken_one(qtbot: Any, window: MainWindow,
                                            messages: Messages) -> None:
    open_first_incident(qtbot, window)
    panel = window.evidence
    # The event loop keeps running during the import: a heartbeat timer keeps ticking.
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.append(time.monotonic()))
    heartbeat.start()
    try:
        drop(panel, [PHOTOS / n for n in GOOD] + [PHOTOS / "corrupted.jpg"])
        assert panel.importing
        qtbot.waitUntil(lambda: not panel.importing, timeout=60_000)
    finally:
        heartbeat.stop()
    assert len(beats) >= 2
    names = sorted(e.original_name for e in panel.model.items)
    assert names == sorted(GOOD)
    assert len(messages.told) == 1
    assert "corrupted.jpg" in messages.told[0][2]
    for good in GOOD:
        assert good not in messages.told[0][2]
    # Thumbnails arrive from the image worker.
    for row in range(panel.model.rowCount()):
        panel.model.index(row).data(Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(
        panel.model.index(r).data(Qt.ItemDataRole.DecorationRole) is not None
        for r in range(panel.model.rowCount())), timeout=10_000)
    qtbot.waitUntil(lambda: window.counts is not None and window.counts.evidence == 3)


def test_drop_a_folder(qtbot: Any, window: MainWindow, tmp_path: Path,
                      messages: Messages) -> None:
    folder = tmp_path / "from-observer"
    folder.mkdir()
    for name in ("gps_DSCN0012.jpg", "orientation_landscape_3.jpg"):
        (folder / name).write_bytes((PHOTOS / name).read_bytes())
    (folder / "notes.txt").write_text("not a photo")
    open_first_incident(qtbot, window)
    drop(window.evidence, [folder])
    qtbot.waitUntil(lambda: not window.evidence.importing, timeout=60_000)
    assert window.evidence.model.rowCount() == 2
    assert messages.told == []  # notes.txt is skipped in a folder, not reported


def test_photos_dropped_on_a_new_incident_save_it_first(qtbot: Any, window: MainWindow) -> None:
    window.new_incident()
    window.editor.station.setText("75-005")
    window.editor.description.setPlainText("Фото протокола")
    with qtbot.waitSignal(window.editor.saved, timeout=10_000):
        drop(window.evidence, [PHOTOS / "gps_DSCN0021.jpg"])
    qtbot.waitUntil(lambda: window.evidence.model.rowCount() == 1, timeout=30_000)
    wait_idle(qtbot, window)


def test_paste_an_image_from_the_clipboard(qtbot: Any, window: MainWindow,
                                          messages: Messages) -> None:
    open_first_incident(qtbot, window)
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(QColor("darkgreen"))
    QGuiApplication.clipboard().setImage(image)
    try:
        window.actions["paste_photo"].trigger()
        qtbot.waitUntil(lambda: window.evidence.model.rowCount() == 1, timeout=30_000)
    finally:
        QGuiApplication.clipboard().clear()
    evidence = window.evidence.model.evidence_at(0)
    assert evidence is not None and evidence.original_name.endswith(".png")
    assert (evidence.width, evidence.height) == (64, 48)
    wait_idle(qtbot, window)
    leftovers = list((window.data_dir / "cache" / "pasted").glob("*"))
    assert leftovers == []  # the temporary PNG is gone once its bytes are stored
    assert messages.told == []


def test_paste_file_urls_imports_the_files(qtbot: Any, window: MainWindow) -> None:
    open_first_incident(qtbot, window)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(PHOTOS / "Canon_40D.jpg"))])
    assert window.evidence.import_mime(mime)
    qtbot.waitUntil(lambda: window.evidence.model.rowCount() == 1, timeout=30_000)
    wait_idle(qtbot, window)


def test_viewer_shows_photo_oriented_with_provenance(qtbot: Any, window: MainWindow) -> None:
    open_first_incident(qtbot, window)
    window.evidence.import_paths([PHOTOS / "orientation_landscape_6.jpg",
                                  PHOTOS / "gps_DSCN0010.jpg"])
    qtbot.waitUntil(lambda: window.evidence.model.rowCount() == 2, timeout=30_000)
    by_name = {e.original_name: e for e in window.evidence.model.items}
    rotated = by_name["orientation_landscape_6.jpg"]
    viewer = window.evidence.open_viewer(rotated)
    qtbot.waitUntil(lambda: viewer.view.item is not None, timeout=10_000)
    assert viewer.view.item is not None
    pixmap = viewer.view.item.pixmap()
    # Stored as portrait pixels with EXIF orientation 6: shown turned, as the landscape it is.
    assert rotated.orientation == 6
    assert pixmap.width() > pixmap.height()
    assert viewer.fields["sha256"].text().replace("\n", "") == rotated.sha256
    viewer.view.zoom_by(2.0)
    assert not viewer.view.fitted
    viewer.close()
    gps = window.evidence.open_viewer(by_name["gps_DSCN0010.jpg"])
    assert gps.fields["gps"].text() != "—"
    assert gps.fields["camera"].text() != "—"
    qtbot.waitUntil(lambda: gps.view.item is not None, timeout=10_000)
    gps.close()
    wait_idle(qtbot, window)


def test_cancel_an_import(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    open_first_incident(qtbot, window)
    many = [PHOTOS / n for n in ("gps_DSCN0010.jpg", "gps_DSCN0012.jpg", "gps_DSCN0021.jpg",
                                  "Canon_40D.jpg", "Nikon_D70.jpg", "mobile_jolla.jpg")]
    window.evidence.import_paths(many)
    window.evidence.cancel_import()
    qtbot.waitUntil(lambda: not window.evidence.importing, timeout=60_000)
    assert window.evidence.model.rowCount() < len(many)


def attach_two(qtbot: Any, window: MainWindow) -> list[str]:
    open_first_incident(qtbot, window)
    window.evidence.import_paths([PHOTOS / "gps_DSCN0010.jpg", PHOTOS / "Canon_40D.jpg"])
    qtbot.waitUntil(lambda: window.evidence.model.rowCount() == 2, timeout=30_000)
    wait_idle(qtbot, window)
    return [e.original_name for e in window.evidence.model.items]


def stored_names(window: MainWindow) -> list[str]:
    from app.incidents import get_incident
    from app.store import Store

    assert window.editor.current is not None
    with Store(window.data_dir) as store:
        view = get_incident(store, window.editor.current.id)
    return [e.original_name for e in view.evidence]


def test_delete_key_detaches_a_photo_and_undo_brings_it_back(
        qtbot: Any, window: MainWindow) -> None:
    names = attach_two(qtbot, window)
    panel = window.evidence
    qtbot.waitUntil(lambda: window.counts is not None and window.counts.evidence == 2)
    panel.view.setFocus()
    panel.view.setCurrentIndex(panel.model.index(0))
    QTest.keyClick(panel.view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=5_000)
    wait_idle(qtbot, window)
    # The photo left the incident; the incident itself (the window's Delete) stayed.
    assert [e.original_name for e in panel.model.items] == names[1:]
    assert stored_names(window) == names[1:]
    assert window.editor.current is not None
    assert window.incidents.rowCount() == len(REPORTS)
    qtbot.waitUntil(lambda: window.counts is not None and window.counts.evidence == 1)
    assert names[0] in window.statusBar().currentMessage()

    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=5_000)
    wait_idle(qtbot, window)
    assert [e.original_name for e in panel.model.items] == names  # back in its place
    assert stored_names(window) == names
    qtbot.waitUntil(lambda: window.counts is not None and window.counts.evidence == 2)

    window.actions["redo"].trigger()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=5_000)
    wait_idle(qtbot, window)
    assert stored_names(window) == names[1:]


def test_context_menu_detaches_the_photo_under_the_cursor(qtbot: Any,
                                                          window: MainWindow) -> None:
    names = attach_two(qtbot, window)
    panel = window.evidence
    second = panel.view.visualRect(panel.model.index(1)).center()
    assert panel.context_menu(panel.view.viewport().rect().bottomRight()) is None  # no photo
    menu = panel.context_menu(second)
    assert menu is not None
    assert panel.detach_action in menu.actions() and panel.open_action in menu.actions()
    assert panel.selected_evidence()[0].original_name == names[1]
    panel.detach_action.trigger()
    menu.deleteLater()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=5_000)
    wait_idle(qtbot, window)
    assert stored_names(window) == names[:1]
    assert window.undo_stack.undoText() == f"Detach photo {names[1]}"
    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=5_000)
    wait_idle(qtbot, window)


def test_detaching_several_photos_is_one_undo_step(qtbot: Any, window: MainWindow) -> None:
    names = attach_two(qtbot, window)
    panel = window.evidence
    panel.view.selectAll()
    panel.detach_selected()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0, timeout=5_000)
    wait_idle(qtbot, window)
    assert window.undo_stack.undoText() == "Detach 2 photos"
    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=5_000)
    wait_idle(qtbot, window)
    assert [e.original_name for e in panel.model.items] == names
