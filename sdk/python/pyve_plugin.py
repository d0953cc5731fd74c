"""Write pyve plugins in Python: one file, standard library only, Python 3.8 and newer.

This module gives a Python plugin what the Rust SDK (``pyve-sdk``) gives a Rust one: it speaks
the plugin protocol (JSON-RPC 2.0, one message per line on stdin/stdout, protocol 1.0) exactly
as the Rust SDK does, and runs passthrough commands with the context pyve passes in the
environment. ``docs/protocol.md`` in the pyve repository is the normative description of the
protocol; you do not need it to write a plugin with this module.

A plugin is an executable file named ``pyve-<name>`` (``<name>`` matches ``[a-z][a-z0-9-]*``)
that pyve finds in ``PYVE_PLUGIN_PATH``, ``~/.pyve/plugins`` or ``PATH``. pyve runs it in two
ways:

* ``pyve <command> ARGS...`` runs ``pyve-<name> ARGS...`` (passthrough): your command function
  gets the arguments, prints what it likes and returns the exit code.
* ``pyve-<name> --pyve-rpc`` (RPC): pyve sends requests (``env/create``, ``hook/post-create``,
  ...) and your handlers answer them with dicts.

A complete plugin::

    #!/usr/bin/env python3
    import os
    import pyve_plugin as pp

    plugin = pp.Plugin("hello", "0.1.0", description="An example plugin: a command and a hook")

    @plugin.command("hello", summary="Say hello")
    def hello(inv: pp.Invocation) -> int:
        # inv.command is "hello", inv.args the arguments after it, inv.host what pyve passed.
        name = inv.args[0] if inv.args else None
        print("Hello, %s!" % name if name else "Hello from pyve %s!" % (inv.host.pyve_version or "?"))
        return 0

    @plugin.hook("post-create", description="Write hello.txt into new environments")
    def greet(cx: pp.Context, params: dict) -> dict:
        path = os.path.join(params["env_path"], "hello.txt")
        with open(path, "w") as f:
            f.write("hello from the %s backend\\n" % params["backend"])
        cx.info("wrote %s" % path)              # a $/log line the user sees
        return {"changed": True, "summary": "greeted the environment"}

    class Conda:                                 # a backend: create/describe/activation/remove
        def create(self, cx, params): ...        # and optionally doctor; each (cx, params) -> dict
        def describe(self, cx, params): ...
        def activation(self, cx, params): ...
        def remove(self, cx, params): ...

    plugin.backend("conda", Conda(), selectors=["environment.yml"], priority=10,
                   description="a conda environment in .conda")

    if __name__ == "__main__":
        pp.main(plugin)    # `--pyve-rpc`: serve the protocol; otherwise run the command

What handlers get and give
--------------------------
* ``params`` is a dict with every field of the method's parameters (``docs/protocol.md``), the
  optional ones filled in (``None``, ``False`` or ``{}``) and unknown ones dropped. Parameters
  that do not fit the method never reach a handler: the host gets an ``invalid-params`` error.
* A handler returns a dict with the method's result fields. Optional fields may be left out
  (``None`` and empty lists or dicts are left out on the wire, as the Rust SDK does); paths may
  be ``pathlib.Path`` objects. A result that does not fit the method (a missing or unknown
  field, a wrong type) becomes an ``internal`` error that names the field.
* To fail, raise ``pp.PluginError(kind, message, hint=None, details=None)``: ``kind`` is a stable
  word such as ``python-not-available``, ``message`` one sentence saying what failed and why,
  ``hint`` the next step for the user; the JSON-RPC code follows the kind. For a failed
  file-system call, ``raise pp.PluginError.io_error("create", path, e)`` says what failed on
  which path (``cannot create /p/.venv: Permission denied (os error 13)``) with a hint. An
  ``OSError`` let through becomes kind ``io`` with its reason only (as ``?`` on an
  ``io::Error`` does in Rust). Any other exception becomes an ``internal`` error naming the
  plugin and the method, its traceback goes to stderr, and the session goes on.
* ``cx`` (a ``Context``) talks to the user through pyve: ``cx.info/warn/debug/error/trace(msg)``,
  ``with cx.progress("Installing", total=3) as p: p.report("step", done=1)``,
  ``cx.prompt(message, choices=[("y", "yes"), ("n", "no")], default="n",
  non_interactive_hint="pass --yes")`` and ``cx.confirm(message, default=False)``; a prompt in
  a non-interactive session fails at once with kind ``not-interactive`` and your hint. Long
  work should call ``cx.check_cancelled()`` between steps: it raises the ``cancelled`` error
  once pyve sent ``$/cancel`` (on Ctrl-C). A request cancelled before it started (still
  queued) is answered ``cancelled`` without calling its handler.
* Hooks: protocol 1.0 defines one event, ``post-create``; ``@plugin.hook`` raises
  ``ValueError`` for another, as the Rust SDK panics.
* Never read stdin or write stdout while serving: they carry the protocol. The module moves
  the protocol to private descriptors when it starts serving, so ``print()`` (and any child
  process) writes to stderr, which pyve shows to the user, and stdin reads as empty. A line
  from the host longer than ``MAX_LINE`` ends the session, with
  ``pyve plugin: ending the session: ...`` on stderr.

Testing a plugin
----------------
``pp.TestClient(plugin)`` plays the host in-process::

    client = pp.TestClient(plugin)
    manifest = client.initialize()
    result = client.call("hook/post-create", {"project_root": "/p", "backend": "venv",
                                              "env_path": str(tmp)})
    assert client.logs() == [{"level": "info", "message": "wrote %s/hello.txt" % tmp}]
    client.shutdown()

``client.call`` raises ``PluginError`` when the plugin answers with an error; pass
``on_prompt=lambda params: "y"`` to answer prompts (the session is then interactive).
"""

from __future__ import annotations

import errno as _errno
import itertools
import json
import math
import os
import queue
import re
import signal
import sys
import threading
import traceback
import unicodedata
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = [
    "PROTOCOL_VERSION",
    "MAX_LINE",
    "Plugin",
    "PluginError",
    "Context",
    "Progress",
    "HostSettings",
    "HostContext",
    "Invocation",
    "Backend",
    "TestClient",
    "main",
    "run",
    "run_passthrough",
    "serve",
    "serve_stdio",
    "as_text",
    "code",
    "kind",
]

__version__ = "0.1.0"

#: The protocol version this module speaks.
PROTOCOL_VERSION = "1.0"
_PROTOCOL = (1, 0)

#: The longest line accepted from the host, in bytes (16 MiB); a longer line ends the session.
MAX_LINE = 16 * 1024 * 1024


class code:  # noqa: N801 - a namespace, like the Rust module `error::code`
    """JSON-RPC error codes used by the protocol."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    FAILED = -32000
    INCOMPATIBLE_PROTOCOL = -32001
    CANCELLED = -32800


class kind:  # noqa: N801 - a namespace, like the Rust module `error::kind`
    """Stable values of ``error.data.kind`` defined by the protocol (plugins may add their own)."""

    PARSE_ERROR = "parse-error"
    INVALID_REQUEST = "invalid-request"
    METHOD_NOT_FOUND = "method-not-found"
    INVALID_PARAMS = "invalid-params"
    INTERNAL = "internal"
    FAILED = "failed"
    INCOMPATIBLE_PROTOCOL = "incompatible-protocol"
    CANCELLED = "cancelled"
    NOT_INTERACTIVE = "not-interactive"
    NOT_FOUND = "not-found"
    IO = "io"


_DEFAULT_KIND = {
    code.PARSE_ERROR: kind.PARSE_ERROR,
    code.INVALID_REQUEST: kind.INVALID_REQUEST,
    code.METHOD_NOT_FOUND: kind.METHOD_NOT_FOUND,
    code.INVALID_PARAMS: kind.INVALID_PARAMS,
    code.INTERNAL_ERROR: kind.INTERNAL,
    code.INCOMPATIBLE_PROTOCOL: kind.INCOMPATIBLE_PROTOCOL,
    code.CANCELLED: kind.CANCELLED,
}

_NAME_RE = re.compile(r"[a-z][a-z0-9-]*\Z")
_LOG_LEVELS = ("error", "warn", "info", "debug", "trace")
_U64_MAX = (1 << 64) - 1
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


def is_valid_plugin_name(name: str) -> bool:
    """Whether ``name`` is a valid plugin name: ``[a-z][a-z0-9-]*``."""
    return isinstance(name, str) and _NAME_RE.match(name) is not None


def as_text(value: Optional[str]) -> Optional[str]:
    """``value`` if it is valid Unicode text, else ``None``.

    Python decodes command-line arguments and environment variables that are not valid UTF-8
    with lone surrogates; this is the equivalent of Rust's ``OsStr::to_str``.
    """
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


# =============================================================================================
# Errors


class PluginError(Exception):
    """An error a handler reports to the host: a stable kind, a message saying what failed and
    why, usually a hint with the next step, and optional details (any JSON value).

    The JSON-RPC code follows the kind as the Rust SDK's constructors do: ``invalid-params``
    gets -32602, ``cancelled`` -32800, every other kind -32000 (``failed``). Pass ``code=`` to
    choose another.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        hint: Optional[str] = None,
        details: Any = None,
        *,
        code: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        if code is None:
            code = {"invalid-params": -32602, "cancelled": -32800}.get(kind, -32000)
        self.code = int(code)
        self.message = str(message)
        data = {"kind": str(kind)}  # type: Dict[str, Any]
        if hint is not None:
            data["hint"] = str(hint)
        if details is not None:
            data["details"] = details
        self._data = data  # type: Any

    # -- constructors mirroring the Rust SDK's `Error`

    @classmethod
    def not_found(cls, message: str, hint: Optional[str] = None, details: Any = None) -> "PluginError":
        """Something the request names does not exist."""
        return cls(kind.NOT_FOUND, message, hint, details)

    @classmethod
    def invalid_params(cls, message: str, hint: Optional[str] = None, details: Any = None) -> "PluginError":
        """The parameters do not fit (a setting with a wrong type, a missing value)."""
        return cls(kind.INVALID_PARAMS, message, hint, details)

    @classmethod
    def io(cls, message: str, hint: Optional[str] = None, details: Any = None) -> "PluginError":
        """A file-system or process operation failed, in your own words (kind ``io``). For a
        failed file-system call, ``io_error`` words the message for you."""
        return cls(kind.IO, message, hint, details)

    @classmethod
    def io_error(cls, action: str, path: Any, error: BaseException) -> "PluginError":
        """A file-system operation failed: the Rust SDK's ``Error::io(action, path, err)``.

        The message says what was being done to which path, and why:
        ``cannot <action> <path>: <error>``, the error worded like Rust's ``io::Error``
        (``Permission denied (os error 13)``). Kind ``io``, code -32000. When permission is
        denied or the file system is read-only, the hint is ``check the permissions of
        <parent directory>``; when the disk is full, ``free some disk space and try again``.
        ``path`` is a ``str``, ``bytes`` or ``os.PathLike``; ``error`` is usually the ``OSError``
        caught::

            try:
                os.mkdir(path)
            except OSError as e:
                raise pp.PluginError.io_error("create", path, e) from None

        Prefer it to letting the ``OSError`` through, which gives only the reason, without the
        path (as ``?`` on an ``io::Error`` does in Rust).
        """
        shown = _display_path(path)
        if isinstance(error, OSError):
            why = _os_error_message(error)
        else:
            why = str(error) or type(error).__name__
        number = getattr(error, "errno", None)
        hint = None  # type: Optional[str]
        if isinstance(error, PermissionError) or (isinstance(number, int) and number in _DENIED_ERRNOS):
            parent = _path_parent(shown)
            hint = "check the permissions of %s" % (shown if not parent else parent)
        elif isinstance(number, int) and number == getattr(_errno, "ENOSPC", None):
            hint = "free some disk space and try again"
        return cls(kind.IO, "cannot %s %s: %s" % (action, shown, why), hint)

    @classmethod
    def cancelled(cls) -> "PluginError":
        """The request was cancelled (what ``Context.check_cancelled`` raises)."""
        return cls(kind.CANCELLED, "the request was cancelled")

    @classmethod
    def from_os_error(cls, error: OSError) -> "PluginError":
        """An ``OSError`` as kind ``io``, worded like Rust's ``io::Error``."""
        return cls(kind.IO, _os_error_message(error))

    @classmethod
    def from_wire(cls, obj: Dict[str, Any]) -> "PluginError":
        """An error object as received (a host's answer), kept as it is."""
        e = cls.__new__(cls)
        Exception.__init__(e, obj.get("message", ""))
        e.code = obj.get("code", code.FAILED)
        e.message = obj.get("message", "")
        e._data = obj.get("data")
        return e

    # -- reading

    @property
    def data(self) -> Any:
        """The raw ``data`` member (normally ``{"kind": ..., "hint": ..., "details": ...}``)."""
        return self._data

    def _structured(self) -> Tuple[str, Optional[str], Any]:
        d = self._data
        if isinstance(d, dict) and isinstance(d.get("kind"), str):
            hint = d.get("hint")
            if hint is None or isinstance(hint, str):
                return d["kind"], hint, d.get("details")
        default = _DEFAULT_KIND.get(self.code, kind.FAILED)
        return default, None, d

    @property
    def kind(self) -> str:
        """The stable kind (derived from the code when the peer sent no usable ``data``)."""
        return self._structured()[0]

    @property
    def hint(self) -> Optional[str]:
        """The hint, if any."""
        return self._structured()[1]

    @property
    def details(self) -> Any:
        """The details, if any."""
        return self._structured()[2]

    def to_wire(self) -> Dict[str, Any]:
        """The ``error`` member of a response."""
        obj = {"code": self.code, "message": self.message}  # type: Dict[str, Any]
        if self._data is not None:
            obj["data"] = self._data
        return obj

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:  # picklable, for multiprocessing
        return (PluginError.from_wire, (self.to_wire(),))

    def __repr__(self) -> str:
        return "PluginError(%r, %r, hint=%r, code=%r)" % (self.kind, self.message, self.hint, self.code)


