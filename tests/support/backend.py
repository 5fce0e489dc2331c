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
  /conn               200, JSON {peer_port, served}: the client's port and how many requests
                      this connection has carried (shows keep-alive reuse)
  /tls                200, JSON {sni, alpn, version} of the TLS session (with --tls)
  /slow-chunks        200 chunked: "first", then 600 ms later "second"
  /big/<n>            200 with n bytes of 'x' (Content-Length)
  anything else       200, the same JSON as /echo

With `--tls CERT KEY` (PEM files) it serves HTTPS instead; the handshake runs in the
connection's thread, so a client that is not speaking TLS only fails its own connection.
It stops by itself after --max-seconds (default 300) so a test that dies leaves nothing.
"""
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body go out as separate writes; with Nagle the body waits for
    # the client's delayed ACK (40 ms) on every keep-alive request after the first.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def handle(self):
        self.served = 0
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(30)
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                return
        super().handle()

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
        self.served += 1
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
        if parts[0] == "slow-chunks":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            time.sleep(0.6)
            self.wfile.write(b"6\r\nsecond\r\n0\r\n\r\n")
            return
        if parts[0] == "big" and len(parts) > 1:
            return self._send(200, b"x" * int(parts[1]), ctype="application/octet-stream")
        if parts[0] == "raw-echo":
            return self._send(200, body)
        if parts[0] == "conn":
            info = {"peer_port": self.client_address[1], "served": self.served}
            return self._send(200, json.dumps(info).encode())
        if parts[0] == "tls" and isinstance(self.connection, ssl.SSLSocket):
            info = {
                "sni": getattr(self.connection, "sni", None),
                "alpn": self.connection.selected_alpn_protocol(),
                "version": self.connection.version(),
            }
            return self._send(200, json.dumps(info).encode())
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
    if "--tls" in sys.argv:
        i = sys.argv.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
        ctx.set_alpn_protocols(["http/1.1"])

        def remember_sni(sock, name, _ctx):
            sock.sni = name

        ctx.sni_callback = remember_sni
        server.socket = ctx.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Timer(max_seconds, lambda: server.shutdown()).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
