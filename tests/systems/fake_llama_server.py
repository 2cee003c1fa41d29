#!/usr/bin/env python3
"""A stand-in for llama.cpp's ``llama-server`` binary, for lifecycle tests without the runtime.

Same command line (``--model --host --port ...``), same health protocol (503 while "loading",
then 200 ``{"status": "ok"}``), same bind-failure message, an OpenAI-compatible
``/v1/chat/completions`` that answers ``{"PER": [], "ORG": [], "LOC": [<capitalised words>]}``.
``FAKE_LLAMA_MODE``: ``crash`` exits 1 after printing a load error; ``hang`` never becomes healthy.
"""

import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--model")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8080)
args, _ = parser.parse_known_args()
mode = os.environ.get("FAKE_LLAMA_MODE", "")
print(f"fake llama-server: loading model '{args.model}'", flush=True)
if mode == "crash":
    print("llama_model_load: error loading model: invalid magic", flush=True)
    sys.exit(1)
ready_at = time.monotonic() + 0.5


class Handler(BaseHTTPRequestHandler):
    def _send(self, code, payload):
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if mode == "hang" or time.monotonic() < ready_at:
            self._send(503, {"error": {"message": "Loading model", "code": 503}})
        else:
            self._send(200, {"status": "ok"})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        sentence = body["messages"][-1]["content"].split("Sentence: ", 1)[-1]
        places = [w for w in sentence.split() if w[:1].isupper()]
        content = json.dumps({"PER": [], "ORG": [], "LOC": places})
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})

    def log_message(self, *a):
        pass


try:
    server = ThreadingHTTPServer((args.host, args.port), Handler)
except OSError:
    print(f"couldn't bind HTTP server socket, hostname: {args.host}, port: {args.port}", flush=True)
    sys.exit(1)
print(f"main: server is listening on http://{args.host}:{args.port}", flush=True)
server.serve_forever()
