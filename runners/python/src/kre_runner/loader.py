"""Loading a node's Python module as KRE did (kre-py `NodeRunner.load_handler`): the file
`KRT_BASE_PATH/KRT_HANDLER_PATH`, its folder (and the KRT root) appended to sys.path, executed
as module `worker`; the handler API era read from what the module defines."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from . import stdio

# Why a KRT's old generated code needs the pure-Python protobuf backend (python-api.md section 7).
OLD_GENCODE_ERROR = "be created directly"  # 4.21 says "cannot not be created directly"
PURE_PYTHON_ENV = "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"
REEXEC_MARK = "KRE_RUNNER_PROTOBUF_REEXEC"


class HandlerLoadError(Exception):
    """The node's code cannot run here; the message says why and what to do."""


@dataclass
class HandlerModule:
    # "v3" (default_handler / custom_handlers), "v1" (kre-py 1.23 - 2.x: `handler` gets an Any and
    # returns the output) or "dict" (kre-py before 1.23: `handler` gets and returns dicts)
    era: str
    module: Any
    init: Optional[Callable] = None
    handler: Optional[Callable] = None
    handlers: dict[str, Callable] = field(default_factory=dict)
    # `handler_batch(ctx, items)`: the node's KRT `batch` (kre_runner/batching.py).
    batch: Optional[Callable] = None

    def pick(self, from_node: str) -> Optional[Callable]:
        return self.handlers.get(from_node) or self.handler


def resolve_inside(base: str, rel: str, what: str) -> str:
    full = os.path.abspath(os.path.join(base, rel))
    root = os.path.abspath(base)
    if full != root and not full.startswith(root + os.sep):
        raise HandlerLoadError(f'{what} "{rel}" points outside the KRT ({base})')
    return full


_OLD_STYLE = re.compile(rb"_descriptor\.FileDescriptor\(.*?serialized_pb\s*=", re.S)


def has_old_gencode(dirs: list[str], limit: int = 2000) -> Optional[str]:
    """The first `*_pb2.py` under `dirs` written by protoc < 3.19 (descriptors built directly,
    which protobuf >= 4.21's C backend refuses), or None."""
    seen = 0
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
            for name in files:
                if not name.endswith("_pb2.py"):
                    continue
                seen += 1
                if seen > limit:
                    return None
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as f:
                        head = f.read(256 * 1024)
                except OSError:
                    continue
                if b"AddSerializedFile" not in head and _OLD_STYLE.search(head):
                    return path
    return None


def protobuf_needs_pure_python() -> bool:
    """Whether the installed protobuf (read without importing it) refuses old generated code."""
    from importlib import metadata

    try:
        version = metadata.version("protobuf")
    except metadata.PackageNotFoundError:
        return False
    parts = [int(p) if p.isdigit() else 0 for p in re.split(r"[.+-]", version)[:2]] + [0, 0]
    return (parts[0], parts[1]) >= (4, 21)


