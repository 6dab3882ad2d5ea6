"""Start-up: no collector passes until the first frame, then collection as usual with start-up frozen."""

from __future__ import annotations

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
    def _after_first_frame(self):
        super()._after_first_frame()
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
