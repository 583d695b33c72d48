"""Start-up time and memory: the app on a 100k-incident store vs a bare PySide6 window.

Each is timed from process start (in the parent, before spawning it) to the window showing:
for the app, showing its first page of incidents. Targets: time <= 3x, memory <= +100 MB.
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCIDENTS = 100_000
RUNS = 3


def child_bare() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv)
    window = QMainWindow()
    window.resize(1366, 740)
    window.show()
    QTimer.singleShot(0, lambda: ready(app))
    app.exec()


def child_app(data_dir: str) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui import errors
    from ui.application import KuaApp, install_font

    app = QApplication(sys.argv)
    install_font(app)
    errors.install(Path(data_dir))
    kua = KuaApp(Path(data_dir))

    def shown(window: object) -> None:
        def poll() -> None:
            model = window.incidents  # type: ignore[attr-defined]
            if model.rowCount() and model.incident_at(0) is not None:
                window.table.viewport().repaint()  # type: ignore[attr-defined]
                ready(app, f"{model.rowCount()} rows")
            else:
                QTimer.singleShot(1, poll)

        poll()

    kua.window_shown.connect(shown)
    app.aboutToQuit.connect(kua.close)
    kua.start()
    app.exec()


def ready(app: object, note: str = "") -> None:
    sys.path.insert(0, str(ROOT))
    from bench.big_store import rss_mb

    print(f"READY {rss_mb():.1f} {note}", flush=True)
    app.quit()  # type: ignore[attr-defined]


def measure(args: list[str]) -> tuple[float, float, str]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY"):
            elapsed = time.perf_counter() - t0
            _, rss, *note = line.split(maxsplit=2)
            proc.wait()
            return elapsed, float(rss), " ".join(note).strip()
    raise SystemExit(f"child {args} exited without showing a window (code {proc.wait()})")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.big_store import make_store

    data = Path(tempfile.gettempdir()) / f"kua-bench-{INCIDENTS}"
    t = time.perf_counter()
    make_store(data, INCIDENTS)
    print(f"store with {INCIDENTS} incidents ready in {time.perf_counter() - t:.1f} s ({data})")
    bare = [measure(["--child", "bare"]) for _ in range(RUNS)]
    app = [measure(["--child", "app", str(data)]) for _ in range(RUNS)]
    bare_t, bare_rss = min(b[0] for b in bare), min(b[1] for b in bare)
    app_t, app_rss = min(a[0] for a in app), min(a[1] for a in app)
    print(f"bare PySide6 window: {bare_t * 1000:.0f} ms, RSS {bare_rss:.0f} MB")
    print(f"Kuä, first rows of {app[0][2]}: {app_t * 1000:.0f} ms, RSS {app_rss:.0f} MB")
    print(f"start-up ratio: {app_t / bare_t:.2f}x (target <= 3x)")
    print(f"memory: +{app_rss - bare_rss:.0f} MB (target <= +100 MB)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        if sys.argv[2] == "bare":
            child_bare()
        else:
            child_app(sys.argv[3])
    else:
        main()
