#!/usr/bin/env python3
"""A real backend process for Tollgate's integration tests (loopback only).

Prints `PORT <n>` on stdout once listening, then serves HTTP/1.1 with keep-alive:

  /echo...            200, JSON {method, path, query, headers: [[name, value], ...], body}
  /status/<n>         status n, JSON body {"status_code": n, "message": ""}
  /delay/<ms>         sleeps ms, then 200 {"delayed": ms}
  /chunked            200 with a chunked body "hello, chunked world"
  /close-mid          sends half a response, then closes the connection
  /garbage            answers bytes that are not HTTP
  /headers            200 with Server, Date, X-Backend and Set-Cookie headers
  /raw-echo           200, the request body verbatim (application/json)
  anything else       200, the same JSON as /echo

It stops by itself after --max-seconds (default 300) so a test that dies leaves nothing.
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        body = self._body()
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/")
        if parts[0] == "status" and len(parts) > 1:
            n = int(parts[1])
            return self._send(n, json.dumps({"status_code": n, "message": ""}).encode())
        if parts[0] == "delay" and len(parts) > 1:
            time.sleep(int(parts[1]) / 1000.0)
            return self._send(200, json.dumps({"delayed": int(parts[1])}).encode())
        if parts[0] == "chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello, ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if parts[0] == "close-mid":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if parts[0] == "garbage":
            self.wfile.write(b"this is not http\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if parts[0] == "raw-echo":
            return self._send(200, body)
        if parts[0] == "headers":
            return self._send(200, b"{}", extra=(("X-Backend", "yes"), ("Set-Cookie", "a=1")))
        echo = {
            "method": self.command,
            "path": path,
            "query": query,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
        }
        self._send(200, json.dumps(echo).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


def main():
    max_seconds = 300
    if "--max-seconds" in sys.argv:
        max_seconds = int(sys.argv[sys.argv.index("--max-seconds") + 1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Timer(max_seconds, lambda: server.shutdown()).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
