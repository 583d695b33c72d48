"""Checking the audit log (see storage.audit for how the chain is built)."""

from __future__ import annotations

from typing import Any

from app.store import Store
from storage import audit
from storage.revisions import device_id


def verify_audit(store: Store) -> audit.AuditReport:
    with store.db.read() as s:
        return audit.verify(s)


def record(store: Store, action: str, entity: str, record_id: str | None, **detail: Any) -> None:
    """Log something that is not a record change (an export, an import of a file)."""
    with store.db.write() as s:
        audit.append(s, device_id(s), action, entity, record_id, detail)
