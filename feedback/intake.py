"""Turn one queued 1C-Connect event into a feedback record, or ignore it with a reason.

This is the work of the `courier.record_feedback` task, kept apart from Celery so it
reads as a list of steps: check the event, find the document, parse the reply, store the
client's files, write the record and the status.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import redis
import requests

from delivery.folders import CourierFolders
from feedback import correlation, records
from feedback.events import ClientMessage, client_message, ignore_reason, trim_event
from feedback.files import (
    FileDownloadError,
    TransientFileDownloadError,
    download,
    is_allowed_url,
    safe_file_name,
)
from feedback.rating import VERDICT_LABELS, parse_reply

log = logging.getLogger(__name__)


@dataclass
class FeedbackIntake:
    """Dependencies of recording feedback: Redis, the folders and the API session for files."""

    redis: redis.Redis
    folders: CourierFolders
    window_days: int
    session: requests.Session
    base_url: str
    max_file_bytes: int
    timeout: tuple[float, float]

    def handle(self, event: dict, *, final_attempt: bool = False) -> dict | None:
        """Record the event as feedback and return the record, or None when ignored.

        Raises TransientFileDownloadError when a client's file may download on a retry,
        unless `final_attempt` is set; then the record notes the failure instead.
        """
        event = trim_event(event)
        message_id = event.get("message_id", "?")
        reason = ignore_reason(event)
        if reason:
            log.debug("Событие %s пропущено: %s.", message_id, reason)
            return None
        message = client_message(event)

        reply = parse_reply(message.text)
        document = self._find_document(message, reply.text_without_rating)
        if document is None:
            return None

        files = self._store_files(message, document.document_id, final_attempt)
        record = records.build_record(message, reply, document, files)
        path = records.write_record(self.folders, record)
        records.update_status_feedback(self.folders, record)
        log.info("Документ %s: записан отзыв %s клиента %s (оценка %s, решение: %s), файл %s.",
                 document.document_id, message.message_id, message.user_id,
                 reply.rating or "нет", VERDICT_LABELS.get(reply.verdict, "не выражено"),
                 path.relative_to(self.folders.root))
        return record

    def _find_document(self, message: ClientMessage,
                       text: str) -> correlation.DeliveredDocument | None:
        deliveries = correlation.recent_deliveries(
            self.redis, message.line_id, message.user_id, replied_at=message.time,
            window_days=self.window_days)
        if not deliveries:
            log.debug("Событие %s пропущено: клиенту %s на линии %s за %d дн. до %s "
                      "документы не доставлялись.", message.message_id, message.user_id,
                      message.line_id, self.window_days, message.time.isoformat())
            return None
        return correlation.match(text, deliveries)

    def _store_files(self, message: ClientMessage, document_id: str,
                     final_attempt: bool) -> list[dict]:
        if not message.file:
            return []
        folder = records.attachments_dir(self.folders, document_id, message.message_id)
        try:
            return [self._store_file(message.file, folder)]
        except TransientFileDownloadError as error:
            if not final_attempt:
                raise
            return [_file_failure(message, error)]
        except FileDownloadError as error:
            return [_file_failure(message, error)]

    def _store_file(self, file: dict, folder: Path) -> dict:
        """Download one attachment into `folder`; raise FileDownloadError on failure."""
        url = file.get("file_path") or ""
        if not url:
            raise FileDownloadError("1С-Коннект не передал адрес файла; файл не сохранён.")
        if not is_allowed_url(url, self.base_url):
            raise FileDownloadError("Адрес файла указывает не на хост 1С-Коннект из "
                                    "CONNECT_BASE_URL; файл не загружен.")

        name = safe_file_name(file.get("file_name"), fallback="file")
        target = folder / name
        size = download(self.session, url, target, max_bytes=self.max_file_bytes,
                        timeout=self.timeout)
        return {"file_name": file.get("file_name") or name, "size": size,
                "path": str(target.relative_to(self.folders.root))}


def _file_failure(message: ClientMessage, error: FileDownloadError) -> dict:
    file = message.file
    log.warning("Сообщение %s: файл клиента «%s» не сохранён: %s", message.message_id,
                file.get("file_name") or "без имени", error)
    return {"file_name": file.get("file_name"), "size": file.get("file_size"),
            "path": None, "error": str(error)}
