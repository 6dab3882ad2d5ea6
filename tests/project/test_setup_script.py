"""scripts/setup.sh: the app's set-up installs what the app needs and nothing else; ``--test`` adds the
dev tools and the test-only system packages; CI runs exactly the README's test command.

The package managers are the one fake here (nothing may be downloaded in a test): ``apt-get`` and the
venv's python are recording stubs, every other command the script runs is the real one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("basename", "bash", "cat", "chmod", "cut", "dirname", "env", "head", "ls", "mkdir", "nproc", "sed",
         "sha256sum", "tail")


def fake_machine(tmp: Path) -> tuple[dict[str, str], Path]:
    """A PATH with the real core tools, a recording apt-get and no tmux/Slurm/GPU; a venv whose python
    records its pip calls; a cache that already holds the llama-cpp-python wheel and the converter."""
    bin_ = tmp / "bin"
    bin_.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_ / tool).symlink_to(found)
    log = tmp / "calls.log"
    stub = f'#!{shutil.which("bash")}\necho "$(basename "$0") $*" >> {log}\n'
    # apt-get "installs" the commands the script looks for on PATH (the daemons it finds in /usr/sbin).
    (bin_ / "apt-get").write_text(stub + f'case "$*" in *install*) for c in tmux sbatch; do '
                                  f'echo "#!/bin/sh" > {bin_}/$c; chmod +x {bin_}/$c; done;; esac\n')
    venv = tmp / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(stub + 'case "$*" in -c*) exit 1;; esac\n')  # llama-cpp-python not installed yet
    for p in (bin_ / "apt-get", venv / "python"):
        p.chmod(0o755)
    cache = tmp / "cache"
    script = (REPO / "scripts" / "setup.sh").read_text()
    version = re.search(r"^LLAMA_VERSION=(\S+)", script, re.M)
    folder = re.search(r'^WHEELS="\$CACHE/wheels/([^"]+)"', script, re.M)
    assert version and folder
    wheels = cache / "wheels" / folder[1]
    wheels.mkdir(parents=True)
    (wheels / f"llama_cpp_python-{version[1]}-py3-none-linux_x86_64.whl").write_bytes(b"")
    (cache / "llama.cpp").mkdir()
    (cache / "llama.cpp" / "VERSION").write_text(version[1] + "\n")
    env = {"PATH": str(bin_), "HOME": str(tmp), "ABA_VENV": str(tmp / "venv"), "ABA_CACHE_DIR": str(cache)}
    return env, log


def run_setup(env: dict[str, str], log: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log.unlink(missing_ok=True)
    out = subprocess.run([shutil.which("bash") or "bash", str(REPO / "scripts" / "setup.sh"), *args], env=env,
                         capture_output=True, text=True, timeout=60, cwd=env["HOME"])
    return out, log.read_text().splitlines() if log.exists() else []


def test_the_apps_setup_installs_no_test_tools(tmp_path: Path) -> None:
    out, calls = run_setup(*fake_machine(tmp_path))
    assert out.returncode == 0, out.stderr
    assert calls and not [c for c in calls if c.startswith("apt-get")], calls
    pip = [c for c in calls if " -m pip " in f" {c} "]
    assert any("torch==2.13.0" in c for c in pip) and any("llama_cpp_python-0.3.36" in c for c in pip), pip
    assert any(c.endswith("-e .[train,data,eval,abliterate,tb,cluster]") for c in pip), pip
    assert not any("dev" in c for c in pip), pip
    assert "--test adds what the tests need" in out.stdout


def test_the_test_setup_adds_the_dev_extra_and_the_system_packages(tmp_path: Path) -> None:
    out, calls = run_setup(*fake_machine(tmp_path), "--test")
    assert out.returncode == 0, out.stderr
    install = [c.split() for c in calls if c.startswith("apt-get") and " install " in c]
    # tmux and sbatch are off the fake PATH; munge is asked for unless this machine has its daemon.
    wanted = {"tmux", "slurm-wlm"} | ({"munge"} if not Path("/usr/sbin/munged").exists() else set())
    assert len(install) == 1 and wanted <= set(install[0]), calls
    assert any(c.endswith("-e .[dev]") for c in calls), calls


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    env, log = fake_machine(tmp_path)
    first, calls = run_setup(env, log, "--test")
    assert first.returncode == 0 and any(" install " in c for c in calls), first.stderr
    (tmp_path / "venv" / "bin" / "python").write_text(  # now llama-cpp-python is there
        (tmp_path / "venv" / "bin" / "python").read_text().replace("exit 1", "exit 0"))
    second, calls = run_setup(env, log, "--test")
    assert second.returncode == 0, second.stderr
    assert not [c for c in calls if " -m pip " in c and " install " in c], calls
    slurm_daemons = all(Path(f"/usr/sbin/{d}").exists() for d in ("slurmctld", "slurmd", "munged"))
    assert not [c for c in calls if c.startswith("apt-get")] or not slurm_daemons, calls


def test_an_unknown_argument_is_named(tmp_path: Path) -> None:
    out, calls = run_setup(*fake_machine(tmp_path), "--tests")
    assert out.returncode == 2 and "'--tests'" in out.stderr and "--test" in out.stderr
    assert calls == []


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    test_cmd = next(b for b in blocks if "pytest" in b and "setup.sh" in b)
    ci = [ln for ln in (REPO / ".ci" / "run").read_text().splitlines()
          if ln and not ln.startswith(("#", "set ", "cd "))]
    assert ci == [test_cmd] == ["bash scripts/setup.sh --test && .venv/bin/python -m pytest"]
    assert "bash scripts/setup.sh && .venv/bin/aba demo" in blocks
