"""Notifications sent by the supervisor (so they work with the UI closed): when a run ends and when a
stage raises an error-level alert (NaN, collapse), to webhooks and a shell command.

Configured per user in ``[notify]`` of ``$XDG_CONFIG_HOME/aba/config.toml`` (webhook URLs live only
there: they often hold tokens) and per run in ``[supervisor]`` of run.toml (``notify_on``,
``notify_command``, ``notify_webhooks`` naming the user's webhooks). A webhook gets a JSON POST shaped
for its ``format`` (json, ntfy, slack, discord), retried with exponential backoff. Each attempt's
outcome is one line of the run's ``notify.log`` naming the webhook by name and host only. Nothing here
can change how a run ends: every failure is caught, logged and dropped. Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import tomllib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config.paths import RUN_DIR_ENV, user_config_path
from pipeline.errors import ConfigError
from pipeline.redact import redact, register_url, register_value
from pipeline.runs.layout import LOST_MARK, NOTIFY_LOG, RUN_TOML
from pipeline.safeio import append_bytes

ENDS = ("succeeded", "failed", "oom", "stopped", "lost")
WHEN = (*ENDS, "alert")
FORMATS = ("json", "ntfy", "slack", "discord")
DEFAULT_ON = ["failed", "oom", "stopped", "lost", "succeeded", "alert"]


@dataclass
class Webhook:
    name: str
    url: str
    format: str = "json"
    headers: dict[str, str] = field(default_factory=dict)  # e.g. ntfy's Authorization (user config only)

    @property
    def where(self) -> str:
        """How the log names it: name and host, never the path or query (tokens live there)."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or "?"
        return f"{self.name} ({host}:{parts.port})" if parts.port else f"{self.name} ({host})"


@dataclass
class NotifyConfig:
    on: list[str] = field(default_factory=lambda: list(DEFAULT_ON))
    command: str = ""
    webhooks: list[Webhook] = field(default_factory=list)
    retries: int = 3  # attempts per webhook in all
    backoff_s: float = 1.0  # first wait between attempts; doubles each time
    timeout_s: float = 10.0
    bell: bool = True  # the TUI rings the terminal bell on an error alert
    desktop: str = "both"  # the TUI's desktop notification escape: osc9, osc777, both or off

    @property
    def active(self) -> bool:
        return bool(self.on) and bool(self.webhooks or self.command)


_SCALARS: dict[str, tuple[type, str]] = {
    "command": (str, "a shell command string"),
    "retries": (int, "an integer ≥ 1"),
    "backoff_s": (float, "seconds ≥ 0"),
    "timeout_s": (float, "seconds > 0"),
    "bell": (bool, "true or false"),
    "desktop": (str, "one of osc9, osc777, both, off"),
}
DESKTOP = ("osc9", "osc777", "both", "off")


def parse_section(where: str, data: Any) -> NotifyConfig:
    """``[notify]`` of the user config → :class:`NotifyConfig`; errors name the file and key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: notify: expected a table [notify]")
    cfg = NotifyConfig()
    for key, value in data.items():
        at = f"{where}: notify.{key}"
        if key == "on":
            cfg.on = check_on(at, value)
        elif key == "webhooks":
            if not isinstance(value, dict):
                raise ConfigError(f"{at}: expected tables [notify.webhooks.NAME] with url and format")
            cfg.webhooks = [_webhook(f"{at}.{name}", name, spec) for name, spec in value.items()]
        elif key in _SCALARS:
            typ, expected = _SCALARS[key]
            ok = isinstance(value, typ) or (typ is float and isinstance(value, int))
            if isinstance(value, bool) and typ is not bool:
                ok = False
            out_of_range = ((key == "desktop" and value not in DESKTOP) or (key == "retries" and value < 1)
                            or (key == "backoff_s" and value < 0) or (key == "timeout_s" and value <= 0))
            if not ok or out_of_range:
                raise ConfigError(f"{at}={value!r}: expected {expected}")
            setattr(cfg, key, typ(value))
        else:
            known = ", ".join(["on", "webhooks", *_SCALARS])
            raise ConfigError(f"{where}: unknown key notify.{key} (known keys of [notify]: {known})")
    return cfg


def check_on(where: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or any(v not in (*WHEN, "off") for v in value):
        raise ConfigError(f"{where}={value!r}: expected a list of {', '.join(WHEN)} (or [\"off\"])")
    return [] if "off" in value else list(value)


def _webhook(where: str, name: str, spec: Any) -> Webhook:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a table with url and format")
    url = spec.get("url")
    if isinstance(url, str):
        register_url(url)  # masked wherever it might be echoed, valid or not
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https") or not (
            urllib.parse.urlsplit(url).hostname):
        # The value is not repeated: a webhook URL usually holds its token.
        raise ConfigError(f"{where}.url: expected an http(s) URL like https://host/path (not shown here: it may "
                          "hold a token)")
    fmt = spec.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}.format={fmt!r}: expected one of {', '.join(FORMATS)}")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError(f"{where}.headers: expected a table of header = \"value\"")
    unknown = set(spec) - {"url", "format", "headers"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: url, format, headers)")
    # Its token (in the path, the query or the userinfo) and header values are masked in every log.
    register_url(url)
    for value in headers.values():
        register_value(value, *value.split())
    return Webhook(name, url, fmt, dict(headers))


def load_user(path: Path | None = None) -> NotifyConfig:
    """The user's ``[notify]`` (defaults, with no target, when the file or the section is missing)."""
    path = path or user_config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return NotifyConfig()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    return parse_section(str(path), data.get("notify", {}))


