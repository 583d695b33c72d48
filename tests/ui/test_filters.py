"""The time filter: presets, and an arbitrary period chosen in a small keyboard-driven dialog."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from tests.ui.conftest import ALMATY, REPORTS, wait_idle
from ui import filters
from ui.filters import PERIOD, Period, PeriodDialog, day_period, local
from ui.main_window import MainWindow

# The fixture's incidents were observed in Almaty at 09:00, 10:00, 11:00 and 12:00.
TEN = datetime(2024, 3, 17, 10, 0, tzinfo=ALMATY)
ELEVEN = datetime(2024, 3, 17, 11, 0, tzinfo=ALMATY)


class Answers:
    """Stands in for the period dialog: records what it proposed, answers from a list."""

    def __init__(self, *answers: Period | None) -> None:
        self.answers = list(answers)
        self.proposed: list[Period] = []

    def __call__(self, _parent: Any, since: datetime, until: datetime) -> Period | None:
        self.proposed.append((since, until))
        return self.answers.pop(0)


def test_a_period_filters_the_list(qtbot: Any, window: MainWindow,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    qtbot.waitUntil(lambda: window.election is not None)
    bar = window.filters
    # Local wall-clock times, as the dialog gives them; the ends are included.
    ten, eleven = TEN.astimezone(), ELEVEN.astimezone().replace(second=59)
    answers = Answers((ten, eleven), None)
    monkeypatch.setattr(filters, "ask_period", answers)

    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        bar.choose_period()
    assert window.incidents.rowCount() == 2  # 10:00 and 11:00
    flt = window.current_filter()
    assert flt.since == ten and flt.until == eleven
    assert flt.since.tzinfo is not None and flt.until.tzinfo is not None
    # The first proposal is the election day; the chosen period shows in the box.
    assert window.election is not None
    assert answers.proposed[0] == day_period(date.fromisoformat(window.election.date))
    assert bar.time_range.currentText() == f"{ten:%d.%m %H:%M} – {eleven:%d.%m %H:%M}"
    assert "17.03.2024" in bar.time_range.toolTip()

    # Asked again, it proposes the period in force; cancelling keeps it.
    bar.choose_period()
    assert answers.proposed[1] == (ten, eleven)
    assert bar.time_range.currentData() == PERIOD and bar.period == (ten, eleven)
    assert window.incidents.rowCount() == 2

    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        bar.time_range.setCurrentIndex(bar.time_range.findData(None))
    assert window.incidents.rowCount() == len(REPORTS)

    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        bar.set_period(ten, eleven)
    assert window.incidents.rowCount() == 2
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        window.clear_filters()
    assert window.incidents.rowCount() == len(REPORTS)
    assert bar.period is None and bar.time_range.itemText(bar.time_range.findData(PERIOD)) \
        == "Period…"
    wait_idle(qtbot, window)


def test_cancelling_the_first_period_goes_back_to_the_range_in_force(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    bar = window.filters
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        bar.time_range.setCurrentIndex(bar.time_range.findData(24))
    monkeypatch.setattr(filters, "ask_period", Answers(None))
    bar.choose_period()
    assert bar.time_range.currentData() == 24
    assert window.current_filter().until is None
    wait_idle(qtbot, window)


def test_period_dialog_by_keyboard(qtbot: Any) -> None:
    dialog = PeriodDialog(*day_period(date(2024, 3, 17)))
    qtbot.addWidget(dialog)
    with qtbot.waitActive(dialog):  # mnemonics (Alt+T) work in the active window only
        dialog.show()
    assert dialog.focusWidget() is dialog.since
    # Digits fill day, month, year, hour, minute in turn (the separators come by themselves).
    QTest.keyClicks(dialog.since, "170320241000")
    QTest.keyClick(dialog.since, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)  # Alt+T: "To"
    assert dialog.focusWidget() is dialog.until
    QTest.keyClicks(dialog.until, "160320241130")
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled() and dialog.problem.isVisible()  # the end before the start
    QTest.keyClick(dialog.until, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)
    QTest.keyClick(dialog.since, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)  # day selected
    QTest.keyClicks(dialog.until, "170320241130")
    assert ok.isEnabled() and not dialog.problem.isVisible()
    with qtbot.waitSignal(dialog.accepted):
        QTest.keyClick(dialog.until, Qt.Key.Key_Return)
    since, until = dialog.period()
    assert since == local(datetime(2024, 3, 17, 10, 0))
    assert until == local(datetime(2024, 3, 17, 11, 30, 59, 999_999))


def test_period_label_in_russian(qtbot: Any, window: MainWindow) -> None:
    window.switch_language("ru")
    qtbot.waitUntil(lambda: window.filters.time_range.itemText(
        window.filters.time_range.findData(PERIOD)) == "Период…")
    wait_idle(qtbot, window)


def test_at_1366_the_filters_and_terms_are_not_cut_in_russian(qtbot: Any,
                                                              window: MainWindow) -> None:
    window.switch_language("ru")
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.filters.severity.currentText() == "Любая серьёзность")
    window.resize(1366, 740)
    qtbot.waitUntil(lambda: window.width() == 1366)
    bar = window.filters
    for combo in (bar.severity, bar.status, bar.time_range):
        for i in range(combo.count()):
            text = combo.itemText(i)
            if combo.itemData(i) != PERIOD:
                assert combo.width() > combo.fontMetrics().horizontalAdvance(text) + 20, text
    # Severity and status columns hold their longest label; a cut category has a tooltip.
    header = window.table.horizontalHeader()
    metrics = window.table.fontMetrics()
    assert header.sectionSize(4) > metrics.horizontalAdvance("Незначительное")
    assert header.sectionSize(5) > metrics.horizontalAdvance("Жалоба подана")
    assert header.sectionSize(3) >= 180
    index = window.incidents.index(0, 3)
    qtbot.waitUntil(lambda: index.data(Qt.ItemDataRole.ToolTipRole) is not None)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == index.data()
    # The station list: code and name, the full name and address in the tooltip.
    station = window.stations.stations[0]
    tip = window.stations.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert station.name in tip and station.address in tip
    assert window.stations.index(1, 0).data().startswith(station.code)
