"""Adaptive batching's parts without a server: the batcher (on a clock the test moves), the
mapping of handler_batch's result to one outcome per item, the settings a node gets, and the env
(docs/krt.md, "Batching"). The conformance suite (e2e/conformance) runs a batched node of
each runner against NATS."""

import types

import pytest

from kre_runner.batching import BatchSettings, Batcher, batch_outcomes, batch_settings_of, in_flight_bound
from kre_runner.env import InvalidEnvError, load_env
from kre_runner.loader import HandlerLoadError, HandlerModule, inspect_module


class ManualClock:
    """call_later on a clock the test moves by hand: no wall clock."""

    def __init__(self):
        self.now = 0.0
        self.timers = []

    def call_later(self, delay, fn):
        timer = types.SimpleNamespace(at=self.now + delay, fn=fn, cancelled=False)
        timer.cancel = lambda: setattr(timer, "cancelled", True)
        self.timers.append(timer)
        return timer

    def advance(self, seconds):
        self.now += seconds
        due = [t for t in self.timers if not t.cancelled and t.at <= self.now + 1e-9]
        self.timers = [t for t in self.timers if t not in due]
        for t in due:
            t.fn()

    def pending(self):
        return len([t for t in self.timers if not t.cancelled])


def batcher(max_size, max_latency_ms):
    clock, batches = ManualClock(), []
    return Batcher(BatchSettings(max_size, max_latency_ms), batches.append, clock.call_later), clock, batches


def test_a_batch_goes_as_soon_as_it_holds_max_size_items_in_arrival_order():
    sut, clock, batches = batcher(3, 50)
    for n in (1, 2, 3, 4):
        sut.add(n)
    assert batches == [[1, 2, 3]]
    assert sut.waiting == 1
    assert clock.pending() == 1  # the 4th item's batch waits for its latency


def test_a_batch_goes_max_latency_ms_after_its_first_item():
    sut, clock, batches = batcher(10, 20)
    sut.add("a")
    clock.advance(0.015)
    sut.add("b")
    assert batches == []
    clock.advance(0.005)  # 20 ms after "a"
    assert batches == [["a", "b"]]
    sut.add("c")
    clock.advance(0.019)
    assert len(batches) == 1
    clock.advance(0.001)
    assert batches == [["a", "b"], ["c"]]


def test_flush_hands_out_at_once_and_cancels_the_timer():
    sut, clock, batches = batcher(8, 1000)
    sut.flush()
    sut.add(7)
    sut.flush()
    assert batches == [[7]]
    assert clock.pending() == 0
    clock.advance(1)
    assert batches == [[7]]


def test_each_item_gets_its_own_entry_an_exception_failing_that_item_alone():
    boom = ValueError("item 2 is bad")
    out = batch_outcomes([{"a": 1}, boom, None], 3)
    assert [(o.ok, o.value, o.error) for o in out] == [(True, {"a": 1}, None), (False, None, boom), (True, None, None)]
    assert [o.ok for o in batch_outcomes(None, 2)] == [True, True]


def test_a_result_that_does_not_match_the_batch_fails_every_item_saying_what_to_return():
    short = batch_outcomes([1, 2], 3)
    assert [o.ok for o in short] == [False] * 3
    assert str(short[0].error) == (
        "handler_batch returned 2 results for 3 messages: return one per item, in order (None for no output)"
    )
    wrong = batch_outcomes({"a": 1}, 2)
    assert all(not o.ok and "handler_batch returned dict: return a list" in str(o.error) for o in wrong)


def env_of(**extra):
    fields = {"handler_path": "src/n.py", "max_in_flight": 16, "batch_max_size": None, "batch_max_latency_ms": None}
    return types.SimpleNamespace(**{**fields, **extra})


async def handler(ctx, data):
    return None


