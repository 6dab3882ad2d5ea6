"""The shared model cache under concurrent builders: two runs converting the embedded model at the same
moment used to fail with "Directory not empty" (os.replace onto the other's finished folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.models.cache import build_once, publish
from tests.support.paths import REPO

# A builder in its own process: a slow conversion (it waits for the gun, then writes config.json last).
BUILDER = """
import os, sys, time
from pathlib import Path
from pipeline.models.cache import build_once
dest, go, log = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
def build(tmp):
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    (tmp / "model.safetensors").write_bytes(os.urandom(1 << 16))
    time.sleep(0.3)
    (tmp / "config.json").write_text("{}")
print(build_once(dest, build))
"""


def test_two_processes_converting_at_once_build_it_once_and_both_get_it(tmp_path: Path):
    dest = tmp_path / "cache" / "models" / "smollm2-135m-instruct-abc"
    go, log = tmp_path / "go", tmp_path / "builds.log"
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(dest), str(go), str(log)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o.strip() for o, _e in outs] == [str(dest)] * 2
    assert len(log.read_text().split()) == 1  # converted once; the second waited and found it
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.safetensors"]
    assert [p.name for p in dest.parent.iterdir() if p.name.startswith(".") and p.is_dir()] == []


def test_a_folder_finished_elsewhere_meanwhile_wins_and_a_half_one_is_replaced(tmp_path: Path):
    dest = tmp_path / "m"
    theirs = tmp_path / ".theirs"
    theirs.mkdir()
    (theirs / "config.json").write_text('{"by": "them"}')
    os.rename(theirs, dest)  # another host finished first (no flock across hosts)
    mine = tmp_path / ".mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"by": "me"}')
    publish(mine, dest)  # was: OSError "Directory not empty"
    assert (dest / "config.json").read_text() == '{"by": "them"}' and not mine.exists()
    half = tmp_path / "h"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"cut")  # an old crash's leftover, no config.json
    built = build_once(half, lambda tmp: (tmp / "config.json").write_text("{}"))
    assert sorted(p.name for p in built.iterdir()) == ["config.json"]
    assert [p.name for p in tmp_path.iterdir() if ".stale-" in p.name] == []
