"""Worker concurrency is a setting: `MARATHON_WORKER_CONCURRENCY`, or `--concurrency`."""

from __future__ import annotations

import pytest

from marathon.service.settings import Settings


def test_the_setting_and_its_default() -> None:
    assert Settings.from_env({}).worker_concurrency == 10
    assert Settings.from_env({"MARATHON_WORKER_CONCURRENCY": "3"}).worker_concurrency == 3


@pytest.mark.parametrize("bad", ["0", "-2", "ten", "1001"])
def test_a_bad_value_stops_start_up_with_the_reason(bad: str) -> None:
    with pytest.raises(ValueError, match="MARATHON_WORKER_CONCURRENCY"):
        Settings.from_env({"MARATHON_WORKER_CONCURRENCY": bad})
