#!/usr/bin/env python3
"""flaky_peer.py — an unreliable network in front of one kervan node, for the
fault tests (tests/cli/corridor-faults.sh).

  python3 flaky_peer.py LISTEN_PORT TARGET_URL STATS_FILE [PATTERN]

Listens on 127.0.0.1:LISTEN_PORT and passes every request to TARGET_URL
(the node). Requests to POST /v1/exchange are treated in turn by PATTERN, a
comma-separated cycle of:

  ok       passed on, the node's answer returned
  500      answered 500 at once; the node never sees the message
  slow     passed on after a delay of 1.5 s
  lost     passed on (the node applies it), but the answer is replaced by a
           500: the sender must try again and the node answer "duplicate"

(default "500,ok,slow,lost,ok"). Other requests are passed on untouched.
After each exchange request STATS_FILE is rewritten with the counts of each
treatment, as JSON. Binds 127.0.0.1 only. Stops on SIGTERM.
"""
import http.client
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

listen_port = int(sys.argv[1])
target = urllib.parse.urlsplit(sys.argv[2])
stats_file = sys.argv[3]
pattern = (sys.argv[4] if len(sys.argv) > 4 else "500,ok,slow,lost,ok").split(",")
lock = threading.Lock()
counts = {k: 0 for k in ("ok", "500", "slow", "lost")}
counts["requests"] = 0
turn = [0]


def save():
    tmp = stats_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(counts, f)
    os.replace(tmp, stats_file)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self, body):
        c = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "content-length")}
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        out = (r.status, [(k, v) for k, v in r.getheaders()
                          if k.lower() not in ("connection", "transfer-encoding", "content-length")], data)
        c.close()
        return out

    def answer(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        mode = "pass"
        if self.command == "POST" and self.path == "/v1/exchange":
            with lock:
                mode = pattern[turn[0] % len(pattern)]
                turn[0] += 1
        err500 = (500, [("Content-Type", "application/json")],
                  b'{"error":{"status":500,"code":"internal","message":"flaky peer","problems":[]}}')
        try:
            if mode == "500":
                self.answer(*err500)
            elif mode == "slow":
                time.sleep(1.5)
                self.answer(*self.forward(body))
            elif mode == "lost":
                self.forward(body)
                self.answer(*err500)
            else:
                self.answer(*self.forward(body))
        except (OSError, http.client.HTTPException):
            try:
                self.answer(502, [("Content-Type", "text/plain")], b"node unreachable\n")
            except OSError:
                pass
            return
        if mode != "pass":
            with lock:
                counts[mode] += 1
                counts["requests"] += 1
                save()

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
save()
server.serve_forever()
