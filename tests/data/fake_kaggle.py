"""A fake Kaggle (API + signed storage) on 127.0.0.1, reached the way real clients reach
Kaggle: kagglesdk with KAGGLE_API_ENVIRONMENT=LOCALHOST through HTTP_PROXY, so every
request arrives in absolute form."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Behaviour:
    archives: dict = field(default_factory=dict)  # "owner/slug" -> zip bytes
    version: int = 3
    accept: set = field(default_factory=set)  # Authorization headers accepted; empty: anyone
    allow_anonymous: bool = True
    drop_at: int | None = None  # close the connection after this many body bytes (once each)
    drops: int = 0
    stall_at: int | None = None  # stop sending (sleep) after this many bytes (once each)
    stalls: int = 0
    expire: int = 0  # storage answers 403 this many times
    wrong_md5: bool = False
    ignore_range: bool = False
    busy: list = field(default_factory=list)  # the API first answers these statuses, one per call
    requests: list = field(default_factory=list)


class FakeKaggle:
    def __init__(self, behaviour: Behaviour):
        self.b = behaviour
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self):
        b = self.b

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _json(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                auth = self.headers.get("Authorization")
                b.requests.append(("POST", url.path, auth))
                if b.busy:  # overloaded or rate-limited: Retry-After says when to come back
                    self.send_response(b.busy.pop(0))
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if auth is None and not b.allow_anonymous:
                    return self._json(401, {"code": 401, "message": "Unauthenticated"})
                if auth is not None and b.accept and auth not in b.accept:
                    return self._json(401, {"code": 401, "message": "Invalid credentials"})
                ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
                if ref not in b.archives:
                    return self._json(404, {"code": 404, "message": "Not found"})
                if url.path.endswith("/GetDataset"):
                    return self._json(200, {"ref": ref, "currentVersionNumber": b.version})
                if url.path.endswith("/DownloadDataset"):
                    self.send_response(302)
                    self.send_header("Location", f"http://storage.fake/archive/{ref}?sig={time.time_ns()}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._json(404, {"code": 404, "message": "no such method"})

            def do_GET(self):
                url = urlsplit(self.path)
                b.requests.append(("GET", url.path, self.headers.get("Range")))
                ref = url.path.removeprefix("/archive/")
                data = b.archives.get(ref)
                if data is None:
                    return self._json(404, {"code": 404, "message": "no object"})
                if b.expire > 0:
                    b.expire -= 1
                    return self._json(403, {"code": 403, "message": "signature expired"})
                etag = '"' + hashlib.md5(data).hexdigest() + '"'
                md5 = hashlib.md5(b"other" if b.wrong_md5 else data).digest()
                start = 0
                rng = self.headers.get("Range")
                if rng and not b.ignore_range and self.headers.get("If-Range") in (None, etag):
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):  # as real storage does: nothing to send from there
                        return self._json(416, {"code": 416, "message": "range not satisfiable"})
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("x-goog-hash", "crc32c=AAAAAA==,md5=" + base64.b64encode(md5).decode())
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if b.drop_at is not None and b.drops > 0 and len(body) > b.drop_at:
                    b.drops -= 1
                    self.wfile.write(body[:b.drop_at])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if b.stall_at is not None and b.stalls > 0 and len(body) > b.stall_at:
                    b.stalls -= 1
                    self.wfile.write(body[:b.stall_at])
                    self.wfile.flush()
                    time.sleep(4)
                    self.close_connection = True
                    return
                self.wfile.write(body)

        return Handler
