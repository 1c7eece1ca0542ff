"""The watcher loop: scan the inbox, claim ready drops, queue one task per drop.

Each turn of the loop lists the inbox (non-recursively), looks at every sidecar, then
supervises: it restarts a dead events observer, finishes interrupted claims every few
minutes and writes the heartbeat. The loop wakes on a filesystem event or after
WATCHER_POLL_SECONDS, whichever comes first. In polling mode no observer runs and the
timed wake-up alone drives the scans (see watcher.observer).

Failure rules:
- The inbox is unavailable: it cannot be listed (share unmounted, folder renamed away,
  I/O error), or it was on a network file system at start and now sits on a local one.
  The latter happens when the share was unmounted and its empty mount point shows
  through. Then the
  turn claims nothing and keeps every pending sidecar in the tracker. It logs once per
  INBOX_ERROR_LOG_SECONDS and tries again next turn. When the inbox is back, the
  watcher runs its recovery.
- An unexpected exception while handling one drop moves that drop to failed/ with
  error.json and a logged traceback; the loop goes on with the next drop.
- An OSError while claiming one drop is retried on the next turn, because on a share it
  is most often transient.
- The broker is unreachable when a claimed drop is queued: the drop stays in work/ and
  the watcher queues it again on every turn until the broker answers.
"""

import logging
import signal
import threading
import time

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from config import Settings
from delivery.errors import InvalidDropError
from delivery.folders import CourierFolders, printable_name, process_label
from delivery.sidecar import Sidecar, read_sidecar
from delivery.status import DocumentState, write_status
from tasks.queueing import queue_drop
from tasks.recovery import requeue_orphaned_drops
from watcher.claim import complete_interrupted_claims, move_drop_files, take_sidecar, write_claim
from watcher.heartbeat import Heartbeat, remove_heartbeat, write_heartbeat
from watcher.listing import InboxListing, list_inbox
from watcher.observer import (
    NETWORK_FILE_SYSTEMS,
    choose_polling,
    mount_fs_type,
    observer_alive,
    start_observer,
    stop_observer,
)
from watcher.quarantine import (
    fail_claimed,
    quarantine_claimed,
    quarantine_from_inbox,
    reject_from_inbox,
)
from watcher.readiness import Decision, ReadinessTracker, Verdict
from watcher.throttle import LogThrottle

log = logging.getLogger(__name__)

# How often a lasting error (inbox gone, broker down, a drop that cannot be moved) is
# logged again, s.
INBOX_ERROR_LOG_SECONDS = 60
# How often interrupted claims in work/ are looked for after the start, s.
RECOVERY_INTERVAL_SECONDS = 300
# Minimum time between two scans woken by events (a large file being copied fires
# "modified" many times a second), s.
MIN_EVENT_GAP_SECONDS = 0.1
# The pause after a scan is at least this many times the scan's steady cost: listing and
# looking at pending drops, without one-off parsing and claiming. So watching a large
# backlog takes at most 1 / (1 + SCAN_PAUSE_FACTOR) of one core.
SCAN_PAUSE_FACTOR = 3
# Maximum time one scan spends parsing and claiming before it ends the turn, s. The next turn
# starts at once and goes on, so the heartbeat stays fresh during a large backlog.
TURN_BUDGET_SECONDS = 5.0
# Errors that mean the broker, not the drop, is at fault.
BROKER_ERRORS = (redis.RedisError, OperationalError, ConnectionError)