def _error(code_: int, kind_: str, message: str) -> Dict[str, Any]:
    return {"code": code_, "message": message, "data": {"kind": kind_}}


# Rust's `ErrorKind::PermissionDenied` (EACCES, EPERM) and `ReadOnlyFilesystem` (EROFS).
_DENIED_ERRNOS = frozenset(
    n for n in (getattr(_errno, name, None) for name in ("EACCES", "EPERM", "EROFS")) if n is not None
)


def _display_path(path: Any) -> str:
    """Rust's `Path::display`: the path's bytes as UTF-8, invalid sequences replaced by U+FFFD."""
    try:
        raw = os.fsencode(path)
    except (TypeError, UnicodeError):
        return str(path)
    return raw.decode("utf-8", "replace")


def _path_parent(path: str) -> Optional[str]:
    """Rust's `Path::parent` on Unix: the path without its last component (`a` for `a/b/`, `/`
    for `/a/.`, the empty string for `a`), or None for `/` and the empty path."""
    comps = []  # type: List[Tuple[int, bool]]  # (where the component ends, whether it is the root)
    rooted = path.startswith("/")
    if rooted:
        comps.append((1, True))
    offset = 0
    for index, piece in enumerate(path.split("/")):
        end = offset + len(piece)
        # Empty pieces (from `//` or the ends) and `.` are not components, except a leading `.`.
        if piece and (piece != "." or (index == 0 and not rooted)):
            comps.append((end, False))
        offset = end + 1
    if not comps or comps[-1][1]:
        return None
    comps.pop()
    return path[: comps[-1][0]] if comps else ""


def _os_error_message(error: OSError) -> str:
    """Rust's `io::Error` Display: "No such file or directory (os error 2)"."""
    errno = getattr(error, "errno", None)
    if isinstance(errno, int) and errno > 0:
        try:
            return "%s (os error %d)" % (os.strerror(errno), errno)
        except ValueError:
            pass
    text = str(error)
    return text if text else type(error).__name__


# =============================================================================================
# JSON, read and written exactly like serde_json (the Rust side of the protocol)


class _JsonError(Exception):
    """A line that is not JSON; the message is serde_json's."""


class _Fallback(Exception):
    """The fast decoder met something only the exact decoder can judge."""


_POW10 = [float("1e%d" % i) for i in range(309)]
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")
_STR_SPECIAL = re.compile(rb'["\\\x00-\x1f]')
_ESCAPES = {
    0x22: '"',
    0x5C: "\\",
    0x2F: "/",
    0x62: "\b",
    0x66: "\f",
    0x6E: "\n",
    0x72: "\r",
    0x74: "\t",
}


def _overflows(a: int, b: int, c: int) -> bool:
    # serde_json's `overflow!(a * 10 + b, c)`
    return a >= c // 10 and (a > c // 10 or b > c % 10)


class _SerdeJson:
    """A port of serde_json's parser (`from_str::<Value>`): same values, same numbers (without
    the `float_roundtrip` feature), same error messages and positions."""

    __slots__ = ("s", "i", "n", "depth")

    def __init__(self, data: bytes) -> None:
        self.s = data
        self.i = 0
        self.n = len(data)
        self.depth = 128

    # -- positions and errors

    def _at(self, i: int, message: str) -> _JsonError:
        start = self.s.rfind(b"\n", 0, i) + 1
        line = 1 + self.s.count(b"\n", 0, start)
        return _JsonError("%s at line %d column %d" % (message, line, i - start))

    def err(self, message: str) -> _JsonError:
        return self._at(self.i, message)

    def peek_err(self, message: str) -> _JsonError:
        return self._at(min(self.n, self.i + 1), message)

    def peek(self) -> Optional[int]:
        return self.s[self.i] if self.i < self.n else None

    def ws(self) -> Optional[int]:
        s, n, i = self.s, self.n, self.i
        while i < n and s[i] in (0x20, 0x0A, 0x09, 0x0D):
            i += 1
        self.i = i
        return s[i] if i < n else None

    # -- values

    def parse(self) -> Any:
        value = self.value()
        if self.ws() is not None:
            raise self.peek_err("trailing characters")
        return value

    def value(self) -> Any:
        b = self.ws()
        if b is None:
            raise self.peek_err("EOF while parsing a value")
        if b == 0x6E:  # n
            self.i += 1
            self.ident(b"ull")
            return None
        if b == 0x74:  # t
            self.i += 1
            self.ident(b"rue")
            return True
        if b == 0x66:  # f
            self.i += 1
            self.ident(b"alse")
            return False
        if b == 0x2D:  # -
            self.i += 1
            return self.integer(False)
        if 0x30 <= b <= 0x39:
            return self.integer(True)
        if b == 0x22:
            self.i += 1
            return self.string()
        if b == 0x5B or b == 0x7B:
            self.depth -= 1
            if self.depth == 0:
                raise self.peek_err("recursion limit exceeded")
            self.i += 1
            value = self.seq() if b == 0x5B else self.map()
            self.depth += 1
            self.i += 1  # the closing bracket, which seq()/map() stopped at
            return value
        raise self.peek_err("expected value")

    def ident(self, rest: bytes) -> None:
        for expected in rest:
            if self.i >= self.n:
                raise self.err("EOF while parsing a value")
            c = self.s[self.i]
            self.i += 1
            if c != expected:
                raise self.err("expected ident")

    def seq(self) -> List[Any]:
        out = []  # type: List[Any]
        first = True
        while True:
            b = self.ws()
            if b is None:
                raise self.peek_err("EOF while parsing a list")
            if b == 0x5D:
                return out
            if first:
                first = False
            elif b == 0x2C:
                self.i += 1
                b = self.ws()
                if b == 0x5D:
                    raise self.peek_err("trailing comma")
                if b is None:
                    raise self.peek_err("EOF while parsing a value")
            else:
                raise self.peek_err("expected `,` or `]`")
            out.append(self.value())

    def map(self) -> Dict[str, Any]:
        out = {}  # type: Dict[str, Any]
        first = True
        while True:
            b = self.ws()
            if b is None:
                raise self.peek_err("EOF while parsing an object")
            if b == 0x7D:
                return out
            if first:
                first = False
                if b != 0x22:
                    raise self.peek_err("key must be a string")
            elif b == 0x2C:
                self.i += 1
                b = self.ws()
                if b == 0x7D:
                    raise self.peek_err("trailing comma")
                if b is None:
                    raise self.peek_err("EOF while parsing a value")
                if b != 0x22:
                    raise self.peek_err("key must be a string")
            else:
                raise self.peek_err("expected `,` or `}`")
            self.i += 1
            key = self.string()
            b = self.ws()
            if b == 0x3A:
                self.i += 1
            elif b is None:
                raise self.peek_err("EOF while parsing an object")
            else:
                raise self.peek_err("expected `:`")
            out[key] = self.value()

    # -- strings

    def string(self) -> str:
        parts = []  # type: List[str]
        s = self.s
        start = self.i
        while True:
            m = _STR_SPECIAL.search(s, self.i)
            if m is None:
                self.i = self.n
                raise self.err("EOF while parsing a string")
            i = m.start()
            c = s[i]
            if c == 0x22:
                parts.append(s[start:i].decode("utf-8"))
                self.i = i + 1
                return "".join(parts)
            if c == 0x5C:
                parts.append(s[start:i].decode("utf-8"))
                self.i = i + 1
                self.escape(parts)
                start = self.i
                continue
            self.i = i + 1
            raise self.err("control character (\\u0000-\\u001F) found while parsing a string")

    def escape(self, parts: List[str]) -> None:
        if self.i >= self.n:
            raise self.err("EOF while parsing a string")
        ch = self.s[self.i]
        self.i += 1
        simple = _ESCAPES.get(ch)
        if simple is not None:
            parts.append(simple)
        elif ch == 0x75:  # u
            self.unicode_escape(parts)
        else:
            raise self.err("invalid escape")

    def hex4(self) -> int:
        if self.n - self.i >= 4:
            chunk = self.s[self.i : self.i + 4]
            self.i += 4
            if _HEX4.match(chunk) is None:
                raise self.err("invalid escape")
            return int(chunk, 16)
        self.i = self.n
        raise self.err("EOF while parsing a string")

    def unicode_escape(self, parts: List[str]) -> None:
        n1 = self.hex4()
        if 0xDC00 <= n1 <= 0xDFFF:
            raise self.err("lone leading surrogate in hex escape")
        if not 0xD800 <= n1 <= 0xDBFF:
            parts.append(chr(n1))
            return
        for expected in (0x5C, 0x75):  # a trailing surrogate must follow: \u
            p = self.peek()
            if p is None:
                raise self.err("EOF while parsing a string")
            self.i += 1
            if p != expected:
                raise self.err("unexpected end of hex escape")
        n2 = self.hex4()
        if not 0xDC00 <= n2 <= 0xDFFF:
            raise self.err("lone leading surrogate in hex escape")
        parts.append(chr((((n1 - 0xD800) << 10) | (n2 - 0xDC00)) + 0x10000))

    # -- numbers

    def _digit(self) -> Optional[int]:
        p = self.peek()
        return p - 0x30 if p is not None and 0x30 <= p <= 0x39 else None

    def integer(self, positive: bool) -> Any:
        if self.i >= self.n:
            raise self.err("EOF while parsing a value")
        c = self.s[self.i]
        self.i += 1
        if c == 0x30:
            if self._digit() is not None:
                raise self.peek_err("invalid number")
            return self.number(positive, 0)
        if 0x31 <= c <= 0x39:
            sig = c - 0x30
            while True:
                d = self._digit()
                if d is None:
                    return self.number(positive, sig)
                if _overflows(sig, d, _U64_MAX):
                    return self.long_integer(positive, sig)
                self.i += 1
                sig = sig * 10 + d
        raise self.err("invalid number")

    def number(self, positive: bool, sig: int) -> Any:
        p = self.peek()
        if p == 0x2E:
            return self.decimal(positive, sig, 0)
        if p == 0x65 or p == 0x45:
            return self.exponent(positive, sig, 0)
        if positive:
            return sig
        as_i64 = sig - (1 << 64) if sig > _I64_MAX else sig
        neg = -as_i64
        if neg > _I64_MAX:  # wrapping_neg of i64::MIN
            neg = _I64_MIN
        if neg >= 0:  # underflow, or -0
            return -float(sig)
        return neg

    def long_integer(self, positive: bool, sig: int) -> float:
        exponent = 0
        while True:
            if self._digit() is not None:
                self.i += 1
                exponent += 1
                continue
            p = self.peek()
            if p == 0x2E:
                return self.decimal(positive, sig, exponent)
            if p == 0x65 or p == 0x45:
                return self.exponent(positive, sig, exponent)
            return self.f64_from_parts(positive, sig, exponent)

    def decimal(self, positive: bool, sig: int, exp_before: int) -> float:
        self.i += 1
        exp_after = 0
        while True:
            d = self._digit()
            if d is None:
                break
            if _overflows(sig, d, _U64_MAX):
                return self.decimal_overflow(positive, sig, exp_before + exp_after)
            self.i += 1
            sig = sig * 10 + d
            exp_after -= 1
        if exp_after == 0:
            if self.peek() is not None:
                raise self.peek_err("invalid number")
            raise self.peek_err("EOF while parsing a value")
        exponent = exp_before + exp_after
        p = self.peek()
        if p == 0x65 or p == 0x45:
            return self.exponent(positive, sig, exponent)
        return self.f64_from_parts(positive, sig, exponent)

    def decimal_overflow(self, positive: bool, sig: int, exponent: int) -> float:
        while self._digit() is not None:
            self.i += 1
        p = self.peek()
        if p == 0x65 or p == 0x45:
            return self.exponent(positive, sig, exponent)
        return self.f64_from_parts(positive, sig, exponent)

    def exponent(self, positive: bool, sig: int, starting: int) -> float:
        self.i += 1
        positive_exp = True
        p = self.peek()
        if p == 0x2B:
            self.i += 1
        elif p == 0x2D:
            self.i += 1
            positive_exp = False
        if self.i >= self.n:
            raise self.err("EOF while parsing a value")
        c = self.s[self.i]
        self.i += 1
        if not 0x30 <= c <= 0x39:
            raise self.err("invalid number")
        exp = c - 0x30
        while True:
            d = self._digit()
            if d is None:
                break
            self.i += 1
            if _overflows(exp, d, _I32_MAX):
                if sig != 0 and positive_exp:
                    raise self.err("number out of range")
                while self._digit() is not None:
                    self.i += 1
                return 0.0 if positive else -0.0
            exp = exp * 10 + d
        final = starting + exp if positive_exp else starting - exp
        final = max(_I32_MIN, min(_I32_MAX, final))
        return self.f64_from_parts(positive, sig, final)

    def f64_from_parts(self, positive: bool, sig: int, exponent: int) -> float:
        f = float(sig)
        while True:
            a = abs(exponent)
            if a <= 308:
                if exponent >= 0:
                    f *= _POW10[a]
                    if math.isinf(f):
                        raise self.err("number out of range")
                else:
                    f /= _POW10[a]
                break
            if f == 0.0:
                break
            if exponent >= 0:
                raise self.err("number out of range")
            f /= 1e308
            exponent += 308
        return f if positive else -f


