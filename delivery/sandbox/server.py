"""SandboxServer: the local 1C-Connect stand-in, run in a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any, Callable

from .config import SandboxConfig
from .faults import DEFAULT_FAULT_ERROR, FaultRule
from .handler import SandboxRequestHandler
from .state import SandboxState

logger = logging.getLogger(__name__)

# How often serve_forever checks for shutdown, in seconds.
POLL_INTERVAL_SECONDS = 0.1


class SandboxHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that carries the sandbox state and tracks open connections.

    Request threads are daemon threads, and stop() shuts the tracked sockets down so that
    idle keep-alive connections end with the server.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, config: SandboxConfig, state: SandboxState) -> None:
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((config.host, config.port), SandboxRequestHandler)

    def track_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def shut_down_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)

        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # Already closed by the client.

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.exception("Ошибка соединения с клиентом %s, соединение закрыто.", client_address)


class SandboxServer:
    """The local 1C-Connect sandbox: a real HTTP server for tests, benchmarks and demos.

    `start()` returns once the socket listens. Every method is thread-safe. Use it as a
    context manager to start and stop it. `clock` (seconds) drives the rate limiter,
    so a test can pass a fake clock and step it.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = SandboxState(config or SandboxConfig.demo(), clock)
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> SandboxServer:
        """Bind, listen and serve in a daemon thread. Raises OSError when the port is taken."""
        if self._httpd is not None:
            return self

        self.state.stopping.clear()
        self._httpd = SandboxHTTPServer(self.config, self.state)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
            name=f"connect-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Песочница 1С-Коннект запущена на %s.", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, then end open connections and pending waits. A second call does nothing."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return

        self.state.stopping.set()
        httpd.shutdown()
        httpd.shut_down_connections()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None
        logger.info("Песочница 1С-Коннект остановлена.")

    @property
    def config(self) -> SandboxConfig:
        """The current settings, including changes made by update_config."""
        return self.state.config

    @property
    def port(self) -> int:
        """The listening port, known once the server has started."""
        if self._httpd is None:
            raise RuntimeError("Песочница ещё не запущена: сначала вызовите start().")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL such as http://127.0.0.1:54321, without a trailing slash."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def received(self, since: int = 0) -> list[dict[str, Any]]:
        """Return the send records with a sequence number above `since` (keys: see Recorder)."""
        return self.state.recorder.records(since=since)

    def stats(self) -> dict[str, Any]:
        """Return the counts of /v1/ requests and recorded sends.

        Keys: `total_requests`, `by_status` (int status keys), `rate_limited`,
        `dropped_connections`, `aborted_by_client`, `received` and `faults_injected`.
        """
        return self.state.stats()

    def set_faults(
        self,
        status: int | None = 500,
        count: int | None = 1,
        *,
        path_prefix: str = "/v1/",
        method: str | None = None,
        retry_after: int | None = None,
        hang_seconds: float = 0.0,
        error: str | None = DEFAULT_FAULT_ERROR,
        down: bool | None = None,
        down_mode: str = "close",
    ) -> None:
        """Fail the next `count` matching /v1/ requests (FaultRule describes the fields).

        With `down` given, only the "down" switch changes. True makes every /v1/ request
        fail, and False ends that. With `down_mode` "close" the connection is dropped,
        with "503" the response is 503. Raises FaultSpecError for invalid values.
        """
        if down is not None:
            self.state.faults.set_down(down, down_mode)
            return

        rule = FaultRule(
            status=status,
            count=count,
            path_prefix=path_prefix,
            method=method,
            retry_after=retry_after,
            hang_seconds=hang_seconds,
            error=error,
        )
        self.state.faults.add(rule)

    def clear_faults(self) -> None:
        """Remove pending fault rules and turn the "down" switch off."""
        self.state.faults.clear()

    def update_config(self, **changes: Any) -> SandboxConfig:
        """Change runtime settings (password, login, rates, latency_ms, max_file_bytes, ...)."""
        return self.state.update_config(**changes)

    def emit(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """POST the event to every matching hook and return one result dict per hook.

        Each result is `{url, type, id, status, error}`, as SandboxState.emit describes.
        """
        return self.state.emit(event)

    def hooks(self) -> list[dict[str, Any]]:
        """Return the registered hooks as `{type, id, url, back_auth}`."""
        return [hook.to_dict() for hook in self.state.hooks.hooks()]

    def reset(self) -> None:
        """Restore the initial settings and clear records, counts, faults and hooks."""
        self.state.reset()
