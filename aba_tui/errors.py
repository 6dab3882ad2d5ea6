"""The app's one error handler: every failure on the UI loop ends here, never in an exit.

User-facing failures (bad input, a missing file, a refused config: ``AbaError``, ``ValueError``,
``OSError``) become an error notification naming what failed; anything else is a bug and opens
the error modal with its traceback, and the app keeps running. ``GuardedApp`` routes every action
(key bindings, clicks on links, the command palette's commands) through it; ``guarded`` wraps a
message handler or a callback that is not an action.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from textual.actions import ActionParseResult
from textual.app import App
from textual.dom import DOMNode

from pipeline.errors import AbaError

USER_ERRORS: tuple[type[BaseException], ...] = (AbaError, ValueError, OSError)

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


def describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc) or type(exc).__name__


def report_error(app: App[Any], exc: BaseException, where: str = "") -> None:
    """Tell the user what failed, on the UI thread; never raises."""
    prefix = f"{where}: " if where else ""
    try:
        if isinstance(exc, USER_ERRORS):
            app.notify(prefix + describe(exc), severity="error", timeout=10)
            return
        from aba_tui.screens.error import ErrorScreen

        title = f"{prefix}{type(exc).__name__}: {exc}"
        if isinstance(app.screen, ErrorScreen) and app.screen.title_text == title:
            return  # the same failure again (a repeating message): one modal, not a stack
        app.push_screen(ErrorScreen(title, "".join(traceback.format_exception(exc))))
    except Exception:  # the app is shutting down: nothing left to tell
        pass


def guarded(where: str = "") -> Callable[[F], F]:
    """Decorate a handler method (sync or async) of a widget/screen/app so that an exception it
    raises is reported through ``report_error`` instead of killing the message loop."""

    def wrap(fn: F) -> F:
        label = where or fn.__name__.removeprefix("on_").removeprefix("_").replace("_", " ")

        def handle(args: tuple[Any, ...], exc: Exception) -> None:
            node = args[0] if args else None
            app = node if isinstance(node, App) else getattr(node, "app", None)
            if app is None:
                raise exc
            report_error(app, exc, label)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except Exception as exc:
                    handle(args, exc)
                    return None

            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                handle(args, exc)
                return None

        return cast(F, run)

    return wrap


class GuardedApp(App[R]):
    """An App whose actions report their exceptions instead of exiting."""

    async def run_action(self, action: str | ActionParseResult, default_namespace: DOMNode | None = None,
                         namespaces: Any = None) -> bool:
        try:
            return await super().run_action(action, default_namespace, namespaces)
        except Exception as exc:
            name = action if isinstance(action, str) else action[1]
            report_error(self, exc, f"action {name}")
            return True

    def call_guarded(self, callback: Callable[[], Any], where: str) -> Callable[[], Any]:
        """A zero-argument callback (a palette command) that reports instead of raising; it stays
        synchronous when ``callback`` is, so callers that do not await still run it."""

        async def finish(pending: Awaitable[Any]) -> Any:
            try:
                return await pending
            except Exception as exc:
                report_error(self, exc, where)
                return None

        def run() -> Any:
            try:
                result = callback()
            except Exception as exc:
                report_error(self, exc, where)
                return None
            return finish(result) if inspect.isawaitable(result) else result

        return run
