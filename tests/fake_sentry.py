"""A loopback HTTP server posing as Sentry: it stores every envelope the SDK posts.

Sentry itself cannot run here; this stand-in only decodes what the real SDK sends, so
the test checks the SDK's real output, after our scrubber, byte for byte.
"""

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _EnvelopeHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli
            body = brotli.decompress(body)
        self.server.envelopes.append(body.decode("utf-8", errors="replace"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args):
        pass


class FakeSentry:
    """Collects raw envelopes; `events()` returns the event items among them."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _EnvelopeHandler)
        self.server.envelopes = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def start(self) -> "FakeSentry":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def raw(self) -> str:
        return "\n".join(self.server.envelopes)

    def events(self) -> list[dict]:
        found = []
        for envelope in self.server.envelopes:
            lines = envelope.split("\n")
            for header, payload in zip(lines[1::2], lines[2::2]):
                try:
                    if json.loads(header).get("type") == "event":
                        found.append(json.loads(payload))
                except ValueError:
                    continue
        return found
