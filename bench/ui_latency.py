"""Main-thread heartbeat lateness during a 100-photo import: the UI must never stall.

A 10 ms QTimer records how late each tick fires while the evidence panel imports 100 photos
(3000x2000 JPEGs) through the storage worker. Target: max lateness < 50 ms.
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_latency.py
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHOTOS = 100
TICK_MS = 10


def make_photos(folder: Path) -> list[Path]:
    from PIL import Image, ImageDraw

    rng = random.Random(3)
    paths = []
    for n in range(PHOTOS):
        im = Image.new("RGB", (3000, 2000), (rng.randint(0, 255), 120, 160))
        draw = ImageDraw.Draw(im)
        for _ in range(40):
            x, y = rng.randint(0, 2900), rng.randint(0, 1900)
            draw.rectangle((x, y, x + 100, y + 100), fill=(rng.randint(0, 255), 0, 0))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=88)
        path = folder / f"IMG_{n:04d}.jpg"
        path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


def main() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.elections import import_stations
    from app.incidents import IncidentDraft, add_incident
    from app.store import Store
    from ui import dialogs, errors
    from ui.application import KuaApp, install_font

    tmp = Path(tempfile.mkdtemp(prefix="kua-latency-"))
    data = tmp / "data"
    photos_dir = tmp / "photos"
    photos_dir.mkdir()
    t = time.perf_counter()
    photos = make_photos(photos_dir)
    print(f"{PHOTOS} photos made in {time.perf_counter() - t:.1f} s")
    with Store(data) as store:
        import_stations(store, ROOT / "tests/fixtures/stations/almaty.csv")
        from datetime import datetime

        from app import profile

        profile.set_language(store, "en")
        profile.set_applicant(store, profile.Applicant("Bench"))
        incident = add_incident(
            store, IncidentDraft("75-001", "other", datetime.now().astimezone(), "protocol photos")
        )

    app = QApplication(sys.argv)
    install_font(app)
    errors.install(data)
    problems: list[str] = []
    dialogs.tell = lambda _p, _k, title, text, details="": problems.append(f"{title}: {text}")
    kua = KuaApp(data)
    lateness: list[float] = []
    state: dict[str, float] = {}

    def tick() -> None:
        now = time.perf_counter()
        lateness.append((now - state["last"]) * 1000 - TICK_MS)
        state["last"] = now

    heartbeat = QTimer()
    heartbeat.setInterval(TICK_MS)
    heartbeat.timeout.connect(tick)

    def shown(window: object) -> None:
        panel = window.evidence  # type: ignore[attr-defined]
        window.editor.load(incident.id)  # type: ignore[attr-defined]

        def wait_loaded() -> None:
            # Start once the app has settled (first rows shown, start-up jobs done).
            if window.editor.current is None or window.storage.busy:  # type: ignore[attr-defined]
                QTimer.singleShot(5, wait_loaded)
                return
            state["start"] = state["last"] = time.perf_counter()
            heartbeat.start()
            panel.import_paths(photos)
            QTimer.singleShot(50, wait_done)

        def wait_done() -> None:
            if panel.importing:
                QTimer.singleShot(50, wait_done)
                return
            heartbeat.stop()
            state["seconds"] = time.perf_counter() - state["start"]
            state["imported"] = panel.model.rowCount()
            window.close()  # type: ignore[attr-defined]
            app.quit()

        wait_loaded()

    kua.window_shown.connect(shown)
    kua.start()
    app.exec()
    kua.close()
    late = sorted(lateness)
    p99 = late[int(len(late) * 0.99)] if late else float("nan")
    print(f"imported {int(state['imported'])} of {PHOTOS} photos in {state['seconds']:.1f} s")
    print(
        f"heartbeat: {len(late)} ticks, max lateness {max(late):.1f} ms, p99 {p99:.1f} ms "
        f"(target: max < 50 ms)"
    )
    if problems:
        print("messages:", *problems, sep="\n  ")


if __name__ == "__main__":
    main()
