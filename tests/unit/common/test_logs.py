"""A library's repeated lines are capped to one per window, and the count of those dropped
is carried by the next one (common/logs.py)."""

import io
import logging

import pytest

from common.logs import RepeatFilter, Window, admit, quiet_repeats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def test_a_flood_of_one_kind_is_one_line_per_window_with_the_count(
    lines: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    logger = logging.getLogger("tests.flood")
    flood = RepeatFilter(window_seconds=10, clock=clock)
    logger.addFilter(flood)
    try:
        for attempt in range(1000):
            logger.error("Unable connect to node with id %s: %s", 1, f"attempt {attempt}")
        clock.now += 10
        logger.error("Unable connect to node with id %s: %s", 1, "again")
    finally:
        logger.removeFilter(flood)
    messages = [r.getMessage() for r in lines.records if r.name == "tests.flood"]
    assert messages == [
        "Unable connect to node with id 1: attempt 0",
        "Unable connect to node with id 1: again (999 more like this in the last 10 s not logged)",
    ]


def test_other_kinds_and_levels_pass_on_their_own(lines: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.kinds")
    flood = RepeatFilter(window_seconds=10, clock=Clock())
    logger.addFilter(flood)
    try:
        logger.error("metadata from %s", 1)
        logger.error("metadata from %s", 2)
        logger.warning("metadata from %s", 3)
        logger.error("connect to %s", 4)
    finally:
        logger.removeFilter(flood)
    messages = [r.getMessage() for r in lines.records if r.name == "tests.kinds"]
    assert messages == ["metadata from 1", "metadata from 3", "connect to 4"]


def test_children_of_a_quieted_library_are_capped_and_others_are_not(
    lines: pytest.LogCaptureFixture,
) -> None:
    child = logging.getLogger("tests_lib.conn")
    quiet_repeats(("tests_lib",), window_seconds=60)
    for _ in range(50):
        child.error("Unable connect")
        logging.getLogger("tests_lib").error("Unable to update metadata")
        logging.getLogger("tests_service").warning("append failed")
    names = [r.name for r in lines.records]
    assert names.count("tests_lib.conn") == 1
    assert names.count("tests_lib") == 1
    assert names.count("tests_service") == 50


def test_admit_decides_from_the_window() -> None:
    assert admit(None, 5.0, 10.0) == (True, 0)
    assert admit(Window(started=0.0, dropped=7), 9.9, 10.0) == (False, 0)
    assert admit(Window(started=0.0, dropped=7), 10.0, 10.0) == (True, 7)


def test_the_line_with_the_count_formats_under_fausts_formatter() -> None:
    """Faust (mode) formats the worker's console lines with its ExtensionFormatter, which
    wraps arguments that are not a tuple in one: the rewritten line must format as is."""
    from mode.utils.logging import ExtensionFormatter

    clock = Clock()
    flood = RepeatFilter(window_seconds=10, clock=clock)
    records = [
        logging.LogRecord("aiokafka", logging.INFO, __file__, 1, "joining %s", (g,), None)
        for g in ("g1", "g2", "g3")
    ]
    flood.filter(records[0])
    flood.filter(records[1])
    clock.now += 10
    assert flood.filter(records[2])
    line = ExtensionFormatter(stream=io.StringIO(), fmt="%(message)s").format(records[2])
    assert line == "joining g3 (1 more like this in the last 10 s not logged)"