def _is_old_gencode_error(error: BaseException) -> bool:
    while error is not None:
        if OLD_GENCODE_ERROR in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def load_handler_module(base: str, handler_path: str) -> HandlerModule:
    """@raises HandlerLoadError for a missing file, a module that fails to load, or one that
    defines no handler of a known era."""
    if not handler_path.endswith(".py"):
        ext = os.path.splitext(handler_path)[1] or "(no extension)"
        raise HandlerLoadError(
            f'unsupported node source "{ext}": the Python runner runs .py files '
            "(JavaScript nodes run on the Node.js runner; KRE's compiled Go nodes are not supported)"
        )
    full = resolve_inside(base, handler_path, "the handler")
    if not os.path.isfile(full):
        raise HandlerLoadError(f"handler file not found: {full} (KRT_BASE_PATH + KRT_HANDLER_PATH)")
    for folder in (os.path.dirname(full), os.path.abspath(base)):
        if folder not in sys.path:
            sys.path.append(folder)
    spec = importlib.util.spec_from_file_location("worker", full)
    if spec is None or spec.loader is None:
        raise HandlerLoadError(f"cannot load {full} as a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get("worker")
    sys.modules["worker"] = module  # pickle and dataclasses find the module's own classes
    scope = stdio.UserScope()
    token = stdio.current.set(scope)
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        if previous is not None:
            sys.modules["worker"] = previous
        else:
            sys.modules.pop("worker", None)
        if isinstance(error, KeyboardInterrupt):
            raise
        if _is_old_gencode_error(error):
            raise OldGencodeError(error) from error
        raise
    finally:
        stdio.current.reset(token)
        stdio.end_scope(scope)
    return inspect_module(module, handler_path, os.path.dirname(full))


class OldGencodeError(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def _callable(module, name: str, handler_path: str) -> Optional[Callable]:
    value = getattr(module, name, None)
    if value is not None and not callable(value):
        raise HandlerLoadError(f"{handler_path}: `{name}` must be a function")
    return value


_PROTOBUF_USE = re.compile(rb"_pb2\b|\.Unpack\(|any_pb2|\.Pack\(")


def uses_protobuf(folder: str, limit: int = 500) -> bool:
    """Whether the node's code touches protobuf messages (kre-py 1.23+), read from the .py files
    of its folder: KRE's dict-era nodes (before 1.23) had no generated code and no Unpack."""
    seen = 0
    for root, subdirs, files in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
        for name in files:
            if not name.endswith(".py"):
                continue
            seen += 1
            if seen > limit:
                return True
            try:
                with open(os.path.join(root, name), "rb") as fh:
                    if _PROTOBUF_USE.search(fh.read(1024 * 1024)):
                        return True
            except OSError:
                continue
    return False


def inspect_module(module, handler_path: str, folder: Optional[str] = None) -> HandlerModule:
    mod = _inspect_module(module, handler_path, folder)
    mod.batch = _callable(module, "handler_batch", handler_path)
    return mod


def _inspect_module(module, handler_path: str, folder: Optional[str] = None) -> HandlerModule:
    init = _callable(module, "init", handler_path)
    default = _callable(module, "default_handler", handler_path)
    custom = getattr(module, "custom_handlers", None)
    handler = _callable(module, "handler", handler_path)
    if default is not None or custom is not None:
        custom = custom or {}
        if not isinstance(custom, dict) or not all(isinstance(k, str) and callable(v) for k, v in custom.items()):
            raise HandlerLoadError(f"{handler_path}: `custom_handlers` must be a dict {{\"<from node>\": handler}}")
        if default is None and not custom:
            raise HandlerLoadError(f"{handler_path}: `default_handler` is None and `custom_handlers` is empty")
        return HandlerModule("v3", module, init, default, dict(custom))
    if handler is not None:
        is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(getattr(handler, "__call__", None))
        # kre-py 1.1 (sync handler) and up to 1.22 (async handler, no protobuf in the node): dicts.
        if not is_async or (folder is not None and not uses_protobuf(folder)):
            return HandlerModule("dict", module, init, handler, {})
        return HandlerModule("v1", module, init, handler, {})
    if callable(getattr(module, "handler_batch", None)):
        # Only `handler_batch` (a batched node): messages come in lists, even of one.
        return HandlerModule("v3", module, init, None, {})
    raise HandlerLoadError(
        f"{handler_path} defines no handler: define `async def default_handler(ctx, data)` "
        "(kre-py v3; optionally `custom_handlers = {\"<from node>\": handler}`) "
        "or `async def handler(ctx, data)` returning the output (kre-py v1), "
        "or `async def handler_batch(ctx, items)` for a batched node"
    )


def reexec_with_pure_python() -> None:
    """Runs this process again with the pure-Python protobuf backend (once)."""
    env = dict(os.environ)
    env[PURE_PYTHON_ENV] = "python"
    env[REEXEC_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-P", "-m", "kre_runner", *sys.argv[1:]], env)
