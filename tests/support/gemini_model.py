"""What the loopback Gemini stub's models answer, as the service documents itself (docs/judge.md's table).

- Models think by default; thought tokens are drawn per model (2.5 Flash: hundreds to ~1,500 on these
  tasks; Pro more; Gemini 3 by level) and **billed against maxOutputTokens**: thinking that fills the
  cap gives ``MAX_TOKENS`` with no text (four shapes seen on the wire, rotated), thinking that leaves
  too little gives a cut answer (``MAX_TOKENS`` with text). A budget is a soft target.
- Per-model validation with the 400 texts users reported (Gemini API and Vertex AI wording), reading
  ``thinkingConfig`` in camelCase or snake_case (google-genai 3.x sends snake_case) and levels in any case.
- ``includeThoughts`` adds a thought-summary part (``thought: true``) before the answer; Gemini 3 adds
  a ``thoughtSignature``. Usage: thoughts apart, total = prompt + candidates + thoughts.
- Safety by harm category against the request's thresholds (default off); PROHIBITED_CONTENT is not
  switchable. Markers in the prompt text: ``[[HARM:<category>:<PROBABILITY>]]`` (the answer),
  ``[[HARM_PROMPT:<category>:<PROBABILITY>]]`` (the prompt), ``[[PROHIBITED]]``, ``[[EMPTY]]`` (STOP, no
  parts), ``[[BADJUDGE]]`` (a judgement out of range and cut), ``[[LONG:N]]`` (an answer of N tokens).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

DIMS = ("entropy_reduction", "calibrated_uncertainty", "conflict_resolution", "context_faithfulness",
        "process_transparency", "honest_engagement", "helpfulness", "harm_avoidance", "instruction_following")
OUTPUT_LIMIT = 65536
DYNAMIC_MAX = 8192
LEARN = "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
LEVEL_SHARE = {"minimal": 0.15, "low": 0.4, "medium": 0.65, "high": 1.0}
PROB_RANK = {"NEGLIGIBLE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
BLOCKS_FROM = {"BLOCK_LOW_AND_ABOVE": 1, "BLOCK_MEDIUM_AND_ABOVE": 2, "BLOCK_ONLY_HIGH": 3}  # others: never


@dataclass(frozen=True)
class Profile:
    control: str  # "budget" or "level"
    think: tuple[int, int]  # thought tokens drawn at the model's default setting, on these tasks
    budget: tuple[int, int] = (0, 0)
    can_disable: bool = False
    thinks_by_default: bool = True
    levels: tuple[str, ...] = ()
    default_level: str = ""

    @property
    def gemini3(self) -> bool:
        return self.control == "level"


MODELS: dict[str, Profile] = {
    "gemini-2.5-flash": Profile("budget", (200, 1500), (1, 24576), can_disable=True),
    "gemini-2.5-flash-lite": Profile("budget", (150, 900), (512, 24576), can_disable=True, thinks_by_default=False),
    "gemini-2.5-pro": Profile("budget", (600, 3000), (128, 32768)),
    "gemini-3.1-pro-preview": Profile("level", (1500, 6000), levels=("low", "medium", "high"), default_level="high"),
    "gemini-3-flash-preview": Profile("level", (800, 3000), levels=("minimal", "low", "medium", "high"),
                                      default_level="high"),
}


class Refusal(Exception):
    """An HTTP error answer: status, google.rpc status name, message, optional details."""

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            err["details"] = self.details
        return {"error": err}


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def text_of(body: dict[str, Any]) -> str:
    parts = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])]
    sys_parts = [p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", [])]
    return "\n".join(sys_parts + parts)


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    return d[camel] if camel in d else d.get(snake)


@dataclass
class Request:
    model: str
    profile: Profile
    vertex: bool
    text: str
    cap: int
    budget: int | None
    level: str | None
    include_thoughts: bool
    json_mode: bool
    safety: dict[str, str]
    salt: str = ""  # the stub's seed: another draw of thinking and answer lengths for the same prompts


def read_request(model: str, body: dict[str, Any], vertex: bool, api_version: str, salt: str = "") -> Request:
    """Validate as the service does; raises Refusal with the service's own words."""
    profile = MODELS.get(model)
    if profile is None:
        raise Refusal(404, "NOT_FOUND", f"models/{model} is not found for API version {api_version}, or is not "
                      "supported for generateContent. Call ListModels to see the list of available models and "
                      "their supported methods.")
    gen = body.get("generationConfig") or {}
    tc = _get(gen, "thinkingConfig", "thinking_config") or {}
    budget = _get(tc, "thinkingBudget", "thinking_budget")
    level = _get(tc, "thinkingLevel", "thinking_level")
    level = str(level).lower() if level is not None else None
    include = bool(_get(tc, "includeThoughts", "include_thoughts"))

    def bad(vx: str, api: str) -> Refusal:  # Vertex AI words it differently from the Gemini API
        return Refusal(400, "INVALID_ARGUMENT", vx if vertex else api)

    if budget is not None and level is not None:
        raise bad("Unable to submit request because only one of thinking_budget and thinking_level may be set.. "
                  + LEARN, "You can only set only one of thinking budget and thinking level.")
    if level is not None:
        if not profile.gemini3:
            raise bad(f"Unable to submit request because thinking_level is not supported by this model.. {LEARN}",
                      "Thinking level is not supported for this model.")
        if level not in profile.levels:  # no documented body: assumed wording
            raise bad(f"Unable to submit request because thinking_level {level.upper()} is not supported by this "
                      f"model.. {LEARN}", f"Thinking level {level.upper()} is not supported for this model.")
    if budget is not None and not profile.gemini3:
        budget = int(budget)
        lo, hi = profile.budget
        if budget == 0 and not profile.can_disable:
            raise bad("Unable to submit request because Thinking can't be disabled for this model. Remove "
                      f"'thinking_config.thinking_budget' or set it to a value between {lo} and {hi}.. {LEARN}",
                      "Budget 0 is invalid. This model only works in thinking mode.")
        if budget not in (-1, 0) and not lo <= budget <= hi:
            raise bad(f"Unable to submit request because thinking_budget is out of range; supported values are "
                      f"integers from {lo} to {hi}. {LEARN}", f"The thinking budget ({budget}) is invalid.")
        if budget == 0 and include and vertex:
            raise bad("Unable to submit request because Thinking_config.include_thoughts is only enabled when "
                      f"thinking is enabled.. {LEARN}", "")
    cap = int(gen.get("maxOutputTokens") or OUTPUT_LIMIT)
    if cap > OUTPUT_LIMIT:  # no documented body: assumed wording
        raise bad(f"Unable to submit request because max_output_tokens {cap} is out of range; supported values are "
                  f"integers from 1 to {OUTPUT_LIMIT + 1}. {LEARN}",
                  f"The max_output_tokens ({cap}) is invalid: the model's limit is {OUTPUT_LIMIT}.")
    safety = {str(s.get("category")): str(s.get("threshold")) for s in body.get("safetySettings") or []}
    return Request(model, profile, vertex, text_of(body), cap, int(budget) if budget is not None else None, level,
                   include, gen.get("responseMimeType") == "application/json", safety, salt)


