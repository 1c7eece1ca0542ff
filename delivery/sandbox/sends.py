"""Send endpoints: POST /v1/line/send/message/, /v1/line/send/file/, /v1/line/send/image/."""

from __future__ import annotations

import logging
import time
from typing import Any

from .exchange import ApiRequest, Response, decode_json_object
from .uploads import ReceivedUpload, UploadReceiver, store_received_file
from .validation import check_permissions, validate_file_meta, validate_message

logger = logging.getLogger(__name__)

# Maximum JSON body size of a message send, in bytes.
MAX_JSON_BODY_BYTES = 1024 * 1024


def send_message(request: ApiRequest) -> Response:
    """Accept a text message for a subscriber's chat, record it and return 200 with no body."""
    raw = request.body.read_all(MAX_JSON_BODY_BYTES)
    body = decode_json_object(raw, "request body")
    validate_message(body)
    check_permissions(request.state.directory, body)

    record = _base_record(request, "message", body)
    saved = request.state.recorder.add(record)
    logger.info(
        "Принято сообщение №%d для пользователя %s на линии %s (%d символов).",
        saved["seq"],
        body["user_id"],
        body["line_id"],
        len(body["text"]),
    )
    return Response.empty()


def send_file(request: ApiRequest) -> Response:
    """Accept a document upload (multipart `meta` + `file`) and record its digest."""
    return _send_upload(request, "file")


def send_image(request: ApiRequest) -> Response:
    """Accept a picture upload, which the sandbox treats exactly like a file upload."""
    return _send_upload(request, "image")


def _send_upload(request: ApiRequest, kind: str) -> Response:
    """Stream the upload, check its meta, then record it. A rejected upload leaves no file."""
    receiver = UploadReceiver(request.config.max_file_bytes, request.state.store_dir)
    upload = receiver.receive(request.body, request.headers.get("Content-Type", ""))

    try:
        meta = decode_json_object(upload.meta or b"", "meta part")
        validate_file_meta(meta)
        check_permissions(request.state.directory, meta)
    except BaseException:
        receiver.discard()
        raise

    record = _base_record(request, kind, meta)
    record.update(
        filename=upload.filename,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
    )
    saved = request.state.recorder.add(record, _storer(upload))
    _log_upload(saved, meta)
    return Response.empty()


def _base_record(request: ApiRequest, kind: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "path": request.path,
        "login": request.login,
        "meta": meta,
        "first_byte_at": request.first_byte_at,
        "completed_at": time.time(),
    }


def _storer(upload: ReceivedUpload):
    """Return the callback that renames the stored copy after its sequence number, if any."""
    temp_path = upload.temp_path
    if temp_path is None:
        return None

    return lambda seq: store_received_file(temp_path, seq, upload.filename or "file")


def _log_upload(record: dict[str, Any], meta: dict[str, Any]) -> None:
    logger.info(
        "Принят файл №%d «%s» (%d байт, SHA-256 %s) для пользователя %s на линии %s.",
        record["seq"],
        record["filename"],
        record["size"],
        record["sha256"],
        meta["user_id"],
        meta["line_id"],
    )
