"""The app's screens as data: mode name → where the screen class lives, imported only when the user
goes there (so a screen's imports cost nothing at start, and a broken one cannot stop the app).

To add a screen, add an entry; the command palette offers "Go to <title>" for each, and ``key``
(when set) switches to it from anywhere. The dashboard is built by the app with its data
(``AbaApp._new_dashboard``); the others are built with no arguments and use the app's runs dir
(``RunsDirScreen``) and, for the datagen browser, ``app.selected_run`` (the run highlighted on the
dashboard, or None).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreenEntry:
    target: str  # "package.module:ClassName"
    title: str
    description: str
    key: str | None = None


SCREENS: dict[str, ScreenEntry] = {
    "dashboard": ScreenEntry("aba_tui.screens.dashboard:DashboardScreen", "Dashboard",
                             "runs, live charts, logs, telemetry and alerts", "f1"),
    "checkpoints": ScreenEntry("aba_tui.screens.checkpoints:CheckpointsScreen", "Checkpoints",
                               "every checkpoint of every run: rank, diff, probe, collapse scan, prune, export",
                               "c"),
    "chat": ScreenEntry("aba_tui.screens.chat:ChatScreen", "A/B chat",
                        "two models side by side: streaming, timings, blind votes, DPO pairs, batteries", "a"),
    "evaluation": ScreenEntry("aba_tui.screens.evaluation:EvalScreen", "Evaluation",
                              "before/after stance reports, targets, tournament ratings, worst examples", "v"),
    "datagen": ScreenEntry("aba_tui.screens.datagen:DatagenScreen", "Datagen items",
                           "a datagen run's traces: prompt, trace, finish reason and the 9 judge scores", "g"),
    "abliteration": ScreenEntry("aba_tui.screens.abliteration:AbliterationScreen", "Abliteration",
                                "Optuna studies live: trial table, Pareto plot of refusals vs KL, save or chat a trial",
                                "b"),
}


def load_screen_class(name: str) -> type:
    """The screen class of registry entry ``name`` (imports its module now)."""
    from pipeline.registry import resolve

    cls: type = resolve(SCREENS[name].target)
    return cls
