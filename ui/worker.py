"""Background work: one thread per kind of work, results delivered on the main thread.

The storage worker owns the Store: it opens it in its own thread, runs jobs one at a time in
submission order (so a search never sees half of an edit) and hands each result, plain data,
back to a callback on the main thread (Anki's CollectionOp/QueryOp). The image worker decodes
photos so that neither the UI nor a search waits for a large JPEG.

Cancel is cooperative: a job polls ctx.cancelled(). Progress is throttled in the worker so a
thousand-photo import does not flood the event loop.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.store import Store
from ui import errors

PROGRESS_INTERVAL = 0.05  # seconds between progress reports a job may send


@dataclass
class JobContext:
    """What a running job may use: the store, its cancel flag and its progress channel."""

    store: Store
    _cancel: threading.Event = field(default_factory=threading.Event)
    _report: Callable[[Any], None] = lambda _payload: None
    _last: float = 0.0

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self, payload: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_INTERVAL:
            self._last = now
            self._report(payload)


class Job:
    """A submitted job, as the main thread sees it."""

    def __init__(self, job_id: int) -> None:
        self.id = job_id
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


@dataclass
class _Pending:
    job: Job
    fn: Callable[[JobContext], Any]
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None
    on_progress: Callable[[Any], None] | None


_STOP = object()


class _Thread(QThread):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self._worker = worker

    def run(self) -> None:
        self._worker._loop()


class Worker(QObject):
    """Runs jobs on one background thread. Only submit() and close() are for the main thread."""

    _finished = Signal(int, bool, object)  # job id, ok, result or exception
    _progressed = Signal(int, object)

    # Every worker not yet closed: tests check none outlives them, the app checks at exit.
    _open: weakref.WeakSet[Worker] = weakref.WeakSet()

    def __init__(
        self,
        name: str,
        open_store: Callable[[], Store] | None = None,
        share_store_of: Worker | None = None,
        parent: QObject | None = None,
    ) -> None:
        """open_store runs in the worker's thread before its first job; a worker that only
        reads files (images) can use the store another worker opened (share_store_of)."""
        super().__init__(parent)
        self.name = name
        self._open_store = open_store
        self._share = share_store_of
        self._store: Store | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._progressed.connect(self._deliver_progress, Qt.ConnectionType.QueuedConnection)
        self._thread = _Thread(self)
        self._thread.setObjectName(f"kua-{name}")
        self._thread.start()
        Worker._open.add(self)

    @classmethod
    def open_workers(cls) -> list[Worker]:
        return list(cls._open)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def submit(
        self,
        fn: Callable[[JobContext], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
    ) -> Job:
        """Queue fn(ctx) for the worker thread. Callbacks run later on the main thread; fn must
        not touch widgets, so read what it needs from them before submitting."""
        job = Job(next(self._ids))
        if self._closed:
            return job
        pending = _Pending(job, fn, on_done, on_error, on_progress)
        self._pending[job.id] = pending
        self._queue.put(pending)
        return job

    def close(self) -> None:
        """Stop taking jobs, drop the queued ones, finish the running one, close the store."""
        if self._closed:
            return
        self._closed = True
        for p in self._pending.values():
            p.job.cancel()
        self._pending.clear()
        self._queue.put(_STOP)
        self._thread.wait()
        Worker._open.discard(self)

    # --- worker thread ---------------------------------------------------------------------

    def _current_store(self) -> Store | None:
        return self._share._store if self._share is not None else self._store

    def _loop(self) -> None:
        try:
            while (item := self._queue.get()) is not _STOP:
                self._run(item)
        finally:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _run(self, p: _Pending) -> None:
        try:
            if self._current_store() is None and self._open_store is not None:
                self._store = self._open_store()
            store = self._current_store()
            if store is None:
                raise RuntimeError(f"{self.name} worker: the store is not open yet")
            ctx = JobContext(
                store, p.job._cancel, lambda payload: self._progressed.emit(p.job.id, payload)
            )
            result = p.fn(ctx)
        except BaseException as exc:  # delivered to the main thread, which reports it
            self._finished.emit(p.job.id, False, exc)
        else:
            self._finished.emit(p.job.id, True, result)

    # --- main thread -----------------------------------------------------------------------

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, payload: object) -> None:
        p = self._pending.pop(job_id, None)
        if p is None:  # closed meanwhile: its receivers may be gone
            return
        if ok:
            if p.on_done is not None:
                p.on_done(payload)
        elif p.on_error is not None:
            p.on_error(payload)  # type: ignore[arg-type]
        else:
            errors.report(payload)  # type: ignore[arg-type]

    @Slot(int, object)
    def _deliver_progress(self, job_id: int, payload: object) -> None:
        p = self._pending.get(job_id)
        if p is not None and p.on_progress is not None:
            p.on_progress(payload)
