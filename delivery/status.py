"""Status files for 1C: status/<document_id>.json, replaced atomically on every change."""

from enum import Enum

from delivery.folders import CourierFolders, atomic_write_json, read_json, utc_now_iso


class DocumentState(str, Enum):
    """Stage of a document's life cycle; the values are part of the 1C contract."""

    CLAIMED = "claimed"
    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    PARTIALLY_DELIVERED = "partially_delivered"
    FAILED = "failed"
    DUPLICATE = "duplicate"


class RecipientState(str, Enum):
    """Delivery state of one recipient of a document."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DUPLICATE = "duplicate"


# Default sentence for the 1C user per state, used when the caller gives none.
STATE_MESSAGES = {
    DocumentState.CLAIMED: "Документ принят курьером и проверяется.",
    DocumentState.QUEUED: "Документ в очереди на отправку в 1С-Коннект.",
    DocumentState.SENDING: "Документ отправляется в 1С-Коннект.",
    DocumentState.RETRYING: "1С-Коннект временно недоступен; курьер повторит отправку.",
    DocumentState.DELIVERED: "Документ доставлен всем получателям в 1С-Коннект.",
    DocumentState.PARTIALLY_DELIVERED: "Документ доставлен не всем получателям.",
    DocumentState.FAILED: "Документ не доставлен.",
    DocumentState.DUPLICATE: "Этот документ с тем же содержимым уже был доставлен; "
                             "повторно не отправлялся.",
}

# Keys owned by other writers (the feedback receiver) that a status rewrite keeps.
_PRESERVED_KEYS = ("feedback",)


def write_status(folders: CourierFolders, document_id: str, state: DocumentState, *,
                 drop_id: str | None = None, message: str | None = None,
                 recipients: list[dict] | None = None, **extra) -> dict:
    """Replace the document's status file and return what was written."""
    path = folders.status_file(document_id)
    previous = _read_previous(path)
    payload = {
        "document_id": document_id,
        "state": state.value,
        "drop_id": drop_id,
        "message": message or STATE_MESSAGES[state],
        "recipients": recipients if recipients is not None else previous.get("recipients", []),
        "updated_at": utc_now_iso(),
        **extra,
    }
    for key in _PRESERVED_KEYS:
        if key in previous and key not in payload:
            payload[key] = previous[key]
    folders.status.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, payload)
    return payload


def read_status(folders: CourierFolders, document_id: str) -> dict | None:
    """Return the document's status, or None when the courier has never seen it."""
    path = folders.status_file(document_id)
    return read_json(path) if path.exists() else None


def _read_previous(path) -> dict:
    try:
        return read_json(path)
    except (FileNotFoundError, ValueError):
        return {}