class Watcher:
    """Finds, checks and claims drops; never talks to 1C-Connect.

    `clock` returns monotonic seconds and drives settle and missing-file timing.
    """

    def __init__(self, settings: Settings, app: Celery, redis_client: redis.Redis,
                 clock=time.monotonic):
        self.settings = settings
        self.app = app
        self.redis = redis_client
        self.clock = clock
        self.folders = CourierFolders(settings.COURIER_ROOT)
        self.tracker = ReadinessTracker(self.folders.inbox, settings.WATCHER_SETTLE_SECONDS,
                                        settings.WATCHER_MISSING_FILE_SECONDS,
                                        settings.max_file_bytes, clock=clock)
        self.polling = choose_polling(settings.WATCHER_MODE, self.folders.inbox)
        self.mount_type = mount_fs_type(self.folders.inbox)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.observer = None
        self.inbox_available = True
        self.last_scan_at: float | None = None
        self.claimed_total = 0
        # Claimed drops whose task could not be sent yet: drop id -> sidecar.
        self.unqueued: dict[str, Sidecar | None] = {}
        self.throttle = LogThrottle(INBOX_ERROR_LOG_SECONDS, log, clock=clock)
        self._next_recovery = 0.0
        self._last_scan_seconds = 0.0
        # Steady cost of the last scan, and the claim and reject work inside it, s.
        self._watch_seconds = 0.0
        self._acting_seconds = 0.0
        # The last scan ran out of TURN_BUDGET_SECONDS before it saw every sidecar.
        self._cut_short = False

    @property
    def mode(self) -> str:
        return "polling" if self.polling else "events"

    def run(self) -> None:
        """Recover, then scan until SIGINT or SIGTERM."""
        self.prepare_folders()
        self.recover()
        while not self.stopping.is_set():
            try:
                self.turn()
            except Exception:
                # A bug outside any one drop: keep the process up and try the next turn.
                log.exception("Сбой в цикле наблюдателя; следующая попытка через %.1f с.",
                              self.settings.WATCHER_POLL_SECONDS)
            self._sleep_until_next_scan()
        if self.observer is not None:
            stop_observer(self.observer)
        try:
            remove_heartbeat(self.redis, process_label())
        except redis.RedisError as error:
            log.warning("Не удалось удалить пульс наблюдателя из Redis: %s", error)
        log.info("Наблюдатель остановлен.")

    def turn(self) -> None:
        """Run one scan and one supervision step."""
        started = time.monotonic()
        self._acting_seconds = 0.0
        self.scan_once()
        self._last_scan_seconds = time.monotonic() - started
        self._watch_seconds = max(0.0, self._last_scan_seconds - self._acting_seconds
                                  - self.tracker.take_parse_seconds())
        self.supervise()

    def stop(self, *_signal_args) -> None:
        """Ask the loop to finish after the current drop; safe from a signal handler."""
        self.stopping.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def prepare_folders(self) -> None:
        """Create the folder contract under COURIER_ROOT; log and go on when that fails."""
        try:
            self.folders.ensure()
        except OSError as error:
            log.error("Не удалось создать папки курьера в %s (%s); наблюдатель работает "
                      "дальше и ждёт, пока папка inbox станет доступна.", self.folders.root,
                      error)

    def recover(self) -> None:
        """Finish interrupted claims and queue drops in work/ that have no live task."""
        self._next_recovery = self.clock() + RECOVERY_INTERVAL_SECONDS
        try:
            completed = complete_interrupted_claims(self.folders)
            requeued = requeue_orphaned_drops(self.app, self.redis, self.folders)
        except (OSError, *BROKER_ERRORS) as error:
            log.error("Восстановление не выполнено (%s); повтор через %d с.", error,
                      RECOVERY_INTERVAL_SECONDS)
            return
        if completed or requeued:
            log.info("Восстановление: захватов завершено %d, дропов снова в очереди %d.",
                     len(completed), len(requeued))

    def scan_once(self) -> int:
        """Look at every sidecar in the inbox once; return how many drops were claimed."""
        try:
            self._check_still_mounted()
            listing = list_inbox(self.folders.inbox)
        except OSError as error:
            self._inbox_unavailable(error)
            return 0
        if not self.inbox_available:
            self._inbox_back()
        self._queue_unqueued()

        self.tracker.prune(set(listing.sidecars))
        claimed = 0
        started = time.monotonic()
        self._cut_short = False
        for name in listing.sidecars:
            if self.stopping.is_set():
                break
            if time.monotonic() - started > TURN_BUDGET_SECONDS:
                self._cut_short = True
                break
            claimed += self._handle(name, listing)
        self.last_scan_at = time.time()
        return claimed

    def _check_still_mounted(self) -> None:
        """Raise OSError when an inbox that started on a network mount is now on a local one.

        An unmounted share leaves its mount point behind, often as an empty folder, and
        listing that folder would make every pending drop look deleted.
        """
        if self.mount_type not in NETWORK_FILE_SYSTEMS:
            return
        current = mount_fs_type(self.folders.inbox)
        if current not in NETWORK_FILE_SYSTEMS:
            raise OSError(f"inbox был на файловой системе {self.mount_type}, а сейчас на "
                          f"{current or 'неизвестной'}: общая папка, похоже, отмонтирована")

    def _handle(self, name: str, listing: InboxListing) -> int:
        """Evaluate one sidecar and act on the verdict; catches every Exception."""
        acting_started = None
        try:
            decision = self.tracker.evaluate(name, listing)
            acting_started = time.monotonic()
            if decision.verdict is Verdict.READY:
                return self._claim(name, decision)
            if decision.verdict is Verdict.REJECT:
                self._reject(name, decision)
        except OSError as error:
            self.throttle.error(f"drop:{name}", "Дроп %s не удалось захватить (%s); повтор при "
                                "следующем сканировании.", printable_name(name), error)
        except Exception as error:
            self._quarantine_from_inbox(name, listing, error)
        finally:
            if acting_started is not None:
                self._acting_seconds += time.monotonic() - acting_started
        return 0

    def _claim(self, name: str, decision: Decision) -> int:
        drop_id = take_sidecar(self.folders, name)
        self.tracker.forget(name)
        if drop_id is None:
            log.debug("Дроп %s захвачен другим наблюдателем.", name)
            return 0

        try:
            sidecar = self._finish_claim(drop_id, name, decision)
        except OSError as error:
            log.error("Дроп %s (%s): захват не завершён (%s); его завершит восстановление "
                      "через %d с.", drop_id, name, error, RECOVERY_INTERVAL_SECONDS)
            return 0
        except Exception as error:
            self._quarantine_claimed(drop_id, name, error, decision.document_id)
            return 0
        if sidecar is None:
            return 0

        self.claimed_total += 1
        log.info("Дроп %s захвачен из %s (документ %s, файлов %d).", drop_id, name,
                 sidecar.document_id, len(decision.file_names))
        # Written before the task exists, so a fast worker's later state is never overwritten.
        write_status(self.folders, sidecar.document_id, DocumentState.QUEUED, drop_id=drop_id)
        self._queue(drop_id, sidecar)
        return 1

    def _finish_claim(self, drop_id: str, name: str, decision: Decision) -> Sidecar | None:
        """Move the files and write claim.json; return None when the claimed sidecar failed."""
        moved = move_drop_files(self.folders, drop_id, decision.file_names)
        try:
            # Read the claimed copy: it is the exact content the worker will deliver.
            sidecar = read_sidecar(self.folders.work_dir(drop_id) / name)
        except InvalidDropError as error:
            write_claim(self.folders, drop_id, name, moved, decision.document_id, rejected=True)
            fail_claimed(self.folders, drop_id, name, error, decision.document_id)
            return None
        write_claim(self.folders, drop_id, name, moved, sidecar.document_id)
        return sidecar

    def _queue(self, drop_id: str, sidecar: Sidecar | None) -> bool:
        try:
            queue_drop(self.app, self.redis, drop_id, sidecar)
        except BROKER_ERRORS as error:
            self.unqueued[drop_id] = sidecar
            self.throttle.error("broker", "Дроп %s захвачен, но не поставлен в очередь: брокер "
                                "недоступен (%s); дроп ждёт в work/, повтор при каждом "
                                "сканировании.", drop_id, error)
            return False
        self.unqueued.pop(drop_id, None)
        log.debug("Дроп %s поставлен в очередь.", drop_id)
        return True

    def _queue_unqueued(self) -> None:
        for drop_id, sidecar in list(self.unqueued.items()):
            if not self.folders.work_dir(drop_id).is_dir():
                self.unqueued.pop(drop_id)
            elif self._queue(drop_id, sidecar):
                log.info("Дроп %s поставлен в очередь после сбоя брокера.", drop_id)
            else:
                return

    def _reject(self, name: str, decision: Decision) -> None:
        drop_id = reject_from_inbox(self.folders, name, decision.file_names, decision.error,
                                    decision.document_id)
        self.tracker.forget(name)
        if drop_id is None:
            log.debug("Дроп %s отклонён другим наблюдателем.", name)

    def _quarantine_from_inbox(self, name: str, listing: InboxListing,
                               error: Exception) -> None:
        files = self.tracker.known_files(name, listing)
        self.tracker.forget(name)
        quarantine_from_inbox(self.folders, name, files, error)

    def _quarantine_claimed(self, drop_id: str, name: str, error: Exception,
                            document_id: str | None) -> None:
        quarantine_claimed(self.folders, drop_id, name, error, document_id)

    def _inbox_unavailable(self, error: OSError) -> None:
        self.inbox_available = False
        self.throttle.error("inbox", "Папка inbox %s недоступна (%s); ожидающие дропы "
                            "сохраняются, повтор через %.1f с.", self.folders.inbox, error,
                            self.settings.WATCHER_POLL_SECONDS)

    def _inbox_back(self) -> None:
        self.inbox_available = True
        self.throttle.reset("inbox")
        log.info("Папка inbox %s снова доступна; восстанавливаем и пересканируем.",
                 self.folders.inbox)
        if self.observer is not None:
            stop_observer(self.observer)
            self.observer = None
        self.recover()

    def supervise(self) -> None:
        """Restart a dead observer, run the periodic recovery and write the heartbeat."""
        self._ensure_observer()
        if self.inbox_available and self.clock() >= self._next_recovery:
            self.recover()
        self._heartbeat()

    def _ensure_observer(self) -> None:
        """Start the events observer, or restart it if its thread died."""
        if self.polling or not self.inbox_available:
            return
        if self.observer is not None and observer_alive(self.observer):
            return
        if self.observer is not None:
            log.error("Поток наблюдения за inbox остановился; перезапускаем его.")
            stop_observer(self.observer)
            self.observer = None
        try:
            self.observer = start_observer(self.folders.inbox, self.wake)
        except OSError as error:
            self.throttle.error("observer", "Не удалось запустить наблюдение за событиями в "
                                "%s (%s); inbox сканируется каждые %.1f с.", self.folders.inbox,
                                error, self.settings.WATCHER_POLL_SECONDS)

    def _heartbeat(self) -> None:
        observer = None if self.polling else (
            self.observer is not None and observer_alive(self.observer))
        heartbeat = Heartbeat(
            watcher=process_label(), written_at=time.time(), last_scan_at=self.last_scan_at,
            scan_seconds=round(self._last_scan_seconds, 4), pending=len(self.tracker),
            claimed_total=self.claimed_total, mode=self.mode,
            inbox_available=self.inbox_available, observer_alive=observer)
        try:
            write_heartbeat(self.redis, heartbeat)
        except redis.RedisError as error:
            self.throttle.warning("heartbeat", "Не удалось записать пульс наблюдателя в "
                                  "Redis: %s", error)

    def _sleep_until_next_scan(self) -> None:
        """Wait for an event or the poll time, and at least the pause the scan cost calls for."""
        scan_ended = time.monotonic()
        pause = max(MIN_EVENT_GAP_SECONDS, SCAN_PAUSE_FACTOR * self._watch_seconds)
        if not self._cut_short:
            self.wake.wait(max(self.settings.WATCHER_POLL_SECONDS, pause))
            self.wake.clear()

        remaining = pause - (time.monotonic() - scan_ended)
        if remaining > 0:
            self.stopping.wait(remaining)
