"""Start-up: no collector passes until the first frame, then collection as usual with start-up frozen; the
dashboard's first frame is its layout with the runs list, its other panes built right after it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "runs"

SCRIPT = """
import gc, sys
print("before-import", gc.isenabled())
from aba_tui.app import AbaApp
from aba_tui.settings import Settings
print("after-import", gc.isenabled())

class Once(AbaApp):
    async def _after_first_frame(self):
        await super()._after_first_frame()
        print("after-first-frame", gc.isenabled(), gc.get_freeze_count() > 0)
        self.exit()

Once(runs_dir=sys.argv[1], settings=Settings()).run(headless=True)
print("after-run", gc.isenabled())
"""


def test_the_collector_is_paused_until_the_first_frame_then_back_with_start_up_frozen(tmp_path: Path):
    runs = shutil.copytree(FIXTURE, tmp_path / "runs")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(runs)], capture_output=True, text=True,
                         timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                           "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split("\n")
    assert "before-import True" in lines
    assert "after-import False" in lines
    assert "after-first-frame True True" in lines
    assert "after-run True" in lines


PANES = """
import sys
from aba_tui.app import AbaApp
from aba_tui.settings import Settings

def panes(screen):
    return {w.id: (type(w).__name__, w.display, str(w.border_title), tuple(w.region)) for w in screen.query(".pane")}

class Once(AbaApp):
    async def _after_first_frame(self):
        print("first", panes(self.screen), self.screen.built, len(self.screen.query("KeyFooter")))
        await super()._after_first_frame()
        self.set_timer(0.5, self.laid_out)

    def laid_out(self):
        print("built", panes(self.screen), self.screen.built, len(self.screen.query("KeyFooter")))
        self.exit()

settings = Settings()
settings.panes.hidden = ["alerts"]
Once(runs_dir=sys.argv[1], settings=settings).run(headless=True, size=(160, 48))
"""


def test_the_first_frame_is_the_layout_and_the_panes_come_right_after_it_as_they_were_set(tmp_path: Path):
    runs = shutil.copytree(FIXTURE, tmp_path / "runs")
    out = subprocess.run([sys.executable, "-c", PANES, str(runs)], capture_output=True, text=True,
                         timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                           "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr[-2000:]
    seen = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.stdout.splitlines() if " " in line}
    first, built = (ast.literal_eval(seen[k].rsplit(" ", 2)[0]) for k in ("first", "built"))
    assert seen["first"].endswith("False 0") and seen["built"].endswith("True 1")  # the key bar comes with them
    assert first["runs-pane"][0] == "Vertical" and first["charts"][0] == "Widget"  # a slot holds its place
    assert {k: v[0] for k, v in built.items()} == {"runs-pane": "Vertical", "telemetry": "TelemetryPane",
                                                   "charts": "ChartsPane", "logs": "LogView", "alerts": "AlertsTable"}
    # Each pane keeps what its slot had: display (alerts hidden by the settings), place on the screen (the key
    # bar's row was held too: nothing moves when they come) and title (the logs pane's then names its file).
    assert {k: (v[1], v[3]) for k, v in built.items()} == {k: (v[1], v[3]) for k, v in first.items()}
    assert {k: v[2] for k, v in built.items() if k != "logs"} == {k: v[2] for k, v in first.items() if k != "logs"}
    assert built["alerts"][1] is False and built["charts"][2] == "2 Charts"
