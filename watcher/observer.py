"""Filesystem events as hints: any change in the inbox wakes the scan loop early.

Native inotify events do not arrive for writes made by another host on CIFS, SMB or NFS
mounts, so `auto` mode picks watchdog's polling observer on network file systems.
"""

import logging
import os
import threading
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from config import WatcherMode

log = logging.getLogger(__name__)

NETWORK_FILE_SYSTEMS = frozenset({
    "cifs", "smb", "smb2", "smb3", "smbfs", "nfs", "nfs4", "fuse.sshfs", "sshfs",
    "9p", "fuse.glusterfs", "ceph", "afs", "davfs", "fuse.rclone", "fuse.davfs2",
})


def mount_fs_type(path: Path, mounts_file: Path = Path("/proc/mounts")) -> str | None:
    """Return the file-system type of the mount that holds `path`, or None if unknown."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def choose_polling(mode: WatcherMode, inbox: Path) -> bool:
    """Tell whether to use the polling observer for this inbox."""
    if mode is WatcherMode.AUTO:
        return mount_fs_type(inbox) in NETWORK_FILE_SYSTEMS
    return mode is WatcherMode.POLLING


class _WakeHandler(FileSystemEventHandler):
    def __init__(self, wake: threading.Event):
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._wake.set()


def start_observer(inbox: Path, polling: bool, poll_seconds: float,
                   wake: threading.Event):
    """Start a non-recursive observer on the inbox that sets `wake` on every event."""
    observer = PollingObserver(timeout=poll_seconds) if polling else Observer()
    observer.schedule(_WakeHandler(wake), str(inbox), recursive=False)
    observer.daemon = True
    observer.start()
    log.info("Наблюдение за %s запущено (%s).", inbox,
             "опрос каталога" if polling else "события файловой системы")
    return observer
