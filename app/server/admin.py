"""The server administrator's operations: teams, devices and their enrolment codes, serving."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, KuaError, NotFound
from app.server.api import hash_secret, normalize_code
from app.server.db import open_server_db
from app.server.models import Device, Team
from storage.timeutil import utcnow

ENROL_VALID = timedelta(days=7)


def create_team(db_url: str, name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("team name: must not be empty")
    engine = open_server_db(db_url)
    try:
        with Session(engine) as s, s.begin():
            if s.scalars(select(Team).where(Team.name == name)).first() is not None:
                raise InvalidInput(f"team {name!r} exists already")
            s.add(Team(name=name, last_seq=0))
        return name
    finally:
        engine.dispose()


def _team(s: Session, name: str) -> Team:
    team = s.scalars(select(Team).where(Team.name == name)).first()
    if team is None:
        raise NotFound(f"no team {name!r} on this server (server team create NAME)")
    return team


def _active_devices(team: Team, label: str) -> Select[Device]:
    """The team's devices named label that are not revoked."""
    return select(Device).where(
        Device.team_id == team.id, Device.name == label, Device.revoked_at.is_(None)
    )


@dataclass(frozen=True)
class Enrolment:
    team: str
    device: str
    code: str
    expires: str


def add_device(db_url: str, team_name: str, label: str) -> Enrolment:
    """A new device of the team and its one-time enrolment code (shown once, kept hashed)."""
    label = label.strip()
    if not label:
        raise InvalidInput("device name: must not be empty")
    raw = base64.b32encode(os.urandom(10)).decode()  # 16 letters/digits, 80 bits
    code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    engine = open_server_db(db_url)
    try:
        with Session(engine) as s, s.begin():
            team = _team(s, team_name)
            taken = s.scalars(_active_devices(team, label)).first()
            if taken is not None:
                raise InvalidInput(f"team {team_name!r} already has a device {label!r}")
            expires = utcnow() + ENROL_VALID
            s.add(
                Device(
                    team_id=team.id,
                    name=label,
                    enrol_code_hash=hash_secret(normalize_code(code)),
                    enrol_expires_at=expires,
                )
            )
        return Enrolment(team_name, label, code, f"{expires:%Y-%m-%d %H:%M} UTC")
    finally:
        engine.dispose()


def revoke_device(db_url: str, team_name: str, label: str) -> int:
    """Revoke the device's token (and any unused code): its next request is refused."""
    engine = open_server_db(db_url)
    try:
        with Session(engine) as s, s.begin():
            team = _team(s, team_name)
            devices = s.scalars(_active_devices(team, label)).all()
            if not devices:
                raise NotFound(f"team {team_name!r} has no active device {label!r}")
            for d in devices:
                d.revoked_at = utcnow()
                d.enrol_code_hash = None
            return len(devices)
    finally:
        engine.dispose()


def serve(
    db_url: str,
    blobs: Path,
    host: str,
    port: int,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    max_body: int | None = None,
    snapshot_step: int | None = None,
) -> None:
    """Serve the team server until interrupted. Team snapshots for joining laptops are kept in
    blobs/.snapshots (snapshot_step=0: none)."""
    import uvicorn

    from app.server.api import create_app
    from app.server.snapshots import STEP, Snapshots
    from app.sync import wire

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("--tls-cert and --tls-key go together")
    for f in (tls_cert, tls_key):
        if f is not None and not f.is_file():
            raise KuaError(f"{f}: no such file")
    engine = open_server_db(db_url)
    try:
        blobs.mkdir(parents=True, exist_ok=True)
        step = STEP if snapshot_step is None else snapshot_step
        snapshots = Snapshots(engine, blobs / ".snapshots", step) if step > 0 else None
        app = create_app(engine, blobs, max_body or wire.MAX_BODY, snapshots=snapshots)
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            log_level="warning",
        )
    finally:
        engine.dispose()