def thought_tokens(r: Request) -> int:
    """Thinking drawn for this prompt and model, shaped by the request's budget or level."""
    lo, hi = r.profile.think
    base = lo + _h(r.salt + r.model, r.text) % (hi - lo + 1)
    if r.profile.gemini3:
        level = r.level or r.profile.default_level
        return max(1, int(base * LEVEL_SHARE[level])) if r.budget is None else max(1, int(base * 0.4))
    if r.budget is None:
        return min(base, DYNAMIC_MAX) if r.profile.thinks_by_default else 0
    if r.budget == 0:
        return 0
    if r.budget < 0:
        return min(base, DYNAMIC_MAX)
    return min(base, int(r.budget * 1.1) + 64)  # a soft target: "the model might overflow … the budget"


def answer_text(r: Request) -> str:
    """The whole answer the model would write with room enough (≈ 4 characters a token)."""
    t = r.text
    if r.json_mode:
        if "[[BADJUDGE]]" in t:
            return '{"entropy_reduction": 1.7, "helpfulness": "great"'  # out of range and cut
        if '"winner"' in t:
            return json.dumps({"winner": "a"})
        if '{"turns"' in t:  # datagen's prompt expansion
            return json.dumps({"turns": [f"Generated question {hashlib.sha256(t.encode()).hexdigest()[:6]}?"]})
        seed = hashlib.sha256(t.encode()).digest()
        return json.dumps({d: round(seed[i] / 255, 2) for i, d in enumerate(DIMS)})
    m = re.search(r"\[\[LONG:(\d+)\]\]", t)
    n = int(m.group(1)) if m else 150 + _h(r.salt + "answer", t) % 751
    digest = hashlib.sha256(t.encode()).hexdigest()[:8]
    head = f"Let me identify the parameters first ({digest}). Step 1: list them. Step 2: group them. "
    filler = "Then I weigh what is known against what is not, and say which is which. "
    body = (head + filler * (4 * n // len(filler) + 1))[: 4 * n - 6]
    return body.rstrip() + " Done."


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def _usage(prompt: int, cand: int, thoughts: int) -> dict[str, Any]:
    u: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt + cand + thoughts,
         "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if cand:
        u["candidatesTokenCount"] = cand
    if thoughts:
        u["thoughtsTokenCount"] = thoughts
    return u


def _harm(r: Request, marker: str) -> tuple[str, str] | None:
    m = re.search(r"\[\[" + marker + r":([a-z_]+):([A-Z]+)\]\]", r.text)
    return ("HARM_CATEGORY_" + m.group(1).upper(), m.group(2)) if m else None


def _blocks(r: Request, category: str, prob: str) -> bool:
    """Default (unset) is off for 2.5 and 3 models; OFF and BLOCK_NONE never block."""
    need = BLOCKS_FROM.get(r.safety.get(category, "OFF"))
    return need is not None and PROB_RANK.get(prob, 0) >= need


def reply(r: Request, stream: bool) -> list[dict[str, Any]]:
    """The response chunks (one when not streaming)."""
    prompt = _tokens(r.text)
    meta = {"modelVersion": r.model, "responseId": f"stub-{_h(r.text) % 10**12:012d}"}
    if "[[PROHIBITED]]" in r.text:
        return [{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": _usage(prompt, 0, 0),
                 **meta}]
    hp = _harm(r, "HARM_PROMPT")
    if hp and _blocks(r, *hp):
        ratings = [{"category": hp[0], "probability": hp[1], "blocked": True}]
        return [{"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": ratings},
                 "usageMetadata": _usage(prompt, 0, 0), **meta}]
    think = thought_tokens(r)
    ha = _harm(r, "HARM") or (("HARM_CATEGORY_DANGEROUS_CONTENT", "HIGH") if "[[SAFETY]]" in r.text else None)
    if ha and _blocks(r, *ha):
        cand = {"finishReason": "SAFETY", "index": 0,
                "safetyRatings": [{"category": ha[0], "probability": ha[1], "blocked": True}]}
        return [{"candidates": [cand], "usageMetadata": _usage(prompt, 0, think), **meta}]
    if "[[EMPTY]]" in r.text:
        cand = {"content": {"role": "model"}, "finishReason": "STOP", "index": 0}
        return [{"candidates": [cand], "usageMetadata": _usage(prompt, 0, think), **meta}]
    summary = ""
    if r.include_thoughts and think:
        summary = (f"**Weighing the request**\nI am listing the parameters and what is unknown "
                   f"(note {_h('thought', r.text) % 1000}).")
    if think >= r.cap:  # thinking used the whole cap: no answer (four shapes seen on the wire)
        usage = _usage(prompt, 0, r.cap)
        variant = _h("empty", r.text) % 4
        if summary:
            return [{"candidates": [{"content": {"role": "model", "parts": [{"text": summary, "thought": True}]},
                                     "finishReason": "MAX_TOKENS", "index": 0}], "usageMetadata": usage, **meta}]
        cands: list[dict[str, Any]] = [
            [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],  # google/adk-python#1357
            [{"finishReason": "MAX_TOKENS", "index": 0}],  # ha-llmvision#609: no content at all
            [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "MAX_TOKENS", "index": 0}],
            [],  # python-genai#626: no candidates
        ][variant]
        return [{**({"candidates": cands} if cands else {}), "usageMetadata": usage, **meta}]
    full = answer_text(r)
    room = r.cap - think
    text = full if _tokens(full) <= room else full[: 4 * room]
    finish = "STOP" if text == full else "MAX_TOKENS"
    usage = _usage(prompt, _tokens(text), think)
    sig = {"thoughtSignature": "c2ln"} if r.profile.gemini3 else {}
    if not stream:
        parts = ([{"text": summary, "thought": True}] if summary else []) + [{"text": text, **sig}]
        cand = {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
        return [{"candidates": [cand], "usageMetadata": usage, **meta}]
    half = len(text) // 2
    pieces = ([[{"text": summary, "thought": True}]] if summary else []) + [[{"text": text[:half], **sig}]] + \
        [[{"text": text[half:]}]]
    out = []
    for i, parts in enumerate(pieces):
        last = i == len(pieces) - 1
        cand = {"content": {"role": "model", "parts": parts}, "index": 0, **({"finishReason": finish} if last else {})}
        out.append({"candidates": [cand], **({"usageMetadata": usage} if last else {}), **meta})
    return out
