"""Sync between the laptops of a team: through the team server or a bundle file on a USB stick.

merge:   the merge engine (revisions in, records and conflicts out), deterministic on every copy
wire:    the push/pull format of revisions and the protocol/schema versions
client:  sync_once / sync_status / enrolment, over HTTP (httpx)
bundle:  export and import of bundle files
blobs:   evidence files on the move ("evidence pending" until their bytes arrive)
snapshot: an empty laptop's start from the team's snapshot

The names the sync modules share live here: bundle, blobs and snapshot use them without
importing the HTTP client.
"""

from collections.abc import Callable

from app.errors import KuaError

SERVER_KEY = "sync_server"
"""The setting naming the team server this laptop is enrolled with (read at start-up too, so
it lives here, away from the HTTP client)."""
TEAM_KEY = "sync_team"
CURSOR_KEY = "sync_cursor"
"""The team server's sequence number up to which this laptop has applied everything (the pull
resumes after it)."""

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is push, snapshot (bytes), pull, upload or download."""


class SyncError(KuaError):
    """The server refused, or could not be reached. `reason` is its machine-readable reason."""

    def __init__(self, message: str, reason: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.reason, self.status = reason, status
