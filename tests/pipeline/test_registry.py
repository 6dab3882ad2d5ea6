"""The stage registry: a stage is one entry and one module; the config, the CLI, the supervisor and the UI
all learn it from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.config.run import build_config
from pipeline.errors import ConfigError
from tests.support.paths import PLUGINS, REPO


def test_every_builtin_stage_names_a_worker_module_presets_and_resolvable_refs() -> None:
    import importlib.util

    from pipeline.config.run import list_presets

    presets = list_presets()
    claimed: dict[str, str] = {}
    for st in registry.stages().values():
        assert importlib.util.find_spec(st.worker_module) is not None, st.name
        for ref in (*st.checks, *([st.loader] if st.loader else [])):
            assert callable(registry.resolve(ref)), ref
        for name in st.presets:
            assert name in presets, f"stage {st.name} lists preset {name!r}, which does not exist"
            claimed[name] = st.name
        for key in (*st.oom_halve, *([st.oom_double] if st.oom_double else [])):
            assert key in {f for f in st.section_types()[st.name].__dataclass_fields__}, (st.name, key)
    unclaimed = set(presets) - set(claimed)
    assert not unclaimed, f"presets that no registry entry lists: {sorted(unclaimed)}"


def test_a_plugin_stage_is_known_to_config_and_a_bad_plugin_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    with pytest.raises(ConfigError, match="unknown stage 'toy'"):
        build_config("toy")
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_stage")
    cfg = build_config("toy", sets=["toy.steps=5"])
    assert cfg.stage_section.steps == 5 and list(cfg.sections) == ["toy", "supervisor"]
    monkeypatch.setenv(registry.PLUGINS_ENV, "no_such_plugin_module")
    with pytest.raises(ConfigError, match="ABA_STAGE_PLUGINS: cannot import stage plugin 'no_such_plugin_module'"):
        registry.stages()


def test_a_toy_stage_added_through_the_registry_runs_under_the_supervisor(tmp_path: Path) -> None:
    env = {**os.environ, registry.PLUGINS_ENV: "toy_stage",
           "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("ABA_RUNS_DIR", None)
    runs = tmp_path / "runs"

    def aba(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aba_tui", *args], capture_output=True, text=True, env=env,
                              cwd=REPO, timeout=120)

    res = aba("run", "toy", "--runs-dir", str(runs), "--set", "toy.steps=4", "--set", "toy.word=moo", "--wait")
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.split()[0]
    events = [json.loads(x) for x in (runs / run_id / "events.jsonl").read_text().splitlines()]
    assert [e["word"] for e in events if e.get("type") == "metrics"] == ["moo"] * 4
    ps = json.loads(aba("ps", "--runs-dir", str(runs), "--json").stdout)
    assert [(r["stage"], r["state"], r["step"], r["total_steps"]) for r in ps] == [("toy", "succeeded", 4, 4)]
    assert "[toy]" in (runs / run_id / "run.toml").read_text()
