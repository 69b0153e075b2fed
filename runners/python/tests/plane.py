"""A test data plane: provisions one workflow (stream, durable consumers, KV buckets, object
store, observability stream) with the settings libs/messaging/src/workflow-streams.ts uses,
builds a runner's workload env, runs runners as processes and watches what they publish."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import nats
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StreamConfig,
)

from kre_runner import codec, protos

from conftest import free_port

_ids = itertools.count(1)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Node:
    name: str
    subscriptions: list[str]  # "entrypoint", "<node>" or "<node>.<channel>"


@dataclass
class Seen:
    subject: str
    headers: dict
    envelope: codec.Envelope
    raw: bytes


class Plane:
    def __init__(self, url: str, nodes: list[Node], ack_wait: float = 1.0, max_deliver: int = 2):
        n = next(_ids)
        self.url = url
        self.prefix = f"t{n}{uuid.uuid4().hex[:4]}"
        self.rt, self.ver, self.wf = "rt", "v1", "wf"
        self.nodes = nodes
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self.stream = f"{self.prefix.upper()}_{self.rt}_{self.ver}_{self.wf}"
        self.root = f"{self.prefix}.{self.rt}.wf.{self.ver}.{self.wf}"
        self.obs_prefix = f"{self.prefix}.{self.rt}.obs"
        self.data_prefix = f"{self.prefix}.{self.rt}.data"
        self.reply_to = f"{self.prefix}.{self.rt}.reply.{self.ver}.test"
        self.seen: list[Seen] = []
        self.records: dict[str, list[bytes]] = {}
        self.nc = None
        self.js = None

    def subject(self, node: str, channel: str | None = None) -> str:
        if node == "entrypoint":
            return f"{self.root}.entrypoint"
        return f"{self.root}.{node}.{channel}" if channel else f"{self.root}.{node}"

    def consumer(self, node: str, sub: str) -> str:
        return f"{node}_{sub.replace('.', '_')}"

    def bucket(self, scope: str, node: str = "") -> str:
        base = f"{self.prefix}_{self.rt}_{self.ver}"
        return {"project": base, "workflow": f"{base}_{self.wf}", "node": f"{base}_{self.wf}_{node}"}[scope]

    async def connect(self):
        self.nc = await nats.connect(self.url)
        self.js = self.nc.jetstream()
        return self

    async def provision(self):
        js = self.js
        await js.add_stream(
            StreamConfig(
                name=self.stream,
                subjects=[f"{self.root}.>"],
                retention=RetentionPolicy.INTEREST,
                max_age=3600,
                duplicate_window=120,
                discard=DiscardPolicy.OLD,
                allow_direct=True,
            )
        )
        for node in self.nodes:
            for sub in node.subscriptions:
                src, _, channel = sub.partition(".")
                await js.add_consumer(
                    self.stream,
                    ConsumerConfig(
                        durable_name=self.consumer(node.name, sub),
                        filter_subject=self.subject(src, channel or None),
                        ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_wait=self.ack_wait,
                        max_ack_pending=1000,
                        max_deliver=self.max_deliver,
                    ),
                )
        await js.add_stream(
            StreamConfig(name=f"{self.prefix.upper()}_{self.rt}_OBS", subjects=[f"{self.obs_prefix}.>"], allow_direct=True)
        )
        await js.create_key_value(bucket=self.bucket("project"))
        await js.create_key_value(bucket=self.bucket("workflow"))
        for node in self.nodes:
            await js.create_key_value(bucket=self.bucket("node", node.name))
        await js.create_object_store(bucket=f"{self.prefix}_{self.rt}_{self.ver}_store")
        return self

    async def watch(self, *subjects: str):
        """Records every envelope seen on the reply subject and the given subjects."""

        async def record(msg):
            try:
                env = codec.decode_envelope(codec.decompress_if_needed(msg.data))
            except codec.InvalidMessageError:
                return
            self.seen.append(Seen(msg.subject, dict(msg.headers or {}), env, msg.data))

        for s in (self.reply_to, *subjects):
            await self.nc.subscribe(s, cb=record)

        async def on_record(msg):
            self.records.setdefault(msg.subject.rsplit(".", 1)[-1], []).append(msg.data)

        await self.nc.subscribe(f"{self.obs_prefix}.>", cb=on_record)
        await self.nc.flush()

    def env(self, node: str, krt: Path, handler: str, **extra: str) -> dict[str, str]:
        spec = next(n for n in self.nodes if n.name == node)
        inputs = ",".join(f"{self.subject(*(s.split('.', 1)))}={self.consumer(node, s)}" for s in spec.subscriptions)
        env = {
            "KRT_RUNTIME_ID": self.rt,
            "KRT_VERSION": self.ver,
            "KRT_VERSION_ID": "vid-1",
            "KRT_NATS_SERVER": self.url,
            "KRT_BASE_PATH": str(krt),
            "KRT_HEALTH_PORT": str(free_port()),
            "KRT_NATS_OBS_PREFIX": self.obs_prefix,
            "KRT_NATS_DATA_PREFIX": self.data_prefix,
            "KRT_WORKFLOW_NAME": self.wf,
            "KRT_NODE_NAME": f"Node {node}",
            "KRT_NODE_ID": node,
            "KRT_HANDLER_PATH": handler,
            "KRT_NATS_STREAM": self.stream,
            "KRT_NATS_INPUTS": inputs,
            "KRT_NATS_OUTPUT": self.subject(node),
            "KRT_NATS_KEY_VALUE_STORE_PROJECT": self.bucket("project"),
            "KRT_NATS_KEY_VALUE_STORE_WORKFLOW": self.bucket("workflow"),
            "KRT_NATS_KEY_VALUE_STORE_NODE": self.bucket("node", node),
            "KRT_HANDLER_TIMEOUT": "3",
        }
        env.update(extra)
        return env

    async def send(
        self,
        from_node: str,
        payload,
        to: Optional[str] = None,
        deadline: Optional[int] = None,
        with_reply: bool = True,
        raw: Optional[bytes] = None,
    ) -> str:
        request_id = str(uuid.uuid4())
        headers = {
            codec.H_REQUEST_ID: request_id,
            "traceparent": TRACEPARENT,
            codec.H_DEADLINE: str(deadline if deadline is not None else int(time.time() * 1000) + 30_000),
        }
        if with_reply:
            headers[codec.H_REPLY_TO] = self.reply_to
        data = raw if raw is not None else codec.encode_envelope(request_id, from_node, codec.OK, codec.pack(payload))
        await self.js.publish(to or self.subject(from_node), data, headers=headers)
        return request_id

    def of(self, request_id: str, where: Optional[str] = None) -> list[Seen]:
        return [s for s in self.seen if s.envelope.request_id == request_id and (where is None or s.subject == where)]

    async def wait_for(self, request_id: str, where: str, count: int = 1, timeout: float = 10) -> list[Seen]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.of(request_id, where)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} message(s) for {request_id} on {where}, saw {self.of(request_id)}")

    async def ack_state(self, consumer: str) -> tuple[int, int]:
        info = await self.js.consumer_info(self.stream, consumer)
        return info.num_ack_pending, info.delivered.consumer_seq

    async def close(self):
        if self.nc:
            await self.nc.close()


def value(seen: Seen) -> Any:
    return codec.unpack_plain(seen.envelope.payload)


def records(plane: Plane, kind: str) -> list:
    cls = {"logs": protos.LogRecord, "metrics": protos.NodeMetric, "predictions": protos.Prediction, "measurements": protos.Measurement}[kind]
    out = []
    for data in plane.records.get(kind, []):
        r = cls()
        r.ParseFromString(data)
        out.append(r)
    return out


class RunnerProcess:
    """`python -P -m kre_runner` in the KRT folder, as the drivers start it."""

    def __init__(self, env: dict[str, str], cwd: Path, safe_path: bool = True):
        self.env = env
        self.out = tempfile.NamedTemporaryFile(prefix="runner-out-", delete=False)
        self.err = tempfile.NamedTemporaryFile(prefix="runner-err-", delete=False)
        full = {k: v for k, v in os.environ.items() if not k.startswith("KRT_")}
        full.pop(PURE, None)
        full.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, *(["-P"] if safe_path else []), "-m", "kre_runner"],
            cwd=str(cwd),
            env=full,
            stdout=self.out,
            stderr=self.err,
        )

    @property
    def health(self) -> str:
        return f"http://127.0.0.1:{self.env['KRT_HEALTH_PORT']}"

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.health + path, timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    async def ready(self, timeout: float = 20) -> "RunnerProcess":
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"runner exited {self.proc.returncode}: {self.stderr()}")
            try:
                status, _ = await asyncio.to_thread(self.get, "/readyz")
                if status == 200:
                    return self
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"runner not ready: {self.stderr()}")

    def stderr(self) -> str:
        return Path(self.err.name).read_text(errors="replace")

    def stdout(self) -> str:
        return Path(self.out.name).read_text(errors="replace")

    async def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


PURE = "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"