def _serde_number(text: str) -> Any:
    try:
        return _SerdeJson(text.encode("ascii")).value()
    except _JsonError:
        raise _Fallback() from None


_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?\Z")


def _parse_float(text: str) -> Any:
    # With at most 15 significant digits and a power of ten up to 22, serde_json's one multiply
    # or divide is exact before rounding, so it rounds as Python's float() does.
    m = _NUMBER.match(text)
    if m is not None:
        whole, frac, exp = m.groups()
        frac = frac or ""
        if len((whole + frac).lstrip("0")) <= 15 and (exp is None or len(exp) <= 4):
            if -22 <= (int(exp) if exp else 0) - len(frac) <= 22:
                return float(text)
    return _serde_number(text)


def _parse_int(text: str) -> Any:
    if len(text) <= 18 and text != "-0":
        return int(text)
    return _serde_number(text)


def _parse_constant(text: str) -> Any:
    raise _Fallback()


_FAST = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _json_loads(raw: bytes, text: str) -> Any:
    """Parse one line as serde_json does; raises `_JsonError` with serde_json's message.

    Python's json module reads the line; serde_json's rules it does not share (lone surrogate
    escapes, 128 levels of nesting at most, no NaN, numbers out of range) send the line to the
    exact port, which also words the errors."""
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None:
        return _SerdeJson(raw).parse()
    try:
        value = _FAST.decode(text)
    except (ValueError, RecursionError, _Fallback):
        return _SerdeJson(raw).parse()
    if text.count("[") + text.count("{") >= 128 and _too_deep(value):
        return _SerdeJson(raw).parse()
    return value


def _too_deep(value: Any) -> bool:
    """Whether containers nest 128 deep (serde_json's recursion limit)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        v, depth = stack.pop()
        if depth >= 128:
            return True
        for child in v.values() if isinstance(v, dict) else v:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def _fmt_f64(f: float) -> str:
    """serde_json's float text (zmij): `1.0`, `0.00001`, `1e-6`, `1e+16`, `1.5e300`."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == 0.0:
        return "-0.0" if math.copysign(1.0, f) < 0 else "0.0"
    r = repr(f)
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mantissa, _, exp_text = r.partition("e")
    intpart, _, frac = mantissa.partition(".")
    if exp_text:
        digits = (intpart + frac).rstrip("0") or "0"
        e = int(exp_text) + len(intpart) - 1
    else:
        all_digits = intpart + frac
        stripped = all_digits.lstrip("0")
        e = len(intpart) - 1 - (len(all_digits) - len(stripped))
        digits = stripped.rstrip("0")
    if -5 <= e <= 15:
        if len(digits) - 1 <= e:
            body = digits + "0" * (e - len(digits) + 1) + ".0"
        elif e >= 0:
            body = digits[: e + 1] + "." + digits[e + 1 :]
        else:
            body = "0." + "0" * (-e - 1) + digits
    else:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + "e" + ("-" if e < 0 else "+") + str(abs(e))
    return sign + body


try:  # the C accelerated encoder of a JSON string without \u escapes for non-ASCII
    from _json import encode_basestring as _encode_str  # type: ignore
except ImportError:  # pragma: no cover
    _encode_str = json.encoder.encode_basestring  # type: ignore


