"""The disk estimate before launch for datagen, eval, abliteration and merge runs (not only trainers and
exports), and the preflight refusing one that cannot fit (a real 6 MiB tmpfs)."""

from __future__ import annotations

import pytest

from pipeline.config.run import build_config, preset_path
from pipeline.errors import ConfigError
from pipeline.runs.faults.diskplan import EMBEDDED_SHAPE, check_disk, estimate, shape_of
from tests.pipeline.runs.test_faults import small_fs  # noqa: F401  (the fixture)


def test_each_stage_estimates_what_it_writes() -> None:
    few = estimate(build_config("datagen", [], ["datagen.per_category=2", "datagen.traces=3"]))
    many = estimate(build_config("datagen", [], ["datagen.per_category=2", "datagen.traces=6"]))
    assert few is not None and many is not None and "30 traces" in few.parts[0]  # 2 × 5 categories × 3
    assert many.total == 2 * few.total
    ev = estimate(build_config("eval", [], ["eval.samples=2"]))
    ev4 = estimate(build_config("eval", [], ["eval.samples=4"]))
    assert ev is not None and ev4 is not None and ev4.total == 2 * ev.total and "answers" in ev.parts[0]
    params = shape_of(EMBEDDED_SHAPE).params
    abl = estimate(build_config("abliterate", [], ["abliterate.gguf_eval=false"]))
    gguf = estimate(build_config("abliterate", [], ["abliterate.gguf_eval=true"]))
    assert abl is not None and gguf is not None and abl.total == params * 4 and gguf.total == params * 6
    b = estimate(build_config(None, [preset_path("strategy-b")]))
    assert b is not None and any("branch runs" in p for p in b.parts) and any("merged adapter" in p for p in b.parts)


def test_the_preflight_refuses_a_study_whose_weights_cannot_fit(small_fs) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    _mnt, store = small_fs
    with pytest.raises(ConfigError, match="abliterate: the chosen trial's weights"):
        check_disk(build_config("abliterate"), store.root)
    assert check_disk(build_config("datagen", [], ["datagen.per_category=2"]), store.root) is not None  # KiB: fits
