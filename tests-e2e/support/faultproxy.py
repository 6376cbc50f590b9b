"""A TCP proxy we control, placed between a service and PostgreSQL or Redis, to cut or
delay the network in fault tests (loopback only)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field


@dataclass
class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_port``. ``cut()`` drops every connection and
    refuses new ones until ``restore()``; ``delay_s`` delays every chunk in both directions.
    Runs its own event loop in a thread, so tests of any kind can use it."""

    target_port: int
    port: int = 0  # the port it listens on, picked by the system as it binds (start())
    delay_s: float = 0.0
    _cut: bool = False
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failed: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                server = self._loop.run_until_complete(
                    asyncio.start_server(self._accept, "127.0.0.1", self.port)
                )
            except OSError as exc:
                failed.append(exc)
                ready.set()
                return
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(
            target=run, name=f"fault-proxy-to-{self.target_port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or failed:
            raise RuntimeError(f"fault proxy to port {self.target_port} did not start: {failed}")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    async def _shutdown(self) -> None:
        self._close_all()
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def cut(self) -> None:
        self._cut = True
        self._call(self._close_all)

    def restore(self) -> None:
        self._cut = False

    def set_delay(self, seconds: float) -> None:
        self.delay_s = seconds

    @property
    def connections(self) -> int:
        return len(self._writers) // 2

    def _call(self, fn: object) -> None:
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            try:
                fn()  # type: ignore[operator]
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self._cut:
                data = await reader.read(65536)
                if not data:
                    break
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)  # the fault under test: a slow network
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
