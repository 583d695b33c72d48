"""Every item model passes Qt's model tester; the incident model fetches lazily, by page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from PySide6.QtCore import Qt

from app.elections import StationView
from app.incidents import EvidenceView, IncidentView
from ui.models import CODE_ROLE, EvidenceListModel, IncidentTableModel, StationListModel

T0 = datetime(2024, 3, 17, 9, 0, tzinfo=timezone(timedelta(hours=5)))


def incident(num: int) -> IncidentView:
    return IncidentView(
        id=f"id-{num}", num=num, station_id="s", station_code="75-001", station_name="№ 1",
        observed_at=T0 + timedelta(minutes=num), category="ballot_stuffing", severity="critical",
        status="new", description=f"Вброс {num}\nвторая строка", witnesses=(), reporter="Әсел",
        legal_refs=None, deleted=False, created_at=T0, updated_at=T0,
    )


class FakePages:
    """Stands in for the storage worker: records requests, answers when told to."""

    def __init__(self) -> None:
        self.requests: list[tuple[list[int], Callable[[list[IncidentView]], None]]] = []

    def __call__(self, nums: list[int], deliver: Callable[[list[IncidentView]], None]) -> None:
        self.requests.append((nums, deliver))

    def answer_all(self) -> None:
        while self.requests:
            nums, deliver = self.requests.pop(0)
            deliver([incident(n) for n in nums])


def test_incident_model_passes_modeltester(qtmodeltester: Any) -> None:
    pages = FakePages()
    model = IncidentTableModel(pages, "ru")
    model.set_nums(list(range(450, 0, -1)))
    qtmodeltester.check(model, force_py=True)
    pages.answer_all()
    qtmodeltester.check(model, force_py=True)
    pages.answer_all()


def test_incident_model_fetches_only_the_pages_shown() -> None:
    pages = FakePages()
    model = IncidentTableModel(pages, "kk")
    model.set_nums(list(range(100_000, 0, -1)))
    assert model.rowCount() == 100_000 and pages.requests == []
    assert model.index(0, 0).data() == "…"  # placeholder until the page arrives
    model.index(5, 1).data()  # same page: no second request
    assert len(pages.requests) == 1 and len(pages.requests[0][0]) == IncidentTableModel.PAGE
    pages.answer_all()
    assert model.index(0, 0).data() == "100000"
    assert model.index(0, 3).data() == "Бюллетеньдерді жәшікке заңсыз салу"
    assert model.index(0, 6).data() == "Вброс 100000"  # first line only: rows never grow
    model.index(99_999, 0).data()
    assert pages.requests[0][0][-1] == 1
    pages.answer_all()
    assert model.row_of_num(1) == 99_999


def test_incident_model_keeps_memory_bounded() -> None:
    pages = FakePages()
    model = IncidentTableModel(pages)
    model.set_nums(list(range(100_000, 0, -1)))
    for row in range(0, 100_000, IncidentTableModel.PAGE):
        model.index(row, 0).data()
        pages.answer_all()
    assert len(model._pages) <= IncidentTableModel.MAX_PAGES


def test_stale_pages_are_dropped() -> None:
    pages = FakePages()
    model = IncidentTableModel(pages)
    model.set_nums([3, 2, 1])
    model.index(0, 0).data()
    model.set_nums([9, 8])  # a new search replaced the list before the page came
    pages.answer_all()
    assert model.incident_at(0) is None


def test_station_model_passes_modeltester(qtmodeltester: Any) -> None:
    model = StationListModel()
    model.set_stations([
        StationView("a", "75-001", "№ 1 сайлау учаскесі", "Алматы", "Әуезов", "к-сі 55", None,
                    2000, None, None, 3),
        StationView("b", "75-002", "Участок № 2", "Алматы", "Ауэзовский", "д. 67", "ТИК", None,
                    None, None, 1),
    ])
    qtmodeltester.check(model, force_py=True)
    assert model.index(0, 1).data() == "4"
    assert model.index(2, 0).data(CODE_ROLE) == "75-002"


def test_evidence_model_passes_modeltester(qtmodeltester: Any) -> None:
    requested: list[str] = []
    model = EvidenceListModel(requested.append)
    model.set_evidence([
        EvidenceView("e1", "i", "ab" * 32, "IMG_1.jpg", "image/jpeg", 10, 4, 3, None, None,
                     None, 1, None, ()),
    ])
    qtmodeltester.check(model, force_py=True)
    assert requested == ["ab" * 32]  # asked once, however often the view repaints
    assert model.index(0).data(Qt.ItemDataRole.DisplayRole) == "IMG_1.jpg"
