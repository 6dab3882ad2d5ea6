"""A loopback Hugging Face hub answering ``/api/models/<id>`` as the real hub does (huggingface_hub reads
it so): a missing repo is a 401 with ``X-Error-Code: RepoNotFound`` when asked without a token, a 404 with
one; a bad token is a 401 naming it; a gated repo says so. The ``hub`` fixture (tests/conftest.py) points
HF_ENDPOINT and an empty HF_HUB_CACHE at it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class HubStub(BaseHTTPRequestHandler):
    known: ClassVar[set[str]] = set()  # ids the hub has (set per server by ``serve_hub``)
    gated: ClassVar[set[str]] = set()

    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        repo = self.path.removeprefix("/api/models/")
        if auth == "Bearer bad-token":
            self.send_response(401)
            self.send_header("X-Error-Message", "Invalid credentials in Authorization header")
        elif repo in self.known:
            self.send_response(200)
        elif repo in self.gated and not auth:
            self.send_response(401)
            self.send_header("X-Error-Code", "GatedRepo")
        else:
            self.send_response(404 if auth else 401)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("X-Error-Message", "Repository not found")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@contextmanager
def serve_hub(known: set[str], gated: frozenset[str] = frozenset()) -> Iterator[tuple[str, set[str]]]:
    """A hub on a free loopback port → (its endpoint, the set of known ids, which a test may extend)."""
    ids = set(known)
    handler = type("Hub", (HubStub,), {"known": ids, "gated": set(gated)})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", ids
    finally:
        srv.shutdown()
        srv.server_close()
