"""Module loading as KRE did it, and what happens when it cannot: a clear stderr line naming the
node, its src and the exception, and a non-zero exit within seconds (never a hang, kre#195)."""

import asyncio
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from kre_runner import codec
from plane import Node, Plane, RunnerProcess, value

KRT = pathlib.Path(__file__).parent / "krt"


def krt_with(files: dict[str, str]) -> pathlib.Path:
    d = pathlib.Path(tempfile.mkdtemp(prefix="kre-krt-"))
    for rel, text in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return d


def start_and_wait(env: dict, cwd: pathlib.Path, timeout: float = 15) -> tuple[int, str, float]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("KRT_")}
    full.update(env)
    started = time.time()
    p = subprocess.run(
        [sys.executable, "-P", "-m", "kre_runner"], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
    )
    return p.returncode, p.stderr, time.time() - started


def base_env(krt: pathlib.Path, handler: str, url: str = "nats://127.0.0.1:1") -> dict:
    plane = Plane(url, [Node("n", ["entrypoint"])])
    return plane.env("n", krt, handler)


BROKEN = {
    "syntax": ("src/n/main.py", "def default_handler(ctx, data)\n    pass\n", "SyntaxError"),
    "import": ("src/n/main.py", "import no_such_module_here\n", "ModuleNotFoundError: No module named 'no_such_module_here'"),
    "raises": ("src/n/main.py", "raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    "no handler": ("src/n/main.py", "def helper():\n    pass\n", "defines no handler"),
    "bad custom_handlers": ("src/n/main.py", "custom_handlers = {'a': 1}\n", "`custom_handlers` must be a dict"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_module_that_cannot_load_ends_the_start_with_one_clear_line(case):
    rel, text, expected = BROKEN[case]
    krt = krt_with({rel: text})
    code, err, took = start_and_wait(base_env(krt, rel), krt)
    last = err.strip().splitlines()[-1]
    assert code == 1 and took < 10
    assert last.startswith(f'runner: node "Node n" (src {rel}): ')
    assert expected in last


def test_missing_file_and_other_languages_are_refused():
    krt = krt_with({"src/n/main.go": "package main\n"})
    code, err, _ = start_and_wait(base_env(krt, "src/n/nope.py"), krt)
    assert code == 1 and "handler file not found" in err
    code, err, _ = start_and_wait(base_env(krt, "src/n/main.go"), krt)
    assert code == 1 and "KRE's compiled Go nodes are not supported" in err


def test_a_wrong_environment_lists_every_problem_and_exits_78():
    env = base_env(KRT, "v3/main.py")
    del env["KRT_NATS_STREAM"]
    env["KRT_NODE_ID"] = "Bad_Node"
    env["KRT_MAX_IN_FLIGHT"] = "0"
    env["KRT_NATS_INPUTS"] = "no-pair"
    env["KRT_NATS_CREDS"] = "/nonexistent/node.creds"
    code, err, _ = start_and_wait(env, KRT)
    assert code == 78
    for problem in ("KRT_NATS_STREAM: is required", "KRT_NODE_ID: must be a node slug", "KRT_MAX_IN_FLIGHT", "KRT_NATS_INPUTS", "KRT_NATS_CREDS: /nonexistent/node.creds is not a readable file"):
        assert problem in err


def test_sigterm_while_nats_is_unreachable_exits_promptly():
    krt = krt_with({"main.py": "async def default_handler(ctx, data):\n    pass\n"})
    env = base_env(krt, "main.py", "nats://127.0.0.1:1")
    full = {k: v for k, v in os.environ.items() if not k.startswith("KRT_")}
    full.update(env)
    p = subprocess.Popen([sys.executable, "-P", "-m", "kre_runner"], cwd=krt, env=full, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.terminate()
    started = time.time()
    _, err = p.communicate(timeout=10)
    assert time.time() - started < 3 and p.returncode == 1
    assert "cannot connect to NATS" in err


def test_init_failure_exits_non_zero(nats_server):
    krt = krt_with({"main.py": "def init(ctx):\n    raise ValueError('no model file')\n\nasync def default_handler(ctx, data):\n    pass\n"})
    code, err, took = start_and_wait(base_env(krt, "main.py", nats_server.url), krt)
    assert code == 1 and took < 10
    assert 'init() of node "n" failed' in err and "ValueError: no model file" in err


SHADOW = {
    # A tenant's own modules named like the runner's dependencies, at the KRT root (the cwd) and
    # beside the handler: the runner must not import them.
    "nats.py": "raise ImportError('tenant nats.py was imported by the runner')\n",
    "google/__init__.py": "raise ImportError('tenant google/ was imported by the runner')\n",
    "google/protobuf/__init__.py": "raise ImportError('tenant google/protobuf was imported')\n",
    "asyncio.py": "raise ImportError('tenant asyncio.py was imported')\n",
    "json.py": "raise ImportError('tenant json.py was imported')\n",
    "kre_runner.py": "raise ImportError('tenant kre_runner.py was imported')\n",
    "src/n/nats.py": "raise ImportError('tenant nats.py (node folder) was imported')\n",
    "src/n/proto/__init__.py": "",
    "src/n/proto/helper.py": "VALUE = 'tenant proto package'\n",
    "src/n/main.py": (
        "from proto.helper import VALUE\n\n"
        "async def default_handler(ctx, data):\n"
        "    await ctx.send_output({'value': VALUE})\n"
    ),
}


@pytest.mark.parametrize("safe_path", [True, False], ids=["python -P -m", "python -m"])
def test_tenant_modules_do_not_shadow_the_runner(nats_server, safe_path):
    # Without -P (PYTHONSAFEPATH) Python itself imports the KRT's `kre_runner.py` in place of
    # the runner before any of its code runs: the drivers run `python -P -m kre_runner`.
    krt = krt_with({k: v for k, v in SHADOW.items() if safe_path or k != "kre_runner.py"})

    async def go():
        plane = await Plane(nats_server.url, [Node("n", ["entrypoint"]), Node("sink", ["n"])]).connect()
        await plane.provision()
        await plane.watch(plane.subject("n"))
        runner = await RunnerProcess(plane.env("n", krt, "src/n/main.py"), krt, safe_path=safe_path).ready()
        try:
            rid = await plane.send("entrypoint", {"x": 1})
            [out] = await plane.wait_for(rid, plane.subject("n"))
            assert value(out) == {"value": "tenant proto package"}
        finally:
            assert await runner.stop() == 0
            await plane.close()
        assert "tenant" not in runner.stderr()

    asyncio.run(go())


def test_old_generated_code_found_at_load_reexecs_with_pure_python(nats_server):
    """Without the pre-scan, the import fails with "Descriptors cannot be created directly" and
    the runner runs itself again with the pure-Python backend."""
    krt = pathlib.Path(tempfile.mkdtemp(prefix="kre-krt-"))
    shutil.copytree(KRT / "old", krt / "src" / "g")

    async def go():
        plane = await Plane(nats_server.url, [Node("g", ["entrypoint"]), Node("sink", ["g"])]).connect()
        await plane.provision()
        await plane.watch(plane.subject("g"))
        runner = await RunnerProcess(plane.env("g", krt, "src/g/main.py", KRE_RUNNER_NO_PRESCAN="1"), krt).ready()
        try:
            from google.protobuf import any_pb2

            rid = await plane.send("entrypoint", any_pb2.Any(type_url="type.googleapis.com/greeter.Request", value=b"\n\x02Jo"))
            [out] = await plane.wait_for(rid, plane.subject("g"))
            assert out.envelope.payload.value == b"\n\x09Hello Jo!"
        finally:
            await runner.stop()
            await plane.close()
        from kre_runner.loader import protobuf_needs_pure_python

        if protobuf_needs_pure_python():  # protobuf 3.20 loads such code as it is
            assert "running again with the pure-Python protobuf backend" in runner.stderr()

    asyncio.run(go())
