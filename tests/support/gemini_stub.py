"""A loopback stub of the Gemini REST API (generateContent, streamGenerateContent?alt=sse).

Started by tests and the benchmark on 127.0.0.1, port 0. Faults come two ways: ``faults`` is a
queue applied to the next requests in order ("429", "500", "503", "timeout", "malformed"), and
markers in the prompt text make a permanent outcome ("[[SAFETY]]", "[[EMPTY]]", "[[BADJUDGE]]").
Every request (path, headers, body) is recorded, so tests can check what the client sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIMS = ("entropy_reduction", "calibrated_uncertainty", "conflict_resolution", "context_faithfulness",
        "process_transparency", "honest_engagement", "helpfulness", "harm_avoidance", "instruction_following")


def _text_of(body: dict[str, Any]) -> str:
    parts = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])]
    sys_parts = [p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", [])]
    return "\n".join(sys_parts + parts)


def _usage(n_in: int, n_out: int) -> dict[str, int]:
    return {"promptTokenCount": n_in, "candidatesTokenCount": n_out, "thoughtsTokenCount": 3,
            "totalTokenCount": n_in + n_out + 3}


class GeminiStub:
    def __init__(self, latency: float = 0.0, retry_after: str = "0.05") -> None:
        self.latency = latency
        self.retry_after = retry_after
        self.faults: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.handle(self, raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GeminiStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- responses ---------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _error(self, h: BaseHTTPRequestHandler, code: int, status: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": {"code": code, "message": f"stub {status}", "status": status}}).encode()
        self._send(h, code, body, headers=headers)

    def reply_text(self, body: dict[str, Any]) -> str:
        text = _text_of(body)
        cfg = body.get("generationConfig") or {}
        if cfg.get("responseMimeType") == "application/json":
            if "[[BADJUDGE]]" in text:
                return '{"entropy_reduction": 1.7, "helpfulness": "great"'  # out of range and truncated
            if '"winner"' in text:
                return json.dumps({"winner": "a"})
            if '{"turns"' in text:  # datagen's prompt expansion
                return json.dumps({"turns": [f"Generated question {hashlib.sha256(text.encode()).hexdigest()[:6]}?"]})
            seed = hashlib.sha256(text.encode()).digest()
            return json.dumps({d: round(seed[i] / 255, 2) for i, d in enumerate(DIMS)})
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return f"Let me identify the parameters first. Step 1: list them. Step 2: group them. ({digest})"

    def handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        with self.lock:
            self.requests.append({"path": h.path, "headers": dict(h.headers), "body": body})
            fault = self.faults.popleft() if self.faults else ""
        if self.latency:
            time.sleep(self.latency)
        if h.path.endswith("/chat/completions"):
            return self._openai(h, body, fault)
        if fault == "429":
            return self._error(h, 429, "RESOURCE_EXHAUSTED", {"Retry-After": self.retry_after})
        if fault in ("500", "503"):
            return self._error(h, int(fault), "INTERNAL" if fault == "500" else "UNAVAILABLE")
        if fault == "timeout":
            time.sleep(2.0)
        if fault == "malformed":
            return self._send(h, 200, b'{"candidates": [{"content": {"parts": [{"text": "tru')
        text = _text_of(body)
        usage = _usage(max(1, len(text) // 4), 0)
        if "[[SAFETY]]" in text:
            cand: dict[str, Any] = {"finishReason": "SAFETY", "index": 0,
                                    "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                                                       "probability": "HIGH", "blocked": True}]}
            return self._respond(h, [{"candidates": [cand], "usageMetadata": usage}])
        if "[[EMPTY]]" in text:
            cand = {"content": {"parts": [], "role": "model"}, "finishReason": "STOP", "index": 0}
            return self._respond(h, [{"candidates": [cand], "usageMetadata": usage}])
        out = self.reply_text(body)
        usage = _usage(max(1, len(text) // 4), max(1, len(out) // 4))
        half = len(out) // 2
        chunks = [out[:half], out[half:]] if "stream" in h.path.lower() else [out]
        resps = [{"candidates": [{"content": {"parts": [{"text": c}], "role": "model"}, "index": 0,
                                  **({"finishReason": "STOP"} if i == len(chunks) - 1 else {})}],
                  **({"usageMetadata": usage} if i == len(chunks) - 1 else {}), "modelVersion": "stub"}
                 for i, c in enumerate(chunks)]
        self._respond(h, resps)

    def _openai(self, h: BaseHTTPRequestHandler, body: dict[str, Any], fault: str) -> None:
        """The OpenAI-compatible /chat/completions (llama-server's shape)."""
        if fault == "429":
            return self._send(h, 429, b'{"error": "busy"}', headers={"Retry-After": self.retry_after})
        msgs = body.get("messages", [])
        gem = {"contents": [{"parts": [{"text": m.get("content", "")}]} for m in msgs],
               "generationConfig": {"responseMimeType": "application/json"} if body.get("response_format") else {}}
        out = self.reply_text(gem)
        resp = {"choices": [{"index": 0, "message": {"role": "assistant", "content": out}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 7}}
        self._send(h, 200, json.dumps(resp).encode())

    def _respond(self, h: BaseHTTPRequestHandler, resps: list[dict[str, Any]]) -> None:
        if "streamGenerateContent" in h.path:
            data = b"".join(b"data: " + json.dumps(r).encode() + b"\r\n\r\n" for r in resps)
            return self._send(h, 200, data, "text/event-stream")
        self._send(h, 200, json.dumps(resps[0]).encode())


def main() -> None:
    """``python tests/support/gemini_stub.py --latency 0.5``: serve until killed, printing the URL first (the
    benchmark runs the stub in its own process, so it does not share the client's GIL)."""
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    with GeminiStub(latency=args.latency) as stub:
        print(stub.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    main()
