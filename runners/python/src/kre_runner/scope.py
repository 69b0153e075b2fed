"""The sends of one message (apps/runner/src/message.scope.ts; docs/data-plane.md, "How messages
travel"): OK outputs are held until the handler returns, then published (a handler that raises
sends nothing downstream); EARLY_REPLY and EARLY_EXIT go to `kre-reply-to` at once; after an
EARLY_EXIT nothing further flows from this node; ERROR goes to `kre-reply-to` only."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from google.protobuf import any_pb2

from . import codec

CHANNEL = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_ERROR_TEXT = 8 * 1024


class TransientPublishError(Exception):
    """Publishing an output failed for a reason a retry may fix (NATS down, no PubAck)."""

    def __init__(self, subject: str, cause: BaseException):
        super().__init__(f"cannot publish to {subject}: {cause or type(cause).__name__}")


class SendAfterFinishError(RuntimeError):
    pass


@dataclass
class ScopeDeps:
    nc: Any
    js: Any
    node_id: str
    output: str
    is_exitpoint: bool
    payload_limit: int
    has_interest: Callable[[str], bool]
    # The version's config values masked: an error's text reaches the caller and the entrypoint's
    # logs (which VIEWERs read), so it leaves the workload masked like its records.
    mask: Callable[[str], str] = lambda text: text


@dataclass
class _Out:
    subject: str
    data: bytes
    reply: bool


class MessageScope:
    def __init__(
        self,
        deps: ScopeDeps,
        request_id: str,
        reply_to: Optional[str],
        headers: dict[str, str],
        msg_id_base: str,
        warn: Callable[[str], None],
    ):
        self.deps = deps
        self.request_id = request_id
        self.reply_to = reply_to
        self.headers = headers
        self.msg_id_base = msg_id_base
        self.warn = warn
        self._outputs: list[_Out] = []
        self._replies: list[asyncio.Task] = []
        self.exited = False
        self.replied = False
        # kre-py v1's ctx.early_exit(): the handler's return value goes to the client as EARLY_EXIT.
        self.v1_early_exit = False
        self.closed = False

    def _encode(self, kind: int, payload: Optional[any_pb2.Any] = None, error: str = "") -> bytes:
        data = codec.encode_envelope(self.request_id, self.deps.node_id, kind, payload=payload, error=error)
        return codec.compress_to_fit(
            data,
            self.deps.payload_limit,
            f'the {codec.MESSAGE_TYPE_NAMES[kind]} message of node "{self.deps.node_id}"',
        )

    def _usable(self, what: str) -> bool:
        if self.closed:
            raise SendAfterFinishError(f"{what} after the handler finished (or timed out) is not sent: await your sends")
        if self.exited:
            self.warn(f"{what} after an early exit is ignored: nothing further flows for request {self.request_id}")
            return False
        return True

    def output(self, value: Any, channel: str = "", what: str = "send_output") -> None:
        if not self._usable(what):
            return
        if channel and (not isinstance(channel, str) or not CHANNEL.match(channel)):
            raise ValueError(f'channel {channel!r} must be letters, digits, "_" or "-"')
        payload = codec.pack(value, what)
        self._outputs.append(
            _Out(
                f"{self.deps.output}.{channel}" if channel else self.deps.output,
                self._encode(codec.OK, payload),
                self.deps.is_exitpoint and not channel,
            )
        )

    def early_reply(self, value: Any, what: str = "send_early_reply") -> None:
        if not self._usable(what):
            return
        self.replied = True
        self._reply(self._encode(codec.EARLY_REPLY, codec.pack(value, what)))

    def early_exit(self, value: Any, what: str = "send_early_exit") -> None:
        if not self._usable(what):
            return
        data = self._encode(codec.EARLY_EXIT, codec.pack(value, what))
        self.exited = True
        self._outputs = []
        self._reply(data)

    def _reply(self, data: bytes) -> None:
        if not self.reply_to:
            self.warn(f"request {self.request_id} has no kre-reply-to header: the answer has nowhere to go")
            return
        task = asyncio.get_running_loop().create_task(self.deps.nc.publish(self.reply_to, data, headers=self.headers))
        self._replies.append(task)

    async def flush(self) -> None:
        """Publishes the held outputs (the exitpoint's main output also answers the client).
        @raises TransientPublishError when JetStream does not take one: retry the input."""
        outputs, self._outputs = ([] if self.exited else self._outputs), []
        for out in outputs:
            if out.reply:
                self._reply(out.data)
        await self._settle_replies()
        for i, out in enumerate(outputs):
            # The exitpoint's answer went to kre-reply-to; on JetStream it only matters if a node reads it.
            if out.reply and not self.deps.has_interest(out.subject):
                continue
            headers = dict(self.headers)
            headers["Nats-Msg-Id"] = f"{self.msg_id_base}:{i}"
            try:
                await self.deps.js.publish(out.subject, out.data, timeout=5, headers=headers)
            except Exception as error:
                raise TransientPublishError(out.subject, error) from error

    async def _settle_replies(self) -> None:
        replies, self._replies = self._replies, []
        for task in replies:
            try:
                await task
            except Exception as error:
                self.warn(f"cannot answer request {self.request_id} on {self.reply_to}: {error}")

    async def fail(self, text: str) -> None:
        """Answers the client with an ERROR; nothing is published downstream."""
        self._outputs = []
        # Masked whole, then cut: a value across the cut is masked too.
        text = self.deps.mask(text)
        error = text if len(text) <= MAX_ERROR_TEXT else f"{text[:MAX_ERROR_TEXT]}… (truncated)"
        self._reply(self._encode(codec.ERROR, error=error))
        await self._settle_replies()

    def close(self) -> None:
        self.closed = True
