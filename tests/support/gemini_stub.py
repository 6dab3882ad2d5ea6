"""A loopback stub of the Gemini REST API, as unkind as the service documents itself to be.

Routes ``POST /{v1,v1beta,v1alpha}/models/<m>:generateContent`` (google-genai 3.x calls /v1, 2.x
/v1beta), the Vertex AI path ``/v1beta1/projects/<p>/locations/<l>/publishers/google/models/<m>:…``,
``:streamGenerateContent?alt=sse``, and an OpenAI-compatible ``/v1/chat/completions``. What a model
answers (thinking billed against the cap, validation, thoughts, safety) is tests/support/gemini_model.py.

Rate limits: ``Quota(limit, window)`` accepts ``limit`` requests a fixed window and answers the rest
with the documented 429 body: QuotaFailure, Help and ``google.rpc.RetryInfo`` (whole seconds, rounded
down, with the exact wait in the message, "Please retry in 12.3s", as the service writes both), and no
Retry-After header (a ``retry_after_header`` mode plays a proxy that adds one); ``per_day`` names a
per-day quota. ``faults`` is a queue applied to the next requests ("429", "429-header", "429-bare",
"500", "503", "503-html", "timeout", "malformed"). Every request is recorded with its arrival time, its
answer's status and time and, for a 429, the delay asked, so tests can check that no request came
before the server's delay had passed (:meth:`GeminiStub.early_requests`).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.gemini_model import Refusal, read_request, reply, text_of

PATH = re.compile(r"^/(v1|v1beta|v1alpha|v1beta1)/(projects/[^/]+/locations/[^/]+/publishers/google/)?"
                  r"models/([^:/]+):(generateContent|streamGenerateContent)(\?alt=sse)?$")
RATE_DOC = "https://ai.google.dev/gemini-api/docs/rate-limits"


@dataclass
class Quota:
    limit: int  # requests accepted per window
    window: float = 60.0  # seconds: a per-minute quota
    per_day: bool = False  # the allowance is spent until midnight Pacific
    retry_after_header: bool = False  # a proxy in front adds Retry-After


def quota_refusal(model: str, delay: float, limit: int, per_day: bool = False) -> Refusal:
    """The 429 the Gemini API sends (google/langextract#50; newer message text: gemini-cli#13112)."""
    qid = ("GenerateRequestsPerDayPerProjectPerModel-FreeTier" if per_day
           else "GenerateRequestsPerMinutePerProjectPerModel-FreeTier")
    message = ("You exceeded your current quota, please check your plan and billing details. For more information "
               f"on this error, head to: {RATE_DOC}. To monitor your current usage, head to: "
               "https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/"
               f"generate_content_free_tier_requests, limit: {limit}, model: {model}\nPlease retry in {delay:.6f}s.")
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                         "quotaId": qid, "quotaDimensions": {"location": "global", "model": model},
                         "quotaValue": str(limit)}]},
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas", "url": RATE_DOC}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{math.floor(delay)}s"},
    ]
    return Refusal(429, "RESOURCE_EXHAUSTED", message, details)


