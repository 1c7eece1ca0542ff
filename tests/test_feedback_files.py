"""Client files download atomically and stop at the size cap, over real loopback HTTP."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from feedback.files import FileDownloadError, download

BODY = b"%PDF-1.7 signed contract " * 4000


class _NoLengthHandler(BaseHTTPRequestHandler):
    """Serves BODY without Content-Length, so only the streamed count can stop it."""

    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802 (http.server naming)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *_args):
        pass


@pytest.fixture
def file_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoLengthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/file"
    server.shutdown()
    server.server_close()


def test_download_writes_whole_file(file_url, tmp_path):
    target = tmp_path / "feedback" / "Договор.pdf"

    size = download(requests.Session(), file_url, target, max_bytes=len(BODY),
                    timeout=(5, 10))

    assert size == len(BODY)
    assert target.read_bytes() == BODY


def test_download_over_cap_leaves_nothing(file_url, tmp_path):
    target = tmp_path / "feedback" / "Договор.pdf"

    with pytest.raises(FileDownloadError):
        download(requests.Session(), file_url, target, max_bytes=len(BODY) // 2,
                 timeout=(5, 10))

    assert not target.exists()
    assert list(target.parent.iterdir()) == []
