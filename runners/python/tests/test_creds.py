"""KRT_NATS_CREDS against a real nats-server in operator mode (configured by the engine's own
scripts/nats-auth.ts): the runner's nonce signature (kre_runner/creds.py, PyNaCl) is accepted, a
damaged seed is refused, and so is a connection without credentials."""

import asyncio
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import nats
import pytest

from conftest import REPO, free_port, nats_server_binary
from kre_runner.creds import CredentialsError, credentials_callbacks

NODE = REPO / "node_modules/.bin/node"


@pytest.fixture(scope="module")
def operator_server():
    if not NODE.exists() or not (REPO / "dist/libs/naming/src/names.js").exists():
        pytest.fail("needs the project's Node and build (scripts/setup)")
    port, monitor = free_port(), free_port()
    d = pathlib.Path(tempfile.mkdtemp(prefix="kre-pytest-creds-"))
    script = str(REPO / "scripts/nats-auth.ts")
    subprocess.run([str(NODE), script, "server", str(d), str(port), str(monitor), str(d / "js")], check=True)
    subprocess.run([str(NODE), script, "engine", str(d), "kre"], check=True, cwd=REPO)
    proc = subprocess.Popen([nats_server_binary(), "-c", str(d / "nats.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, d
    proc.terminate()
    proc.wait(5)
    shutil.rmtree(d, ignore_errors=True)


def connect(port, creds=None, error_cb=None):
    options = dict(servers=[f"nats://127.0.0.1:{port}"], allow_reconnect=False, connect_timeout=3, max_reconnect_attempts=0)
    if error_cb:
        options["error_cb"] = error_cb
    if creds:
        user_jwt_cb, signature_cb = credentials_callbacks(str(creds))
        options.update(user_jwt_cb=user_jwt_cb, signature_cb=signature_cb)
    return nats.connect(**options)


def test_connects_with_its_credentials_and_holds_only_their_permissions(operator_server):
    port, d = operator_server

    async def go():
        # mongo-writer's identity: it may subscribe to data requests, publish nothing.
        errors = []

        async def on_error(e):
            errors.append(str(e))

        nc = await connect(port, d / "mongo-writer.creds", on_error)
        await nc.subscribe("kre.demo.data.find")
        await nc.flush()
        assert nc.is_connected
        await nc.publish("kre.demo.wf.v1.wf.entrypoint", b"x")
        await nc.flush()
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.05)
        assert any("permissions violation" in e.lower() for e in errors)
        await nc.close()

    asyncio.run(go())


def test_without_credentials_or_with_a_damaged_seed_it_is_refused(operator_server, tmp_path):
    port, d = operator_server
    with pytest.raises(Exception):
        asyncio.run(connect(port))
    damaged = tmp_path / "bad.creds"
    text = (d / "gateway.creds").read_text()
    seed = text.split("-----BEGIN USER NKEY SEED-----")[1].split("------END")[0].strip()
    damaged.write_text(text.replace(seed, seed[:-4] + ("AAAA" if not seed.endswith("AAAA") else "BBBB")))
    with pytest.raises(CredentialsError):
        credentials_callbacks(str(damaged))[1]("nonce")
