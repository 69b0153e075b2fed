"""The `ctx` a Python handler gets: kre-py's API of every era on one object
(docs/python-runner.md). v1 (`handler`): `set/get`, `await early_reply(msg)` (and `reply`),
sync `early_exit()`; v3 (`default_handler`): `send_output/send_any/send_early_reply/
send_early_exit(msg, channel="")`, `is_message_*()`, `get_request_id()`; both: `logger`,
`path`, `prediction`, `measurement`, `db`, `configuration`, `object_store`, `config`."""

from __future__ import annotations

import asyncio
import collections.abc
import logging
import os
from datetime import datetime
from types import MappingProxyType
from typing import Any, Optional

from google.protobuf import any_pb2

from . import codec, protos, stdio
from .obs import ObsPublisher, set_time
from .scope import MessageScope
from .services import Configuration, DataClient, ObjectStore

_LEVELS = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN", logging.ERROR: "ERROR"}
_INTERNAL_LOGGERS = ("kre_runner", "nats", "asyncio")


def _level(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    if levelno >= logging.INFO:
        return "INFO"
    return "DEBUG"


class ObsLogHandler(logging.Handler):
    """Python logging from user code (`ctx.logger`, or any logger while a handler runs) becomes
    LOGGER records, plus a JSON line on the real stdout (as the Node runner echoes ctx.logger)."""

    def __init__(self, obs: ObsPublisher, node_id: str, node_logger: str):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.obs = obs
        self.node_id = node_id
        self.node_logger = node_logger

    def emit(self, record: logging.LogRecord) -> None:
        scope = stdio.current.get()
        if record.name != self.node_logger and (scope is None or record.name.startswith(_INTERNAL_LOGGERS)):
            # Not the node's: a library's line outside a handler goes to stderr only.
            try:
                err = stdio.raw_stderr()
                err.write(f"{self.format(record)}\n")
                err.flush()
            except Exception:
                self.handleError(record)
            return
        try:
            text = record.getMessage()
            if record.exc_info:
                text = f"{text}\n{logging.Formatter().formatException(record.exc_info)}"
            fields = getattr(record, "fields", None)
            if fields is not None and not isinstance(fields, dict):
                fields = {"fields": str(fields)}
            request_id = scope.request_id if scope else None
            # Queued: the record and its stdout line go out after the handler's current turn.
            self.obs.log(_level(record.levelno), text, "LOGGER", request_id, fields, self.node_id)
        except Exception:
            self.handleError(record)


class NodeLogger(logging.Logger):
    """`ctx.logger`: a logging.Logger whose plain calls (`ctx.logger.info("...", *args)`, no
    exc_info, extra or stack_info) go straight to the ObsLogHandler's queue while that handler is
    the only one a record would reach (the runner's own set-up: nothing added to this logger or
    the root, no filters); otherwise, and for every other call, the standard path. The same
    record and echo either way, without the LogRecord, the caller lookup and the handler lock
    (bench:logging: most of what a call cost)."""

    fast_handler: Optional["ObsLogHandler"] = None

    def _log(self, level, msg, args, exc_info=None, extra=None, stack_info=False, stacklevel=1):
        h = self.fast_handler
        root = logging.getLogger()
        if (
            h is not None
            and exc_info is None
            and extra is None
            and not stack_info
            and not self.handlers
            and not self.filters
            and self.propagate
            and self.parent is root
            and root.handlers == [h]
            and not root.filters
            and not h.filters
            and level >= h.level
        ):
            try:
                if len(args) == 1 and isinstance(args[0], collections.abc.Mapping) and args[0]:
                    args = args[0]
                text = str(msg) % args if args else str(msg)
            except Exception:
                return super()._log(level, msg, args, exc_info, extra, stack_info, stacklevel + 1)
            scope = stdio.current.get()
            h.obs.log(_level(level), text, "LOGGER", scope.request_id if scope else None, None, h.node_id)
            return None
        return super()._log(level, msg, args, exc_info, extra, stack_info, stacklevel + 1)


class Prediction:
    ERR_MISSING_VALUES = "missing_values"
    ERR_NEW_LABELS = "new_labels"
    PREDICTION_ERRORS = [ERR_MISSING_VALUES, ERR_NEW_LABELS]
    _ENUM = {ERR_MISSING_VALUES: "PREDICTION_ERROR_MISSING_VALUES", ERR_NEW_LABELS: "PREDICTION_ERROR_NEW_LABELS"}

    def __init__(self, obs: ObsPublisher, request_id: Optional[str]):
        self._obs = obs
        self._request_id = request_id

    async def save(
        self,
        predicted_value: str = "",
        true_value: str = "",
        extra: Optional[dict] = None,
        utcdate: Optional[datetime] = None,
        error: str = "",
        date: Optional[datetime] = None,
    ) -> None:
        """kre-py's checks: `error` is ERR_MISSING_VALUES or ERR_NEW_LABELS, else both values
        are non-empty strings. Returns once the observability stream has the record."""
        if error != "" and error is not None:
            if error not in self.PREDICTION_ERRORS:
                raise ValueError(
                    f"[ctx.prediction.save] invalid value for metric error {error} "
                    f"should be one of '{','.join(self.PREDICTION_ERRORS)}'"
                )
        else:
            if not isinstance(predicted_value, str) or predicted_value == "":
                raise ValueError(
                    f"[ctx.prediction.save] invalid 'predicted_value'='{predicted_value}', must be a nonempty string"
                )
            if not isinstance(true_value, str) or true_value == "":
                raise ValueError(f"[ctx.prediction.save] invalid 'true_value'='{true_value}', must be a nonempty string")
        when = utcdate or date
        if when is not None:
            if not isinstance(when, datetime):
                raise TypeError("[ctx.prediction.save] utcdate must be a datetime")
            offset = when.utcoffset()
            if offset and offset.total_seconds() != 0:
                raise ValueError("Input date must be a UTC datetime")
        if extra is not None and not isinstance(extra, dict):
            raise TypeError("[ctx.prediction.save] extra must be a dict")
        record = protos.Prediction(
            predicted_value=predicted_value if isinstance(predicted_value, str) else "",
            true_value=true_value if isinstance(true_value, str) else "",
        )
        set_time(record.time, when)
        if self._request_id:
            record.request_id = self._request_id
        if error:
            record.error = protos.enum_value("kre.records.PredictionError", self._ENUM[error])
        if extra:
            codec.fill_struct(record.extra, extra, "extra")
        await self._obs.prediction(record)


class Measurement:
    PRECISION_S = "s"
    PRECISION_MS = "ms"
    PRECISION_US = "us"
    PRECISION_NS = "ns"
    _NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}

    def __init__(self, obs: ObsPublisher, request_id: Optional[str]):
        self._obs = obs
        self._request_id = request_id

    def save(self, measurement: str, fields: dict, tags: Optional[dict] = None, time: Any = None, precision: str = "ns"):
        """Stores a measurement (fields: numbers, booleans, strings). kre-py's `save` was
        synchronous: the record is sent at once; await the result to wait until it is stored."""
        if not isinstance(measurement, str) or not measurement:
            raise ValueError("[ctx.measurement.save] the measurement name must be a non-empty string")
        if not isinstance(fields, dict) or not fields:
            raise ValueError("[ctx.measurement.save] fields must be a non-empty dict")
        for key, value in fields.items():
            if not isinstance(value, (int, float, str, bool)):
                raise TypeError(
                    f"[ctx.measurement.save] field {key!r} is a {type(value).__name__}: fields are numbers, booleans or strings"
                )
        record = protos.Measurement(name=measurement)
        if isinstance(time, (int, float)) and not isinstance(time, bool):
            if precision not in self._NS:
                raise ValueError(f"[ctx.measurement.save] precision must be one of {', '.join(self._NS)}")
            set_time(record.time, int(time * self._NS[precision]))
        else:
            set_time(record.time, time)
        if self._request_id:
            record.request_id = self._request_id
        codec.fill_struct(record.fields, fields, "fields")
        for key, value in (tags or {}).items():
            record.tags[str(key)] = str(value)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # called from a thread (a synchronous handler): the runner's loop stores it
            future = asyncio.run_coroutine_threadsafe(self._obs.measurement(record), self._obs.loop)
            future.add_done_callback(_log_unawaited)
            return future
        task = asyncio.ensure_future(self._obs.measurement(record))
        task.add_done_callback(_log_unawaited)
        return task


