"""Shared pieces of the workflow and notify tests: a real HTTP receiver on 127.0.0.1 that records every request
(and can answer a scripted series of status codes), with a test of its own."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """``script[path]`` is a list of status codes answered in turn before the default 200 (or ``delay`` seconds
    of silence before answering, to provoke timeouts)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: dict[str, list[int]] = {}
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if receiver.delay:
                    time.sleep(receiver.delay)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    queued = receiver.script.get(self.path) or []
                    status = queued.pop(0) if queued else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def received(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_receiver_records_requests_and_answers_the_script() -> None:
    with Receiver() as receiver:
        receiver.script["/x"] = [503]
        request = urllib.request.Request(receiver.url + "/x", data=b'{"a":1}', method="POST")  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310
        assert raised.value.code == 503
        raised.value.close()
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 200
        assert [r.json() for r in receiver.received("/x")] == [{"a": 1}, {"a": 1}]
