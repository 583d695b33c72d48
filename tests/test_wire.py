"""The record schema number laptops and servers agree on (wire.SCHEMA) follows what synced
records carry, not every local migration."""

from __future__ import annotations

import hashlib
import json

from app.sync import wire
from storage.models import SYNCED_MODELS

# What synced records carried when wire.SCHEMA was last set. A change here means revisions
# now carry something older apps do not know: raise wire.SCHEMA to the new migration's number
# and record the new fingerprint.
FINGERPRINTS = {3: "68ef0bc53740bb1e"}


def test_schema_number_changes_with_what_synced_records_carry() -> None:
    columns = {
        m.__tablename__: sorted(c.key for c in m.__table__.columns)  # type: ignore[attr-defined]
        for m in SYNCED_MODELS
    }
    digest = hashlib.sha256(json.dumps(columns, sort_keys=True).encode()).hexdigest()[:16]
    assert FINGERPRINTS.get(wire.SCHEMA) == digest, (
        "synced records changed: raise wire.SCHEMA and record the new fingerprint"
    )
