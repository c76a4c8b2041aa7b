"""An independent HTTP server (Python's http.server) for Craft's http client tests.

Usage: http_peer.py. Listens on 0.0.0.0 (so that 127.0.0.2 reaches it too) on a free port and
prints the port. Routes:
  /echo            any method: the request body back; X-Echo-Method, X-Echo-Test (the request's
                   X-Test header), X-Echo-Type (its Content-Type) and X-Echo-Agent headers
  /bytes           bytes 0..255
  /lines           "one\\r\\ntwo\\nthree"
  /status/CODE     that status with reason phrase "Reason CODE" and body "status CODE"
  /redirect/N      302 to /redirect/N-1; /redirect/0 answers "done"
  /see-other       303 to /echo
  /to?url=URL      302 to URL
  /slow?ms=N       waits N ms, then answers the number of requests in flight when it started
  /big?n=N         N bytes of "x"
  /multi           two Set-Cookie-like X-Multi headers
"""

import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

in_flight = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, headers=(), reason=None):
        self.send_response(code, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        global in_flight
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = url.path
        if path == "/echo":
            self.reply(200, body, [
                ("X-Echo-Method", self.command),
                ("X-Echo-Test", self.headers.get("X-Test", "")),
                ("X-Echo-Type", self.headers.get("Content-Type", "")),
                ("X-Echo-Agent", self.headers.get("User-Agent", "")),
            ])
        elif path == "/bytes":
            self.reply(200, bytes(range(256)), [("Content-Type", "application/octet-stream")])
        elif path == "/lines":
            self.reply(200, b"one\r\ntwo\nthree")
        elif path.startswith("/status/"):
            code = int(path[len("/status/"):])
            self.reply(code, b"status %d" % code, reason="Reason %d" % code)
        elif path.startswith("/redirect/"):
            n = int(path[len("/redirect/"):])
            if n == 0:
                self.reply(200, b"done")
            else:
                self.reply(302, b"", [("Location", "/redirect/%d" % (n - 1))])
        elif path == "/see-other":
            self.reply(303, b"", [("Location", "/echo")])
        elif path == "/to":
            self.reply(302, b"", [("Location", query["url"][0])])
        elif path == "/slow":
            with lock:
                in_flight += 1
                seen = in_flight
            try:
                time.sleep(int(query.get("ms", ["5000"])[0]) / 1000)
                self.reply(200, str(seen).encode())
            finally:
                with lock:
                    in_flight -= 1
        elif path == "/big":
            self.reply(200, b"x" * int(query["n"][0]))
        elif path == "/multi":
            self.reply(200, b"", [("X-Multi", "a"), ("X-Multi", "b")])
        else:
            self.reply(404, b"no such route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


def main():
    server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