def _dump(value: Any, out: List[str]) -> None:
    """Compact JSON as serde_json writes a `Value`: keys sorted, floats as zmij writes them."""
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_fmt_f64(value) if math.isfinite(value) else "null")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        items = sorted((_json_key(k), v) for k, v in value.items()) if len(value) > 1 else [
            (_json_key(k), v) for k, v in value.items()
        ]
        sep = "{"
        for k, v in items:
            out.append(sep)
            out.append(_encode_str(k))
            out.append(":")
            _dump(v, out)
            sep = ","
        out.append("}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        sep = "["
        for v in value:
            out.append(sep)
            _dump(v, out)
            sep = ","
        out.append("]")
    elif isinstance(value, os.PathLike):
        out.append(_encode_str(os.fspath(value)))
    else:
        raise TypeError("%s is not a JSON value" % type(value).__name__)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    raise TypeError("a JSON object key must be a string, found %s" % type(key).__name__)


def _dumps(value: Any) -> str:
    out = []  # type: List[str]
    _dump(value, out)
    return "".join(out)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (undecodable file names): replace them
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "replace").encode("utf-8")


# =============================================================================================
# Typed views of JSON values, checked as serde checks them (same errors, same messages)


class _DeError(Exception):
    """A value that does not fit its type; the message is serde's."""


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# Other_Grapheme_Extend (Unicode 16): Rust's `{:?}` escapes grapheme extenders, which Python's
# unicodedata does not name; the rest of them are categories Mn and Me. (Characters that are
# unassigned in the running Python's Unicode database may still be escaped differently.)
_OTHER_GRAPHEME_EXTEND = (
    (0x09BE, 0x09BE), (0x09D7, 0x09D7), (0x0B3E, 0x0B3E), (0x0B57, 0x0B57), (0x0BBE, 0x0BBE),
    (0x0BD7, 0x0BD7), (0x0CC0, 0x0CC0), (0x0CC2, 0x0CC2), (0x0CC7, 0x0CC8), (0x0CCA, 0x0CCB),
    (0x0CD5, 0x0CD6), (0x0D3E, 0x0D3E), (0x0D57, 0x0D57), (0x0DCF, 0x0DCF), (0x0DDF, 0x0DDF),
    (0x1715, 0x1715), (0x1734, 0x1734), (0x1B35, 0x1B35), (0x1B3B, 0x1B3B), (0x1B3D, 0x1B3D),
    (0x1B43, 0x1B44), (0x1BAA, 0x1BAA), (0x1BF2, 0x1BF3), (0x200C, 0x200C), (0x302E, 0x302F),
    (0xA953, 0xA953), (0xA9C0, 0xA9C0), (0xFF9E, 0xFF9F), (0x111C0, 0x111C0), (0x11235, 0x11235),
    (0x1133E, 0x1133E), (0x1134D, 0x1134D), (0x11357, 0x11357), (0x114B0, 0x114B0),
    (0x114BD, 0x114BD), (0x115AF, 0x115AF), (0x116B6, 0x116B6), (0x11930, 0x11930),
    (0x1193D, 0x1193D), (0x11F41, 0x11F41), (0x16FF0, 0x16FF1), (0x1D165, 0x1D166),
    (0x1D16D, 0x1D172), (0xE0020, 0xE007F),
)


def _rust_debug_str(s: str) -> str:
    """Rust's `{:?}` of a string: quoted, with \\u{..} escapes for what Rust deems unprintable."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if 0x20 <= c < 0x7F:
            out.append('\\"' if ch == '"' else "\\\\" if ch == "\\" else ch)
        elif ch == "\0":
            out.append("\\0")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif c < 0x7F or not ch.isprintable() or _grapheme_extend(ch):
            out.append("\\u{%x}" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _grapheme_extend(ch: str) -> bool:
    c = ord(ch)
    if unicodedata.category(ch) in ("Mn", "Me"):
        return c != 0x1171E  # a spacing mark since Unicode 16
    return any(lo <= c <= hi for lo, hi in _OTHER_GRAPHEME_EXTEND)


def _unexpected(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean `%s`" % ("true" if value else "false")
    if isinstance(value, int):
        return "integer `%d`" % value
    if isinstance(value, float):
        return "floating point `%s`" % _fmt_f64(value)
    if isinstance(value, str):
        return "string " + _rust_debug_str(value)
    if isinstance(value, list):
        return "sequence"
    return "map"


def _invalid_type(value: Any, expected: str) -> _DeError:
    return _DeError("invalid type: %s, expected %s" % (_unexpected(value), expected))


class _T:
    expecting = ""

    def de(self, value: Any) -> Any:
        raise NotImplementedError


class _Str(_T):
    def __init__(self, expecting: str = "a string") -> None:
        self.expecting = expecting

    def de(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        raise _invalid_type(value, self.expecting)


class _Bool(_T):
    expecting = "a boolean"

    def de(self, value: Any) -> Any:
        if value is True or value is False:
            return value
        raise _invalid_type(value, self.expecting)


class _Int(_T):
    def __init__(self, name: str, lo: int, hi: int) -> None:
        self.expecting, self.lo, self.hi = name, lo, hi

    def de(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if self.lo <= value <= self.hi:
                return value
            raise _DeError("invalid value: %s, expected %s" % (_unexpected(value), self.expecting))
        raise _invalid_type(value, self.expecting)


class _Any(_T):
    def de(self, value: Any) -> Any:
        return value


class _Opt(_T):
    def __init__(self, inner: _T) -> None:
        self.inner = inner
        self.expecting = inner.expecting

    def de(self, value: Any) -> Any:
        return None if value is None else self.inner.de(value)


class _Vec(_T):
    expecting = "a sequence"

    def __init__(self, inner: _T) -> None:
        self.inner = inner

    def de(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.inner.de(v) for v in value]
        raise _invalid_type(value, self.expecting)


class _Map(_T):
    expecting = "a map"

    def de(self, value: Any) -> Any:
        if isinstance(value, dict):
            return dict(value)
        raise _invalid_type(value, self.expecting)


class _Version(_T):
    expecting = "a string"

    def de(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise _invalid_type(value, self.expecting)
        parsed = _parse_version(value)
        if parsed is None:
            raise _DeError("invalid protocol version `%s`: expected MAJOR.MINOR, such as 1.0" % value)
        return parsed


class _Id(_T):
    expecting = "an id"

    def de(self, value: Any) -> Any:
        if isinstance(value, str) or (
            isinstance(value, int) and not isinstance(value, bool) and _I64_MIN <= value <= _I64_MAX
        ):
            return value
        raise _DeError("data did not match any variant of untagged enum Id")


_REQUIRED = object()


class _Struct(_T):
    """A struct with named fields; `default` is a factory, `_REQUIRED`, or None for Option."""

    def __init__(self, name: str, fields: Sequence[Tuple[str, _T, Any]]) -> None:
        self.name = name
        self.expecting = "struct " + name
        self.fields = list(fields)
        self.index = {f[0]: f for f in self.fields}

    def _missing(self, field: Tuple[str, _T, Any]) -> Any:
        name, _, default = field
        if default is _REQUIRED:
            raise _DeError("missing field `%s`" % name)
        return default() if callable(default) else default

    def de(self, value: Any) -> Any:
        out = {}
        if isinstance(value, dict):
            for key in sorted(value):  # serde_json's maps iterate in key order
                field = self.index.get(key)
                if field is not None:
                    out[key] = field[1].de(value[key])
            for field in self.fields:
                if field[0] not in out:
                    out[field[0]] = self._missing(field)
            return {f[0]: out[f[0]] for f in self.fields}
        if isinstance(value, list):
            n = len(self.fields)
            for i, field in enumerate(self.fields):
                if i < len(value):
                    out[field[0]] = field[1].de(value[i])
                elif field[2] is _REQUIRED:
                    raise _DeError(
                        "invalid length %d, expected %s with %d element%s"
                        % (i, self.expecting, n, "" if n == 1 else "s")
                    )
                else:
                    out[field[0]] = self._missing(field)
            if len(value) > n:
                raise _DeError("invalid length %d, expected fewer elements in array" % len(value))
            return out
        raise _invalid_type(value, self.expecting)


def _parse_version(text: str) -> Optional[Tuple[int, int]]:
    major, dot, minor = text.partition(".")
    if not dot:
        return None
    parts = []
    for p in (major, minor):
        if not p or any(c not in "0123456789" for c in p):
            return None
        n = int(p)
        if n > 0xFFFFFFFF:
            return None
        parts.append(n)
    return parts[0], parts[1]


def _fmt_version(v: Tuple[int, int]) -> str:
    return "%d.%d" % v


def _settings_default() -> Dict[str, Any]:
    return {"interactive": False, "verbosity": 0, "color": False}


_HOST_SETTINGS = _Struct(
    "HostSettings",
    [("interactive", _Bool(), False), ("verbosity", _Int("i8", -128, 127), 0), ("color", _Bool(), False)],
)
_INITIALIZE = _Struct(
    "InitializeParams",
    [
        ("protocol_versions", _Vec(_Version()), _REQUIRED),
        ("host", _Struct("HostInfo", [("name", _Str(), _REQUIRED), ("version", _Str(), _REQUIRED)]), _REQUIRED),
        ("project", _Opt(_Struct("ProjectContext", [("root", _Str("path string"), _REQUIRED)])), None),
        ("settings", _HOST_SETTINGS, _settings_default),
    ],
)
_PATH = _Str("path string")
_CREATE = _Struct(
    "CreateParams",
    [
        ("project_root", _PATH, _REQUIRED),
        ("backend", _Str(), _REQUIRED),
        ("python_version", _Opt(_Str()), None),
        ("settings", _Map(), dict),
    ],
)
_ENV = _Struct(
    "EnvParams",
    [("project_root", _PATH, _REQUIRED), ("backend", _Str(), _REQUIRED), ("settings", _Map(), dict)],
)
_POST_CREATE = _Struct(
    "PostCreateParams",
    [
        ("project_root", _PATH, _REQUIRED),
        ("backend", _Str(), _REQUIRED),
        ("env_path", _PATH, _REQUIRED),
        ("interpreter", _Opt(_PATH), None),
        ("python_version", _Opt(_Str()), None),
        ("created", _Bool(), False),
    ],
)
_CANCEL = _Struct("CancelParams", [("id", _Id(), _REQUIRED)])
_PROMPT_RESULT = _Struct("PromptResult", [("answer", _Str(), _REQUIRED)])
_ERROR_OBJECT = _Struct(
    "ErrorObject",
    [("code", _Int("i64", _I64_MIN, _I64_MAX), _REQUIRED), ("message", _Str(), _REQUIRED), ("data", _Any(), None)],
)


def _strip_nulls(value: Any) -> Any:
    """Object members whose value is null are dropped, recursively (arrays keep elements)."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _from_value(t: _T, value: Any) -> Any:
    """Like the protocol crate's `from_value`: `null` means absent, everywhere -- null
    parameters are no parameters, and a member whose value is null counts as missing."""
    if value is None:
        try:
            return t.de({})
        except _DeError:
            return t.de(None)
    return t.de(_strip_nulls(value))


# =============================================================================================
# Results: what handlers return, checked and written as the Rust types would write them


class _ResultError(Exception):
    pass


def _found(value: Any) -> str:
    return "%s (%r)" % (_kind_of(value) if not isinstance(value, (tuple, os.PathLike)) else type(value).__name__, value)


class _O:
    """An output type: `norm` checks a Python value and returns its JSON form."""

    what = ""

    def norm(self, value: Any, where: str) -> Any:
        raise NotImplementedError

    def empty(self, value: Any) -> bool:
        return value is None

    def fail(self, value: Any, where: str) -> _ResultError:
        return _ResultError("`%s` must be %s, found %s" % (where, self.what, _found(value)))


class _OStr(_O):
    what = "a string"

    def norm(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return value
        raise self.fail(value, where)


class _OPath(_O):
    what = "a path (str or os.PathLike)"

    def norm(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            p = os.fspath(value)
            if isinstance(p, str):
                return p
        raise self.fail(value, where)


class _OBool(_O):
    what = "a boolean"

    def norm(self, value: Any, where: str) -> Any:
        if value is True or value is False:
            return value
        raise self.fail(value, where)


class _OInt(_O):
    def __init__(self, what: str, lo: int, hi: int) -> None:
        self.what, self.lo, self.hi = what, lo, hi

    def norm(self, value: Any, where: str) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and self.lo <= value <= self.hi:
            return int(value)
        raise self.fail(value, where)


class _OEnum(_O):
    def __init__(self, values: Sequence[str]) -> None:
        self.values = tuple(values)
        self.what = "one of " + ", ".join('"%s"' % v for v in values)

    def norm(self, value: Any, where: str) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        raise self.fail(value, where)


class _OList(_O):
    def __init__(self, inner: _O) -> None:
        self.inner = inner
        self.what = "a list"

    def empty(self, value: Any) -> bool:
        return value is None or (isinstance(value, (list, tuple)) and len(value) == 0)

    def norm(self, value: Any, where: str) -> Any:
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            return [self.inner.norm(v, "%s[%d]" % (where, i)) for i, v in enumerate(value)]
        raise self.fail(value, where)


class _ODict(_O):
    """A map with string keys; `inner` None means any JSON values."""

    def __init__(self, inner: Optional[_O] = None) -> None:
        self.inner = inner
        self.what = "a dict with string keys"

    def empty(self, value: Any) -> bool:
        return value is None or (isinstance(value, dict) and len(value) == 0)

    def norm(self, value: Any, where: str) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(value, where)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _ResultError("`%s` must have string keys, found %s" % (where, _found(k)))
            sub = "%s.%s" % (where, k)
            out[k] = self.inner.norm(v, sub) if self.inner is not None else _json_value(v, sub)
        return out


def _json_value(value: Any, where: str) -> Any:
    """Any JSON value (tuples become lists, paths strings)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v, "%s[%d]" % (where, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _ODict().norm(value, where)
    if isinstance(value, os.PathLike):
        p = os.fspath(value)
        if isinstance(p, str):
            return p
    raise _ResultError("`%s` must be a JSON value, found %s" % (where, _found(value)))


class _OStruct(_O):
    """Fields: (name, type, mode) with mode "req" (required), "opt" (left out when empty) or
    "def" (always written, empty when missing)."""

    def __init__(self, name: str, fields: Sequence[Tuple[str, _O, str]]) -> None:
        self.name = name
        self.fields = list(fields)
        self.names = [f[0] for f in fields]
        self.what = "a dict (%s)" % name

    def norm(self, value: Any, where: str) -> Any:
        if value is None and all(mode != "req" for _, _, mode in self.fields):
            value = {}
        if not isinstance(value, dict):
            raise self.fail(value, where or "result")
        for key in value:
            if key not in self.names:
                raise _ResultError(
                    "unknown field `%s` in %s (its fields: %s)"
                    % (_join(where, key), self.name, ", ".join(self.names))
                )
        out = {}
        for name, t, mode in self.fields:
            v = value.get(name)
            sub = _join(where, name)
            if v is None and mode == "req":
                raise _ResultError("missing field `%s` in %s" % (sub, self.name))
            if mode == "opt" and t.empty(v):
                continue
            out[name] = t.norm(v, sub) if v is not None or mode != "def" else t.norm(_empty_of(t), sub)
        return out


def _join(where: str, name: str) -> str:
    return "%s.%s" % (where, name) if where else name


def _empty_of(t: _O) -> Any:
    if isinstance(t, _OList):
        return []
    if isinstance(t, (_ODict, _OStruct)):
        return {}
    if isinstance(t, _OBool):
        return False
    if isinstance(t, _OInt):
        return 0
    return None


_O_ACTIVATION = _OStruct(
    "Activation",
    [("set", _ODict(_OStr()), "opt"), ("unset", _OList(_OStr()), "opt"), ("path_prepend", _OList(_OPath()), "opt")],
)
_O_CREATE = _OStruct(
    "CreateResult",
    [
        ("env_path", _OPath(), "req"),
        ("created", _OBool(), "req"),
        ("interpreter", _OPath(), "opt"),
        ("python_version", _OStr(), "opt"),
        ("activation", _O_ACTIVATION, "def"),
        ("settings", _ODict(), "opt"),
        ("gitignore", _OList(_OStr()), "opt"),
        ("created_files", _OList(_OPath()), "opt"),
    ],
)
_O_DESCRIBE = _OStruct(
    "EnvDescription",
    [
        ("exists", _OBool(), "def"),
        ("env_path", _OPath(), "opt"),
        ("interpreter", _OPath(), "opt"),
        ("python_version", _OStr(), "opt"),
        ("package_count", _OInt("an integer from 0 to 2**64-1", 0, _U64_MAX), "opt"),
        (
            "lock",
            _OStruct(
                "LockStatus", [("state", _OStr(), "req"), ("file", _OPath(), "opt"), ("detail", _OStr(), "opt")]
            ),
            "opt",
        ),
    ],
)
_O_REMOVE = _OStruct(
    "RemoveResult",
    [
        ("removed", _OList(_OPath()), "def"),
        ("kept", _OList(_OStruct("KeptPath", [("path", _OPath(), "req"), ("reason", _OStr(), "req")])), "opt"),
    ],
)
_O_DOCTOR = _OStruct(
    "DoctorReport",
    [
        (
            "checks",
            _OList(
                _OStruct(
                    "Check",
                    [
                        ("status", _OEnum(["ok", "info", "warn", "error"]), "req"),
                        ("label", _OStr(), "req"),
                        ("detail", _OStr(), "opt"),
                        ("hint", _OStr(), "opt"),
                    ],
                )
            ),
            "def",
        )
    ],
)
_O_HOOK = _OStruct("HookResult", [("changed", _OBool(), "def"), ("summary", _OStr(), "opt")])

_BACKEND_METHODS = {
    "env/create": ("create", _CREATE, _O_CREATE),
    "env/describe": ("describe", _ENV, _O_DESCRIBE),
    "env/activation": ("activation", _ENV, _O_ACTIVATION),
    "env/remove": ("remove", _ENV, _O_REMOVE),
    "doctor/checks": ("doctor", _ENV, _O_DOCTOR),
}


# =============================================================================================
# Framing: one JSON-RPC 2.0 message per line, classified exactly as framing.rs does


class _Request:
    __slots__ = ("id", "method", "params")

    def __init__(self, id_: Any, method: str, params: Any) -> None:
        self.id, self.method, self.params = id_, method, params


class _Response:
    __slots__ = ("id", "result", "error")

    def __init__(self, id_: Any, result: Any, error: Optional[Dict[str, Any]]) -> None:
        self.id, self.result, self.error = id_, result, error


class _Notification:
    __slots__ = ("method", "params")

    def __init__(self, method: str, params: Any) -> None:
        self.method, self.params = method, params


class _DecodeError(Exception):
    def __init__(self, message: str, invalid: bool = False, id_: Any = None) -> None:
        super().__init__(message)
        self.invalid = invalid
        self.id = id_

    def response(self) -> Dict[str, Any]:
        if self.invalid:
            return _error(code.INVALID_REQUEST, kind.INVALID_REQUEST, str(self))
        return _error(code.PARSE_ERROR, kind.PARSE_ERROR, str(self))


_MISSING = object()


def _decode(line: bytes) -> Any:
    """One line (without its ending) as a message; raises `_DecodeError`."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise _DecodeError("the line is not valid UTF-8") from None
    try:
        value = _json_loads(line, text)
    except _JsonError as e:
        raise _DecodeError("the line is not a JSON object: %s" % e) from None
    return _classify(value)


def _classify(value: Any) -> Any:
    if not isinstance(value, dict):
        raise _DecodeError("the line is not a JSON object: expected an object, found %s" % _kind_of(value))
    obj = dict(value)
    id_value = obj.pop("id", _MISSING)
    if isinstance(id_value, str) or (
        isinstance(id_value, int) and not isinstance(id_value, bool) and _I64_MIN <= id_value <= _I64_MAX
    ):
        id_ = id_value  # type: Any
    else:
        id_ = None

    def invalid(reason: str) -> _DecodeError:
        return _DecodeError("not a JSON-RPC 2.0 message: " + reason, True, id_)

    jsonrpc = obj.pop("jsonrpc", _MISSING)
    if jsonrpc is _MISSING:
        raise invalid("the `jsonrpc` member is missing")
    if jsonrpc != "2.0" or not isinstance(jsonrpc, str):
        raise invalid('`jsonrpc` must be "2.0", found %s' % _dumps(jsonrpc))
    method = obj.pop("method", _MISSING)
    if method is not _MISSING and not isinstance(method, str):
        raise invalid("`method` must be a string, found %s" % _kind_of(method))
    params = obj.pop("params", None)
    if params is not None and not isinstance(params, (dict, list)):
        raise invalid("`params` must be an object or an array, found %s" % _kind_of(params))
    result = obj.pop("result", _MISSING)
    error = obj.pop("error", _MISSING)

    if method is not _MISSING:
        if result is not _MISSING or error is not _MISSING:
            raise invalid("a message cannot have both `method` and `result`/`error`")
        if id_value is _MISSING:
            return _Notification(method, params)
        if id_ is None:
            raise invalid("a request `id` must be an integer or a string")
        return _Request(id_, method, params)

    if id_value is _MISSING:
        raise invalid("a message needs `method` (a request or notification) or `id` (a response)")
    if id_value is not None and id_ is None:
        raise invalid("a response `id` must be an integer, a string or null")
    if result is not _MISSING and error is _MISSING:
        return _Response(id_, result, None)
    if result is _MISSING and error is not _MISSING:
        try:
            err = _ERROR_OBJECT.de(error)
        except _DeError as e:
            raise invalid("malformed `error`: %s" % e) from None
        if err["data"] is None:
            del err["data"]
        return _Response(id_, None, err)
    if result is not _MISSING:
        raise invalid("a response cannot have both `result` and `error`")
    raise invalid("a response needs `result` or `error`")


def _encode_id(id_: Any) -> str:
    return "null" if id_ is None else _dumps(id_)


def _line_response(id_: Any, result: Any = None, error: Optional[Dict[str, Any]] = None) -> bytes:
    if error is not None:
        body = '"error":{"code":%d,"message":%s' % (error["code"], _encode_str(error["message"]))
        if error.get("data") is not None:
            body += ',"data":' + _dumps(error["data"])
        body += "}"
    else:
        body = '"result":' + _dumps(result)
    return _utf8('{"jsonrpc":"2.0","id":%s,%s}\n' % (_encode_id(id_), body))


def _line_request(id_: Any, method: str, params: Any) -> bytes:
    tail = "" if params is None else ',"params":' + _dumps(params)
    return _utf8('{"jsonrpc":"2.0","id":%s,"method":%s%s}\n' % (_encode_id(id_), _encode_str(method), tail))


def _line_notification(method: str, params: Any) -> bytes:
    tail = "" if params is None else ',"params":' + _dumps(params)
    return _utf8('{"jsonrpc":"2.0","method":%s%s}\n' % (_encode_str(method), tail))


def _id_key(id_: Any) -> Tuple[str, Any]:
    return ("s", id_) if isinstance(id_, str) else ("n", id_)


# =============================================================================================
# The session: a reader thread routes messages; the worker answers requests one at a time


class _Waiter:
    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response = None  # type: Optional[_Response]


class _Session:
    def __init__(self, sink: Callable[[bytes], Any]) -> None:
        self._sink = sink
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending = {}  # type: Dict[Tuple[str, Any], _Waiter]
        self._current = None  # type: Optional[Tuple[Tuple[str, Any], threading.Event]]
        # Requests cancelled while not running (still queued): answered `cancelled` unrun.
        self._cancelled_early = []  # type: List[Tuple[str, Any]]
        self._counter = itertools.count(1)
        self.input_closed = False

    def send(self, line: bytes) -> None:
        with self._write_lock:
            try:
                self._sink(line)
            except Exception:  # a host that stopped listening cannot be told anything
                pass

    def notify(self, method: str, params: Any) -> None:
        self.send(_line_notification(method, params))

    def next_number(self) -> int:
        with self._lock:
            return next(self._counter)

    def request(self, method: str, params: Any) -> _Response:
        id_ = "p%d" % self.next_number()
        waiter = _Waiter()
        with self._lock:
            self._pending[_id_key(id_)] = waiter
        if self.input_closed:
            raise PluginError(kind.IO, "the host closed the session")
        self.send(_line_request(id_, method, params))
        waiter.event.wait()
        if waiter.response is None:
            raise PluginError(kind.IO, "the host closed the session before answering")
        return waiter.response

    # -- called by the reader thread

    def deliver(self, response: _Response) -> None:
        if response.id is None:
            return
        with self._lock:
            waiter = self._pending.pop(_id_key(response.id), None)
        if waiter is not None:
            waiter.response = response
            waiter.event.set()

    def cancel(self, id_: Any) -> None:
        key = _id_key(id_)
        with self._lock:
            current = self._current
            if current is not None and current[0] == key:
                current[1].set()
            else:
                # Not running (yet): if it is still queued it will be answered `cancelled`; an
                # id already answered is forgotten when the worker takes the next request.
                self._cancelled_early.append(key)

    def close_input(self) -> None:
        self.input_closed = True
        with self._lock:
            waiters = list(self._pending.values())
            self._pending.clear()
        for waiter in waiters:  # wake every host/prompt still waiting: no answer will come
            waiter.event.set()

    # -- called by the worker

    def take(self, id_: Any) -> bool:
        """The worker takes request ``id_``: whether it was cancelled before it started. The
        other remembered ids are forgotten (they named requests already answered, or none)."""
        key = _id_key(id_)
        with self._lock:
            hit = key in self._cancelled_early
            del self._cancelled_early[:]
        return hit

    def begin(self, id_: Any) -> threading.Event:
        key = _id_key(id_)
        flag = threading.Event()
        with self._lock:
            self._current = (key, flag)
            if key in self._cancelled_early:  # cancelled between `take` and now
                flag.set()
        return flag

    def end(self) -> None:
        with self._lock:
            self._current = None


_EOF = object()


def serve(plugin: "Plugin", source: Callable[[], Optional[bytes]], sink: Callable[[bytes], Any]) -> int:
    """Serve one session until ``shutdown`` or the end of the input; returns the exit code (0).

    ``source()`` returns the next line (bytes, without or with its ending) or ``None`` at the
    end of the input; ``sink(bytes)`` writes one line. ``serve_stdio`` serves stdin/stdout.
    """
    session = _Session(sink)
    work = queue.Queue()  # type: queue.Queue

    def reader() -> None:
        try:
            while True:
                try:
                    line = source()
                except Exception as e:  # a line over the limit, a read error
                    # The framing is lost: nothing after this can be read reliably.
                    _say("pyve plugin: ending the session: %s" % _read_error_text(e))
                    break
                if line is None:
                    break
                try:
                    message = _decode(line)
                except _DecodeError as e:
                    session.send(_line_response(e.id, error=e.response()))
                    continue
                except Exception as e:  # a bug in this module: say so, keep reading
                    traceback.print_exc(file=sys.stderr)
                    session.send(_line_response(None, error=_error(
                        code.INTERNAL_ERROR, kind.INTERNAL, "plugin `%s` could not read a line: %s"
                        % (plugin.name, _exc_text(e)))))
                    continue
                if isinstance(message, _Request):
                    work.put(message)
                elif isinstance(message, _Response):
                    session.deliver(message)
                elif message.method == "$/cancel":
                    try:
                        p = _from_value(_CANCEL, message.params)
                    except _DeError:
                        continue
                    session.cancel(p["id"])
                # Other notifications are ignored: newer hosts may send ones we do not know.
        finally:
            session.close_input()
            work.put(_EOF)

    thread = threading.Thread(target=reader, name="pyve-plugin-reader", daemon=True)
    thread.start()

    initialized = None  # type: Optional[Dict[str, Any]]
    while True:
        req = work.get()
        if req is _EOF:
            return 0
        if req.method == "shutdown":
            session.send(_line_response(req.id, result=None))
            return 0
        result = None  # type: Any
        error = None  # type: Optional[Dict[str, Any]]
        if session.take(req.id):
            error = _error(code.CANCELLED, kind.CANCELLED, "the request was cancelled")
        elif req.method == "initialize":
            try:
                params = _from_value(_INITIALIZE, req.params)
            except _DeError as e:
                error = _error(code.INVALID_PARAMS, kind.INVALID_PARAMS, "invalid parameters for `initialize`: %s" % e)
            else:
                result, error = _initialize(plugin, params)
                if error is None:
                    initialized = params
        elif initialized is not None:
            flag = session.begin(req.id)
            cx = Context(session, flag, initialized)
            try:
                result = plugin._dispatch(cx, req)
            except PluginError as e:
                error = e.to_wire()
            except _BadResult as e:
                error = _error(code.INTERNAL_ERROR, kind.INTERNAL, str(e))
            except OSError as e:
                error = PluginError.from_os_error(e).to_wire()
            except Exception as e:  # a bug in the plugin: report it, keep serving
                traceback.print_exc(file=sys.stderr)
                error = _error(
                    code.INTERNAL_ERROR,
                    kind.INTERNAL,
                    "plugin `%s` panicked while handling `%s`: %s" % (plugin.name, req.method, _exc_text(e)),
                )
            finally:
                cx._end_all()
                session.end()
            if error is not None:
                error = _sanitize_error(error)
        else:
            error = _error(
                code.INVALID_REQUEST,
                kind.INVALID_REQUEST,
                "`%s` before `initialize`: the session must start with `initialize`" % req.method,
            )
        try:
            line = _line_response(req.id, result=result, error=error)
        except (TypeError, ValueError) as e:  # unserializable error details
            line = _line_response(
                req.id,
                error=_error(code.INTERNAL_ERROR, kind.INTERNAL, "plugin `%s` sent an error it cannot encode: %s"
                             % (plugin.name, e)),
            )
        session.send(line)


def _say(text: str) -> None:
    """A line for the user on stderr (what a Rust plugin writes with `eprintln!`)."""
    stream = sys.__stderr__ if sys.stderr is None else sys.stderr
    if stream is None:
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except Exception:
        pass


def _read_error_text(e: BaseException) -> str:
    if isinstance(e, OSError):
        return _os_error_message(e)
    return str(e) or type(e).__name__


def _exc_text(e: BaseException) -> str:
    text = str(e)
    return "%s: %s" % (type(e).__name__, text) if text else type(e).__name__


def _sanitize_error(error: Dict[str, Any]) -> Dict[str, Any]:
    data = error.get("data")
    if data is None:
        return error
    try:
        data = _json_value(data, "data")
    except _ResultError:
        data = _json_value(_stringify(data), "data")
    return {"code": int(error["code"]), "message": str(error["message"]), "data": data}


def _stringify(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_stringify(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    return str(value)


def _initialize(plugin: "Plugin", params: Dict[str, Any]) -> Tuple[Any, Optional[Dict[str, Any]]]:
    offered = params["protocol_versions"]
    if not offered:
        return None, _error(
            code.INVALID_PARAMS,
            kind.INVALID_PARAMS,
            "invalid parameters for `initialize`: `protocol_versions` is empty: offer at least one version",
        )
    ours = [_PROTOCOL]
    chosen = None
    for o in ours:
        minors = [t[1] for t in offered if t[0] == o[0]]
        if minors:
            candidate = (o[0], min(max(minors), o[1]))
            if chosen is None or candidate > chosen:
                chosen = candidate
    if chosen is not None:
        return plugin.manifest(_fmt_version(chosen)), None
    host = params["host"]
    offered_text = [_fmt_version(v) for v in offered]
    error = {
        "code": code.INCOMPATIBLE_PROTOCOL,
        "message": "no shared protocol version: %s %s speaks %s, plugin %s %s speaks %s"
        % (host["name"], host["version"], ", ".join(offered_text), plugin.name, plugin.version, PROTOCOL_VERSION),
        "data": {
            "kind": kind.INCOMPATIBLE_PROTOCOL,
            "hint": "install a version of pyve-%s built for protocol %s, or a %s that speaks protocol %d"
            % (plugin.name, "/".join(str(m) for m in sorted({v[0] for v in offered})), host["name"], _PROTOCOL[0]),
            "details": {"plugin": [PROTOCOL_VERSION], "host": offered_text},
        },
    }
    return None, error


# =============================================================================================
# What handlers get


class HostSettings:
    """The user's session settings, sent with ``initialize``."""

    __slots__ = ("interactive", "verbosity", "color")

    def __init__(self, interactive: bool = False, verbosity: int = 0, color: bool = False) -> None:
        #: Whether the host can ask the user questions (``Context.prompt``).
        self.interactive = interactive
        #: -1 quiet, 0 normal, 1 verbose, 2 debug.
        self.verbosity = verbosity
        #: Whether the user's terminal shows colours (for what you write to stderr).
        self.color = color

    def __repr__(self) -> str:
        return "HostSettings(interactive=%r, verbosity=%r, color=%r)" % (self.interactive, self.verbosity, self.color)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostSettings) and (self.interactive, self.verbosity, self.color) == (
            other.interactive,
            other.verbosity,
            other.color,
        )


class Context:
    """What a handler can do besides computing its result: talk to the user through the host
    (log lines, progress, questions) and notice cancellation."""

    def __init__(self, session: _Session, cancelled: threading.Event, init: Dict[str, Any]) -> None:
        self._session = session
        self._cancelled = cancelled
        s = init["settings"]
        self._settings = HostSettings(s["interactive"], s["verbosity"], s["color"])
        project = init.get("project")
        self._project_root = project["root"] if project else None  # type: Optional[str]
        self._open = []  # type: List[Progress]

    @property
    def settings(self) -> HostSettings:
        """The user's session settings (interactive, verbosity, colour)."""
        return self._settings

    @property
    def project_root(self) -> Optional[str]:
        """The project root sent with ``initialize``, if any. Requests carry their own
        ``project_root``, which is what handlers should use."""
        return self._project_root

    # -- $/log

    def log(self, level: str, message: Any) -> None:
        """Send a ``$/log`` message; ``level`` is error, warn, info, debug or trace."""
        if level not in _LOG_LEVELS:
            raise ValueError("log level must be one of %s, not %r" % (", ".join(_LOG_LEVELS), level))
        self._session.notify("$/log", {"level": level, "message": str(message)})

    def error(self, message: Any) -> None:
        """Something failed (the request may still succeed)."""
        self.log("error", message)

    def warn(self, message: Any) -> None:
        """Something is off but work goes on."""
        self.log("warn", message)

    def info(self, message: Any) -> None:
        """A step the user should see."""
        self.log("info", message)

    def debug(self, message: Any) -> None:
        """A detail shown with ``--verbose``."""
        self.log("debug", message)

    def trace(self, message: Any) -> None:
        """Everything else (shown with ``-vv``)."""
        self.log("trace", message)

    # -- $/progress

    def progress(self, title: str, total: Optional[int] = None) -> "Progress":
        """Start reporting progress of a long operation (``begin`` is sent now). Use it as a
        context manager, or call ``end()``; it also ends when the handler returns."""
        if total is not None:
            total = _u64(total, "total")
        token = "t%d" % self._session.next_number()
        params = {"token": token, "kind": "begin", "title": str(title)}  # type: Dict[str, Any]
        if total is not None:
            params["total"] = total
        self._session.notify("$/progress", params)
        p = Progress(self, token, total)
        self._open.append(p)
        return p

    def _end_all(self) -> None:
        for p in reversed(list(self._open)):
            p.end()

    # -- cancellation

    def is_cancelled(self) -> bool:
        """Whether the host asked to cancel the current request."""
        return self._cancelled.is_set()

    def check_cancelled(self) -> None:
        """Raise the ``cancelled`` error once the host asked to cancel: call it between steps."""
        if self._cancelled.is_set():
            raise PluginError.cancelled()

    # -- host/prompt

    def prompt(
        self,
        message: str,
        choices: Optional[Iterable[Any]] = None,
        default: Optional[str] = None,
        non_interactive_hint: Optional[str] = None,
    ) -> str:
        """Ask the user a question through the host and wait for the answer: the key of the
        chosen answer, or the text typed when there are no ``choices``. ``choices`` holds
        ``(key, label)`` pairs (or ``{"key": .., "label": ..}`` dicts). In a non-interactive
        session this raises at once a ``not-interactive`` error carrying
        ``non_interactive_hint`` (say which flag to pass instead)."""
        message = str(message)
        if not self._settings.interactive:
            raise PluginError(
                kind.NOT_INTERACTIVE,
                'cannot ask "%s": the session is not interactive' % message,
                hint=non_interactive_hint,
            )
        params = {"message": message}  # type: Dict[str, Any]
        listed = []
        for choice in choices or ():
            if isinstance(choice, dict):
                key, label = choice["key"], choice["label"]
            else:
                key, label = choice
            listed.append({"key": str(key), "label": str(label)})
        if listed:
            params["choices"] = listed
        if default is not None:
            params["default"] = str(default)
        if non_interactive_hint is not None:
            params["non_interactive_hint"] = str(non_interactive_hint)
        response = self._session.request("host/prompt", params)
        if response.error is not None:
            raise PluginError.from_wire(response.error)
        try:
            return _from_value(_PROMPT_RESULT, response.result)["answer"]
        except _DeError as e:
            raise PluginError(
                kind.INVALID_REQUEST, "the host answered `host/prompt` with an unexpected result: %s" % e
            ) from None

    def confirm(self, message: str, default: bool = False, non_interactive_hint: Optional[str] = None) -> bool:
        """Ask a yes/no question; ``default`` is taken when the user just presses Enter."""
        answer = self.prompt(
            message,
            choices=[("y", "yes"), ("n", "no")],
            default="y" if default else "n",
            non_interactive_hint=non_interactive_hint,
        )
        return _ascii_lower(answer) in ("y", "yes")


def _u64(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _U64_MAX:
        return int(value)
    raise ValueError("%s must be an integer from 0 to 2**64-1, not %r" % (name, value))


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


class Progress:
    """An operation reporting progress (from ``Context.progress``)."""

    def __init__(self, cx: Context, token: str, total: Optional[int]) -> None:
        self._cx = cx
        self.token = token
        self.total = total
        self.ended = False

    def report(self, message: str, done: Optional[int] = None) -> None:
        """Report a step, optionally with how many units are done."""
        params = {"token": self.token, "kind": "report", "message": str(message)}  # type: Dict[str, Any]
        if done is not None:
            params["done"] = _u64(done, "done")
        if self.total is not None:
            params["total"] = self.total
        self._cx._session.notify("$/progress", params)

    def end(self) -> None:
        """End the operation now (again is a no-op)."""
        if not self.ended:
            self.ended = True
            try:
                self._cx._open.remove(self)
            except ValueError:
                pass
            self._cx._session.notify("$/progress", {"token": self.token, "kind": "end"})

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.end()


# =============================================================================================
# Passthrough


class HostContext:
    """The context pyve passes to a passthrough command in its environment."""

    __slots__ = ("pyve", "pyve_version", "project_root", "pyve_home", "verbosity", "color")

    def __init__(
        self,
        pyve: Optional[str] = None,
        pyve_version: Optional[str] = None,
        project_root: Optional[str] = None,
        pyve_home: Optional[str] = None,
        verbosity: int = 0,
        color: bool = False,
    ) -> None:
        #: ``PYVE``: the path of the running pyve (to call it back).
        self.pyve = pyve
        #: ``PYVE_VERSION``.
        self.pyve_version = pyve_version
        #: ``PYVE_PROJECT_ROOT``: the project root pyve found (absent outside a project).
        self.project_root = project_root
        #: ``PYVE_HOME``: pyve's home (``~/.pyve`` by default).
        self.pyve_home = pyve_home
        #: ``PYVE_VERBOSITY``: -1 quiet, 0 normal, 1 verbose, 2 debug.
        self.verbosity = verbosity
        #: ``PYVE_COLOR`` is ``always``.
        self.color = color

    @classmethod
    def from_env(cls, environ: Optional[Dict[str, str]] = None) -> "HostContext":
        """Read the context from the environment (``os.environ`` by default). Empty variables
        count as absent; ``PYVE_VERSION`` that is not valid text, and ``PYVE_VERBOSITY`` that is
        not an integer from -128 to 127, too."""
        env = os.environ if environ is None else environ

        def var(name: str) -> Optional[str]:
            value = env.get(name)
            return value if value else None

        verbosity = 0
        raw = as_text(var("PYVE_VERBOSITY"))
        if raw is not None and re.match(r"[+-]?[0-9]+\Z", raw):
            n = int(raw)
            if -128 <= n <= 127:
                verbosity = n
        return cls(
            pyve=var("PYVE"),
            pyve_version=as_text(var("PYVE_VERSION")),
            project_root=var("PYVE_PROJECT_ROOT"),
            pyve_home=var("PYVE_HOME"),
            verbosity=verbosity,
            color=var("PYVE_COLOR") == "always",
        )

    def __repr__(self) -> str:
        return "HostContext(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostContext) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)


class Invocation:
    """One run of a passthrough command."""

    __slots__ = ("command", "args", "host")

    def __init__(self, command: str, args: List[str], host: HostContext) -> None:
        #: The command name the user typed (``pyve NAME``).
        self.command = command
        #: The arguments after it (arguments that are not valid UTF-8 hold lone surrogates;
        #: ``as_text`` tells them apart).
        self.args = args
        #: What pyve passed in the environment.
        self.host = host

    def __repr__(self) -> str:
        return "Invocation(command=%r, args=%r, host=%r)" % (self.command, self.args, self.host)


def run_passthrough(plugin: "Plugin", args: Sequence[str], environ: Optional[Dict[str, str]] = None) -> int:
    """Pick the command and run it; returns its exit code. ``PYVE_COMMAND`` names it when pyve
    routed a command to this plugin through its manifest; otherwise the command named like the
    plugin, or its only one. Without one, explains on stderr and returns 1 (a usage error, as pyve's own)."""
    env = os.environ if environ is None else environ
    wanted = as_text(env.get("PYVE_COMMAND")) or None
    found = None
    if wanted is not None:
        found = next((c for c in plugin._commands if c[0] == wanted), None)
    else:
        found = next((c for c in plugin._commands if c[0] == plugin.name), None)
        if found is None and len(plugin._commands) == 1:
            found = plugin._commands[0]
    if found is not None:
        name, _, func = found
        code_ = func(Invocation(name, list(args), HostContext.from_env(environ)))
        return 0 if code_ is None else int(code_)
    if wanted is not None:
        sys.stderr.write("ERROR: pyve-%s has no command `%s`\n" % (plugin.name, wanted))
    else:
        sys.stderr.write("ERROR: pyve-%s %s is a pyve plugin and is run by pyve\n" % (plugin.name, plugin.version))
    commands = [c[0] for c in plugin._commands]
    if not commands:
        sys.stderr.write(
            "hint: it provides no commands; see what it does with `pyve plugin info %s`\n" % plugin.name
        )
    else:
        sys.stderr.write("hint: run one of its commands through pyve: pyve %s\n" % " | pyve ".join(commands))
    sys.stderr.flush()
    return 1


# =============================================================================================
# The plugin


class Backend:
    """Optional base class for a backend: ``create``, ``describe``, ``activation`` and ``remove``
    are required, ``doctor`` reports no checks unless overridden."""

    def doctor(self, cx: Context, params: Dict[str, Any]) -> Dict[str, Any]:
        return {"checks": []}


class Plugin:
    """A plugin: its identity and the handlers of its roles."""

    def __init__(self, name: str, version: str, description: str = "") -> None:
        if not is_valid_plugin_name(name):
            raise ValueError("invalid plugin name %r: use [a-z][a-z0-9-]*" % (name,))
        self.name = name
        self.version = str(version)
        self.description = str(description)
        self._backends = []  # type: List[Tuple[Dict[str, Any], Any]]
        self._commands = []  # type: List[Tuple[str, str, Callable[[Invocation], Optional[int]]]]
        self._hooks = []  # type: List[Tuple[str, str, Callable[[Context, Dict[str, Any]], Any]]]

    def command(self, name: str, summary: str = "") -> Callable[[Callable], Callable]:
        """Decorator: add a passthrough command. The function takes an ``Invocation`` and
        returns the exit code (``None`` means 0)."""

        def register(func: Callable[[Invocation], Optional[int]]) -> Callable[[Invocation], Optional[int]]:
            self._commands.append((str(name), str(summary), func))
            return func

        return register

    def hook(self, event: str, description: str = "") -> Callable[[Callable], Callable]:
        """Decorator: add a hook for ``event``; protocol 1.0 defines one event, ``post-create``
        (the host calls ``hook/post-create``). The function takes ``(cx, params)`` and returns a
        dict ``{"changed": bool, "summary": str}`` (both optional).

        Raises ``ValueError`` for another event, as the Rust SDK panics: a hook the host would
        never call is a programming error."""
        event = str(event)
        if event != "post-create":
            raise ValueError(
                'unknown hook event %s: protocol 1.0 defines only "post-create"' % _rust_debug_str(event)
            )

        def register(func: Callable[[Context, Dict[str, Any]], Any]) -> Callable[[Context, Dict[str, Any]], Any]:
            self._hooks.append((str(event), str(description), func))
            return func

        return register

    def backend(
        self,
        name: str,
        backend: Any,
        selectors: Sequence[str] = (),
        priority: int = 0,
        description: str = "",
    ) -> Any:
        """Add a backend: an object with ``create``, ``describe``, ``activation`` and ``remove``
        methods (and optionally ``doctor``), each ``(cx, params) -> dict``. ``selectors`` lists
        the project files that select it; the higher ``priority`` wins when several match."""
        missing = [m for m in ("create", "describe", "activation", "remove") if not callable(getattr(backend, m, None))]
        if missing:
            raise TypeError("backend %r lacks %s" % (name, ", ".join(missing)))
        if isinstance(selectors, str):
            raise TypeError("selectors must be a list of file names, not a string")
        info = {"name": str(name), "selectors": [str(s) for s in selectors], "priority": int(priority)}
        if not _I32_MIN <= info["priority"] <= _I32_MAX:
            raise ValueError("priority must fit in 32 bits")
        info["description"] = str(description)
        self._backends.append((info, backend))
        return backend

    def manifest(self, protocol: str = PROTOCOL_VERSION) -> Dict[str, Any]:
        """The manifest sent in answer to ``initialize``, for a negotiated protocol version."""
        provides = {}  # type: Dict[str, Any]
        if self._backends:
            backends = []
            for info, _ in self._backends:
                b = {"name": info["name"], "priority": info["priority"]}  # type: Dict[str, Any]
                if info["selectors"]:
                    b["selectors"] = list(info["selectors"])
                if info["description"]:
                    b["description"] = info["description"]
                backends.append(b)
            provides["backends"] = backends
        if self._commands:
            provides["commands"] = [
                dict({"name": n}, **({"summary": s} if s else {})) for n, s, _ in self._commands
            ]
        if self._hooks:
            provides["hooks"] = [
                dict({"event": e}, **({"description": d} if d else {})) for e, d, _ in self._hooks
            ]
        manifest = {"name": self.name, "version": self.version, "protocol": protocol}  # type: Dict[str, Any]
        if self.description:
            manifest["description"] = self.description
        manifest["provides"] = provides
        manifest["capabilities"] = {"cancel": True, "progress": True, "prompt": True}
        return manifest

    def _result(self, method: str, out: _O, value: Any) -> Any:
        try:
            return out.norm(value, "")
        except _ResultError as e:
            raise _BadResult("plugin `%s` returned an invalid result for `%s`: %s" % (self.name, method, e)) from None

    def _dispatch(self, cx: Context, req: _Request) -> Any:
        method = req.method
        spec = _BACKEND_METHODS.get(method)
        if spec is not None:
            attr, params_type, out = spec
            try:
                params = _from_value(params_type, req.params)
            except _DeError as e:
                raise PluginError.invalid_params("invalid parameters for `%s`: %s" % (method, e)) from None
            backend = next((b for info, b in self._backends if info["name"] == params["backend"]), None)
            if backend is None:
                known = [info["name"] for info, _ in self._backends]
                raise PluginError.invalid_params(
                    "plugin `%s` has no backend `%s` (it provides: %s)"
                    % (self.name, params["backend"], ", ".join(known) if known else "no backends")
                )
            handler = getattr(backend, attr, None)
            if handler is None:  # doctor is optional
                return {"checks": []}
            return self._result(method, out, handler(cx, params))
        if method == "hook/post-create":
            hooks = [h for h in self._hooks if h[0] == "post-create"]
            if hooks:
                try:
                    params = _from_value(_POST_CREATE, req.params)
                except _DeError as e:
                    raise PluginError.invalid_params("invalid parameters for `%s`: %s" % (method, e)) from None
                merged = {"changed": False}  # type: Dict[str, Any]
                for _, _, func in hooks:
                    r = self._result(method, _O_HOOK, func(cx, dict(params)))
                    merged["changed"] = merged["changed"] or r["changed"]
                    if "summary" in r:
                        merged["summary"] = r["summary"]
                return merged
        raise PluginError("method-not-found", "unknown method `%s`" % method, code=code.METHOD_NOT_FOUND)


class _BadResult(Exception):
    """A handler's result does not fit its method (reported as an internal error)."""


# =============================================================================================
# Running


class _LineReader:
    """Lines of at most `limit` bytes from a file descriptor, without their endings, skipping
    empty ones; a longer line raises (which ends the session, as in the Rust SDK)."""

    def __init__(self, fd: int, limit: int = MAX_LINE) -> None:
        self.fd = fd
        self.limit = limit
        self.buf = bytearray()
        self.pos = 0
        self.scanned = 0
        self.eof = False

    def __call__(self) -> Optional[bytes]:
        while True:
            nl = self.buf.find(b"\n", max(self.pos, self.scanned))
            if nl >= 0:
                line = bytes(self.buf[self.pos : nl])
                self.pos = nl + 1
                self.scanned = self.pos
                if len(line) > self.limit:
                    raise ValueError("a line is longer than %d bytes" % self.limit)
                line = line.rstrip(b"\r\n")
                if line:
                    return line
                continue
            if len(self.buf) - self.pos > self.limit:
                raise ValueError("a line is longer than %d bytes" % self.limit)
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            self.scanned = len(self.buf)
            if self.eof:
                line = bytes(self.buf).rstrip(b"\r\n")
                self.buf.clear()
                return line or None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.eof = True
            else:
                self.buf += chunk


def serve_stdio(plugin: "Plugin") -> int:
    """Serve on stdin/stdout. First the protocol's descriptors are made private: stdout is
    moved to a private descriptor and descriptor 1 (and ``sys.stdout``) now go to stderr, so a
    stray ``print()`` shows up for the user instead of corrupting the protocol; stdin is moved
    too and descriptor 0 reads ``/dev/null``, so a child process cannot swallow the host's
    messages. SIGINT gets its default action, as in a Rust plugin (pyve cancels with
    ``$/cancel``)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    out_fd, in_fd = 1, 0
    try:
        out_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:
        out_fd = 1
    sys.stdout = sys.stderr
    try:
        in_fd = os.dup(0)
    except OSError:
        in_fd = 0
    else:
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            try:
                os.dup2(null, 0)
            finally:
                os.close(null)
        except OSError:  # descriptor 0 stays as it was: read the protocol from it
            os.close(in_fd)
            in_fd = 0
    if threading.current_thread() is threading.main_thread():
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        except (ValueError, OSError):
            pass

    def sink(line: bytes) -> None:
        view = memoryview(line)
        while view:
            n = os.write(out_fd, view)
            view = view[n:]

    return serve(plugin, _LineReader(in_fd), sink)


def run(plugin: "Plugin", argv: Optional[Sequence[str]] = None) -> int:
    """Like ``main`` but returns the exit code instead of exiting."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--pyve-rpc":
        return serve_stdio(plugin)
    try:
        return run_passthrough(plugin, args)
    except KeyboardInterrupt:
        return 130


def main(plugin: "Plugin", argv: Optional[Sequence[str]] = None) -> None:
    """Run the plugin as an executable: with ``--pyve-rpc`` it speaks the protocol on
    stdin/stdout; otherwise it runs the passthrough command pyve asked for. Exits with the
    code.

    After a session ends the process exits at once, as a Rust plugin does, even when threads
    the plugin started are still running (``atexit`` handlers then do not run; logging is
    flushed)."""
    args = list(sys.argv[1:] if argv is None else argv)
    code_ = run(plugin, args)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    if args and args[0] == "--pyve-rpc":
        others = [
            t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon and t.is_alive()
        ]
        if others:  # waiting for them would look like a hang to the host
            logging = sys.modules.get("logging")
            if logging is not None:
                try:
                    logging.shutdown()
                except Exception:
                    pass
            os._exit(code_)
    sys.exit(code_)


# =============================================================================================
# Testing


class TestClient:
    """A host for tests: serves ``plugin`` on a thread through in-memory lines, through the very
    code that serves stdin/stdout.

    ``on_prompt(params) -> str`` answers ``host/prompt`` (or raises ``PluginError``) and makes
    the session interactive."""

    __test__ = False  # not a test case, whatever pytest thinks of its name

    def __init__(
        self,
        plugin: Plugin,
        on_prompt: Optional[Callable[[Dict[str, Any]], str]] = None,
        interactive: Optional[bool] = None,
        timeout: float = 60.0,
    ) -> None:
        self._to_plugin = queue.Queue()  # type: queue.Queue
        self._from_plugin = queue.Queue()  # type: queue.Queue
        self._next_id = 1
        self.timeout = timeout
        self.notifications = []  # type: List[Dict[str, Any]]
        self.on_prompt = on_prompt
        self.interactive = (on_prompt is not None) if interactive is None else interactive
        self.exit_code = None  # type: Optional[int]

        def run_server() -> None:
            self.exit_code = serve(plugin, self._to_plugin.get, self._from_plugin.put)
            self._from_plugin.put(None)

        self._thread = threading.Thread(target=run_server, name="pyve-plugin-test", daemon=True)
        self._thread.start()

    def initialize(
        self, project_root: Optional[str] = None, protocol_versions: Sequence[str] = (PROTOCOL_VERSION,)
    ) -> Dict[str, Any]:
        """The handshake, as pyve does it; returns the manifest."""
        params = {
            "protocol_versions": list(protocol_versions),
            "host": {"name": "pyve-test", "version": "0.0.0"},
            "settings": {"interactive": self.interactive, "color": False},
        }  # type: Dict[str, Any]
        if project_root is not None:
            params["project"] = {"root": str(project_root)}
        return self.call("initialize", params)

    def call(self, method: str, params: Any = None) -> Any:
        """Call a method and return its result (raises ``PluginError`` for an error answer),
        collecting notifications and answering prompts on the way."""
        response = self.wait_for(self.send_request(method, params))
        if "error" in response:
            raise PluginError.from_wire(response["error"])
        return response["result"]

    def send_request(self, method: str, params: Any = None) -> int:
        """Send a request without waiting; returns its id (see ``wait_for``)."""
        id_ = self._next_id
        self._next_id += 1
        self._to_plugin.put(_line_request(id_, method, params))
        return id_

    def notify(self, method: str, params: Any = None) -> None:
        """Send a notification."""
        self._to_plugin.put(_line_notification(method, params))

    def cancel(self, id_: Any) -> None:
        """Ask the plugin to cancel a request sent with ``send_request``."""
        self.notify("$/cancel", {"id": id_})

    def send_raw(self, line: Any) -> None:
        """Send raw bytes (or text) as one line."""
        self._to_plugin.put(line.encode("utf-8") if isinstance(line, str) else bytes(line))

    def recv(self) -> Dict[str, Any]:
        """The next message from the plugin, whatever it is."""
        try:
            line = self._from_plugin.get(timeout=self.timeout)
        except queue.Empty:
            raise AssertionError("the plugin did not answer within %s seconds" % self.timeout) from None
        if line is None:
            self._from_plugin.put(None)
            raise AssertionError("the plugin ended the session")
        return json.loads(line.decode("utf-8"))

    def wait_for(self, id_: Any) -> Dict[str, Any]:
        """Wait for the response to ``id_`` (a dict with ``result`` or ``error``)."""
        while True:
            message = self.recv()
            if "method" in message and "id" in message:
                self._answer(message)
            elif "method" in message:
                self.notifications.append(message)
            elif message.get("id") == id_:
                return message
            else:
                raise AssertionError("a response to an unknown request: %r" % (message,))

    def _answer(self, request: Dict[str, Any]) -> None:
        if request["method"] == "host/prompt" and self.on_prompt is not None:
            try:
                answer = self.on_prompt(request.get("params") or {})
            except PluginError as e:
                line = _line_response(request["id"], error=e.to_wire())
            else:
                line = _line_response(request["id"], result={"answer": answer})
        elif request["method"] == "host/prompt":
            line = _line_response(
                request["id"],
                error=_error(-32000, kind.NOT_INTERACTIVE, "unexpected prompt in a test: %s"
                             % (request.get("params") or {}).get("message")),
            )
        else:
            line = _line_response(
                request["id"],
                error=_error(code.METHOD_NOT_FOUND, kind.METHOD_NOT_FOUND, "unknown method `%s`" % request["method"]),
            )
        self._to_plugin.put(line)

    def logs(self) -> List[Dict[str, Any]]:
        """The ``$/log`` parameters received so far."""
        return [n["params"] for n in self.notifications if n.get("method") == "$/log"]

    def progress(self) -> List[Dict[str, Any]]:
        """The ``$/progress`` parameters received so far."""
        return [n["params"] for n in self.notifications if n.get("method") == "$/progress"]

    def shutdown(self) -> None:
        """End the session with ``shutdown`` and wait for the plugin to stop."""
        self.call("shutdown")
        self.close()

    def close(self) -> None:
        """End the input; the plugin finishes what it was given and stops."""
        self._to_plugin.put(None)
        self._thread.join(self.timeout)
