"""Undoable changes (QUndoStack commands) for this session.

Each command runs its operation on the storage worker. Adding and editing run the operation
first and push the command only once it succeeded (a refused edit must not sit on the undo
stack); deleting runs from redo() like any classic command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from app.incidents import EvidenceView, IncidentView, edit_incident, set_deleted
from ui.worker import Worker

Changed = Callable[[IncidentView], None]


def editable_values(view: IncidentView) -> dict[str, Any]:
    """An incident's user-editable fields, in the form edit_incident takes them."""
    return {
        "station_code": view.station_code,
        "observed_at": view.observed_at,
        "category": view.category,
        "severity": view.severity,
        "status": view.status,
        "description": view.description,
        "witnesses": list(view.witnesses),
        "reporter": view.reporter,
    }


class _WorkerCommand(QUndoCommand):
    def __init__(self, text: str, worker: Worker, on_changed: Callable[[Any], None],
                 already_done: bool) -> None:
        super().__init__(text)
        self._worker = worker
        self._on_changed = on_changed
        self._skip_redo = already_done

    def _submit(self, op: Callable[[Any], Any]) -> None:
        self._worker.submit(lambda ctx: op(ctx.store), self._on_changed)

    def redo(self) -> None:
        if self._skip_redo:  # QUndoStack.push calls redo; the change is already stored
            self._skip_redo = False
            return
        self._submit(self._forward)

    def undo(self) -> None:
        self._submit(self._backward)

    def _forward(self, store: Any) -> IncidentView:
        raise NotImplementedError

    def _backward(self, store: Any) -> IncidentView:
        raise NotImplementedError


class AddIncident(_WorkerCommand):
    """Undoing an add deletes (tombstones) the new incident; redo restores it."""

    def __init__(self, text: str, worker: Worker, view: IncidentView, on_changed: Changed) -> None:
        super().__init__(text, worker, on_changed, already_done=True)
        self.incident_id = view.id

    def _forward(self, store: Any) -> IncidentView:
        return set_deleted(store, self.incident_id, False)

    def _backward(self, store: Any) -> IncidentView:
        return set_deleted(store, self.incident_id, True)


class EditIncident(_WorkerCommand):
    def __init__(
        self, text: str, worker: Worker, incident_id: str, old: dict[str, Any],
        new: dict[str, Any], on_changed: Changed,
    ) -> None:
        super().__init__(text, worker, on_changed, already_done=True)
        self.incident_id = incident_id
        self._old, self._new = old, new

    def _forward(self, store: Any) -> IncidentView:
        return edit_incident(store, self.incident_id, **self._new)

    def _backward(self, store: Any) -> IncidentView:
        return edit_incident(store, self.incident_id, **self._old)


class DeleteIncident(_WorkerCommand):
    def __init__(self, text: str, worker: Worker, incident_id: str, on_changed: Changed) -> None:
        super().__init__(text, worker, on_changed, already_done=False)
        self.incident_id = incident_id

    def _forward(self, store: Any) -> IncidentView:
        return set_deleted(store, self.incident_id, True)

    def _backward(self, store: Any) -> IncidentView:
        return set_deleted(store, self.incident_id, False)


class DetachEvidence(QUndoCommand):
    """Detach a photo from its incident (a tombstone: the file stays stored); undo attaches it
    again. on_changed(view, detached) runs on the main thread after each step."""

    def __init__(self, text: str, worker: Worker, evidence: EvidenceView,
                 on_changed: Callable[[EvidenceView, bool], None],
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self._worker = worker
        self.evidence_id = evidence.id
        self._on_changed = on_changed

    def _submit(self, detached: bool) -> None:
        evidence_id = self.evidence_id

        def job(ctx: Any) -> EvidenceView:
            # Imported here, in the worker: app.evidence loads the imaging libraries.
            from app.evidence import detach_evidence

            return detach_evidence(ctx.store, evidence_id, detached)

        self._worker.submit(job, lambda view: self._on_changed(view, detached))

    def redo(self) -> None:
        self._submit(True)

    def undo(self) -> None:
        self._submit(False)
