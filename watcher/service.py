"""The watcher loop: scan the inbox, claim ready drops, queue one task per drop.

The loop wakes on a filesystem event or after WATCHER_POLL_SECONDS, whichever comes
first, and always works from a fresh non-recursive listing of the inbox.
"""

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import redis
from celery import Celery

from config import Settings
from delivery.drop import is_ignored, is_sidecar_name
from delivery.folders import CourierFolders, move_dir, process_label
from delivery.results import fail_drop_folder
from tasks.queueing import queue_drop
from tasks.recovery import requeue_orphaned_drops
from watcher.claim import claim_drop, complete_interrupted_claims, stem_files
from watcher.observer import choose_polling, start_observer
from watcher.readiness import Decision, FileSignature, ReadinessTracker, Verdict

log = logging.getLogger(__name__)

HEARTBEAT_TTL_SECONDS = 300
# How often a lasting inbox error is logged again, s.
INBOX_ERROR_LOG_SECONDS = 60


def list_inbox(inbox: Path) -> dict[str, FileSignature]:
    """Return name -> (size, mtime_ns) for every entry of the inbox that is not ignored."""
    listing = {}
    with os.scandir(inbox) as entries:
        for entry in entries:
            if is_ignored(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            listing[entry.name] = (info.st_size, info.st_mtime_ns)
    return listing


class Watcher:
    """Finds, checks and claims drops; never talks to 1C-Connect."""

    def __init__(self, settings: Settings, app: Celery, redis_client: redis.Redis,
                 clock=time.monotonic):
        self.settings = settings
        self.app = app
        self.redis = redis_client
        self.folders = CourierFolders(settings.COURIER_ROOT)
        self.tracker = ReadinessTracker(self.folders.inbox, settings.WATCHER_SETTLE_SECONDS,
                                        settings.WATCHER_MISSING_FILE_SECONDS,
                                        settings.max_file_bytes, clock=clock)
        self.polling = choose_polling(settings.WATCHER_MODE, self.folders.inbox)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.observer = None
        self.inbox_available = True
        self._last_inbox_error_log = 0.0
        self.claimed_total = 0

    def run(self) -> None:
        """Recover, then scan until SIGINT or SIGTERM."""
        self.folders.ensure()
        self.recover()
        self._ensure_observer()
        while not self.stopping.is_set():
            self.scan_once()
            self.wake.wait(self.settings.WATCHER_POLL_SECONDS)
            self.wake.clear()
        self._stop_observer()
        log.info("Наблюдатель остановлен.")

    def stop(self, *_signal_args) -> None:
        """Ask the loop to finish after the current scan; safe from a signal handler."""
        self.stopping.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def recover(self) -> None:
        """Finish interrupted claims and queue drops in work/ that have no live task."""
        completed = complete_interrupted_claims(self.folders)
        requeued = requeue_orphaned_drops(self.app, self.redis, self.folders)
        if completed or requeued:
            log.info("Восстановление: захватов завершено %d, дропов снова в очереди %d.",
                     len(completed), len(requeued))

    def scan_once(self) -> int:
        """Look at every sidecar in the inbox once; return how many drops were claimed."""
        try:
            listing = list_inbox(self.folders.inbox)
        except OSError as error:
            self._inbox_unavailable(error)
            return 0
        if not self.inbox_available:
            self._inbox_back()

        sidecars = [name for name in listing if is_sidecar_name(name)]
        self.tracker.prune(set(sidecars))
        claimed = 0
        for name in sorted(sidecars):
            if self.stopping.is_set():
                break
            claimed += self._handle(name, listing)
        self._heartbeat(len(self.tracker))
        return claimed

    def _handle(self, name: str, listing: dict[str, FileSignature]) -> int:
        try:
            decision = self.tracker.evaluate(name, listing)
            if decision.verdict is Verdict.READY:
                return self._claim(name, decision)
            if decision.verdict is Verdict.REJECT:
                self._reject(name, decision)
        except Exception:
            log.exception("Ошибка при обработке сопроводительного файла %s; цикл продолжается.",
                          name)
        return 0

    def _claim(self, name: str, decision: Decision) -> int:
        sidecar = decision.sidecar
        drop_id = claim_drop(self.folders, name, decision.file_names, sidecar.document_id)
        self.tracker.forget(name)
        if drop_id is None:
            log.debug("Дроп %s захвачен другим наблюдателем.", name)
            return 0
        queue_drop(self.app, self.redis, drop_id, sidecar)
        self.claimed_total += 1
        log.info("Дроп %s захвачен из %s (документ %s, файлов %d) и поставлен в очередь.",
                 drop_id, name, sidecar.document_id, len(decision.file_names))
        return 1

    def _reject(self, name: str, decision: Decision) -> None:
        file_names = decision.file_names or stem_files(self.folders.inbox, name)
        document_id = decision.sidecar.document_id if decision.sidecar else None
        drop_id = claim_drop(self.folders, name, file_names, document_id)
        self.tracker.forget(name)
        if drop_id is None:
            return
        fail_drop_folder(self.folders, drop_id, self.folders.work_dir(drop_id), decision.error,
                         document_id=document_id, extra={"sidecar": name})

    def _inbox_unavailable(self, error: OSError) -> None:
        self.inbox_available = False
        now = time.monotonic()
        if now - self._last_inbox_error_log >= INBOX_ERROR_LOG_SECONDS:
            self._last_inbox_error_log = now
            log.error("Папка inbox %s недоступна (%s); ожидающие дропы сохраняются, "
                      "повтор через %.0f с.", self.folders.inbox, error,
                      self.settings.WATCHER_POLL_SECONDS)

    def _inbox_back(self) -> None:
        self.inbox_available = True
        log.info("Папка inbox %s снова доступна; пересканируем и перезапускаем наблюдение.",
                 self.folders.inbox)
        self._stop_observer()
        self._ensure_observer()
        self.recover()

    def _ensure_observer(self) -> None:
        """Start the events observer, or restart it if its thread died."""
        if self.polling:
            return
        if self.observer is not None and self.observer.is_alive():
            return
        if self.observer is not None:
            log.error("Поток наблюдения за inbox остановился; перезапускаем его.")
        try:
            self.observer = start_observer(self.folders.inbox, False,
                                           self.settings.WATCHER_POLL_SECONDS, self.wake)
        except OSError as error:
            self.observer = None
            self._inbox_unavailable(error)

    def _stop_observer(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.observer = None

    def _heartbeat(self, pending: int) -> None:
        self._ensure_observer()
        payload = {"host": process_label(), "last_scan": time.time(), "pending": pending,
                   "claimed_total": self.claimed_total, "polling": self.polling}
        try:
            self.redis.set(f"courier:watcher:heartbeat:{process_label()}",
                           json.dumps(payload), ex=HEARTBEAT_TTL_SECONDS)
        except redis.RedisError as error:
            log.warning("Не удалось записать пульс наблюдателя в Redis: %s", error)


__all__ = ["Watcher", "list_inbox", "move_dir"]
