"""A loopback image host for the shop tests: every path under it is a small JPEG
whose bytes depend on the path (so each picture has its own digest), a path with
``missing`` in it is 404, and ``hits`` counts the downloads of each path."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def jpeg(tag: bytes) -> bytes:
    """A minimal JPEG a decoder's size probe reads: SOI, a comment with ``tag``, a
    baseline frame header (1x1, one component), EOI."""
    comment = b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag
    frame = b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    return b"\xff\xd8" + comment + frame + b"\xff\xd9"


# What the shops' own checks read to tell an image's type: its first bytes.
SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "image/jpeg": lambda d: d[:3] == b"\xff\xd8\xff",
    "image/png": lambda d: d[:8] == b"\x89PNG\r\n\x1a\n",
    "image/gif": lambda d: d[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP",
    "image/heic": lambda d: d[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"),
    "image/bmp": lambda d: d[:2] == b"BM",
    "image/tiff": lambda d: d[:4] in (b"II*\x00", b"MM\x00*"),
    "image/x-icon": lambda d: d[:4] == b"\x00\x00\x01\x00",
}


def image_type(data: bytes, types: Iterable[str]) -> str | None:
    """Which of ``types`` (MIME types) ``data`` is by its signature; None: none."""
    return next((t for t in types if SIGNATURES[t](data)), None)


class ImageHost:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.host = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def bytes_of(self, path: str) -> bytes:
        return jpeg(path.encode())

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        host: ImageHost = self.server.host  # type: ignore[attr-defined]
        with host.lock:
            host.hits[self.path] += 1
        if "missing" in self.path:
            data, status, kind = b"not found", 404, "text/plain"
        else:
            data, status, kind = host.bytes_of(self.path), 200, "image/jpeg"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
