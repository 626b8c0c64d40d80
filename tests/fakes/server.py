"""A small threaded HTTP server on a free loopback port, shared by the OpenAI and ComfyUI fakes."""

from __future__ import annotations

import json
import threading
import traceback
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    def parts(self) -> list[Part]:
        """The parts of a multipart/form-data body, in order (repeated names kept)."""
        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        if not message.is_multipart():
            return []
        return [
            Part(
                name=part.get_param("name", header="content-disposition") or "",
                filename=part.get_filename(),
                content_type=part.get_content_type(),
                data=part.get_payload(decode=True) or b"",
            )
            for part in message.iter_parts()
        ]


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # > 0: send the body one byte at a time, this many seconds apart (a stalling server)

    @classmethod
    def json(cls, data, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json"} | (headers or {}))


class FakeServer:
    """Subclasses implement `handle(request) -> Response`; every request is kept in `requests`."""

    def __init__(self):
        self.requests: list[Request] = []
        self.crashes: list[str] = []  # tracebacks of handler bugs; the fixtures assert there are none
        self.trickled: list[tuple[str, int, int]] = []  # (path, bytes sent, body length) of each trickled answer
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=url.path,
                    query={k: v[-1] for k, v in parse_qs(url.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with fake.lock:
                    fake.requests.append(request)
                try:
                    response = fake.handle(request)
                except Exception:  # a bug in the fake: answer, and let the fixture fail the test
                    fake.crashes.append(traceback.format_exc())
                    response = Response(500, b"fake server crashed", {"Content-Type": "text/plain"})
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    if response.trickle:
                        self._trickle(request.path, response)
                    else:
                        self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its time-out) before a slow answer came

            def _trickle(self, path: str, response: Response) -> None:
                sent = 0
                try:
                    for sent in range(1, len(response.body) + 1):
                        self.wfile.write(response.body[sent - 1 : sent])
                        self.wfile.flush()
                        if sent < len(response.body) and fake.stopping.wait(response.trickle):
                            break
                except (BrokenPipeError, ConnectionResetError):
                    sent -= 1  # that byte did not go
                finally:
                    with fake.lock:
                        fake.trickled.append((path, sent, len(response.body)))

            do_GET = do_POST = _serve

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=type(self).__name__, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def hang(self, seconds: float) -> None:
        """Wait like a slow server, but stop waiting as soon as the fake is stopped."""
        self.stopping.wait(seconds)

    def requests_to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
