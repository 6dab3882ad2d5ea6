"""A non-editable install works: the built wheel in a fresh venv runs `aba`, its presets, a preset run and
the three themes from package data (nothing read from this checkout).

Time: the venv is made without pip, the wheel installed with --no-deps by this venv's pip, and the
project venv's site-packages (the dependencies) appended through a .pth file, so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from tests.support.paths import REPO as ROOT

THEMES = ("aba-dark", "aba-light", "aba-contrast")
HEADLESS = f"""
import asyncio, sys
import aba_tui
from aba_tui.app import AbaApp

async def main():
    app = AbaApp(runs_dir=sys.argv[1])
    async with app.run_test(size=(120, 40)) as pilot:
        for name in {THEMES!r}:
            app.theme = name
            await pilot.pause(0.1)
            assert app.current_theme.name == name and app.theme_specs[name].path.is_file()
    print("file", aba_tui.__file__)
    print("themes", *sorted(app.theme_specs))
    print("errors", len(app._startup_errors))

asyncio.run(main())
"""


def _copy_source(dst: Path) -> None:
    top = {".git", ".venv", "runs", "build", "dist", "tests", "benchmarks"}

    def skip(where: str, names: list[str]) -> set[str]:
        out = {n for n in names if n == "__pycache__" or n.endswith((".egg-info", "_cache"))}
        return out | (top & set(names) if Path(where) == ROOT else set())

    shutil.copytree(ROOT, dst, ignore=skip)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    _copy_source(src)  # setuptools writes build/ and egg-info next to the sources: not into the checkout
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp / "dist").glob("aba_control_centre-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = [p for p in [sysconfig.get_path("purelib"), *site.getsitepackages()] if Path(p).is_dir()]
    # After the venv's own site-packages, so the installed wheel wins over this checkout's editable install
    # (whose .pth finder is not run: .pth files of a directory added this way are not processed).
    Path(purelib, "zz_project_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    return venv, tmp


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ABA_CONFIG", "ABA_RUNS_DIR", "VIRTUAL_ENV")}
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    return env


def test_wheel_holds_the_package_data(wheel_venv):
    import zipfile

    _venv, tmp = wheel_venv
    names = zipfile.ZipFile(next((tmp / "dist").glob("*.whl"))).namelist()
    for t in THEMES:
        assert f"aba_tui/theme_files/{t}.toml" in names
    assert "aba_tui/app.tcss" in names and "pipeline/presets/demo.toml" in names
    assert "pipeline/data/epistemic-stance-25.jsonl" in names


def test_installed_aba_runs_headless_with_its_themes_presets_and_a_preset_run(wheel_venv):
    venv, tmp = wheel_venv
    env, aba, py = _env(tmp), str(venv / "bin" / "aba"), str(venv / "bin" / "python")
    work = tmp / "elsewhere"  # not the checkout: nothing may come from the source tree
    work.mkdir(exist_ok=True)
    (work / "headless.py").write_text(HEADLESS)
    out = subprocess.run([py, "headless.py", str(work / "runs")], cwd=work, env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert lines["file"].startswith(str(venv)), lines["file"]
    assert set(THEMES) <= set(lines["themes"].split()) and lines["errors"] == "0"

    presets = subprocess.run([aba, "presets"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert presets.returncode == 0 and "demo" in presets.stdout, presets.stderr

    runs = work / "runs"
    started = subprocess.run([aba, "run", "--preset", "demo", "--runs-dir", str(runs)], cwd=work, env=env,
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[-1]
    from pipeline.runs.status import read_status_raw

    try:
        deadline = time.monotonic() + 120
        while (st := read_status_raw(runs / run_id)).pid is None and time.monotonic() < deadline:
            assert st.state in ("queued", "running"), st
            time.sleep(0.1)
        assert st.pid is not None, "the worker never started"
        cmd = Path(f"/proc/{st.pid}/cmdline").read_bytes().split(b"\0")
        assert cmd[0].decode().startswith(str(venv)) and b"pipeline.runs.worker" in cmd
    finally:
        stop = subprocess.run([aba, "stop", run_id, "--grace", "0", "--wait", "--runs-dir", str(runs)], cwd=work,
                              env=env, capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0, stop.stderr
    assert read_status_raw(runs / run_id).state == "stopped"
