"""Start-up checks of the file system under COURIER_ROOT that the watcher relies on.

1C writes Cyrillic file names. A CIFS mount whose `iocharset` cannot represent Cyrillic
lists such names with "?" for every character it cannot convert (see fs/cifs/
cifs_unicode.c in the Linux kernel), so sidecars and files never match. The watcher
writes a file with a Cyrillic name into COURIER_ROOT and lists the folder: if the name
comes back changed, it refuses to start.

NOTE: a charset that maps every byte (iso8859-1, for one) may return the watcher's own
probe name intact while names written from Windows still arrive with "?"; the missing-file
rejection points at iocharset=utf8 when it finds such a name in the inbox.
"""

import logging
import os
import secrets
from pathlib import Path

from config import SettingsError
from delivery.folders import CourierFolders, printable_name

log = logging.getLogger(__name__)

# Cyrillic letters, including ё and Ё, which some single-byte charsets lack.
PROBE_WORD = "Проверка-имён-ЁЖЩЪ"


def check_name_round_trip(root: Path) -> None:
    """Write a Cyrillic-named probe into `root`, list it back and remove it.

    Raises SettingsError naming the mount option when the name comes back changed.
    Raises OSError when the probe cannot be written or listed.
    """
    token = secrets.token_hex(4)
    name = f".courier-{PROBE_WORD}-{token}.tmp"
    path = root / name
    path.write_bytes(b"courier name check\n")
    try:
        listed = [entry for entry in os.listdir(root) if token in entry]
    finally:
        _remove_probe(path)

    if listed == [name]:
        return
    seen = printable_name(listed[0]) if listed else "(файла нет в списке)"
    raise SettingsError(
        f"Файловая система COURIER_ROOT {root} искажает кириллицу в именах файлов: "
        f"записан «{name}», прочитан «{seen}»; смонтируйте общую папку с опцией "
        "iocharset=utf8 (например, mount -t cifs … -o iocharset=utf8) и перезапустите "
        "наблюдатель.")


def _remove_probe(path: Path) -> None:
    """Delete the probe by the name it was created with, which maps back the same way."""
    try:
        path.unlink()
    except FileNotFoundError:
        log.warning("Пробный файл %s не удалось удалить: его нет под этим именем.", path)


def check_same_file_system(folders: CourierFolders) -> None:
    """Raise SettingsError when inbox/ and work/ are on different mounts.

    A claim is an atomic rename of the sidecar from inbox/ into work/, which a file
    system can only do inside itself.
    """
    inbox_device = folders.inbox.stat().st_dev
    work_device = folders.work.stat().st_dev
    if inbox_device != work_device:
        raise SettingsError(
            f"Папки {folders.inbox} и {folders.work} находятся на разных файловых системах, "
            "и захват дропа переименованием невозможен: смонтируйте общую папку целиком как "
            "COURIER_ROOT, а не одну папку inbox.")


def check_courier_root(folders: CourierFolders) -> None:
    """Run the start-up checks; raise SettingsError when the watcher must not start.

    When COURIER_ROOT cannot be read or written right now (a share not mounted yet), the
    checks are skipped with a warning, and the scan loop reports the unavailable inbox.
    """
    try:
        check_name_round_trip(folders.root)
        check_same_file_system(folders)
    except OSError as error:
        log.warning("Не удалось проверить файловую систему %s (%s); проверка кириллицы в "
                    "именах и общей точки монтирования пропущена.", folders.root, error)
