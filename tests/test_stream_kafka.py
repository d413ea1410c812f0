"""Lab 03 over Kafka: the same end-to-end check against a Kafka-protocol broker, when one is given.

No Kafka broker is started by the lab; set ``KAFKA_BOOTSTRAP=host:port`` (a Kafka or Redpanda you
run) to include it. The transport code is the same that a real cluster would use.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labsupport.stream import run_pipeline, verify
from labsupport.stream.gen import write_ticks

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP")
pytestmark = pytest.mark.skipif(
    not BOOTSTRAP, reason="no Kafka broker (the lab starts none, and none installs from PyPI or "
                          "Debian): set KAFKA_BOOTSTRAP=host:port of a Kafka or Redpanda you run "
                          "to test the kafka transport")


@pytest.mark.timeout(180)
def test_kafka_store_holds_exactly_the_reference_then_a_rerun_adds_nothing(tmp_path: Path) -> None:
    pytest.importorskip("confluent_kafka", reason="pip install confluent-kafka")
    src = write_ticks(tmp_path / "t.csv", 3000, seed=5)
    want = verify.expected(src)
    r = run_pipeline(src, tmp_path / "db", transport="kafka", url=BOOTSTRAP, workers=2, batch=200)
    assert (r.accepted, r.rejected) == (len(want[0]), len(want[1]))
    assert verify.same(verify.stored(tmp_path / "db"), want)
    again = run_pipeline(src, tmp_path / "db", transport="kafka", url=BOOTSTRAP, workers=2)
    assert again.accepted == 0