def test_kre_modules_are_left_alone_without_a_krt_batch():
    assert batch_settings_of(env_of(), HandlerModule("v3", None, None, handler, {})) is None
    assert batch_settings_of(env_of(), HandlerModule("v3", None, None, handler, {}, batch=handler)) is None


def test_the_krt_batch_comes_from_the_env_and_a_module_with_only_handler_batch_gets_batches_of_one():
    batched = env_of(batch_max_size=32, batch_max_latency_ms=5)
    assert batch_settings_of(batched, HandlerModule("v3", None, None, handler, {}, batch=handler)) == BatchSettings(32, 5)
    assert batch_settings_of(env_of(), HandlerModule("v3", None, None, None, {}, batch=handler)) == BatchSettings(1, 0)


def test_a_krt_batch_without_handler_batch_is_refused_saying_what_to_define():
    with pytest.raises(HandlerLoadError, match=r"KRT_BATCH_MAX_SIZE=4\), so it must define `async def handler_batch"):
        batch_settings_of(env_of(batch_max_size=4, batch_max_latency_ms=1), HandlerModule("v3", None, None, handler, {}))


def test_a_replica_holds_at_least_two_full_batches():
    assert in_flight_bound(env_of(), None) == 16
    assert in_flight_bound(env_of(), BatchSettings(4, 1)) == 16
    assert in_flight_bound(env_of(), BatchSettings(64, 1)) == 128


def test_the_loader_reads_handler_batch_beside_any_era_and_alone():
    alone = inspect_module(types.SimpleNamespace(handler_batch=handler), "n.py")
    assert (alone.era, alone.handler, alone.batch) == ("v3", None, handler)
    both = inspect_module(types.SimpleNamespace(default_handler=handler, handler_batch=handler), "n.py")
    assert (both.era, both.handler, both.batch) == ("v3", handler, handler)
    with pytest.raises(HandlerLoadError, match="`handler_batch` must be a function"):
        inspect_module(types.SimpleNamespace(default_handler=handler, handler_batch=3), "n.py")


BASE = {
    "KRT_RUNTIME_ID": "rt", "KRT_VERSION": "v1", "KRT_VERSION_ID": "x", "KRT_NATS_SERVER": "nats://h:1",
    "KRT_BASE_PATH": "/k", "KRT_HEALTH_PORT": "1000", "KRT_NATS_OBS_PREFIX": "o", "KRT_NATS_DATA_PREFIX": "d",
    "KRT_WORKFLOW_NAME": "wf", "KRT_NODE_NAME": "n", "KRT_NODE_ID": "n", "KRT_HANDLER_PATH": "n.py",
    "KRT_NATS_STREAM": "s", "KRT_NATS_INPUTS": "a=b", "KRT_NATS_OUTPUT": "o",
}


def test_the_env_reads_the_batch_and_names_a_wrong_or_lone_variable():
    env = load_env({**BASE, "KRT_BATCH_MAX_SIZE": "32", "KRT_BATCH_MAX_LATENCY_MS": "0"})
    assert (env.batch_max_size, env.batch_max_latency_ms) == (32, 0)
    assert load_env(BASE).batch_max_size is None
    with pytest.raises(InvalidEnvError) as caught:
        load_env({**BASE, "KRT_BATCH_MAX_SIZE": "0", "KRT_BATCH_MAX_LATENCY_MS": "x"})
    assert caught.value.problems == [
        "KRT_BATCH_MAX_SIZE: must be an integer from 1 to 1024",
        "KRT_BATCH_MAX_LATENCY_MS: must be an integer from 0 to 10000",
    ]
    with pytest.raises(InvalidEnvError) as caught:
        load_env({**BASE, "KRT_BATCH_MAX_SIZE": "4"})
    assert caught.value.problems == [
        "KRT_BATCH_MAX_LATENCY_MS: KRT_BATCH_MAX_SIZE and KRT_BATCH_MAX_LATENCY_MS are set together (the KRT batch)"
    ]