SERVER_ERRORS = {
    "500": Refusal(500, "INTERNAL", "An internal error has occurred. Please retry or report in "
                   "https://developers.generativeai.google/guide/troubleshooting"),
    "503": Refusal(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
}


class GeminiStub:
    def __init__(self, latency: float = 0.0, quota: Quota | None = None, fault_delay: float = 0.05,
                 seed: int = 0) -> None:
        self.latency = latency
        self.salt = f"{seed}:" if seed else ""
        self.quota = quota
        self.fault_delay = fault_delay
        self.faults: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self._window = -1
        self._count = 0
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

    # -- what tests read ---------------------------------------------------------------------------
    def answered(self, status: int) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("status") == status]

    def early_requests(self, slack: float = 0.5) -> list[dict[str, Any]]:
        """Requests that arrived while a 429's delay was still running (``slack`` seconds after the 429
        left are allowed for requests the client had already sent)."""
        out = []
        for r429 in self.answered(429):
            start, end = r429["t_out"] + slack, r429["t_out"] + (r429.get("delay") or 0.0)
            out.extend(r for r in self.requests if start < r["t_in"] < end)
        return out

    # -- responses ---------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, rec: dict[str, Any], status: int, body: bytes,
              ctype: str = "application/json", headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
        rec.update(status=status, t_out=time.monotonic())

    def _refuse(self, h: BaseHTTPRequestHandler, rec: dict[str, Any], err: Refusal, delay: float | None = None,
                headers: dict[str, str] | None = None) -> None:
        rec["delay"] = delay
        self._send(h, rec, err.code, json.dumps(err.body()).encode(), headers=headers)

    def _admit(self, model: str) -> tuple[Refusal, float] | None:
        """The quota window: None when the request is accepted, else the 429 and its delay."""
        q = self.quota
        if q is None:
            return None
        with self.lock:
            now = time.monotonic() - self.t0
            window = int(now // q.window)
            if q.per_day and self._count >= q.limit:
                return quota_refusal(model, 47.0, q.limit, per_day=True), 47.0
            if window != self._window and not q.per_day:
                self._window, self._count = window, 0
            if self._count < q.limit:
                self._count += 1
                return None
            delay = (window + 1) * q.window - now
            return quota_refusal(model, delay, q.limit), delay

    def handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        rec: dict[str, Any] = {"path": h.path, "headers": dict(h.headers), "body": body, "t_in": time.monotonic()}
        with self.lock:
            self.requests.append(rec)
            fault = self.faults.popleft() if self.faults else ""
        if self.latency:
            time.sleep(self.latency)
        if h.path.endswith("/chat/completions"):
            return self._openai(h, rec, body, fault)
        m = PATH.match(h.path)
        if m is None:
            return self._refuse(h, rec, Refusal(404, "NOT_FOUND", f"no such method: {h.path}"))
        version, vertex, model, method = m.group(1), m.group(2) is not None, m.group(3), m.group(4)
        if fault.startswith("429"):
            err = quota_refusal(model, self.fault_delay, 10)
            if fault == "429-bare":  # Vertex AI's shared-capacity 429: no hint at all
                err = Refusal(429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later. Please refer to "
                              "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.")
            if fault == "429-header":  # behind a proxy: the wait in a header only
                err = Refusal(429, "RESOURCE_EXHAUSTED", "Too many requests")
                return self._refuse(h, rec, err, self.fault_delay, {"Retry-After": f"{self.fault_delay:g}"})
            return self._refuse(h, rec, err, self.fault_delay if fault == "429" else None)
        if fault in SERVER_ERRORS:
            return self._refuse(h, rec, SERVER_ERRORS[fault])
        if fault == "503-html":
            return self._send(h, rec, 503, b"<html><body>Service Unavailable</body></html>", "text/html")
        if fault == "timeout":
            time.sleep(2.0)
        if fault == "malformed":
            return self._send(h, rec, 200, b'{"candidates": [{"content": {"parts": [{"text": "tru')
        try:
            req = read_request(model, body, vertex, version, self.salt)
        except Refusal as err:
            return self._refuse(h, rec, err)
        refused = self._admit(model)
        if refused is not None:
            err, delay = refused
            q = self.quota
            headers = {"Retry-After": str(math.ceil(delay))} if q is not None and q.retry_after_header else None
            return self._refuse(h, rec, err, delay, headers)
        stream = method == "streamGenerateContent"
        resps = reply(req, stream)
        if stream:
            data = b"".join(b"data: " + json.dumps(r).encode() + b"\r\n\r\n" for r in resps)
            return self._send(h, rec, 200, data, "text/event-stream")
        self._send(h, rec, 200, json.dumps(resps[0]).encode())

    def _openai(self, h: BaseHTTPRequestHandler, rec: dict[str, Any], body: dict[str, Any], fault: str) -> None:
        """The OpenAI-compatible /chat/completions (llama-server's shape): ``max_tokens`` cuts (``length``)."""
        if fault.startswith("429"):
            rec["delay"] = self.fault_delay
            return self._send(h, rec, 429, b'{"error": "busy"}', headers={"Retry-After": f"{self.fault_delay:g}"})
        msgs = body.get("messages", [])
        gem = {"contents": [{"parts": [{"text": m.get("content", "")}]} for m in msgs],
               "generationConfig": {"responseMimeType": "application/json"} if body.get("response_format") else {}}
        from tests.support.gemini_model import MODELS, Request, answer_text

        req = Request("served", MODELS["gemini-2.5-flash"], False, text_of(gem), 0, None, None, False,
                      bool(body.get("response_format")), {})
        out = answer_text(req)
        cap = int(body.get("max_tokens") or 1 << 20)
        finish = "stop" if len(out) <= 4 * cap else "length"
        out = out[: 4 * cap]
        resp = {"choices": [{"index": 0, "message": {"role": "assistant", "content": out}, "finish_reason": finish}],
                "usage": {"prompt_tokens": 12, "completion_tokens": (len(out) + 3) // 4}}
        self._send(h, rec, 200, json.dumps(resp).encode())


def main() -> None:
    """``python tests/support/gemini_stub.py --latency 0.5 [--quota N --window S]``: serve until stdin closes,
    printing the URL first (benchmarks run the stub in its own process, so it does not share their GIL)."""
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--quota", type=int, default=0, help="requests accepted per window (0: no quota)")
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0, help="another draw of thinking and answer lengths")
    ap.add_argument("--log", default="", help="write the request log (times, statuses, delays) here as JSON at exit")
    args = ap.parse_args()
    quota = Quota(args.quota, args.window) if args.quota else None
    with GeminiStub(latency=args.latency, quota=quota, seed=args.seed) as stub:
        print(stub.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        if args.log:
            keep = ("path", "t_in", "t_out", "status", "delay")
            with open(args.log, "w") as fh:
                json.dump({"early": len(stub.early_requests()),
                           "requests": [{k: r.get(k) for k in keep} for r in stub.requests]}, fh)


if __name__ == "__main__":
    main()
