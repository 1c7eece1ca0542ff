"""Pick how the watcher learns about inbox changes, and run the native events observer.

Events are hints that wake the scan loop early; the scan loop's own periodic listing of
the inbox is what the watcher acts on. In `events` mode a watchdog inotify observer
watches the inbox only (never recursively, never the archive). In `polling` mode no
observer runs at all: the scan loop already lists the inbox every WATCHER_POLL_SECONDS,
and watchdog's PollingObserver would only repeat that work with a snapshot of its own.
`auto` picks polling when the inbox sits on a network file system, because inotify
reports nothing for writes made by another host on CIFS, SMB or NFS mounts.
"""

import logging
import os
import threading
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from config import WatcherMode

log = logging.getLogger(__name__)

# Mount types (the third field of /proc/mounts) whose remote writes inotify misses.
NETWORK_FILE_SYSTEMS = frozenset({
    "cifs", "smb", "smb2", "smb3", "smbfs", "nfs", "nfs4", "fuse.sshfs", "sshfs",
    "9p", "fuse.glusterfs", "glusterfs", "ceph", "fuse.ceph", "afs", "davfs",
    "fuse.davfs2", "fuse.rclone", "fuse.s3fs", "fuse.smbnetfs", "lustre", "gpfs",
})


def _unescape_mount_field(text: str) -> str:
    r"""Decode the octal escapes /proc/mounts uses for space, tab, newline and \\."""
    for escape, character in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"),
                              ("\\134", "\\")):
        text = text.replace(escape, character)
    return text


def mount_fs_type(path: Path, mounts_file: Path = Path("/proc/mounts")) -> str | None:
    """Return the file-system type of the mount that contains `path`, or None if unknown."""
    try:
        lines = mounts_file.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = _unescape_mount_field(fields[1])
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        # The longest, and for equal lengths the last, mount point wins: a later mount
        # on the same point hides the earlier one.
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def choose_polling(mode: WatcherMode, inbox: Path) -> bool:
    """Tell whether to run without an events observer, scanning only."""
    if mode is WatcherMode.AUTO:
        return mount_fs_type(inbox) in NETWORK_FILE_SYSTEMS
    return mode is WatcherMode.POLLING


class _WakeHandler(FileSystemEventHandler):
    def __init__(self, wake: threading.Event):
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._wake.set()


def start_observer(inbox: Path, wake: threading.Event) -> Observer:
    """Start a non-recursive native observer on the inbox that sets `wake` on every event."""
    observer = Observer()
    observer.schedule(_WakeHandler(wake), str(inbox), recursive=False)
    observer.daemon = True
    observer.start()
    log.info("Наблюдение за событиями в %s запущено.", inbox)
    return observer


def observer_alive(observer: Observer) -> bool:
    """Tell whether the observer thread and its inotify emitter threads are all running.

    watchdog's inotify emitter stops by itself when the watched folder is deleted or its
    file system unmounted, while the observer thread goes on, so both are checked.
    """
    if not observer.is_alive():
        return False
    emitters = observer.emitters
    return bool(emitters) and all(emitter.is_alive() for emitter in emitters)


def stop_observer(observer: Observer, timeout_seconds: float = 5) -> None:
    """Stop the observer and wait up to `timeout_seconds` for its thread."""
    observer.stop()
    if observer.ident is not None:
        observer.join(timeout=timeout_seconds)
