"""A real local HTTP server for tests: serves the files of a directory (GET) and records JSON POST bodies.

with local_http(tmp_path) as http:          # http.url == "http://127.0.0.1:PORT"
    fetch(f"{http.url}/model.onnx", ...)    # any file under tmp_path
    ...                                     # webhook sinks POST to f"{http.url}/reject": http.posts
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class LocalHttp:
    root: Path
    port: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.posts)


class _Handler(SimpleHTTPRequestHandler):
    state: LocalHttp

    def __init__(self, *args: Any, state: LocalHttp, **kwargs: Any) -> None:
        self.state = state
        super().__init__(*args, **kwargs)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.state.lock:
            self.state.posts.append(json.loads(body or b"{}"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def local_http(root: Path) -> Iterator[LocalHttp]:
    state = LocalHttp(Path(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, state=state, directory=str(root)))
    state.port = server.server_port
    thread = threading.Thread(target=partial(server.serve_forever, 0.05), name="local-http", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
