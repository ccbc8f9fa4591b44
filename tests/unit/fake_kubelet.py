#!/usr/bin/env python3
"""A stand-in for the kubelet's GET /pods, for tests/unit/test_kubelet.c.

    fake_kubelet.py FIXTURE LOG [--token TOKEN] [--tls CERT KEY]

Serves FIXTURE (read afresh on every request, so a test can change it) on
127.0.0.1 at a free port, which it prints on stdout.  With --token, a request
without "Authorization: Bearer TOKEN" gets 401, as the kubelet answers.  Each
request appends "PATH STATUS" to LOG.
"""

import argparse
import http.server
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixture")
    ap.add_argument("log")
    ap.add_argument("--token")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()

    class Kubelet(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body, ctype="application/json"):
            with open(args.log, "a") as f:
                f.write("%s %d\n" % (self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
                self.answer(401, b"Unauthorized\n", "text/plain")
            elif self.path != "/pods":
                self.answer(404, b"404 page not found\n", "text/plain")
            else:
                with open(args.fixture, "rb") as f:
                    self.answer(200, f.read())

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Kubelet)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*args.tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