def for_run(user: NotifyConfig, sup: Any, where: str = RUN_TOML) -> NotifyConfig:
    """The user's config narrowed or extended by the run's ``[supervisor]`` notify keys."""
    cfg = NotifyConfig(**{**user.__dict__, "webhooks": list(user.webhooks)})
    on = getattr(sup, "notify_on", [])
    if on:
        cfg.on = check_on(f"{where}: supervisor.notify_on", on)
    names = getattr(sup, "notify_webhooks", [])
    if names:
        known = {w.name: w for w in user.webhooks}
        missing = [n for n in names if n not in known]
        if missing:
            raise ConfigError(f"{where}: supervisor.notify_webhooks: {missing[0]!r} is not a webhook of the user "
                              f"config (have: {', '.join(known) or 'none'})")
        cfg.webhooks = [known[n] for n in names]
    command = getattr(sup, "notify_command", "")
    if command:
        cfg.command = command
    return cfg


@dataclass
class Notice:
    """What happened: a run's end, or an error alert of a stage."""

    run_id: str
    state: str  # the run's state, or "alert"
    reason: str | None = None
    stage: str = ""
    code: str = ""  # the alert's code (nan_loss, loss_collapse …)
    host: str = ""

    @property
    def when(self) -> str:
        return "alert" if self.code else self.state

    def title(self) -> str:
        return f"aba: {self.run_id} {self.code or self.state}"

    def text(self) -> str:
        what = f"alert {self.code}" if self.code else self.state
        return f"{self.run_id} ({self.stage or 'run'}) {what}" + (f": {self.reason}" if self.reason else "")

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "state": self.state, "reason": self.reason, "stage": self.stage,
                "event": "alert" if self.code else "end", "code": self.code or None, "host": self.host,
                "text": self.text()}


def request_for(hook: Webhook, notice: Notice) -> tuple[str, dict[str, Any]]:
    """The URL to POST and the JSON body, shaped for the endpoint's format."""
    if hook.format == "slack":
        return hook.url, {"text": notice.text()}
    if hook.format == "discord":
        return hook.url, {"content": notice.text()[:2000]}
    if hook.format == "ntfy":
        # ntfy's JSON publishing: POST to the server root with the topic in the body.
        parts = urllib.parse.urlsplit(hook.url)
        topic = parts.path.strip("/")
        bad = notice.state in ("failed", "oom", "lost") or bool(notice.code)
        return (urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/", "", "")),
                {"topic": topic, "title": notice.title(), "message": notice.text(), "priority": 4 if bad else 3,
                 "tags": ["warning" if bad else "white_check_mark"]})
    return hook.url, notice.as_dict()


def post(hook: Webhook, notice: Notice, cfg: NotifyConfig, sleep: Callable[[float], None] = time.sleep) -> int:
    """POST with retries and exponential backoff; returns the attempts used, raises OSError after the last."""
    import urllib.error  # here, not at the top: the TUI imports this module at start-up and never posts
    import urllib.request

    url, body = request_for(hook, notice)
    data = json.dumps(body).encode("utf-8")
    wait = cfg.backoff_s
    for attempt in range(1, cfg.retries + 1):
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "aba-notify",
                                              **hook.headers})
        try:
            with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:
                resp.read(1024)
            return attempt
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if attempt == cfg.retries:
                detail = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else type(exc).__name__
                raise OSError(f"{detail} after {attempt} attempts") from None
            sleep(wait)
            wait *= 2
    return cfg.retries


