"""ctx.logger's fast path (kre_runner/context.py NodeLogger) gives what the standard path gives."""

import logging

import pytest

from kre_runner import stdio
from kre_runner.context import NodeLogger, ObsLogHandler


class FakeObs:
    def __init__(self):
        self.calls = []

    def log(self, *args):
        self.calls.append(args)


@pytest.fixture
def setup():
    obs = FakeObs()
    logger = logging.getLogger("v1-fast-node")
    handler = ObsLogHandler(obs, "fast-node", logger.name)
    root = logging.getLogger()
    before = root.handlers[:]
    root.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.__class__ = logging.Logger
    yield obs, logger, handler
    root.handlers[:] = before
    logger.__class__ = logging.Logger


def calls(obs, logger, handler, fast):
    obs.calls.clear()
    logger.__class__ = NodeLogger if fast else logging.Logger
    logger.fast_handler = handler
    token = stdio.current.set(stdio.UserScope("req-1"))
    root = logging.getLogger()
    before = root.handlers[:]
    root.handlers[:] = [handler]  # pytest adds its capture handler to the root while a test runs
    try:
        logger.info("plain")
        logger.warning("%s of %d", "two", 2)
        logger.error("%(a)s", {"a": "mapped"})
        logger.debug("with %s", "debug")
    finally:
        root.handlers[:] = before
        stdio.current.reset(token)
    return list(obs.calls)


def test_fast_path_logs_what_the_standard_path_logs(setup, capsys):
    obs, logger, handler = setup
    standard = calls(obs, logger, handler, fast=False)
    fast = calls(obs, logger, handler, fast=True)
    assert fast == standard
    assert standard[0] == ("INFO", "plain", "LOGGER", "req-1", None, "fast-node")
    assert [c[1] for c in standard] == ["plain", "two of 2", "mapped", "with debug"]


def test_another_handler_or_extra_takes_the_standard_path(setup):
    obs, logger, handler = setup
    logger.__class__ = NodeLogger
    logger.fast_handler = handler
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    extra = Keep()
    root = logging.getLogger()
    before = root.handlers[:]
    root.handlers[:] = [handler]
    logger.addHandler(extra)
    try:
        logger.info("to both")
    finally:
        logger.removeHandler(extra)
    try:
        logger.info("with fields", extra={"fields": {"k": 1}})
    finally:
        root.handlers[:] = before
    assert seen == ["to both"]
    assert [c[1] for c in obs.calls] == ["to both", "with fields"]
    assert obs.calls[1][4] == {"k": 1}
