"""One node replica (apps/runner/src/node-runner.service.ts): binds the durable consumers the
deployer created (pull), calls the team's handler for each message with at most
KRT_MAX_IN_FLIGHT at once, extends AckWait with in-progress acks while a handler runs, routes
what it sends as docs/data-plane.md's table says, and acks after. On stop (SIGTERM) it stops
taking work and finishes what it holds."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import inspect
import json
import logging
import os
import re
import time
import traceback
from typing import Any, NamedTuple, Optional

from google.protobuf import any_pb2

from . import codec, stdio
from .context import ContextDeps, HandlerContext
from .env import Input, RunnerEnv
from .loader import HandlerModule
from .obs import ObsPublisher
from .batching import BatchItem, Batcher, Outcome, batch_outcomes, batch_settings_of, in_flight_bound
from .scope import MessageScope, ScopeDeps, TransientPublishError
from .tracing import Span, Tracer

log = logging.getLogger("kre_runner")
REPLY_SUBJECT = re.compile(r"^[^\s*>]+$")
PULL_EXPIRES = 30.0
HEARTBEAT = 5.0


class HandlerTimeoutError(Exception):
    def __init__(self, seconds: float):
        super().__init__(f"the handler did not finish within {seconds:g} s (KRT_HANDLER_TIMEOUT)")


def error_text(error: BaseException) -> str:
    text = str(error)
    if type(error) in (Exception, RuntimeError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class StreamInterest:
    """Which subjects of the workflow stream some consumer reads (stream-interest.tracker.ts):
    the exitpoint skips publishing its output when nobody reads it (interest retention)."""

    def __init__(self, jsm, stream: str):
        self.jsm = jsm
        self.stream = stream
        self.subjects: Optional[set[str]] = None
        self.task: Optional[asyncio.Task] = None

    def has(self, subject: str) -> bool:
        return self.subjects is None or subject in self.subjects

    async def refresh(self) -> None:
        try:
            infos = await self.jsm.consumers_info(self.stream)
            subjects: set[str] = set()
            everything = False
            for info in infos:
                one = info.config.filter_subject
                many = getattr(info.config, "filter_subjects", None) or []
                if not one and not many:
                    everything = True
                for s in ([one] if one else []) + list(many):
                    if "*" in s or ">" in s:
                        everything = True
                    subjects.add(s)
            self.subjects = None if everything else subjects
        except Exception as error:
            self.subjects = None
            log.warning("cannot list the consumers of %s: %s", self.stream, error)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._every())

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(30)
            await self.refresh()

    def stop(self) -> None:
        if self.task:
            self.task.cancel()


class _Prepared(NamedTuple):
    """A decoded message on its way to its handler: its scope and span are open."""

    msg: Any
    seq: int
    started: float
    envelope: Any
    request_id: str
    from_node: str
    span: Optional[Span]
    scope: MessageScope
    user: stdio.UserScope


class _Bound:
    def __init__(self, spec: Input):
        self.subject = spec.subject
        self.consumer = spec.consumer
        self.bound = False
        self.ack_wait = 5.0
        # Delivered to this replica and not finished yet (waiting for a slot, or being handled).
        self.held = 0
        self.freed = asyncio.Event()


class Slots:
    """At most `size` messages handled at once (KRT_MAX_IN_FLIGHT), waiters served in order;
    `close()` (stop) answers every waiter False."""

    def __init__(self, size: int):
        self.free = size
        self.waiters: collections.deque[asyncio.Future] = collections.deque()
        self.closed = False

    async def acquire(self) -> bool:
        if self.closed:
            return False
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return True
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return await waiter

    def release(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self.free += 1

    def close(self) -> None:
        self.closed = True
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)


class PullCredit:
    """How many messages a replica may ask a consumer for: with `held` delivered and unfinished
    and `pending` still owed by its open pull requests, a new request for the rest goes out once
    a quarter of `bound` is free (or at once when none is open), so the next message is already
    on its way while earlier ones run, as the Node client's `consume()` does. A request's end
    (a 408 or 409 status on its own reply subject) says how many it left unfilled
    (Nats-Pending-Messages); without that figure the count is an estimate until the last open
    request ends. A reconnect loses every open request (`lost`)."""

    def __init__(self, bound: int):
        self.bound = bound
        self.threshold = max(1, bound // 4)
        self.pending = 0
        self.open: set[str] = set()
        self._n = 0

    def want(self, held: int) -> int:
        free = self.bound - held - self.pending
        return free if free >= self.threshold or (free > 0 and not self.open) else 0

    def issue(self, batch: int) -> str:
        self._n += 1
        token = str(self._n)
        self.open.add(token)
        self.pending += batch
        return token

    def delivered(self) -> None:
        if self.pending > 0:
            self.pending -= 1

    def ended(self, token: str, unfilled: Optional[int]) -> bool:
        """A request's end status; False when the token is not an open request's."""
        if token not in self.open:
            return False
        self.open.discard(token)
        if not self.open:
            self.pending = 0
        elif unfilled is None:
            self.pending = max(0, self.pending - self.threshold)
        else:
            self.pending = max(0, self.pending - unfilled)
        return True

    def lost(self) -> None:
        self.open.clear()
        self.pending = 0


class NodeRunner:
    #: Set by app.serve when OTEL_EXPORTER_OTLP_ENDPOINT is: one span per message.
    tracer: Optional[Tracer] = None

    def __init__(
        self,
        env: RunnerEnv,
        nc,
        js,
        jsm,
        mod: HandlerModule,
        obs: ObsPublisher,
        context: ContextDeps,
        scope: ScopeDeps,
        interest: StreamInterest,
    ):
        self.env = env
        self.nc = nc
        self.js = js
        self.jsm = jsm
        self.mod = mod
        self.obs = obs
        self.context = context
        self.scope_deps = scope
        self.interest = interest
        self.inputs = [_Bound(i) for i in env.inputs]
        self.stopping = False
        self.in_flight: set[asyncio.Task] = set()
        # The node's KRT batch: messages for the default handler go to handler_batch in lists.
        batch = batch_settings_of(env, mod)
        self.batcher: Optional[Batcher] = Batcher(batch, self._start_batch) if batch else None
        self.bound = in_flight_bound(env, batch)
        self.slots = Slots(self.bound)
        self.types = None  # the version's proto, for dict-era nodes
        if mod.era == "dict" and env.entrypoint_proto:
            from .protofile import ProtoTypes

            try:
                entry = os.path.join(env.base_path, env.entrypoint_proto)
                self.types = ProtoTypes(entry, [os.path.dirname(entry), env.base_path])
            except Exception as error:
                log.warning("cannot read %s for the dict-era handler's payloads: %s", env.entrypoint_proto, error)
        self._wake: set[asyncio.Event] = set()
        self._lost: dict[asyncio.Event, Any] = {}
        self._binders: list[asyncio.Task] = []
        self._subs: set = set()

    # -- readiness and start

    def readiness(self) -> tuple[bool, str]:
        if self.stopping:
            return False, "stopping"
        waiting = [i.consumer for i in self.inputs if not i.bound]
        if waiting:
            return False, f"not bound to consumer(s) {', '.join(waiting)} of {self.env.stream}"
        return True, "bound"

    async def start(self) -> None:
        """Captured prints become log records; runs `init(ctx)`; binds the consumers in the
        background. @raises RuntimeError when init fails (the replica cannot serve)."""
        obs = self.obs
        stdio.attach(lambda line, stream, rid: obs.log("ERROR" if stream == "STDERR" else "INFO", line, stream, rid))
        if self.mod.init is not None:
            scope = stdio.UserScope()
            ctxvars = contextvars.copy_context()
            ctxvars.run(stdio.current.set, scope)
            try:
                await asyncio.get_running_loop().create_task(
                    _call(self.mod.init, HandlerContext(self.context)), context=ctxvars
                )
            except Exception as error:
                text = f'init() of node "{self.env.node_id}" failed: {"".join(traceback.format_exception(error)).rstrip()}'
                obs.log("ERROR", text, "RUNNER")
                raise RuntimeError(text) from error
            finally:
                stdio.end_scope(scope)
        for spec in self.inputs:
            self._binders.append(asyncio.get_running_loop().create_task(self._bind(spec)))

    async def _bind(self, spec: _Bound) -> None:
        warned = False
        while not self.stopping:
            try:
                info = await self.jsm.consumer_info(self.env.stream, spec.consumer)
                spec.ack_wait = max(0.1, float(info.config.ack_wait or 5.0))
            except Exception as error:
                if not warned:
                    log.warning(
                        "waiting for consumer %s on stream %s (the deployer creates it): %s",
                        spec.consumer, self.env.stream, error_text(error),
                    )
                warned = True
                await asyncio.sleep(0.5)
                continue
            log.info("bound to consumer %s (%s)", spec.consumer, spec.subject)
            if self.env.is_exitpoint:
                await self.interest.refresh()
            try:
                await self._consume(spec)
            except Exception as error:
                log.warning("consumer %s stopped: %s", spec.consumer, error_text(error))
            spec.bound = False
            if not self.stopping:
                await asyncio.sleep(0.5)

    def reconnected(self) -> None:
        """Pull requests do not survive a reconnect: ask again at once (not after the heartbeat
        watchdog)."""
        for event in list(self._wake):
            self._lost.get(event, lambda: None)()
            event.set()

    async def _consume(self, spec: _Bound) -> None:
        """Pull requests that keep up to KRT_MAX_IN_FLIGHT messages held from this consumer (as
        the Node runner's `consume({max_messages})`): a new request goes out as soon as a quarter
        of the bound is free, while earlier ones are still open, so a replica never waits a round
        trip for its next message. A delivered message gets in-progress acks at once and waits
        for one of the replica's KRT_MAX_IN_FLIGHT slots. `pending` counts what the open requests
        may still deliver; a request's end (408 timeout, 409) says how many it left unfilled
        (Nats-Pending-Messages). Statuses come on the request's own reply subject, so one of an
        unknown request is ignored."""
        inbox = self.nc.new_inbox()
        api = f"$JS.API.CONSUMER.MSG.NEXT.{self.env.stream}.{spec.consumer}"
        credit = PullCredit(self.bound)
        state = {"activity": time.monotonic(), "gone": False}
        wake = asyncio.Event()
        self._wake.add(wake)

        async def on_message(msg) -> None:
            state["activity"] = time.monotonic()
            status = msg.headers.get("Status") if msg.headers else None
            if status is not None and not msg.data and not (msg.reply or "").startswith("$JS.ACK"):
                # JetStream delivers messages under their stream subject instead.
                if status == "100":  # idle heartbeat
                    return
                if status == "409" and "Deleted" in (msg.headers.get("Description") or ""):
                    state["gone"] = True
                try:
                    unfilled: Optional[int] = int(msg.headers.get("Nats-Pending-Messages") or "")
                except ValueError:
                    unfilled = None
                if credit.ended(msg.subject.rsplit(".", 1)[-1], unfilled):
                    wake.set()
                return
            credit.delivered()
            if self.stopping:
                await _quietly(msg.nak())
                return
            spec.held += 1
            task = asyncio.get_running_loop().create_task(self._run(spec, msg))
            self.in_flight.add(task)
            task.add_done_callback(self._done)

        sub = await self.nc.subscribe(f"{inbox}.*", cb=on_message)
        self._subs.add(sub)
        self._lost[wake] = credit.lost
        spec.bound = True
        spec.freed = wake
        try:
            while not self.stopping and not state["gone"]:
                want = credit.want(spec.held)
                if want:
                    token = credit.issue(want)
                    state["activity"] = time.monotonic()
                    request = {
                        "batch": want,
                        "expires": int(PULL_EXPIRES * 1e9),
                        "idle_heartbeat": int(HEARTBEAT * 1e9),
                    }
                    await self.nc.publish(api, json.dumps(request).encode(), reply=f"{inbox}.{token}")
                    continue
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), timeout=HEARTBEAT)
                except asyncio.TimeoutError:
                    pass
                if credit.open and time.monotonic() - state["activity"] > 2 * HEARTBEAT + 1:
                    # Neither messages nor heartbeats: the requests are lost (reconnect, or the
                    # consumer went away); check the consumer, then ask again.
                    await self.jsm.consumer_info(self.env.stream, spec.consumer)
                    credit.lost()
        finally:
            spec.bound = False
            self._wake.discard(wake)
            self._lost.pop(wake, None)
            self._subs.discard(sub)
            await _quietly(sub.unsubscribe())

    def _done(self, task: asyncio.Task) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("message handling failed: %s", task.exception())

    async def _run(self, spec: _Bound, msg) -> None:
        """A delivered message: kept alive while it waits for a slot and while it is handled;
        at stop, one that has not started goes back at once (nak)."""
        working = _KeepWorking(msg, max(0.05, spec.ack_wait / 3))
        try:
            if not await self.slots.acquire():
                await _quietly(msg.nak())
                return
            try:
                await self._handle(spec, msg)
            finally:
                self.slots.release()
        finally:
            working.cancel()
            spec.held -= 1
            spec.freed.set()

    # -- one message, from decoding to ack

    def _headers(self, incoming: dict, request_id: str, span: Optional[Span] = None) -> dict[str, str]:
        out = {k: incoming[k] for k in codec.PROPAGATED_HEADERS if incoming.get(k)}
        out.setdefault(codec.H_REQUEST_ID, request_id)
        if span is not None:
            # Traced: the next node's span (and the reply) is a child of this node's.
            out.update(span.headers())
        return out

    def _span(self, incoming: dict, from_node: str, request_id: str) -> Optional[Span]:
        """This message's span, a child of the sender's (the entrypoint's or the previous node's)."""
        if self.tracer is None:
            return None
        attributes = {"kre.node": self.env.node_id, "kre.workflow": self.env.workflow, "kre.from_node": from_node, "kre.request_id": request_id}
        return self.tracer.start(f"node {self.env.node_id}", incoming, "consumer", attributes)

    def _scope(self, request_id, reply_to, incoming, spec: _Bound, seq, span: Optional[Span] = None) -> MessageScope:
        return MessageScope(
            self.scope_deps,
            request_id,
            reply_to,
            self._headers(incoming, request_id, span),
            f"{self.env.stream}:{spec.consumer}:{seq}",
            lambda text: self.obs.log("WARN", text, "RUNNER", request_id),
        )

    async def _handle(self, spec: _Bound, msg) -> None:
        p = await self._prepare(spec, msg)
        if p is None:
            return
        fn = self.mod.handlers.get(p.from_node)
        if self.batcher is not None and fn is None:
            # Batched node: what the per-sender handlers do not take waits for its batch (this
            # task, and its slot, end when its own outcome is sent).
            await self._enqueue(p)
            return
        fn = fn or self.mod.handler
        try:
            if fn is None:
                name = "handler" if self.mod.era == "v1" else "default_handler"
                raise LookupError(
                    f'no handler for messages from "{p.from_node}": define `{name}`, or custom_handlers["{p.from_node}"]'
                )
            data = self._data(p.envelope)
            ctx = HandlerContext(self.context, p.scope, p.envelope)
            # This task runs only this message: the user scope marks what it prints as its own.
            stdio.current.set(p.user)
            try:
                async with asyncio.timeout(self.env.handler_timeout):
                    if self.mod.era == "dict" and not inspect.iscoroutinefunction(fn):
                        # kre-py 1.1's synchronous handlers: in a thread, so acks and timeouts go on
                        result = await asyncio.to_thread(_call_sync, fn, ctx, data)
                    else:
                        result = await _call(fn, ctx, data)
            except TimeoutError:
                raise HandlerTimeoutError(self.env.handler_timeout) from None
            outcome = Outcome(True, result if self.mod.era in ("v1", "dict") else None)
        except Exception as error:
            outcome = Outcome(False, error=error)
        await self._finish(p, outcome)

    def _data(self, envelope) -> Any:
        if self.mod.era == "dict":
            return self._as_dict(envelope.payload)
        return envelope.payload if envelope.payload is not None else any_pb2.Any()

    async def _prepare(self, spec: _Bound, msg) -> Optional["_Prepared"]:
        """Decodes a message and opens its scope and span; answers at once one that is invalid or
        whose request expired (None then)."""
        started = time.perf_counter()
        node_id = self.env.node_id
        incoming = dict(msg.headers or {})
        reply_header = incoming.get(codec.H_REPLY_TO) or None
        reply_to = reply_header if reply_header and REPLY_SUBJECT.match(reply_header) else None
        header_request_id = incoming.get(codec.H_REQUEST_ID) or None
        seq = stream_sequence(msg)

        try:
            envelope = codec.decode_envelope(codec.decompress_if_needed(msg.data))
        except codec.InvalidMessageError as error:
            reason = f'node "{node_id}" received an invalid message on {msg.subject}: {error}'
            log.warning(reason)
            self.obs.log("ERROR", reason, "RUNNER", header_request_id)
            if header_request_id:
                await self._scope(header_request_id, reply_to, incoming, spec, seq).fail(reason)
            await _quietly(msg.term())
            return None
        request_id = envelope.request_id
        try:
            deadline = int(incoming.get(codec.H_DEADLINE) or 0)
        except ValueError:
            deadline = 0
        if deadline > 0 and time.time() * 1000 > deadline:
            self.obs.log("DEBUG", f'request {request_id} expired before node "{node_id}" took it: skipped', "RUNNER", request_id)
            await _quietly(msg.ack())
            return None
        span = self._span(incoming, envelope.from_node, request_id)
        scope = self._scope(request_id, reply_to, incoming, spec, seq, span)
        return _Prepared(msg, seq, started, envelope, request_id, envelope.from_node, span, scope, stdio.UserScope(request_id))

    async def _enqueue(self, p: "_Prepared") -> None:
        """Into the batch being formed; handed out early when the replica may hold no more."""
        try:
            data = self._data(p.envelope)
        except Exception as error:
            await self._finish(p, Outcome(False, error=error))
            return
        done = asyncio.get_running_loop().create_future()
        self.batcher.add((p, data, done))
        if self.slots.free <= 0:
            self.batcher.flush()
        await done

    def _start_batch(self, items: list) -> None:
        task = asyncio.get_running_loop().create_task(self._run_batch(items))
        self.in_flight.add(task)
        task.add_done_callback(self._done)

    async def _run_batch(self, items: list) -> None:
        """One call of `handler_batch`: each item gets its own context (its request, its sends)
        and its own outcome; a raise or timeout of the call fails every item, each with its own
        ERROR."""
        fn = self.mod.batch
        batch = [BatchItem(HandlerContext(self.context, p.scope, p.envelope), data) for p, data, _ in items]
        # This task runs only this batch: what it prints is user code's (no one request's).
        user = stdio.UserScope()
        stdio.current.set(user)
        try:
            try:
                async with asyncio.timeout(self.env.handler_timeout):
                    result = await _call(fn, HandlerContext(self.context), batch)
            except TimeoutError:
                raise HandlerTimeoutError(self.env.handler_timeout) from None
            outcomes = batch_outcomes(result, len(items))
        except Exception as error:
            outcomes = [Outcome(False, error=error) for _ in items]
        finally:
            stdio.end_scope(user)
        try:
            await asyncio.gather(*(self._finish(p, outcome) for (p, _, _), outcome in zip(items, outcomes)))
        finally:
            for _, _, done in items:
                if not done.done():
                    done.set_result(None)

    async def _finish(self, p: "_Prepared", outcome: Outcome) -> None:
        """Sends a message's outcome (its output, or its ERROR), then acks (naks when publishing
        failed, so it is retried)."""
        scope, span, msg = p.scope, p.span, p.msg
        failed = False
        try:
            if not outcome.ok:
                raise outcome.error
            result = outcome.value
            if result is not None:
                if scope.v1_early_exit:
                    scope.early_exit(result, "the return value")
                elif not scope.exited:
                    scope.output(result, "", "the return value")
            elif self.mod.era in ("v1", "dict") and scope.v1_early_exit:
                scope.warn(f"ctx.early_exit() was called but the handler returned nothing: request {p.request_id} gets no answer from this node")
            scope.close()
            await scope.flush()
            await msg.ack()
        except TransientPublishError as error:
            scope.close()
            failed = True
            if span is not None:
                span.fail(str(error))
            log.warning("%s; message %s will be redelivered", error, p.seq)
            await _quietly(msg.nak(delay=1))
        except Exception as error:
            scope.close()
            failed = True
            text = f'node "{self.env.node_id}" failed on a message from "{p.from_node}": {error_text(error)}'
            detail = text
            if not isinstance(error, HandlerTimeoutError):
                detail = f"{text}\n{''.join(traceback.format_exception(error)).rstrip()}"
            self.obs.log("ERROR", detail, "RUNNER", p.request_id)
            if span is not None:
                span.fail(text)
            await scope.fail(text)
            await _quietly(msg.ack())
        finally:
            scope.close()
            stdio.end_scope(p.user)
            if span is not None:
                span.end()
            self.obs.metric(p.from_node, (time.perf_counter() - p.started) * 1000, failed)

    def _as_dict(self, payload) -> Any:
        """A payload as kre-py's dict-era handlers got it (KRE's entrypoint used protobuf_to_dict)."""
        if payload is None or not payload.type_url:
            return {}
        name = codec.type_name_of(payload.type_url)
        if name in (codec.STRUCT, codec.VALUE, codec.BYTES_VALUE):
            return codec.unpack_plain(payload)
        cls = self.types.message_class(name) if self.types is not None else None
        if cls is None:
            cls = _default_pool_class(name)
        if cls is None:
            raise LookupError(
                f"cannot give this dict-API node (kre-py before 1.23) a {name} payload as a dict: the type is in "
                f"neither the version's proto (KRT_ENTRYPOINT_PROTO) nor the node's generated code"
            )
        msg = cls()
        msg.ParseFromString(payload.value)
        from .protofile import message_to_dict

        return message_to_dict(msg)

    # -- stop

    async def stop(self) -> None:
        """SIGTERM: stop taking messages, finish those in flight (up to the handler timeout)."""
        self.stopping = True
        self.interest.stop()
        if self.batcher is not None:
            # A batch being formed gets no further message: hand it out now, not at its timer.
            self.batcher.flush()
        self.slots.close()
        for spec in self.inputs:
            spec.freed.set()
        for event in list(self._wake):
            event.set()
        # Without interest on their reply subjects, the server drops the open pull requests: no
        # more messages come to this replica (one still on the wire is nak'ed by on_message).
        for sub in list(self._subs):
            await _quietly(sub.unsubscribe())
        pending = list(self.in_flight)
        if pending:
            log.info("finishing %d message(s) in flight", len(pending))
            await asyncio.wait(pending, timeout=self.env.handler_timeout + 2)
        for task in self._binders:
            task.cancel()
        await self.obs.close()
        stdio.detach()


def _default_pool_class(name: str):
    from google.protobuf import descriptor_pool, message_factory

    try:
        desc = descriptor_pool.Default().FindMessageTypeByName(name)
    except KeyError:
        return None
    get = getattr(message_factory, "GetMessageClass", None)
    return get(desc) if get else message_factory.MessageFactory(descriptor_pool.Default()).GetPrototype(desc)


def _call_sync(fn, *args) -> Any:
    try:
        return fn(*args)
    except SystemExit as error:
        raise RuntimeError(f"the handler called sys.exit({error.code!r})") from None


async def _call(fn, *args) -> Any:
    try:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = await result
        return result
    except SystemExit as error:
        raise RuntimeError(f"the handler called sys.exit({error.code!r})") from None


class _KeepWorking:
    """In-progress acks every `every` seconds while a handler runs (a timer, not a task)."""

    __slots__ = ("msg", "every", "handle", "loop")

    def __init__(self, msg, every: float):
        self.msg = msg
        self.every = every
        self.loop = asyncio.get_running_loop()
        self.handle = self.loop.call_later(every, self._tick)

    def _tick(self) -> None:
        self.loop.create_task(_quietly(self.msg.in_progress()))
        self.handle = self.loop.call_later(self.every, self._tick)

    def cancel(self) -> None:
        self.handle.cancel()


async def _quietly(awaitable) -> None:
    try:
        await awaitable
    except Exception as error:
        log.debug("ignored: %s", error)



def stream_sequence(msg) -> int:
    """The message's stream sequence, read straight from its ack subject (nats-py's `metadata`
    builds a whole object per message: a few percent of a replica's CPU). Both ack formats:
    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.…` (9 tokens) and the domain form
    `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.…` (12 or more)."""
    try:
        tokens = (msg.reply or "").split(".")
        if len(tokens) == 9:
            return int(tokens[5])
        if len(tokens) >= 12:
            return int(tokens[7])
        return msg.metadata.sequence.stream
    except Exception:
        return 0
