"""Short formats: an ETA keeps the precision an estimate has, a duration keeps its seconds."""

from __future__ import annotations

import math

import pytest

from pipeline.monitor import fmt


@pytest.mark.parametrize(("secs", "eta", "duration"), [
    (None, "-", "-"), (math.nan, "-", "-"), (-3.0, "-", "-"),
    (42.9, "42s", "42s"), (599.0, "9m59s", "9m59s"),
    (600.0, "10m", "10m00s"), (1385.0, "23m", "23m05s"), (3599.0, "59m", "59m59s"),
    (3600.0, "1h00m", "1h00m"), (90061.0, "1d01h", "1d01h"),
])
def test_an_eta_drops_its_seconds_from_ten_minutes_on_and_a_duration_keeps_them(secs, eta, duration):
    assert fmt.eta(secs) == eta
    assert fmt.duration(secs) == duration
