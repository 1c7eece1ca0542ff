"""Chunked reading of HTTP request bodies framed by Content-Length or chunked encoding."""

from __future__ import annotations

import re
from email.message import Message
from typing import BinaryIO, Iterator

from .exchange import RequestError

CHUNK_BYTES = 64 * 1024

# Maximum length of a chunked framing line (chunk-size line or trailer), in bytes.
MAX_FRAMING_LINE_BYTES = 4096

HEX_DIGITS = re.compile(rb"[0-9a-fA-F]{1,16}")


class BodyFramingError(RequestError):
    """A body whose framing cannot be read, so the connection cannot be reused."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class RequestBody:
    """The body of one request, read from the socket in chunks of at most CHUNK_BYTES.

    Call `chunks()` once to stream the body, or `read_all()` for a small one. Before the
    response is written, the handler calls `drain()` to read what is left. The client
    then gets the response instead of a reset connection, and a keep-alive connection
    stays in step.

    After a framing error, `framing_error` contains it and the connection must be
    closed. `cut_short` is True when the client closed the connection mid-body, so no
    one is left to read a response.
    """

    def __init__(self, rfile: BinaryIO, headers: Message) -> None:
        self._rfile = rfile
        self.bytes_read = 0
        self.cut_short = False
        self.framing_error: BodyFramingError | None = None
        self._iterator = self._open(headers)

    def chunks(self) -> Iterator[bytes]:
        """Yield the remaining body bytes in chunks. Raise BodyFramingError on bad framing."""
        try:
            for chunk in self._iterator:
                self.bytes_read += len(chunk)
                yield chunk
        except BodyFramingError as error:
            self.framing_error = error
            raise

    def read_all(self, limit: int) -> bytes:
        """Return the whole body, or raise RequestError 413 when it exceeds `limit` bytes."""
        parts = []
        size = 0
        for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"Request body exceeds {limit} bytes")
            parts.append(chunk)

        return b"".join(parts)

    def drain(self) -> None:
        """Read and discard whatever the handler did not read; see `framing_error` after it."""
        if self.framing_error is not None:
            return

        try:
            for _ in self.chunks():
                pass
        except BodyFramingError:
            pass  # Recorded in framing_error for the handler.

    def _open(self, headers: Message) -> Iterator[bytes]:
        """Pick the framing from the headers, or raise BodyFramingError when it is invalid."""
        transfer_encoding = headers.get("Transfer-Encoding", "").strip().lower()
        if transfer_encoding:
            if transfer_encoding != "chunked":
                raise BodyFramingError(f"Unsupported Transfer-Encoding: {transfer_encoding}")
            return self._read_chunked()

        length_header = headers.get("Content-Length")
        if length_header is None:
            return iter(())

        length_text = length_header.strip()
        if not (length_text.isascii() and length_text.isdigit()):
            raise BodyFramingError(f"Invalid Content-Length: {length_header!r}")

        return self._read_sized(int(length_text))

    def _read_sized(self, length: int) -> Iterator[bytes]:
        remaining = length
        while remaining > 0:
            chunk = self._rfile.read1(min(remaining, CHUNK_BYTES))
            if not chunk:
                self.cut_short = True
                raise BodyFramingError("Connection closed before the end of the request body")
            remaining -= len(chunk)
            yield chunk

    def _read_chunked(self) -> Iterator[bytes]:
        while True:
            size = self._read_chunk_size()
            if size == 0:
                self._skip_trailers()
                return

            yield from self._read_sized(size)
            if self._read_line() != b"":
                raise BodyFramingError("Missing CRLF after a chunk of the request body")

    def _read_chunk_size(self) -> int:
        line = self._read_line()
        size_text = line.split(b";", 1)[0].strip()
        if not HEX_DIGITS.fullmatch(size_text):
            raise BodyFramingError(f"Invalid chunk size line: {line[:40]!r}")

        return int(size_text, 16)

    def _skip_trailers(self) -> None:
        while self._read_line() != b"":
            pass

    def _read_line(self) -> bytes:
        """Read one CRLF-terminated framing line and return it without the line end."""
        line = self._rfile.readline(MAX_FRAMING_LINE_BYTES + 1)
        if not line.endswith(b"\n"):
            self.cut_short = True
            if len(line) > MAX_FRAMING_LINE_BYTES:
                raise BodyFramingError("Chunked framing line is too long")
            raise BodyFramingError("Connection closed inside chunked framing")

        return line.rstrip(b"\r\n")
