"""Bad input: one clear line naming the key/file/value and the expected form, exit ≠ 0, nothing left behind."""

from __future__ import annotations

import pytest

from aba_tui.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_nothing_made(runs_dir):
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["run", "selftest", "--set", "selftest.behavior=crash"],
         ["unknown key selftest.behavior", "known keys of [selftest]", "behaviour"]),
        (["run", "selftest", "--set", "selftest.steps=many"], ["selftest.steps='many'", "expected an integer"]),
        (["run", "selftest", "--set", "selftest.steps=-3"], ["selftest.steps", "≥ 0"]),
        (["run", "selftest", "--set", "selftest.behaviour=explode"], ["behaviour='explode'", "one of succeed"]),
        (["run", "dpo", "--set", "dpo.beta=high"], ["dpo.beta='high'", "expected a number"]),
        (["run", "dpo", "--set", "model.source=./no/such/model"],
         ["model.source='./no/such/model'", "no such file or folder", "HF model folder"]),
        (["run", "dpo", "--set", "dpo.data=/nope.jsonl"], ["dpo.data='/nope.jsonl'", "expected builtin:"]),
        (["run", "dpo", "--set", "grpo.num_generations=2"], ["unknown section 'grpo' for stage dpo"]),
        (["run", "dpo", "--set", "beta"], ["--set 'beta'", "expected section.key=value"]),
        (["run", "--preset", "nonexistent"], ["--preset 'nonexistent'", "no such preset"]),
        (["run"], ["no stage given"]),
    ],
)
def test_bad_run_input(capsys, tmp_path, args, expect):
    runs = tmp_path / "runs"
    code, out, err = run_cli(capsys, *args, "--runs-dir", str(runs))
    assert code == 2 and out == ""
    assert err.startswith("aba: ") and err.count("\n") == 1, err
    for piece in expect:
        assert piece in err
    assert_nothing_made(runs)


def test_unknown_stage_is_rejected_by_the_parser(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["run", "dpx", "--runs-dir", str(tmp_path / "runs")])
    assert exc.value.code == 2
    assert "invalid choice: 'dpx'" in capsys.readouterr().err
    assert_nothing_made(tmp_path / "runs")


def test_unknown_stage_in_a_config_file(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('stage = "dpx"\n')
    code, _, err = run_cli(capsys, "run", "--config", str(cfg), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and f"{cfg}: stage: unknown stage 'dpx'" in err and "sft, dpo, grpo" in err


def test_config_file_errors_name_the_file(capsys, tmp_path):
    runs = tmp_path / "runs"
    bad_key = tmp_path / "bad_key.toml"
    bad_key.write_text("[dpo]\nbetta = 0.2\n")
    code, _, err = run_cli(capsys, "run", "dpo", "--config", str(bad_key), "--runs-dir", str(runs))
    assert code == 2 and f"{bad_key}: unknown key dpo.betta" in err
    bad_type = tmp_path / "bad_type.toml"
    bad_type.write_text('[dpo]\nepochs = "lots"\n')
    code, _, err = run_cli(capsys, "run", "dpo", "--config", str(bad_type), "--runs-dir", str(runs))
    assert code == 2 and f"{bad_type}: dpo.epochs='lots': expected a number" in err
    broken = tmp_path / "broken.toml"
    broken.write_text("[dpo\n")
    code, _, err = run_cli(capsys, "run", "dpo", "--config", str(broken), "--runs-dir", str(runs))
    assert code == 2 and f"{broken}: not valid TOML" in err
    missing = tmp_path / "missing.toml"
    code, _, err = run_cli(capsys, "run", "dpo", "--config", str(missing), "--runs-dir", str(runs))
    assert code == 2 and f"{missing}: config file not found" in err
    bad_section = tmp_path / "bad_section.toml"
    bad_section.write_text("[trainer]\nlr = 1\n")
    code, _, err = run_cli(capsys, "run", "dpo", "--config", str(bad_section), "--runs-dir", str(runs))
    assert code == 2 and "unknown section [trainer]" in err
    assert_nothing_made(runs)


def test_unwritable_runs_dir(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for runs in (blocker, blocker / "runs"):
        code, out, err = run_cli(capsys, "run", "selftest", "--runs-dir", str(runs))
        assert code == 2 and out == ""
        assert f"--runs-dir {runs}:" in err and ("not a folder" in err or "cannot create" in err)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["status", "stop", "resume", "tail"])
def test_unknown_run_id(capsys, tmp_path, command):
    code, out, err = run_cli(capsys, command, "20990101-0000-nope", "--runs-dir", str(tmp_path))
    assert code == 2 and out == ""
    assert "run '20990101-0000-nope': no such run in" in err and "aba ps" in err


def test_every_command_has_help(capsys):
    for command in ("run", "ps", "status", "tail", "stop", "resume", "doctor", "presets", "open"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "usage: aba" in capsys.readouterr().out
