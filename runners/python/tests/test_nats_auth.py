"""A workload whose NATS permissions only allow replies under its own inbox prefix
(KRT_NATS_INBOX_PREFIX): pull deliveries, JetStream API replies, KV, object store and request
replies all come under it. KRT_NATS_CREDS signs in through kre_runner/creds.py."""

import asyncio
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from kre_runner.app import connect_options
from kre_runner.env import load_env
from plane import Node, Plane, RunnerProcess, value
from conftest import free_port, nats_server_binary

from conformance_pb2 import Req

KRT = pathlib.Path(__file__).parent / "krt"
INBOX = "_INBOX_rt"


@pytest.fixture(scope="module")
def locked_server():
    port = free_port()
    d = tempfile.mkdtemp(prefix="kre-pytest-auth-")
    conf = pathlib.Path(d, "nats.conf")
    conf.write_text(
        f"""
listen: 127.0.0.1:{port}
jetstream {{ store_dir: "{d}/js" }}
authorization {{
  users = [
    {{ user: admin, password: admin }}
    {{ user: runner, password: runner, permissions: {{
        publish: {{ allow: [">"] }}
        subscribe: {{ allow: ["{INBOX}.>"] }}
    }} }}
  ]
}}
"""
    )
    proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(5)
    shutil.rmtree(d, ignore_errors=True)


def test_runner_works_with_replies_only_under_its_inbox_prefix(locked_server):
    async def go():
        plane = await Plane(f"nats://admin:admin@127.0.0.1:{locked_server}", [Node("n", ["entrypoint"]), Node("sink", ["n"])]).connect()
        await plane.provision()
        await plane.watch(plane.subject("n"))
        await (await plane.js.key_value(plane.bucket("workflow"))).put("preset", b"p")
        env = plane.env(
            "n", KRT, "v3/main.py",
            KRT_NATS_SERVER=f"nats://runner:runner@127.0.0.1:{locked_server}",
            KRT_NATS_INBOX_PREFIX=INBOX,
            KRT_NATS_OBJECT_STORE=f"{plane.prefix}_{plane.rt}_{plane.ver}_store",
        )
        runner = await RunnerProcess(env, KRT).ready()
        try:
            for mode in ("echo", "config", "objects", "predict"):
                rid = await plane.send("entrypoint", Req(mode=mode, text="t"))
                [out] = await plane.wait_for(rid, plane.subject("n"))
                assert value(out), mode
            assert "permissions violation" not in runner.stderr()
        finally:
            await runner.stop()
            await plane.close()

    asyncio.run(go())


def test_without_the_prefix_the_same_permissions_refuse_it(locked_server):
    async def go():
        plane = await Plane(f"nats://admin:admin@127.0.0.1:{locked_server}", [Node("n", ["entrypoint"])]).connect()
        await plane.provision()
        env = plane.env("n", KRT, "v3/main.py", KRT_NATS_SERVER=f"nats://runner:runner@127.0.0.1:{locked_server}")
        runner = RunnerProcess(env, KRT)
        try:
            with pytest.raises(AssertionError):
                await runner.ready(timeout=4)
        finally:
            await runner.stop()
            await plane.close()
        assert "permissions violation" in runner.stderr()

    asyncio.run(go())


def test_creds_and_inbox_prefix_reach_nats_connect():
    plane = Plane("nats://127.0.0.1:4222", [Node("n", ["entrypoint"])])
    env = load_env(plane.env("n", KRT, "v3/main.py", KRT_NATS_CREDS=__file__, KRT_NATS_INBOX_PREFIX="_I_rt"))
    options = connect_options(env)
    # The JWT and the nonce signature come from the file (kre_runner/creds.py; test_creds.py signs
    # against a real operator-mode server).
    assert callable(options["user_jwt_cb"]) and callable(options["signature_cb"])
    assert options["inbox_prefix"] == "_I_rt"
    bare = connect_options(load_env(plane.env("n", KRT, "v3/main.py")))
    assert "user_jwt_cb" not in bare and "inbox_prefix" not in bare