def _log_unawaited(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger("kre_runner").warning("measurement not stored: %s", task.exception())


class ContextDeps:
    """What every context of one runner process shares."""

    def __init__(self, env, obs: ObsPublisher, configuration: Configuration, object_store: ObjectStore, db: DataClient, config: dict):
        self.env = env
        self.obs = obs
        self.configuration = configuration
        self.object_store = object_store
        self.db = db
        self.config = MappingProxyType(dict(config))
        self.logger = logging.getLogger(f"{env.version}-{env.node_name}")
        self.storage: dict[str, Any] = {}


class HandlerContext:
    def __init__(self, deps: ContextDeps, scope: Optional[MessageScope] = None, envelope: Optional[codec.Envelope] = None):
        self._deps = deps
        self._scope = scope
        self._envelope = envelope
        env = deps.env
        request_id = envelope.request_id if envelope else None
        self.logger = deps.logger
        self.prediction = Prediction(deps.obs, request_id)
        self.measurement = Measurement(deps.obs, request_id)
        self.db = deps.db
        self.configuration = deps.configuration
        self.object_store = deps.object_store
        self.config = deps.config
        self.runtime_id = env.runtime_id
        self.version = env.version
        self.version_id = env.version_id
        self.workflow = env.workflow
        self.node_id = env.node_id
        self.node_name = env.node_name

    # -- where the message is
    @property
    def request_id(self) -> Optional[str]:
        return self._envelope.request_id if self._envelope else None

    @property
    def from_node(self) -> Optional[str]:
        return self._envelope.from_node if self._envelope else None

    def get_request_id(self) -> str:
        return self.request_id or ""

    def get_from_node(self) -> str:
        return self.from_node or ""

    def _type(self) -> Optional[int]:
        return self._envelope.message_type if self._envelope else None

    def is_message_ok(self) -> bool:
        return self._type() == codec.OK

    def is_message_error(self) -> bool:
        return self._type() == codec.ERROR

    def is_message_early_reply(self) -> bool:
        return self._type() == codec.EARLY_REPLY

    def is_message_early_exit(self) -> bool:
        return self._type() == codec.EARLY_EXIT

    # -- files and per-process values
    def path(self, relative_path: str) -> str:
        """The absolute path of a file of the KRT (paths leaving the KRT are refused)."""
        base = os.path.realpath(self._deps.env.base_path)
        full = os.path.realpath(os.path.join(base, relative_path))
        if full != base and not full.startswith(base + os.sep):
            raise ValueError(f"path {relative_path!r} points outside the KRT ({self._deps.env.base_path})")
        return full

    def set(self, key: str, value: Any) -> None:
        """A value kept for the whole process (shared by every message, as in kre-py)."""
        self._deps.storage[key] = value

    def get(self, key: str) -> Any:
        try:
            return self._deps.storage[key]
        except KeyError:
            raise AttributeError(f"ctx.get({key!r}): no value was set with ctx.set({key!r}, ...)") from None

    # -- sends
    def _sink(self, what: str) -> MessageScope:
        if self._scope is None:
            raise RuntimeError(
                f"{what} is only available while handling a message, not in init() nor on handler_batch's "
                "own ctx (send through each item's ctx)"
            )
        return self._scope

    # The sends take effect at the call (as the Node runner's): a forgotten `await` still sends.
    # They return an already-finished awaitable, so `await ctx.send_output(...)` reads as kre-py's.

    def send_output(self, message: Any, channel: str = "") -> "_Sent":
        """Sends `message` on the node's output (`<output>.<channel>`) once the handler returns."""
        self._sink("send_output").output(message, channel, "send_output")
        return _SENT

    def send_any(self, any_message: any_pb2.Any, channel: str = "") -> "_Sent":
        """Forwards an Any unchanged."""
        self._sink("send_any").output(any_message, channel, "send_any")
        return _SENT

    def send_early_reply(self, message: Any, channel: str = "") -> "_Sent":
        """Answers the client now; the node's output still flows on (`channel` is not used: the
        answer goes straight to the entrypoint)."""
        self._sink("send_early_reply").early_reply(message, "send_early_reply")
        return _SENT

    def send_early_exit(self, message: Any, channel: str = "") -> "_Sent":
        """Answers the client now; nothing further flows for this request from this node."""
        self._sink("send_early_exit").early_exit(message, "send_early_exit")
        return _SENT

    # kre-py v1 (handler(ctx, data) returns the output)
    def early_reply(self, response: Any) -> "_Sent":
        scope = self._sink("early_reply")
        if scope.replied:
            raise RuntimeError("error the message was replied previously")
        scope.early_reply(response, "early_reply")
        return _SENT

    reply = early_reply  # its 2021 name

    def early_exit(self) -> None:
        """The handler's return value goes straight to the client (EARLY_EXIT)."""
        self._sink("early_exit").v1_early_exit = True

    # kre-py 1.1's names (Feb 2020)
    set_value = set
    get_value = get
    get_path = path


class _Sent:
    """What a send returns: awaiting it finishes at once (the send already happened)."""

    __slots__ = ()

    def __await__(self):
        return iter(())


_SENT = _Sent()