# The only variables a notification command inherits: never the API keys and tokens of the process.
HOOK_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")


def run_command(command: str, notice: Notice, timeout_s: float, run_dir: Path | None) -> int:
    """The shell hook, with the notice in a minimal environment (HOOK_ENV); returns its exit code."""
    env = {k: os.environ[k] for k in HOOK_ENV if k in os.environ}
    env.update({"ABA_RUN_ID": notice.run_id, "ABA_STATE": notice.state, "ABA_REASON": notice.reason or "",
                "ABA_STAGE": notice.stage, "ABA_ALERT": notice.code, "ABA_MESSAGE": notice.text(),
                "ABA_NOTICE_JSON": json.dumps(notice.as_dict())})
    if run_dir is not None:
        env[RUN_DIR_ENV] = str(run_dir)
    proc = subprocess.run(command, shell=True, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=timeout_s, start_new_session=True, check=False)
    return proc.returncode


class Notifier:
    """Sends notices in background threads and logs each outcome to the run's notify.log."""

    def __init__(self, run_dir: Path, cfg: NotifyConfig) -> None:
        self.run_dir = run_dir
        self.cfg = cfg
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @classmethod
    def for_run_dir(cls, run_dir: Path, sup: Any) -> Notifier:
        """The run's notifier; a bad user config is logged (the run goes on, unannounced)."""
        try:
            cfg = for_run(load_user(), sup, str(run_dir / RUN_TOML))
        except ConfigError as exc:
            n = cls(run_dir, NotifyConfig(on=[]))
            n.log(f"notifications off: {exc}")
            return n
        return cls(run_dir, cfg)

    def log(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:  # 0600, never through a link, every credential masked
            append_bytes(self.run_dir / NOTIFY_LOG, f"{stamp} {redact(line)}\n".encode())
        except OSError:
            pass  # a full disk or a removed folder: a notification log is not worth failing over

    def send(self, notice: Notice) -> bool:
        """Start sending ``notice`` if the config asks for it; False when it does not."""
        if not self.cfg.active or notice.when not in self.cfg.on:
            return False
        t = threading.Thread(target=self._deliver, args=(notice,), name="aba-notify", daemon=True)
        with self._lock:
            self._threads.append(t)
        t.start()
        return True

    def _deliver(self, notice: Notice) -> None:
        for hook in self.cfg.webhooks:
            try:
                n = post(hook, notice, self.cfg)
                self.log(f"{notice.when} → webhook {hook.where}: sent ({n} attempt{'s' if n > 1 else ''})")
            except Exception as exc:
                self.log(f"{notice.when} → webhook {hook.where}: FAILED ({exc})")
        if self.cfg.command:
            try:
                rc = run_command(self.cfg.command, notice, self.cfg.timeout_s, self.run_dir)
                self.log(f"{notice.when} → command: exit code {rc}")
            except Exception as exc:
                self.log(f"{notice.when} → command: FAILED ({type(exc).__name__}: {exc})")

    def wait(self, timeout_s: float | None = None) -> None:
        """Let pending deliveries finish (the supervisor calls this before it exits), at most ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def budget_s(self) -> float:
        """The longest a delivery can take: every webhook's attempts, waits and the command."""
        per_hook = self.cfg.retries * self.cfg.timeout_s + self.cfg.backoff_s * (2 ** max(0, self.cfg.retries - 1))
        return per_hook * len(self.cfg.webhooks) + (self.cfg.timeout_s if self.cfg.command else 0) + 1.0


def announce_lost(run_dir: Path, status: Any, user: NotifyConfig | None = None) -> bool:
    """The UI found the run lost (its supervisor and worker died): notify once, whoever sees it first.

    Sent with the user's own ``[notify]`` (``user``, else the user config) and never with anything the run
    folder names: its run.toml's ``notify_command`` would otherwise run as whoever looks at the folder. The
    mark file is created with O_EXCL (never through a link), so two UIs never both send. Returns True
    when this call sent (in the background; the caller does not wait).
    """
    try:
        fd = os.open(run_dir / LOST_MARK, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        os.close(fd)
    except OSError:
        return False
    try:
        cfg = user if user is not None else load_user()
    except ConfigError:
        return False
    return Notifier(run_dir, cfg).send(Notice(status.run_id, "lost", status.reason or "the supervisor is gone",
                                              stage=status.stage, host=status.host))
