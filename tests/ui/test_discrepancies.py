"""Belarus 2020 in the app: a station opened from the forensics scatter, and the discrepancies
window (sortable findings, the line-by-line comparison, an incident made by keyboard)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from pytestqt.modeltest import ModelTester

from app import profile
from app.elections import create_election
from app.incidents import IncidentFilter, list_incidents
from app.results_import import import_results
from app.store import Store
from tests.conftest import FIXTURES
from tests.ui.conftest import Messages, wait_idle
from ui.application import KuaApp, install_font
from ui.discrepancies import DiscrepanciesWindow, DiscrepancyModel
from ui.main_window import MainWindow

BELARUS = FIXTURES / "protocols" / "belarus-2020-observer-protocols.csv"
SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "discrepancies.png"


def official_copy(tmp_path: Path) -> Path:
    """The observers' file as the official result, three stations' figures changed (as in
    tests/test_results.py): 01-010-0001 by 200 on two lines, 0004 by 10, 0005 by 1."""
    text = BELARUS.read_text(encoding="utf-8")
    for old, new in (
        ("01-010-0001,1656,1329,1319,252,4,1063,21,16,464,701",
         "01-010-0001,1656,1329,1319,252,4,1063,21,16,664,501"),
        ("01-010-0004,1805,1717,", "01-010-0004,1805,1727,"),
        ("01-010-0005,2270,2122,2122,863,23,1236,42,21,1596",
         "01-010-0005,2270,2122,2122,863,23,1236,42,21,1597"),
    ):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "official.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def proxy_tester(request: pytest.FixtureRequest) -> Iterator[ModelTester]:
    """A second model tester: one tester follows one model (the proxy resets with its source)."""
    tester = ModelTester(request.config)
    yield tester
    tester._cleanup()


@pytest.fixture
def by_window(qtbot: Any, data_dir: Path, tmp_path: Path,
              messages: Messages) -> Iterator[MainWindow]:
    from PySide6.QtWidgets import QApplication

    with Store(data_dir) as store:
        create_election(store, "Belarus 2020", "2020-08-09", profile="by-2020-presidential")
        profile.set_language(store, "en")
        profile.set_applicant(store, profile.Applicant("Іваноўская Алена", "observer"))
        import_results(store, BELARUS, "observer", create_stations=True)
        import_results(store, official_copy(tmp_path), "official")
    install_font(QApplication.instance())
    app = KuaApp(data_dir)
    with qtbot.waitSignal(app.window_shown, timeout=10_000):
        app.start()
    window = app.window
    assert window is not None
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.stations.rowCount() > 600, timeout=10_000)
    yield window
    wait_idle(qtbot, window)
    window.close()
    app.close()
    app.language.switch("en")


def click_a_dot(qtbot: Any, window: MainWindow, forensics: Any) -> None:
    """Click a dot no other dot is near, found through the widget's own mapping: its station
    is selected in the main window and its protocol shown with its checks."""
    scatter = forensics.scatter
    point = next(p for p in forensics.data.points
                 if scatter.point_at(scatter.widget_position(p)) == p
                 and (p.code,) != window.selected_station_codes())
    at = scatter.widget_position(point)
    previous = window.station_check
    with qtbot.waitSignal(forensics.station_chosen, timeout=5_000) as chosen:
        QTest.mouseClick(scatter, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         QPoint(round(at.x()), round(at.y())))
    assert chosen.args == [point.code, "official"]
    assert window.selected_station_codes() == (point.code,)
    qtbot.waitUntil(lambda: window.station_check not in (None, previous), timeout=10_000)
    entry = window.station_check
    assert entry.station.text() == point.code
    assert entry.source.currentData() == "official"
    assert entry.results and point.code in entry.status.text()
    assert point.code in scatter.tooltip(point)
    wait_idle(qtbot, window)


def test_clicking_a_scatter_dot_opens_the_station(qtbot: Any, by_window: MainWindow) -> None:
    window = by_window
    window.actions["forensics"].trigger()
    forensics = window.forensics  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: forensics.data is not None, timeout=10_000)
    scatter = forensics.scatter
    for size in ((900, 600), (1400, 900)):  # hit-testing follows the widget's size
        forensics.resize(*size)
        forensics.show()
        qtbot.waitExposed(forensics)
        click_a_dot(qtbot, window, forensics)
    # Empty space is no station.
    assert scatter.point_at(scatter.rect().topLeft().toPointF()) is None
    forensics.close()


def test_discrepancies_window_and_incident_by_keyboard(
    qtbot: Any, by_window: MainWindow, qtmodeltester: Any, proxy_tester: ModelTester,
    messages: Messages, tmp_path: Path,
) -> None:
    # The window's fixture first: the model testers let go of the models before the windows
    # (and the models with them) are closed and deleted.
    window = by_window
    window.actions["discrepancies"].trigger()
    found: DiscrepanciesWindow = window.discrepancies  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: found.loaded, timeout=10_000)
    qtmodeltester.check(found.model, force_py=True)
    proxy_tester.check(found.proxy, force_py=True)

    def codes() -> list[str]:
        return [found.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 2)
                for r in range(found.proxy.rowCount())]

    size = DiscrepancyModel.COLUMNS.index("size")
    assert codes() == ["01-010-0001", "01-010-0004", "01-010-0005"]  # largest first
    assert [found.proxy.index(r, size).data() for r in range(3)] == ["200", "10", "1"]
    # Clicking the header sorts the other way, then by another column.
    header = found.table.horizontalHeader()
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier,
                     QPoint(header.sectionViewportPosition(size) + 5, header.height() // 2))
    assert codes() == ["01-010-0005", "01-010-0004", "01-010-0001"]
    found.table.sortByColumn(size, Qt.SortOrder.DescendingOrder)

    # The first row is chosen: its comparison line by line, and the station in the main list.
    assert found.details.rowCount() == 2
    lines = {found.details.item(r, 0).text(): (found.details.item(r, 1).text(),
                                               found.details.item(r, 2).text(),
                                               found.details.item(r, 3).text())
             for r in range(2)}
    assert lines["Лукашенко Александр Григорьевич"] == ("464", "664", "+200")
    assert lines["Тихановская Светлана Георгиевна"] == ("701", "501", "-200")
    qtbot.keyClick(found.table, Qt.Key.Key_Down)
    assert found.current().station_code == "01-010-0004"
    assert found.details.rowCount() == 1
    assert window.selected_station_codes() == ("01-010-0004",)

    found.resize(900, 560)
    found.show()
    qtbot.waitExposed(found)
    # KUA_SCREENSHOTS=1 refreshes the README's picture; otherwise the grab goes to tmp_path.
    shot = SCREENSHOT if os.environ.get("KUA_SCREENSHOTS") else tmp_path / SCREENSHOT.name
    assert found.grab().save(str(shot))

    found.table.setFocus()
    with qtbot.waitSignal(found.incident_created, timeout=10_000):
        qtbot.keyClick(found.table, Qt.Key.Key_Return)
    assert any("01-010-0004" in text and "No." in text for _, _, text in messages.told)
    qtbot.waitUntil(lambda: window.incidents.rowCount() == 1, timeout=10_000)  # refreshed
    wait_idle(qtbot, window)
    with Store(window.data_dir) as store:
        (inc,) = list_incidents(store, IncidentFilter(station_codes=("01-010-0004",)))
    assert inc.category == "protocol_falsified"
    assert "01-010-0004" in inc.description

    # The posted copies: none entered, so nothing differs.
    found.source.setCurrentIndex(found.source.findData("posted"))
    qtbot.waitUntil(lambda: found.loaded and found.model.rowCount() == 0, timeout=10_000)
    assert not found.create_button.isEnabled()
    found.hide()  # closed (and deleted) with the main window, after the testers let go
