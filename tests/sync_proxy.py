"""A fault-injecting HTTP proxy and a killable team server, for the sync fault tests.

FaultProxy is a small asyncio HTTP/1.1 proxy on loopback, run on its own thread. For every request
it asks `decide(Request)` what to do (pass it on, drop the connection before or after the server
saw the request, cut the answer short, delay it, or run a hook such as SIGKILLing the client or
the server at that exact point). Each request goes upstream on a fresh connection (Connection:
close), so the server sees a complete request or, on purpose, a partial one.

ServerProcess runs `main.py serve` in a child process that can be SIGKILLed and restarted on the
same database and blob folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).parent.parent

Hook = Callable[[], None]


@dataclass
class Request:
    index: int  # 0, 1, 2, ... since the proxy started (or since reset())
    method: str
    path: str  # without the query
    query: str

    def is_(self, method: str, path_prefix: str, suffix: str = "") -> bool:
        return (
            self.method == method
            and self.path.startswith(path_prefix)
            and self.path.endswith(suffix)
        )


@dataclass
class Action:
    """What the proxy does with one request.

    kind:
      pass         forward it, relay the answer
      drop_early   close the connection after the request head (its body is never read)
      drop         read the whole request, close without forwarding it
      drop_after   forward it, let the server answer, close without relaying the answer
      truncate     relay the answer's head and half its body, then close (Content-Length kept)
      short        relay half the answer's body with a matching Content-Length (a body cut short
                   by a middlebox that then tells a consistent lie)
      cut_upstream send the server the request head and half the body, run `upstream_cut`, close
    before runs once the request is read (before anything is forwarded); after runs once the
    server has answered (before anything is relayed); relayed runs once a cut answer is written
    (the client holds half of it). delay (seconds) is waited before forwarding.
    """

    kind: str = "pass"
    before: Hook | None = None
    after: Hook | None = None
    upstream_cut: Hook | None = None
    relayed: Hook | None = None
    delay: float = 0.0


PASS = Action()


@dataclass
class Logged:
    request: Request
    kind: str
    status: int | None = None


class FaultProxy:
    def __init__(self, upstream_port: int, decide: Callable[[Request], Action] | None = None):
        self.upstream_port = upstream_port
        self.decide: Callable[[Request], Action] = decide or (lambda r: PASS)
        self.log: list[Logged] = []
        self._count = 0
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    # --- life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for w in list(self._writers):
                w.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self, decide: Callable[[Request], Action] | None = None) -> None:
        """A new plan; request numbering and the log start again."""
        self.decide = decide or (lambda r: PASS)
        self.log = []
        self._count = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]

        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()
        # cancel whatever is still running (a connection the client abandoned)
        pending = asyncio.all_tasks(self._loop)
        for t in pending:
            t.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))

    # --- one connection: one request (answers carry Connection: close) ------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [line for line in lines[1:] if line]
        length = 0
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        path, _, query = target.partition("?")
        req = Request(self._count, method, path, query)
        self._count += 1
        action = self.decide(req)
        entry = Logged(req, action.kind)
        self.log.append(entry)
        if action.kind == "drop_early":
            if action.before:
                action.before()
            return
        body = await reader.readexactly(length) if length else b""
        if action.before:
            action.before()
        if action.kind == "drop":
            return
        if action.delay:
            await asyncio.sleep(action.delay)
        kept = [h for h in headers if h.partition(":")[0].strip().lower() != "connection"]
        upstream_head = ("\r\n".join([lines[0], *kept, "Connection: close"]) + "\r\n\r\n").encode(
            "latin-1"
        )
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            if action.kind == "cut_upstream":
                up_writer.write(upstream_head + body[: len(body) // 2])
                await up_writer.drain()
                if action.upstream_cut:
                    action.upstream_cut()
                return
            up_writer.write(upstream_head + body)
            await up_writer.drain()
            answer = await up_reader.read()  # until the server closes
        finally:
            up_writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await up_writer.wait_closed()
        if action.after:
            action.after()
        if not answer:
            return  # the server died before answering: the client sees a dropped connection
        a_head, _, a_body = answer.partition(b"\r\n\r\n")
        status_line = a_head.split(b"\r\n", 1)[0].split(b" ")
        entry.status = int(status_line[1]) if len(status_line) > 1 else None
        if action.kind == "drop_after":
            return
        if action.kind in ("truncate", "short"):
            cut = a_body[: len(a_body) // 2]
            if action.kind == "short":
                a_lines = [
                    h for h in a_head.split(b"\r\n") if not h.lower().startswith(b"content-length:")
                ]
                a_head = b"\r\n".join([*a_lines, b"content-length: %d" % len(cut)])
            writer.write(a_head + b"\r\n\r\n" + cut)
            await writer.drain()
            if action.relayed:
                action.relayed()
            return
        writer.write(answer)
        await writer.drain()


# --- the team server in a child process ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    db: str
    blobs: Path
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _logs: list[object] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "main.py",
                "serve",
                "--db",
                self.db,
                "--blobs",
                str(self.blobs),
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        deadline = time.monotonic() + 60
        while True:  # poll until it answers (not a fixed sleep)
            try:
                if httpx.get(f"{self.url}/v1/hello", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the server did not start: "
                    + self.log_path.read_text("utf-8", "replace")[-2000:]
                )
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would; waits until it is gone."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        for log in self._logs:
            log.close()  # type: ignore[attr-defined]
        self._logs.clear()
