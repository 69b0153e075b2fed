"""What user code prints becomes log records (apps/runner/src/stdio.capture.ts).

sys.stdout and sys.stderr are replaced by tees: everything still reaches the real streams, and
complete lines written while user code runs (a handler, `init`, the module's top level; marked
by a context variable that asyncio tasks and `asyncio.to_thread` inherit) also go to the sink.
"""

from __future__ import annotations

import contextvars
import sys
from typing import Callable, Optional, TextIO

MAX_PENDING = 1000


class UserScope:
    """One run of user code: its request id and the partial lines it printed."""

    __slots__ = ("request_id", "partial")

    def __init__(self, request_id: Optional[str] = None):
        self.request_id = request_id
        self.partial = {"STDOUT": "", "STDERR": ""}


current: contextvars.ContextVar[Optional[UserScope]] = contextvars.ContextVar("kre_user_scope", default=None)
Sink = Callable[[str, str, Optional[str]], None]

_sink: Optional[Sink] = None
_pending: list[tuple[str, str, Optional[str]]] = []
_raw_stdout: TextIO = sys.stdout
_raw_stderr: TextIO = sys.stderr
_masker = None  # masking.ConfigMasker: the version's config values read *** in all output


def mask_output(masker) -> None:
    """Masks the version's config values in everything written to stdout and stderr from now on."""
    global _masker
    _masker = None if masker.empty else masker


def _emit(line: str, stream: str, request_id: Optional[str]) -> None:
    line = line.rstrip("\r")
    if not line.strip():
        return
    if _sink is not None:
        try:
            _sink(line, stream, request_id)
        except Exception:  # a broken sink must not break user code
            pass
    elif len(_pending) < MAX_PENDING:
        _pending.append((line, stream, request_id))


class _Tee:
    def __init__(self, raw: TextIO, name: str):
        self._raw = raw
        self._name = name

    def write(self, text) -> int:
        if _masker is not None and isinstance(text, str):
            text = _masker.mask(text)
        n = self._raw.write(text)
        scope = current.get()
        if scope is not None and isinstance(text, str) and text:
            buffered = scope.partial[self._name] + text
            *lines, rest = buffered.split("\n")
            scope.partial[self._name] = rest
            for line in lines:
                _emit(line, self._name, scope.request_id)
        return n

    def flush(self) -> None:
        self._raw.flush()

    def __getattr__(self, name):
        return getattr(self._raw, name)


def install() -> None:
    """Tees sys.stdout and sys.stderr (once, before any user code runs)."""
    global _raw_stdout, _raw_stderr
    if isinstance(sys.stdout, _Tee):
        return
    _raw_stdout, _raw_stderr = sys.stdout, sys.stderr
    sys.stdout = _Tee(_raw_stdout, "STDOUT")  # type: ignore[assignment]
    sys.stderr = _Tee(_raw_stderr, "STDERR")  # type: ignore[assignment]


def end_scope(scope: UserScope) -> None:
    """Emits what a finished run of user code left without a final newline."""
    for name, rest in scope.partial.items():
        if rest:
            scope.partial[name] = ""
            _emit(rest, name, scope.request_id)


def attach(sink: Sink) -> None:
    """Where captured lines go from now on (earlier ones first)."""
    global _sink, _pending
    _sink = sink
    earlier, _pending = _pending, []
    for line, stream, request_id in earlier:
        _emit(line, stream, request_id)


def detach() -> None:
    global _sink
    _sink = None


class _Masked:
    """The real stream, with the version's config values masked (the runner's own writes)."""

    def __init__(self, raw: TextIO):
        self._raw = raw

    def write(self, text) -> int:
        if _masker is not None and isinstance(text, str):
            text = _masker.mask(text)
        return self._raw.write(text)

    def __getattr__(self, name):
        return getattr(self._raw, name)


def raw_stdout() -> TextIO:
    return _Masked(_raw_stdout)  # type: ignore[return-value]


def raw_stderr() -> TextIO:
    return _Masked(_raw_stderr)  # type: ignore[return-value]
