"""A stand-in server process for the ServerManager's process handling.

It behaves like the vLLM launcher where the manager can see it: it logs, spawns a
worker child (as vLLM spawns its engine and worker), answers ``/health`` after a
delay and exits when its process group is terminated. Usage:
``python tests/llm/fake_vllm.py PORT DELAY_S [--exit-early] [--ignore-term] [--slow-chat]``:
``--ignore-term`` makes the launcher ignore SIGTERM (only SIGKILL ends it), ``--slow-chat``
makes chat requests (the warm-up) wait ten minutes for their answer.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        if "--slow-chat" in sys.argv:
            time.sleep(600)
        body = b'{"choices": [{"message": {"content": "OK"}, "finish_reason": "stop"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        print("request", self.path, flush=True)


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    print("fake server: loading", flush=True)
    if "--exit-early" in sys.argv:
        print("fake server: out of memory", flush=True)
        sys.exit(3)
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"fake server: worker {worker.pid}", flush=True)
    time.sleep(delay)
    print("Application startup complete.", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Health).serve_forever()


if __name__ == "__main__":
    main()
