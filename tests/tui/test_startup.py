"""Start-up: no collector passes until the first frame, then collection as usual with start-up frozen; the
dashboard's first frame is its layout with the runs list, its other panes built right after it."""

from __future__ import annotations

import json
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


def run_app(tmp_path: Path, script: str) -> str:
    """``script`` in a fresh interpreter (cold imports) on a copy of the recorded runs; its stdout."""
    runs = shutil.copytree(FIXTURE, tmp_path / "runs")
    out = subprocess.run([sys.executable, "-c", script, str(runs)], capture_output=True, text=True,
                         timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                           "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_the_collector_is_paused_until_the_first_frame_then_back_with_start_up_frozen(tmp_path: Path):
    lines = run_app(tmp_path, SCRIPT).split("\n")
    assert "before-import True" in lines
    assert "after-import False" in lines
    assert "after-first-frame True True" in lines
    assert "after-run True" in lines


PANES = """
import json, sys
from aba_tui.app import AbaApp
from aba_tui.settings import Settings

def state(screen):
    panes = {w.id: [type(w).__name__, w.display, str(w.border_title), list(w.region)] for w in screen.query(".pane")}
    return json.dumps({"panes": panes, "built": screen.built, "key_bars": len(screen.query("KeyFooter"))})

class Once(AbaApp):
    async def _after_first_frame(self):
        print(state(self.screen))
        await super()._after_first_frame()
        self.set_timer(0.5, self.laid_out)

    def laid_out(self):
        print(state(self.screen))
        self.exit()

settings = Settings()
settings.panes.hidden = ["alerts"]
Once(runs_dir=sys.argv[1], settings=settings).run(headless=True, size=(160, 48))
"""


def test_the_first_frame_is_the_layout_and_the_panes_come_right_after_it_as_they_were_set(tmp_path: Path):
    first_frame, later = (json.loads(line) for line in run_app(tmp_path, PANES).splitlines()[-2:])
    assert (first_frame["built"], first_frame["key_bars"]) == (False, 0)
    assert (later["built"], later["key_bars"]) == (True, 1)  # the key bar comes with them
    first, built = first_frame["panes"], later["panes"]
    assert first["runs-pane"][0] == "Vertical" and first["charts"][0] == "Widget"  # a slot holds its place
    assert {k: v[0] for k, v in built.items()} == {"runs-pane": "Vertical", "telemetry": "TelemetryPane",
                                                   "charts": "ChartsPane", "logs": "LogView", "alerts": "AlertsTable"}
    # Each pane keeps what its slot had: display (alerts hidden by the settings), place on the screen (the key
    # bar's row was held too: nothing moves when they come) and title (the logs pane's then names its file).
    assert {k: (v[1], v[3]) for k, v in built.items()} == {k: (v[1], v[3]) for k, v in first.items()}
    assert {k: v[2] for k, v in built.items() if k != "logs"} == {k: v[2] for k, v in first.items() if k != "logs"}
    assert built["alerts"][1] is False and built["charts"][2] == "2 Charts"
