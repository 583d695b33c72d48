"""Sync between the laptops of a team: through the team server or a bundle file on a USB stick.

merge:   the merge engine (revisions in, records and conflicts out), deterministic on every copy
wire:    the push/pull format of revisions and the protocol/schema versions
client:  sync_once / sync_status / enrolment, over HTTP (httpx)
bundle:  export and import of bundle files
blobs:   evidence files on the move ("evidence pending" until their bytes arrive)
snapshot: an empty laptop's start from the team's snapshot
"""

SERVER_KEY = "sync_server"
"""The setting naming the team server this laptop is enrolled with (read at start-up too, so
it lives here, away from the HTTP client)."""
