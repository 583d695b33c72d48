"""Blob sync of 200 photos the team server already holds: no photo byte may be sent again.

A team server (in-process ASGI, SQLite) behind a transport that counts every byte each request
sends and each answer brings, by kind of call. In the same run:

1. baseline: laptop A, with 200 photos (JPEGs, bench/out/photos-1600x1200) on 200 incidents,
   syncs: every photo is uploaded once (photo bytes sent = their total size);
2. laptop C holds the same 200 photos (another observer got the same files) on its own
   incidents and syncs: photo bytes sent must be 0;
3. A syncs again: photo bytes sent must be 0;
4. laptop B (empty) syncs: it downloads each photo once.

    python bench/sync_blobs.py [--photos N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from app.server.admin import add_device, create_team  # noqa: E402
from app.server.api import create_app  # noqa: E402
from app.server.db import open_server_db  # noqa: E402
from app.store import Store  # noqa: E402
from app.sync.client import ASGITransport, enrol, sync_once  # noqa: E402
from bench._common import OUT, make_store_with_incidents, photo_set, verdict  # noqa: E402
from storage.models import Evidence  # noqa: E402

URL = "http://server"


class Counting(httpx.BaseTransport):
    """Counts request and answer bytes per call kind (the transport hook)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    @staticmethod
    def kind(request: httpx.Request) -> str:
        path = request.url.path
        if path.startswith("/v1/blobs/") and path != "/v1/blobs/missing":
            return f"{request.method} blob" + (" state" if path.endswith("/upload") else "")
        return f"{request.method} {path}"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = self.kind(request)
        self.calls[kind] += 1
        self.sent[kind] += len(request.read())
        response = self.inner.handle_request(request)
        self.received[kind] += len(response.read())
        return response

    def reset(self) -> None:
        self.sent.clear()
        self.received.clear()
        self.calls.clear()

    def photo_bytes_sent(self) -> int:
        return self.sent["PUT blob"]


def laptop_with_photos(root: Path, name: str, photos: list[Path]) -> Store:
    ids = make_store_with_incidents(root / name, len(photos))
    store = Store(root / name)
    for incident_id, photo in zip(ids, photos, strict=True):
        data = photo.read_bytes()
        sha = store.blobs.put_bytes(data)
        with store.db.write() as s:
            s.add(
                Evidence(
                    incident_id=incident_id,
                    sha256=sha,
                    original_name=photo.name,
                    mime="image/jpeg",
                    size=len(data),
                )
            )
    return store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    a = ap.parse_args()
    photos = photo_set(OUT / "photos-1600x1200", a.photos, 1600, 1200)
    total = sum(p.stat().st_size for p in photos)
    print(f"{len(photos)} photos, {total / 1e6:.1f} MB")
    ok = True
    with tempfile.TemporaryDirectory(prefix="kua-bench-blobs-") as tmp:
        root = Path(tmp)
        db = f"sqlite:///{root / 'server.db'}"
        engine = open_server_db(db)
        create_team(db, "bench")
        counting = Counting(ASGITransport(create_app(engine, root / "server-blobs")))
        http = httpx.Client(transport=counting, base_url=URL)

        def run(label: str, store: Store) -> tuple[int, float]:
            counting.reset()
            t0 = time.perf_counter()
            report = sync_once(store, http=http)
            seconds = time.perf_counter() - t0
            sent = counting.photo_bytes_sent()
            print(
                f"{label:<44} {seconds:6.2f} s  photo bytes sent {sent:>11,}  "
                f"requests {sum(counting.calls.values()):>4}  all bytes sent "
                f"{sum(counting.sent.values()):>11,}  "
                f"received {sum(counting.received.values()):>11,}"
                f"  (up {report.uploaded}, down {report.downloaded})"
            )
            return sent, seconds

        try:
            stores = {}
            for name in ("a", "b", "c"):
                if name == "b":
                    stores[name] = Store(root / name)
                else:
                    stores[name] = laptop_with_photos(root, name, photos)
                enrol(stores[name], URL, add_device(db, "bench", name).code, http=http)
            first, _ = run("A: first sync (uploads every photo)", stores["a"])
            ok &= first == total
            again, _ = run("C: the same photos, already on the server", stores["c"])
            ok &= again == 0
            repeat, _ = run("A: syncs again", stores["a"])
            ok &= repeat == 0
            counting.reset()
            run("B: empty laptop (downloads every photo)", stores["b"])
            down = counting.received["GET blob"]
            ok &= down == total
            print(f"B received {down:,} photo bytes for {total:,} bytes of photos")
            for s in stores.values():
                s.close()
        finally:
            http.close()
            engine.dispose()
    print(
        f"photo bytes sent for photos already on the server: {again} (target 0, baseline run: "
        f"{first:,}); ratio {again / first:.3f}: {verdict(ok)}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
