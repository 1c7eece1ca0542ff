"""Download the files a client sends back, with the API's Basic credentials.

The URL comes from the event (`file.file_path`), so it is fetched only when its host is
the host of CONNECT_BASE_URL: the receiver must not fetch arbitrary URLs, nor hand the
API password to another host. Redirects are not followed for the same reason.
"""

import re
import urllib.parse
from pathlib import Path

import requests

from delivery.folders import atomic_write_chunks

CHUNK_BYTES = 1024 * 1024
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Longest stored file name, in characters; longer names are cut, the extension kept.
MAX_NAME_CHARS = 150


class FileDownloadError(Exception):
    """A client's file could not be stored; the message is a Russian sentence."""


class TransientFileDownloadError(FileDownloadError):
    """A download failure that may pass: timeout, connection error, 429 or 5xx."""


def is_allowed_url(url: str, base_url: str) -> bool:
    """Tell whether `url` is http(s) on the same host as the API root `base_url`.

    Only the host name is compared, so another port of the same host is allowed.
    """
    target = urllib.parse.urlsplit(url)
    base = urllib.parse.urlsplit(base_url)
    if target.scheme not in ("http", "https") or not target.hostname:
        return False
    return target.hostname.lower() == (base.hostname or "").lower()


def safe_file_name(name: str | None, fallback: str) -> str:
    """Reduce a client-supplied name to a plain file name that stays inside its folder."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f<>:\"|?*]", "_", base).strip(" .")
    if not base:
        base = fallback

    if len(base) > MAX_NAME_CHARS:
        stem, dot, extension = base.rpartition(".")
        keep = MAX_NAME_CHARS - len(extension) - 1
        base = f"{stem[:keep]}.{extension}" if dot and 0 < keep else base[:MAX_NAME_CHARS]
    return base


def download(session: requests.Session, url: str, target: Path, *, max_bytes: int,
             timeout: tuple[float, float]) -> int:
    """Stream `url` into `target` atomically and return its size in bytes.

    Raises TransientFileDownloadError for failures worth a retry and FileDownloadError
    for the rest (4xx, a redirect, a file over `max_bytes`).
    """
    try:
        with session.get(url, stream=True, timeout=timeout, allow_redirects=False) as response:
            _check_response(response, max_bytes)
            return _save_stream(response, target, max_bytes)
    except requests.Timeout:
        raise TransientFileDownloadError(
            "1С-Коннект не отдал файл вовремя; загрузка будет повторена.") from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        raise TransientFileDownloadError(
            "Нет соединения с 1С-Коннект для загрузки файла; загрузка будет повторена.") from None


def _check_response(response: requests.Response, max_bytes: int) -> None:
    status = response.status_code
    if status in TRANSIENT_STATUSES:
        raise TransientFileDownloadError(
            f"1С-Коннект временно не отдал файл (ответ {status}); загрузка будет повторена.")
    if 300 <= status < 400:
        raise FileDownloadError(
            f"1С-Коннект перенаправил загрузку файла (ответ {status}); переход по "
            "перенаправлению запрещён, файл не сохранён.")
    if status != 200:
        raise FileDownloadError(f"1С-Коннект не отдал файл (ответ {status}); файл не сохранён.")

    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FileDownloadError(_too_large_message(int(declared), max_bytes))


def _save_stream(response: requests.Response, target: Path, max_bytes: int) -> int:
    """Write the body to `target` through a temporary file; stop past `max_bytes`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0

    def capped_chunks():
        nonlocal size
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise FileDownloadError(_too_large_message(size, max_bytes))
            yield chunk

    atomic_write_chunks(target, capped_chunks())
    return size


def _too_large_message(size: int, max_bytes: int) -> str:
    return (f"Файл клиента больше предела MAX_FILE_MB = {max_bytes / 1048576:.0f} МБ "
            f"(получено не меньше {size / 1048576:.1f} МБ); файл не сохранён.")
