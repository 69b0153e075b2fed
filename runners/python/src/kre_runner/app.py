"""The runner's composition root and lifetime (apps/runner/src/runner.composition.ts and
runner.module.ts): health server, NATS connection, the node's objects, SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

import nats

from .creds import credentials_callbacks
from .masking import ConfigMasker
from . import codec, stdio
from .context import ContextDeps, NodeLogger, ObsLogHandler
from .env import RunnerEnv, config_values
from .health import HealthServer
from .loader import HandlerModule
from .obs import ObsPublisher
from .runner import NodeRunner, StreamInterest
from .scope import ScopeDeps
from . import tracing
from .services import Configuration, DataClient, ObjectStore

log = logging.getLogger("kre_runner")
CONNECT_FOR = 60.0


def connect_options(env: RunnerEnv, on_reconnected=None) -> dict:
    """nats.connect's arguments: KRT_NATS_CREDS (a `.creds` file) and KRT_NATS_INBOX_PREFIX (the
    workload may only receive replies under it) when set."""

    async def on_error(error):
        log.warning("NATS: %s", error)

    async def on_disconnect():
        log.warning("NATS: disconnected")

    async def on_reconnect():
        log.info("NATS: reconnected")
        if on_reconnected is not None:
            on_reconnected()

    options = dict(
        servers=[s.strip() for s in env.nats_server.split(",") if s.strip()],
        name=f"runner-{env.runtime_id}-{env.version}-{env.workflow}-{env.node_id}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )
    if env.nats_creds:
        user_jwt_cb, signature_cb = credentials_callbacks(env.nats_creds)
        options["user_jwt_cb"] = user_jwt_cb
        options["signature_cb"] = signature_cb
    if env.nats_inbox_prefix:
        options["inbox_prefix"] = env.nats_inbox_prefix
    return options


async def connect(env: RunnerEnv, on_reconnected=None, stop: asyncio.Event | None = None):
    """Connects (nats-py keeps trying while the server is down: reconnects are unlimited) until
    CONNECT_FOR seconds pass or the process is asked to stop.
    @raises RuntimeError saying why there is no connection."""
    options = connect_options(env, on_reconnected)
    attempt = asyncio.ensure_future(nats.connect(**options))
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    waiting = {attempt} | ({stopping} if stopping else set())
    try:
        await asyncio.wait(waiting, timeout=CONNECT_FOR, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if stopping:
            stopping.cancel()
    if attempt.done():
        error = attempt.exception()
        if error is None:
            return attempt.result()
        raise RuntimeError(f"cannot connect to NATS at {env.nats_server}: {error or type(error).__name__}") from error
    attempt.cancel()
    why = "stopped before NATS could be reached" if stop is not None and stop.is_set() else f"no connection within {CONNECT_FOR:g} s"
    raise RuntimeError(f"cannot connect to NATS at {env.nats_server}: {why}")


async def serve(env: RunnerEnv, mod: HandlerModule) -> int:
    who = f'node "{env.node_name}"'
    try:
        tracer = tracing.from_env(
            {"kre.runtime": env.runtime_id, "kre.version": env.version, "kre.workflow": env.workflow, "kre.node": env.node_id}
        )
    except tracing.InvalidTracingEnvError as error:
        log.error("runner: invalid environment: %s", error)
        return 78
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    holder: dict = {}

    def nats_up():
        nc = holder.get("nc")
        return (bool(nc and nc.is_connected), "")

    def consumers():
        r = holder.get("runner")
        return r.readiness() if r else (False, "starting")

    health = HealthServer(env.listen_host, env.health_port, {"nats": nats_up, "consumers": consumers})
    try:
        await health.start()
    except OSError as error:
        log.error("runner: %s cannot serve health on %s:%s: %s", who, env.listen_host, env.health_port, error)
        return 1

    try:
        nc = await connect(env, lambda: holder["runner"].reconnected() if "runner" in holder else None, stop)
    except RuntimeError as error:
        log.error("runner: %s cannot start: %s", who, error)
        await health.close()
        return 1
    holder["nc"] = nc
    if tracer is not None:
        # Relayed spans (KRT_NATS_TRACES_SUBJECT) leave over this connection; flushed at stop.
        tracer.attach(nc, codec.payload_limit(nc.max_payload))
    js = nc.jetstream()
    jsm = nc.jsm()
    obs = ObsPublisher(
        nc,
        js,
        env.obs_prefix,
        {
            "runtime_id": env.runtime_id,
            "version": env.version,
            "workflow": env.workflow,
            "node": env.node_id,
            "replica": f"{socket.gethostname()}-{os.getpid()}",
        },
    )
    config = config_values(env)
    # The version's config never leaves in clear: not in records, not on stdout or stderr.
    masker = ConfigMasker.of_workload(config, env.config_files_dir)
    obs.masker = masker
    stdio.mask_output(masker)
    deps = ContextDeps(
        env,
        obs,
        Configuration(js, {"node": env.kv_node, "workflow": env.kv_workflow, "project": env.kv_project}),
        ObjectStore(js, env.object_store),
        DataClient(nc, env.data_prefix),
        config,
    )
    handler = ObsLogHandler(obs, env.node_id, deps.logger.name)
    if type(deps.logger) is logging.Logger:
        deps.logger.__class__ = NodeLogger  # its plain calls skip the stdlib's record path
    if isinstance(deps.logger, NodeLogger):
        deps.logger.fast_handler = handler
    root = logging.getLogger()
    before = root.handlers[:]
    root.handlers[:] = [handler]
    deps.logger.setLevel(logging.DEBUG)
    interest = StreamInterest(jsm, env.stream)
    scope = ScopeDeps(
        nc=nc,
        js=js,
        node_id=env.node_id,
        output=env.output,
        is_exitpoint=env.is_exitpoint,
        payload_limit=codec.payload_limit(nc.max_payload),
        has_interest=interest.has,
        mask=masker.mask,
    )
    runner = NodeRunner(env, nc, js, jsm, mod, obs, deps, scope, interest)
    runner.tracer = tracer
    code = 0
    try:
        await runner.start()
        holder["runner"] = runner
        await stop.wait()
        log.info("stopping: finishing the messages in flight")
        await runner.stop()
        if tracer is not None:
            await tracer.close()
    except RuntimeError as error:
        log.error("runner: %s cannot start: %s", who, error)
        code = 1
    finally:
        root.handlers[:] = before
        try:
            await asyncio.wait_for(nc.drain(), timeout=5)
        except Exception:
            await _close(nc)
        await health.close()
    return code


async def _close(nc) -> None:
    try:
        await nc.close()
    except Exception:
        pass
