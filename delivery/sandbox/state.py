"""Runtime state of one sandbox, shared by all request threads."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .config import SandboxConfig
from .directory import Directory
from .faults import FaultBoard
from .hooks import HookRegistry, deliver_event
from .ratelimit import SlidingWindowLimiter
from .recording import Recorder

logger = logging.getLogger(__name__)


class SandboxState:
    """Settings, directory, send journal, rate limiter, faults and hooks of one sandbox.

    Every part is thread-safe on its own. `stopping` is set when the server stops, so
    injected hangs and latency end early instead of holding a thread. `clock` returns
    seconds for the rate limiter, and tests may pass a fake one.
    """

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._initial_config = config
        self._lock = threading.Lock()
        self._config = config
        self.directory = Directory(config)
        self.recorder = Recorder()
        self.limiter = SlidingWindowLimiter(config.rate_per_second, config.rate_per_minute, clock)
        self.faults = FaultBoard()
        self.hooks = HookRegistry()
        self.stopping = threading.Event()

    @property
    def config(self) -> SandboxConfig:
        """The current settings. A request takes one snapshot and uses it throughout."""
        with self._lock:
            return self._config

    @property
    def store_dir(self) -> Path | None:
        store_dir = self.config.store_dir
        return Path(store_dir) if store_dir else None

    def update_config(self, **changes: Any) -> SandboxConfig:
        """Change runtime settings (see RUNTIME_FIELDS) and return the new settings.

        Raises SandboxConfigError for a setting that cannot change or an invalid value.
        """
        with self._lock:
            self._config = self._config.with_changes(**changes)
            config = self._config
            self.limiter.configure(config.rate_per_second, config.rate_per_minute)

        logger.info("Настройки песочницы изменены: %s.", ", ".join(sorted(changes)))
        return config

    def reset(self) -> None:
        """Return to the state right after start: initial settings, no records, faults or hooks."""
        initial = self._initial_config
        with self._lock:
            self._config = initial
            self.limiter.configure(initial.rate_per_second, initial.rate_per_minute)

        self.limiter.reset()
        self.recorder.reset()
        self.faults.reset()
        self.hooks.clear()
        logger.info("Состояние песочницы сброшено: записи, счётчики, сбои и хуки очищены.")

    def emit(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """POST a synthetic event to the matching hooks.

        Returns one `{url, type, id, status, error}` per hook, as hooks.deliver_event does.
        """
        config = self.config
        results = deliver_event(
            self.hooks.hooks(),
            event,
            timeout_seconds=config.hook_timeout_seconds,
            loopback_only=config.hooks_loopback_only,
        )
        logger.info(
            "Событие %s отправлено на %d хук(ов), ответы: %s.",
            event.get("event_type", "line"),
            len(results),
            [item["status"] for item in results],
        )
        return results

    def stats(self) -> dict[str, Any]:
        """Return the recorder's counts plus the number of injected faults."""
        return {**self.recorder.stats(), "faults_injected": self.faults.injected()}
