"""Move drops the watcher will not queue into failed/<drop_id>/ with error.json.

Every such drop is claimed first, with the same atomic sidecar rename as a good drop, so
two watchers never fail the same drop twice. The files the sidecar lists, and those that
share its stem, move along with it.
"""

import logging
import traceback
from pathlib import Path

from delivery.errors import DeliveryError, PermanentDeliveryError
from delivery.folders import CourierFolders, printable_name
from delivery.results import fail_drop_folder
from watcher.claim import move_drop_files, take_sidecar, write_claim

log = logging.getLogger(__name__)


class WatcherInternalError(PermanentDeliveryError):
    """The watcher raised an unexpected exception while handling one drop."""


def internal_error(sidecar_name: str, error: BaseException) -> WatcherInternalError:
    """Describe an unexpected exception for error.json, with a short traceback as detail."""
    printable = printable_name(sidecar_name)
    message = (f"Наблюдатель не смог обработать дроп {printable} из-за внутренней ошибки "
               f"({type(error).__name__}: {printable_name(str(error))[:300]}): дроп "
               "перенесён в failed/; сообщите администратору курьера, а чтобы отправить "
               "документ, выгрузите его из 1C заново.")
    detail = "".join(traceback.format_exception(error, limit=6))[-4000:]
    return WatcherInternalError(message, detail=printable_name(detail))


def reject_from_inbox(folders: CourierFolders, sidecar_name: str, file_names: list[str],
                      error: DeliveryError, document_id: str | None) -> str | None:
    """Claim a drop straight into failed/; return its drop id, or None if another took it."""
    drop_id = take_sidecar(folders, sidecar_name)
    if drop_id is None:
        return None
    moved = move_drop_files(folders, drop_id, file_names)
    write_claim(folders, drop_id, sidecar_name, moved, document_id, rejected=True)
    fail_claimed(folders, drop_id, sidecar_name, error, document_id)
    return drop_id


def fail_claimed(folders: CourierFolders, drop_id: str, sidecar_name: str,
                 error: DeliveryError, document_id: str | None) -> Path:
    """Move an already claimed drop from work/ to failed/ with error.json and a status."""
    return fail_drop_folder(folders, drop_id, folders.work_dir(drop_id), error,
                            document_id=document_id,
                            extra={"sidecar": printable_name(sidecar_name)})


def quarantine_from_inbox(folders: CourierFolders, sidecar_name: str, file_names: list[str],
                          error: Exception) -> None:
    """Move a drop whose handling raised an unexpected exception from the inbox to failed/.

    Logs the outcome with the traceback; a drop that cannot be moved stays in the inbox
    and is tried again on the next scan.
    """
    printable = printable_name(sidecar_name)
    try:
        drop_id = reject_from_inbox(folders, sidecar_name, file_names,
                                    internal_error(sidecar_name, error), None)
    except Exception as move_error:
        log.exception("Дроп %s: внутренняя ошибка (%r), и перенести его в failed/ не "
                      "удалось (%r); повтор при следующем сканировании.", printable, error,
                      move_error)
        return
    if drop_id is None:
        log.error("Дроп %s: внутренняя ошибка (%r); сопроводительного файла уже нет в inbox, "
                  "его забрал другой наблюдатель или 1C.", printable, error, exc_info=error)
        return
    log.error("Дроп %s (%s): внутренняя ошибка наблюдателя, дроп перенесён в failed/.",
              drop_id, printable, exc_info=error)


def quarantine_claimed(folders: CourierFolders, drop_id: str, sidecar_name: str,
                       error: Exception, document_id: str | None) -> None:
    """Move a claimed drop whose claim raised an unexpected exception from work/ to failed/."""
    printable = printable_name(sidecar_name)
    try:
        fail_claimed(folders, drop_id, sidecar_name, internal_error(sidecar_name, error),
                     document_id)
    except Exception as move_error:
        log.exception("Дроп %s (%s): внутренняя ошибка (%r), и перенести его в failed/ не "
                      "удалось (%r); дроп остаётся в work/.", drop_id, printable, error,
                      move_error)
        return
    log.error("Дроп %s (%s): внутренняя ошибка наблюдателя, дроп перенесён в failed/.",
              drop_id, printable, exc_info=error)
