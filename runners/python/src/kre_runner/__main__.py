"""`python -P -m kre_runner` (cwd = KRT_BASE_PATH): runs one node replica until SIGTERM.

Exit codes: 0 after a graceful stop; 78 for a wrong environment (every problem listed); 1 when
the node's module cannot be loaded, `init` fails, or NATS cannot be reached.
"""

import os
import sys

# `python -m` puts the working directory (the KRT) first on sys.path: a tenant's `nats.py`,
# `google/` or `proto/` would shadow the runner's own imports. The KRT folders are appended
# later, after every module the runner needs is imported.
_cwd = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", ".", _cwd)]


def _die(line: str, code: int = 1) -> "NoReturn":  # noqa: F821
    sys.stderr.write(line.rstrip("\n") + "\n")
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    from . import env as env_module

    try:
        env = env_module.load_env()
    except env_module.InvalidEnvError as error:
        _die(str(error), 78)

    from . import loader, stdio

    stdio.install()
    who = f'node "{env.node_name}" (src {env.handler_path})'
    # Old generated code (protoc < 3.19) only loads on the pure-Python protobuf backend, which must
    # be chosen before google.protobuf is first imported.
    if (
        not os.environ.get(loader.PURE_PYTHON_ENV)
        and not os.environ.get("KRE_RUNNER_NO_PRESCAN")  # tests: prove the re-exec path alone
        and loader.protobuf_needs_pure_python()
    ):
        try:
            full = loader.resolve_inside(env.base_path, env.handler_path, "the handler")
            old = loader.has_old_gencode([os.path.dirname(full)] + ([env.base_path] if os.path.dirname(full) != os.path.abspath(env.base_path) else []))
        except loader.HandlerLoadError:
            old = None
        if old:
            os.environ[loader.PURE_PYTHON_ENV] = "python"

    import logging

    # The runner's own lines go to stderr; the root logger is left to the node's code (app.py
    # routes it to log records once NATS is up; until then, stderr).
    own = logging.getLogger("kre_runner")
    own_handler = logging.StreamHandler(stdio.raw_stderr())
    own_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    own.addHandler(own_handler)
    own.setLevel(logging.INFO)
    own.propagate = False
    logging.basicConfig(level=logging.INFO, stream=stdio.raw_stderr(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # Everything the runner itself needs, imported before the KRT's folders join sys.path.
    import nats  # noqa: F401
    import nats.js.kv  # noqa: F401
    import nats.js.object_store  # noqa: F401
    from . import codec, context, health, obs, protofile, protos, runner, scope, services, tracing  # noqa: F401

    try:
        module = loader.load_handler_module(env.base_path, env.handler_path)
    except loader.OldGencodeError as error:
        if os.environ.get(loader.REEXEC_MARK) or os.environ.get(loader.PURE_PYTHON_ENV) == "python":
            _die(f"runner: {who}: cannot load the handler: {error}")
        logging.getLogger("kre_runner").info(
            "the KRT's generated protobuf code predates protoc 3.19: running again with the pure-Python protobuf backend"
        )
        loader.reexec_with_pure_python()
    except loader.HandlerLoadError as error:
        _die(f"runner: {who}: {error}")
    except BaseException as error:  # the module's own exception: SyntaxError, ImportError, ...
        import traceback

        stdio.raw_stderr().write("".join(traceback.format_exception(error)))
        _die(f"runner: {who}: cannot load the handler: {type(error).__name__}: {error}")

    import asyncio

    from .app import serve

    # uvloop's event loop where it is installed (Linux): a fifth less CPU per message than
    # asyncio's own (bench:dataplane); the KRT's folders come after site-packages on sys.path,
    # so a tenant's `uvloop.py` cannot stand in for it.
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        code = run(serve(env, module))
    except KeyboardInterrupt:
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
