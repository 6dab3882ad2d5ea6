"""TensorBoard event files and TRL-style JSONL names in `aba open` (pipeline.monitor.tensorboard)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.monitor.foreign import detect
from pipeline.monitor.series import RunSeries

tb = pytest.importorskip("tensorboard", reason="the `tb` extra (tensorboard) is not installed")


def _write_tb(logdir: Path, steps: range, tensor_style: bool = False) -> None:
    """Scalars as HF/TRL log them, through tensorboard's own event writer."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    w = EventFileWriter(str(logdir))
    for s in steps:
        vals = {"train/loss": 1.0 / s, "train/rewards/accuracies": s / 100, "train/learning_rate": 1e-5}
        if s % 5 == 0:
            vals["eval/loss"] = 2.0 / s
        for tag, y in vals.items():
            if tensor_style:  # TF2 / torch's SummaryWriter: a scalar tensor under the scalars plugin
                meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
                value = Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(y), metadata=meta)
            else:
                value = Summary.Value(tag=tag, simple_value=y)
            w.add_event(Event(step=s, wall_time=1.7e9 + s, summary=Summary(value=[value])))
    w.add_event(Event(step=99, summary=Summary(value=[Summary.Value(tag="note", tensor=tensor_util.make_tensor_proto(
        "text"))])))  # not a scalar: skipped
    w.flush()
    w.close()


@pytest.mark.parametrize("tensor_style", [False, True])
def test_tensorboard_folder_reads_scalars_with_our_names_and_follows_new_files(tmp_path: Path, tensor_style: bool):
    logdir = tmp_path / "tb-run"
    _write_tb(logdir, range(1, 11), tensor_style)
    r = detect(logdir)
    assert r.kind == "tensorboard" and r.label == "tb-run"
    events, reset = r.poll()
    assert not reset
    rs = RunSeries()
    rs.ingest(events)
    assert list(rs.series["loss"].xs) == list(range(1, 11))
    assert rs.series["loss"].ys[-1] == pytest.approx(0.1)
    assert rs.series["accuracy"].ys[-1] == pytest.approx(0.1)
    assert list(rs.series["eval_loss"].xs) == [5, 10] and "lr" in rs.series and "note" not in rs.series
    assert r.poll() == ([], False)  # nothing new
    _write_tb(logdir / "resumed", range(11, 13), tensor_style)  # a second file, as a resumed trainer writes
    more, _ = r.poll()
    assert [e["step"] for e in more] == [11, 12]
    assert detect(next(logdir.glob("events.out.tfevents.*"))).path == logdir  # a file opens its folder


def test_trl_style_jsonl_maps_its_key_names(tmp_path: Path):
    p = tmp_path / "trl.jsonl"
    p.write_text("".join(json.dumps({"step": s, "loss": 1 / s, "rewards/accuracies": s / 10, "rewards/margins": s,
                                     "learning_rate": 1e-5}) + "\n" for s in range(1, 4)))
    r = detect(p)
    events, _ = r.poll()
    assert events[-1] == {"type": "metrics", "step": 3, "loss": 1 / 3, "accuracy": 0.3, "margins": 3, "lr": 1e-5}


@pytest.mark.asyncio
async def test_tensorboard_log_opens_in_the_app_with_its_scalars_charted(tmp_path: Path):
    from tests.support.tui import make_app, wait_until

    logdir = tmp_path / "tb-run"
    _write_tb(logdir, range(1, 21))
    app = make_app(tmp_path, open_path=logdir)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.selected_run == "file:tb-run", what="the log selected")
        chart = app.screen.query_one("#chart-0")

        def charted() -> bool:
            return bool(chart._traces) and chart._traces[0].data.raw_x[-1:] == [20]

        await wait_until(pilot, charted, what="loss charted")
        acc = app.screen.query_one("#chart-1")
        await wait_until(pilot, lambda: bool(acc._traces) and acc._traces[0].data.raw_y[-1:] == [pytest.approx(0.2)],
                         what="accuracy charted")
