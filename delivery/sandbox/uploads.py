"""Streaming receiver of multipart uploads: hashes the file part chunk by chunk.

The body goes through the push parser of the `multipart` package in chunks of 64 KiB,
so memory use stays at a few chunks whatever the file size. The file part may be
copied to disk while it streams.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import multipart

from .body import RequestBody
from .exchange import RequestError

# Maximum size of the `meta` part, in bytes. A meta is a small JSON object.
MAX_META_BYTES = 64 * 1024

# RFC 2231 / RFC 5987 extended parameter: filename*=charset'language'percent-encoded
EXTENDED_FILENAME = re.compile(r";\s*filename\*\s*=\s*\"?([^;\"]+)\"?", re.IGNORECASE)

# Maximum stored file name length in UTF-8 bytes, below the common 255-byte file system limit.
MAX_STORED_NAME_BYTES = 200


@dataclass
class ReceivedUpload:
    """Contents of a multipart upload: the raw meta bytes and the file part's digest."""

    meta: bytes | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int = 0
    sha256: str | None = None
    temp_path: Path | None = None


class UploadReceiver:
    """Consumer of multipart parser events that fills a ReceivedUpload.

    It hashes the file part and, with a store folder, copies it to disk.
    """

    def __init__(self, max_file_bytes: int, store_dir: Path | None) -> None:
        self.upload = ReceivedUpload()
        self._max_file_bytes = max_file_bytes
        self._store_dir = store_dir
        self._part: str | None = None
        self._meta_parts: list[bytes] = []
        self._meta_size = 0
        self._hash = hashlib.sha256()
        self._file_seen = False
        self._store: BinaryIO | None = None

    def receive(self, body: RequestBody, content_type: str) -> ReceivedUpload:
        """Parse the whole body, or raise RequestError 400 or 413 when it cannot be accepted.

        On error the partly stored file is removed and the rest of the body is left for
        the caller to drain.
        """
        boundary = _boundary_of(content_type)
        try:
            with multipart.PushMultipartParser(boundary, max_header_count=16) as parser:
                for chunk in body.chunks():
                    for event in parser.parse(chunk):
                        self._on_event(event)
        except multipart.MultipartError as error:
            self.discard()
            raise RequestError(400, f"Malformed multipart body: {error}") from error
        except BaseException:
            self.discard()
            raise

        return self._finish()

    def discard(self) -> None:
        """Close and delete the partly stored file, if any."""
        self._close_store()
        if self.upload.temp_path is not None:
            self.upload.temp_path.unlink(missing_ok=True)
            self.upload.temp_path = None

    def _on_event(self, event: multipart.MultipartSegment | bytes | None) -> None:
        if isinstance(event, multipart.MultipartSegment):
            self._start_part(event)
        elif event is None:
            self._end_part()
        elif self._part == "meta":
            self._add_meta(event)
        elif self._part == "file":
            self._add_file_bytes(event)

    def _start_part(self, segment: multipart.MultipartSegment) -> None:
        if segment.name == "meta":
            if self.upload.meta is not None or self._meta_parts:
                raise RequestError(400, "Duplicate meta part")
            self._part = "meta"
        elif segment.name == "file":
            self._start_file(segment)
        else:
            # Other parts are tolerated and skipped, as unknown meta keys are.
            self._part = None

    def _start_file(self, segment: multipart.MultipartSegment) -> None:
        if self._file_seen:
            raise RequestError(400, "Duplicate file part")

        filename = filename_of(segment)
        if not filename:
            raise RequestError(400, "The file part has no filename")

        self._part = "file"
        self._file_seen = True
        self.upload.filename = filename
        self.upload.content_type = segment.content_type
        if self._store_dir is not None:
            self._open_store()

    def _end_part(self) -> None:
        if self._part == "meta":
            self.upload.meta = b"".join(self._meta_parts)
        elif self._part == "file":
            self._close_store()
        self._part = None

    def _add_meta(self, chunk: bytes) -> None:
        self._meta_parts.append(chunk)
        self._meta_size += len(chunk)
        if self._meta_size > MAX_META_BYTES:
            raise RequestError(400, f"The meta part exceeds {MAX_META_BYTES} bytes")

    def _add_file_bytes(self, chunk: bytes) -> None:
        self.upload.size += len(chunk)
        if self.upload.size > self._max_file_bytes:
            message = f"File exceeds the maximum size of {self._max_file_bytes} bytes"
            raise RequestError(413, message)

        self._hash.update(chunk)
        if self._store is not None:
            self._store.write(chunk)

    def _open_store(self) -> None:
        assert self._store_dir is not None
        self._store_dir.mkdir(parents=True, exist_ok=True)
        self.upload.temp_path = self._store_dir / f".incoming-{uuid.uuid4().hex}"
        self._store = open(self.upload.temp_path, "wb")

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _finish(self) -> ReceivedUpload:
        if self.upload.meta is None:
            self.discard()
            raise RequestError(400, "The meta part is missing")
        if not self._file_seen:
            self.discard()
            raise RequestError(400, "The file part is missing")

        self.upload.sha256 = self._hash.hexdigest()
        return self.upload


def store_received_file(temp_path: Path, seq: int, filename: str) -> str:
    """Rename a stored upload to `<seq>-<filename>` in the same folder and return the path."""
    final_path = temp_path.with_name(f"{seq:06d}-{safe_file_name(filename)}")
    os.replace(temp_path, final_path)
    return str(final_path)


def safe_file_name(filename: str) -> str:
    """Return the client's file name without folder separators, control characters or
    leading dots, cut to MAX_STORED_NAME_BYTES."""
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", filename).lstrip(". ")
    encoded = name.encode("utf-8")[:MAX_STORED_NAME_BYTES]
    return encoded.decode("utf-8", errors="ignore") or "file"


def filename_of(segment: multipart.MultipartSegment) -> str | None:
    """Return the part's file name, preferring RFC 2231 `filename*=` over `filename=`.

    Browsers and urllib3 2 send a plain `filename="..."` with raw UTF-8, which the
    multipart parser decodes. urllib3 1 and some other clients send the extended form,
    which the parser (multipart 2.0) ignores, so this function decodes it.
    """
    disposition = segment.header("Content-Disposition", "")
    match = EXTENDED_FILENAME.search(disposition)
    if match is None:
        return segment.filename

    charset, _, rest = match.group(1).strip().partition("'")
    _, _, encoded = rest.partition("'")
    try:
        return urllib.parse.unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError) as error:
        raise RequestError(400, f"Invalid filename* parameter: {error}") from error


def _boundary_of(content_type: str) -> str:
    """Return the multipart boundary, or raise RequestError 400 for other content types."""
    media_type, options = multipart.parse_options_header(content_type)
    if media_type != "multipart/form-data":
        raise RequestError(400, f"Expected multipart/form-data, got {media_type or 'nothing'}")

    boundary = options.get("boundary")
    if not boundary:
        raise RequestError(400, "The multipart boundary is missing from Content-Type")

    return boundary
