"""Protocol entry window (photo, figures, live checks) and the forensics pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter

from app.country_profiles import get_profile
from app.forensics import Forensics, StationPoint
from app.protocols import ProtocolDraft, add_protocol, get_protocol
from app.store import Store
from tests.conftest import FIXTURES
from tests.test_protocols import BY_0001, BY_0001_CANDIDATES
from tests.ui.conftest import Messages, wait_idle
from ui.forensics import (
    FAILED_COLOR,
    INCIDENT_COLOR,
    MARKED_BAR_COLOR,
    TurnoutHistogram,
    TurnoutScatter,
)
from ui.main_window import MainWindow
from ui.protocols import ProtocolEntry

PHOTO = FIXTURES / "photos" / "gps_DSCN0010.jpg"


def statuses(entry: ProtocolEntry) -> dict[str, tuple[str, str, str]]:
    """relation -> (status, kind, the item's text) as the list shows them."""
    out = {}
    for i in range(entry.checks.count()):
        item = entry.checks.item(i)
        relation, status, kind = item.data(Qt.ItemDataRole.UserRole)
        out[relation] = (status, kind, item.text())
    return out


def background(entry: ProtocolEntry, relation: str) -> str:
    for i in range(entry.checks.count()):
        item = entry.checks.item(i)
        if item.data(Qt.ItemDataRole.UserRole)[0] == relation:
            return str(item.background().color().name())
    raise AssertionError(relation)


def test_relations_are_checked_as_you_type(qtbot: Any, window: MainWindow) -> None:
    entry = ProtocolEntry(window.storage, window.images, get_profile("by-2020-presidential"),
                          window.language)
    qtbot.addWidget(entry)
    # The figures in the profile's line order, the candidates of the ballot listed.
    assert list(entry.fields) == ["1", "2", "3", "3.1", "3.2", "3.3", "5", "6", "7", "8", "9",
                                  "10", "11"]
    assert entry.candidates.rowCount() == 5
    assert {s for s, _, _ in statuses(entry).values()} == {"unknown"}
    for line, value in BY_0001.items():
        entry.fields[line].setText(str(value))
    for name, votes in BY_0001_CANDIDATES.items():
        entry.set_candidate_votes(name, str(votes))
    shown = statuses(entry)
    assert {s for s, _, _ in shown.values()} == {"ok"}
    assert "1660 = 1329 + 1 + 330" in shown["received"][2]
    assert "1319 = 1218 + 96 + 5" in shown["votes"][2]

    entry.fields["10"].setText("2")
    shown = statuses(entry)
    assert shown["received"][:2] == ("failed", "hard")
    assert "1660 = 1329 + 2 + 330" in shown["received"][2]
    assert background(entry, "received") == "#ffebee"  # red: a hard relation fails
    assert all(s == "ok" for r, (s, _, _) in shown.items() if r != "received")

    entry.fields["10"].setText("")  # blank: unknown, not zero
    shown = statuses(entry)
    assert shown["received"][0] == "unknown" and "1660 = 1329 + ? + 330" in shown["received"][2]

    entry.fields["1"].setText("1300")
    shown = statuses(entry)
    assert shown["issued_list"][:2] == ("failed", "soft")
    assert background(entry, "issued_list") == "#fff3cd"  # amber: only suspicious

    entry.fields["2"].setText("13x9")
    assert entry.fields["2"].styleSheet()  # marked
    assert statuses(entry)["stuffing"][0] == "unknown"
    entry.set_language("ru")
    assert entry.line_labels["9"].text().startswith("9. Бюллетени")


def open_entry(qtbot: Any, window: MainWindow) -> ProtocolEntry:
    window.actions["protocol_entry"].trigger()
    qtbot.waitUntil(lambda: getattr(window, "protocol_entry", None) is not None, timeout=10_000)
    entry: ProtocolEntry = window.protocol_entry  # type: ignore[attr-defined]
    return entry  # a child of the window, deleted when closed: not given to qtbot


def fill_kz(entry: ProtocolEntry, valid: int) -> None:
    entry.station.setText("75-003")
    entry.source.setCurrentIndex(entry.source.findData("official"))
    entry.fields["valid"].setText(str(valid))
    entry.fields["against_all"].setText("20")
    entry.set_candidate_votes("Кандидат А", "300")
    entry.set_candidate_votes("Кандидат Б", str(valid - 320))


def test_photo_zoom_rotate_and_save(qtbot: Any, window: MainWindow, messages: Messages) -> None:
    entry = open_entry(qtbot, window)
    assert "voters_on_list" in entry.fields  # the election's profile: kz-presidential
    entry.open_photo(PHOTO)
    qtbot.waitUntil(lambda: entry.photo.item is not None, timeout=10_000)
    assert entry.photo.item is not None
    assert entry.photo.item.pixmap().width() == 640
    before = entry.photo.zoom
    qtbot.mouseClick(entry.zoom_in, Qt.MouseButton.LeftButton)
    assert entry.photo.zoom > before
    qtbot.mouseClick(entry.rotate_button, Qt.MouseButton.LeftButton)
    assert entry.photo.angle == 90
    assert abs(entry.photo.transform().m12()) > 0  # turned a quarter
    qtbot.mouseClick(entry.fit_button, Qt.MouseButton.LeftButton)
    assert entry.photo.angle == 90

    fill_kz(entry, 570)
    assert statuses(entry)["valid"][0] == "ok"
    qtbot.mouseClick(entry.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: entry.saved_id is not None, timeout=10_000)
    assert "75-003" in entry.status.text()
    wait_idle(qtbot, window)
    with Store(window.data_dir) as store:
        view = get_protocol(store, "75-003", "official")
    assert view.lines == {"valid": 570, "against_all": 20}
    assert view.candidates == {"Кандидат А": 300, "Кандидат Б": 250}
    assert [p.original_name for p in view.photos] == [PHOTO.name]

    # A different entry for the same station and source: asked, then replaced.
    fill_kz(entry, 580)
    entry.saved_id = None
    messages.answer = True
    qtbot.mouseClick(entry.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: entry.saved_id is not None, timeout=10_000)
    assert any("valid: stored 570, new 580" in q for q in messages.asked)  # what differs
    wait_idle(qtbot, window)
    with Store(window.data_dir) as store:
        assert get_protocol(store, "75-003", "official").lines["valid"] == 580
    entry.close()


def test_conflict_refused_keeps_the_stored_figures(
    qtbot: Any, window: MainWindow, messages: Messages
) -> None:
    entry = open_entry(qtbot, window)
    fill_kz(entry, 570)
    entry.save()
    qtbot.waitUntil(lambda: entry.saved_id is not None, timeout=10_000)
    fill_kz(entry, 600)
    messages.answer = False
    entry.save()
    qtbot.waitUntil(lambda: bool(messages.asked), timeout=10_000)
    wait_idle(qtbot, window)
    with Store(window.data_dir) as store:
        assert get_protocol(store, "75-003", "official").lines["valid"] == 570
    assert entry.save_button.isEnabled()
    entry.close()


def test_forensics_pictures_and_png(
    qtbot: Any, window: MainWindow, messages: Messages, tmp_path: Path
) -> None:
    figures = [("75-001", 2000, 1500, 900), ("75-002", 2000, 1000, 500),
               ("75-003", 1000, 950, 900), ("75-004", 1000, 500, 250)]

    def add_all(ctx: Any) -> None:
        for code, voters, issued, leader in figures:
            add_protocol(ctx.store, ProtocolDraft(
                code, "official", {"voters_on_list": voters, "ballots_issued": issued},
                {"Кандидат А": leader, "Кандидат Б": issued - leader}))

    window.storage.submit(add_all)
    wait_idle(qtbot, window)
    window.actions["forensics"].trigger()
    forensics = window.forensics  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: forensics.data is not None, timeout=10_000)
    data = forensics.data
    assert data.leader == "Кандидат А" and len(data.points) == 4
    turnout = {p.code: round(p.turnout, 2) for p in data.points}
    assert turnout == {"75-001": 0.75, "75-002": 0.5, "75-003": 0.95, "75-004": 0.5}
    counts = forensics.histogram.counts()
    assert sum(counts) == 4 and counts[25] == 2  # two stations at 50%
    assert "Кандидат А" in forensics.scatter.y_label
    forensics.grab()  # paints both pictures on screen without error

    messages.save_files = [tmp_path / "turnout.png", tmp_path / "scatter"]
    qtbot.mouseClick(forensics.save_histogram, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(forensics.save_scatter, Qt.MouseButton.LeftButton)
    for name in ("turnout.png", "scatter.png"):
        image = QImage(str(tmp_path / name))
        assert (image.width(), image.height()) == (1200, 800)

    # The observers' copies: none entered, so an empty picture that says so.
    forensics.source.setCurrentIndex(forensics.source.findData("observer"))
    qtbot.waitUntil(lambda: forensics.data is not None and not forensics.data.points,
                    timeout=10_000)
    forensics.grab()
    wait_idle(qtbot, window)
    forensics.close()


def test_forensics_marks_stations_with_incidents_or_failed_checks(qtbot: Any) -> None:
    data = Forensics("official", "А", (
        StationPoint("1", 0.50, 0.50),
        StationPoint("2", 0.25, 0.75, failed=("parts",)),
        StationPoint("3", 0.75, 0.25, incidents=2),
    ), 0)
    hist = TurnoutHistogram()
    hist.set_data(data)
    assert hist.counts()[25] == 1 and sum(hist.counts(marked_only=True)) == 2
    scatter = TurnoutScatter()
    qtbot.addWidget(scatter)
    qtbot.addWidget(hist)
    scatter.set_data(data)
    image = QImage(1200, 800, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    scatter.draw(painter, QRectF(0, 0, 1200, 800))
    painter.end()
    area = scatter.plot_area(QRectF(0, 0, 1200, 800))

    def at(turnout: float, share: float) -> tuple[int, int]:
        return (round(area.left() + area.width() * turnout),
                round(area.bottom() - area.height() * share))

    x, y = at(0.25, 0.75)
    assert image.pixelColor(x, y).name() == FAILED_COLOR.name()  # the orange dot
    x, y = at(0.75, 0.25)
    ring = [image.pixelColor(x + dx, y) for dx in (5, 6, 7)]  # antialiased: near the colour
    assert any(c.red() > 150 and c.green() < 110 and c.blue() < 110 for c in ring), ring
    assert image.pixelColor(x + 3, y).name() == "#ffffff"  # a ring, not a disc
    x, y = at(0.5, 0.5)
    assert image.pixelColor(x, y).name() not in (FAILED_COLOR.name(), INCIDENT_COLOR.name())
    himage = QImage(1200, 800, QImage.Format.Format_ARGB32)
    painter = QPainter(himage)
    hist.draw(painter, QRectF(0, 0, 1200, 800))
    painter.end()
    harea = hist.plot_area(QRectF(0, 0, 1200, 800))
    bar_x = round(harea.left() + harea.width() * (37.5 / 50))  # the 74-76% bin: station 3
    assert himage.pixelColor(bar_x, round(harea.bottom()) - 5).name() == MARKED_BAR_COLOR.name()
