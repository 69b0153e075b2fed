"""Adaptive batching (apps/runner/src/message.batcher.ts; docs/krt.md, "Batching"): a node whose
KRT sets `batch: {maxSize, maxLatencyMs}` gets its messages in lists, `handler_batch(ctx, items)`,
each item `(ctx, data)` with its own context (its request, its sends) and its own outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Generic, NamedTuple, Optional, TypeVar

from .env import RunnerEnv
from .loader import HandlerLoadError, HandlerModule

T = TypeVar("T")


@dataclass(frozen=True)
class BatchSettings:
    max_size: int
    max_latency_ms: int


class BatchItem(NamedTuple):
    """One message of a batch (`for ctx, data in items` works too)."""

    ctx: Any
    data: Any


def batch_settings_of(env: RunnerEnv, mod: HandlerModule) -> Optional[BatchSettings]:
    """The env's settings when the KRT sets `batch`; batches of one when the module defines
    `handler_batch` and no other default handler; None otherwise (every KRE-era module runs one
    message per call, as it always did).
    @raises HandlerLoadError when the KRT sets `batch` but the module has no `handler_batch`."""
    size = env.batch_max_size
    if size is not None and mod.batch is None:
        raise HandlerLoadError(
            f'{env.handler_path}: the node\'s KRT sets "batch" (KRT_BATCH_MAX_SIZE={size}), so it must define '
            "`async def handler_batch(ctx, items)` (items: [(ctx, data)], returning one result per item); "
            "remove \"batch\" to run the node's handler one message at a time"
        )
    if mod.batch is None:
        return None
    if size is None:
        return None if mod.handler is not None else BatchSettings(1, 0)
    return BatchSettings(size, env.batch_max_latency_ms or 0)


def in_flight_bound(env: RunnerEnv, batch: Optional[BatchSettings]) -> int:
    """Messages one replica holds: KRT_MAX_IN_FLIGHT, and with batching at least two full batches
    (one in the handler while the next forms), so a max_size above KRT_MAX_IN_FLIGHT still fills."""
    return max(env.max_in_flight, 2 * batch.max_size) if batch else env.max_in_flight


class Batcher(Generic[T]):
    """Collects items into batches: one goes to `run` when it holds max_size items, max_latency_ms
    after its first item, or on `flush()` (the runner flushes when it may hold no further message,
    so a batch never waits for one that cannot come). `call_later` is the loop's, or a test's."""

    def __init__(
        self,
        settings: BatchSettings,
        run: Callable[[list[T]], None],
        call_later: Optional[Callable[[float, Callable[[], None]], Any]] = None,
    ):
        self.settings = settings
        self.run = run
        self.call_later = call_later or (lambda delay, fn: asyncio.get_running_loop().call_later(delay, fn))
        self.items: list[T] = []
        self.timer: Any = None

    @property
    def waiting(self) -> int:
        return len(self.items)

    def add(self, item: T) -> None:
        self.items.append(item)
        if len(self.items) >= self.settings.max_size:
            self.flush()
        elif len(self.items) == 1:
            self.timer = self.call_later(self.settings.max_latency_ms / 1000, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.items:
            return
        batch, self.items = self.items, []
        self.run(batch)


class Outcome(NamedTuple):
    ok: bool
    value: Any = None
    error: Optional[BaseException] = None


def batch_outcomes(result: Any, count: int) -> list[Outcome]:
    """What `handler_batch` returned, as one outcome per item, in order: None (it sent through each
    item's ctx) is nothing for each; a list or tuple of exactly one entry per item gives each its
    entry (an exception instance fails that item alone). Anything else fails every item with a
    message saying what to return: no item ever gets another's result."""
    if result is None:
        return [Outcome(True) for _ in range(count)]
    if not isinstance(result, (list, tuple)):
        error = TypeError(
            f"handler_batch returned {type(result).__name__}: return a list with one result per item, "
            "in order (None for no output), or nothing"
        )
        return [Outcome(False, error=error) for _ in range(count)]
    if len(result) != count:
        error = TypeError(
            f"handler_batch returned {len(result)} results for {count} messages: "
            "return one per item, in order (None for no output)"
        )
        return [Outcome(False, error=error) for _ in range(count)]
    return [Outcome(False, error=v) if isinstance(v, BaseException) else Outcome(True, v) for v in result]
