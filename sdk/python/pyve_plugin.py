"""pyve_plugin: write pyve plugins in Python (one file, standard library only, Python 3.8+).

The Python twin of the Rust SDK (``sdk/plugin``) for the protocol of ``docs/protocol.md``; the API
is in ``sdk/python/README.md``. ``pyve plugin test ./pyve-NAME`` checks a plugin against the protocol.
"""

import errno
import json
import os
import queue
import select
import signal
import sys
import threading
import time
import types
import traceback
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

PROTOCOL_VERSION = "1.1"
MAX_LINE = 16 * 1024 * 1024  # a longer line from the host ends the session
LOG_LEVELS = ("error", "warn", "success", "info", "debug", "trace")

class code:  # noqa: N801 - the error codes of protocol.md section 9
    PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
    INTERNAL_ERROR, FAILED, INCOMPATIBLE_PROTOCOL, CANCELLED = -32603, -32000, -32001, -32800

class kind:  # noqa: N801 - the error kinds (any other lowercase-words-joined-by-dashes is -32000)
    PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND = "parse-error", "invalid-request", "method-not-found"
    INVALID_PARAMS, INTERNAL, INCOMPATIBLE_PROTOCOL = "invalid-params", "internal", "incompatible-protocol"
    CANCELLED, NOT_FOUND, IO, NOT_INTERACTIVE, FAILED = "cancelled", "not-found", "io", "not-interactive", "failed"

# The kinds with a code of their own (same attribute name in both classes); any other is -32000.
_CODE_OF_KIND = dict({getattr(kind, n): getattr(code, n) for n in vars(code) if n.isupper() and hasattr(kind, n)},
                     internal=code.INTERNAL_ERROR)

def is_valid_plugin_name(name: str) -> bool:
    """``[a-z][a-z0-9-]*``: the part after ``pyve-`` in a plugin's file name."""
    return bool(name) and "a" <= name[0] <= "z" and all(c.isdigit() or "a" <= c <= "z" or c == "-" for c in name)

def as_text(value: Optional[str]) -> Optional[str]:
    """``value``, or None when it was not valid UTF-8 (lone surrogates), like Rust's ``to_str``."""
    try:
        return None if value is None else value.encode("utf-8").decode("utf-8")
    except UnicodeEncodeError:
        return None

# Errors

class PluginError(Exception):
    """An error for the host: a stable ``kind`` (the code follows it), a message, usually a ``hint``."""
    def __init__(self, kind: str, message: str, hint: Optional[str] = None, details: Any = None,
                 code: Optional[int] = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.hint, self.details = str(kind), str(message), hint, details
        self.code = code if code is not None else _CODE_OF_KIND.get(self.kind, -32000)
    # PluginError.not_found/invalid_params/io(message, hint=None, details=None), .cancelled()
    not_found, invalid_params, io = (classmethod(lambda cls, message, hint=None, details=None, k=k:
                                                 cls(k, message, hint, details))
                                     for k in (kind.NOT_FOUND, kind.INVALID_PARAMS, kind.IO))
    cancelled = classmethod(lambda cls: cls(kind.CANCELLED, "the request was cancelled"))
    from_os_error = classmethod(lambda cls, error: cls(kind.IO, _os_reason(error)))
    @classmethod
    def io_error(cls, action: str, path: Any, error: BaseException) -> "PluginError":
        """``cannot <action> <path>: <reason>``, with a hint for a denied permission or a full disk."""
        path, number, hint = os.fspath(path) if isinstance(path, os.PathLike) else str(path), getattr(error, "errno", 0), None
        if number in (errno.EACCES, errno.EPERM, errno.EROFS):
            hint = "check the permissions of %s" % (os.path.dirname(path) or path)
        elif number in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            hint = "free some disk space and try again"
        return cls(kind.IO, "cannot %s %s: %s" % (action, path, _os_reason(error)), hint)
    @classmethod
    def from_wire(cls, obj: Dict[str, Any]) -> "PluginError":
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        return cls(data.get("kind") or kind.FAILED, obj.get("message", ""), data.get("hint"), data.get("details"),
                   obj.get("code"))
    def to_wire(self) -> Dict[str, Any]:
        data = {"kind": self.kind, "hint": self.hint, "details": self.details}
        return {"code": int(self.code), "message": self.message, "data": {k: v for k, v in data.items() if v is not None}}

def _os_reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return "%s (os error %d)" % (error.strerror, error.errno) if error.errno else error.strerror
    return str(error) or type(error).__name__

def _error(kind_: str, message: str) -> Dict[str, Any]:
    return PluginError(kind_, message).to_wire()

# The wire: one JSON-RPC 2.0 message per line

def _encode(message: Dict[str, Any]) -> bytes:
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return text.encode("utf-8", "surrogateescape") + b"\n"

def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError("%s is not JSON" % type(value).__name__)

def _usable_id(message: Any) -> Any:
    id_ = message.get("id") if isinstance(message, dict) else None
    return id_ if isinstance(id_, (int, str)) and not isinstance(id_, bool) else None

def _decode(line: bytes) -> Tuple[str, Any]:
    """One line → ("request"|"notification"|"response", message) or ("error", error response)."""
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return "error", {"jsonrpc": "2.0", "id": None, "error": _error(kind.PARSE_ERROR, "not JSON: %s" % e)}
    def invalid(why: str) -> Tuple[str, Any]:
        return "error", {"jsonrpc": "2.0", "id": _usable_id(message),
                         "error": _error(kind.INVALID_REQUEST, "not a JSON-RPC 2.0 message: %s" % why)}
    if not isinstance(message, dict):
        return invalid("a message is a JSON object")
    if message.get("jsonrpc") != "2.0":
        return invalid('`jsonrpc` must be "2.0"')
    has_id = "id" in message
    if has_id and message["id"] is not None and _usable_id(message) is None:
        return invalid("`id` must be an integer or a string")
    if "method" in message:
        if not isinstance(message["method"], str):
            return invalid("`method` must be a string")
        if message.get("params") is not None and not isinstance(message["params"], (dict, list)):
            return invalid("`params` must be an object")
        return ("request" if has_id and message["id"] is not None else "notification"), message
    if has_id and (("result" in message) != ("error" in message)):
        return "response", message
    return invalid("neither a request, a response nor a notification")

# What each method's params must hold (others are passed through untouched), and the defaults
# of its optional fields. A params object that does not fit is answered `invalid-params`.
_STR, _BOOL, _OBJ, _OPT_STR = (str,), (bool,), (dict,), (str, type(None))
_ENV = {"project_root": _STR, "backend": _STR}
_PARAMS = dict({m: (_ENV, {"settings": (_OBJ, {})}) for m in ("env/describe", "env/activation", "env/remove", "doctor/checks")},
               **{"env/create": (_ENV, {"python_version": (_OPT_STR, None), "settings": (_OBJ, {}), "replace": (_BOOL, False)}),
                  "hook/post-create": (dict(_ENV, env_path=_STR), {"interpreter": (_OPT_STR, None),
                                       "python_version": (_OPT_STR, None), "created": (_BOOL, False)})})
# Result fields each method must return, and defaults filled in for the others.
_RESULTS = {"env/create": (("env_path", "created"), {}), "env/describe": (("exists",), {}), "env/activation": ((), {}),
            "env/remove": ((), {"removed": []}), "doctor/checks": ((), {"checks": []}), "hook/post-create": ((), {"changed": False})}

def _params(method: str, params: Any) -> Dict[str, Any]:
    def invalid(why: str) -> PluginError:
        return PluginError.invalid_params("invalid parameters for `%s`: %s" % (method, why))
    if not isinstance(params, dict):
        raise invalid("expected an object")
    out, (required, optional) = dict(params), _PARAMS[method]  # every field, unknown ones included
    for name, (types, default) in dict({n: (t, Ellipsis) for n, t in required.items()}, **optional).items():
        if default is Ellipsis and name not in out:
            raise invalid("missing field `%s`" % name)
        if default is not Ellipsis and out.get(name) is None:
            out[name] = dict(default) if isinstance(default, dict) else default
        elif not isinstance(out[name], types):
            raise invalid("`%s` must be a %s, not %s" % (name, types[0].__name__, json.dumps(out[name])))
    return out

def _result(plugin_name: str, method: str, value: Any) -> Dict[str, Any]:
    """A handler's result, checked (one that does not fit its method is an `internal` error)."""
    required, defaults = _RESULTS[method]
    missing = [f for f in required if value.get(f) is None] if isinstance(value, dict) else [None]
    if missing:
        what = "an invalid result" if missing[0] else type(value).__name__
        why = "missing field `%s`" % missing[0] if missing[0] else "a handler returns a dict"
        raise PluginError(kind.INTERNAL, "plugin `%s` returned %s for `%s`: %s" % (plugin_name, what, method, why))
    return dict(defaults, **{k: v for k, v in value.items() if v is not None})

def _version(text: Any) -> Optional[Tuple[int, int]]:
    parts = text.split(".") if isinstance(text, str) else []
    return (int(parts[0]), int(parts[1])) if len(parts) == 2 and all(p.isdigit() and p.isascii() for p in parts) else None

def _initialize(plugin: "Plugin", params: Any) -> Dict[str, Any]:
    versions = params.get("protocol_versions") if isinstance(params, dict) else None
    offered = [_version(v) for v in versions] if isinstance(versions, list) else None
    why = ("missing field `protocol_versions`" if offered is None else "a protocol version is MAJOR.MINOR"
           if None in offered else "`protocol_versions` is empty: offer at least one version" if not offered else "")
    if why:
        raise PluginError.invalid_params("invalid parameters for `initialize`: " + why)
    ours = _version(PROTOCOL_VERSION)
    minors = [minor for major, minor in offered if major == ours[0]]
    if minors:
        return plugin.manifest("%d.%d" % (ours[0], min(max(minors), ours[1])))
    host = params.get("host") if isinstance(params.get("host"), dict) else {}
    host_name, texts = host.get("name", "the host"), ["%d.%d" % v for v in offered]
    raise PluginError(
        kind.INCOMPATIBLE_PROTOCOL,
        "no shared protocol version: %s %s speaks %s, plugin %s %s speaks %s" % (
            host_name, host.get("version", "?"), ", ".join(texts), plugin.name, plugin.version, PROTOCOL_VERSION),
        hint="install a version of pyve-%s built for protocol %s, or a %s that speaks protocol %d" % (
            plugin.name, "/".join(str(m) for m in sorted({v[0] for v in offered})), host_name, ours[0]),
        details={"plugin": [PROTOCOL_VERSION], "host": texts})

# The session: a reader thread routes what comes in; the worker answers requests one at a time

class _Session:
    def __init__(self, sink: Callable[[bytes], Any]) -> None:
        self._sink, self._write, self._lock = sink, threading.Lock(), threading.Lock()
        self._pending = {}  # type: Dict[Any, List[Any]]  # host/prompt id -> [event, response]
        self._current = None  # type: Optional[Tuple[Any, threading.Event]]
        self._cancelled_early = set()  # type: set  # ids cancelled while queued
        self._counter, self.input_closed = 0, False
    def send(self, message: Dict[str, Any]) -> None:
        message = dict({"jsonrpc": "2.0"}, **message)
        try:
            line = _encode(message)
        except (TypeError, ValueError) as e:  # unencodable result or error details
            line = _encode({"jsonrpc": "2.0", "id": message.get("id"),
                            "error": _error(kind.INTERNAL, "the plugin's answer is not JSON: %s" % e)})
        with self._write:
            try:
                self._sink(line)
            except Exception:  # a host that stopped listening cannot be told anything
                pass
    def notify(self, method: str, params: Dict[str, Any]) -> None:
        self.send({"method": method, "params": params})
    def next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter
    def request(self, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
        """Send a request to the host and wait for its response."""
        id_ = "p%d" % self.next_number()
        waiter = [threading.Event(), None]  # type: List[Any]
        with self._lock:
            if self.input_closed:
                raise PluginError(kind.IO, "the host closed the session")
            self._pending[id_] = waiter
        self.send({"id": id_, "method": method, "params": params})
        waiter[0].wait()
        if waiter[1] is None:
            raise PluginError(kind.IO, "the host closed the session before answering")
        return waiter[1]
    def deliver(self, response: Dict[str, Any]) -> None:
        with self._lock:
            waiter = self._pending.pop(_usable_id(response), None)
        if waiter is not None:
            waiter[1] = response
            waiter[0].set()
    def cancel(self, id_: Any) -> None:
        with self._lock:
            if self._current is not None and self._current[0] == id_:
                self._current[1].set()
            else:  # queued (answered `cancelled` unrun), or already answered (forgotten)
                self._cancelled_early.add(id_)
    def close_input(self) -> None:
        """The host is gone: the running request sees itself cancelled, prompts fail."""
        with self._lock:
            self.input_closed = True
            if self._current is not None:
                self._current[1].set()
            waiters, self._pending = list(self._pending.values()), {}
        for waiter in waiters:
            waiter[0].set()
    def begin(self, id_: Any) -> Optional[threading.Event]:
        """The worker starts request ``id_``: its cancel flag, or None if it was cancelled."""
        with self._lock:
            early = id_ in self._cancelled_early
            self._cancelled_early.clear()
            if early:
                return None
            self._current = (id_, threading.Event())
            return self._current[1]
    def end(self) -> None:
        with self._lock:
            self._current = None

def serve(plugin: "Plugin", source: Callable[[], Optional[bytes]], sink: Callable[[bytes], Any]) -> int:
    """One session until ``shutdown`` or the end of ``source()`` (lines, then None); returns 0."""
    session = _Session(sink)
    work = queue.Queue()  # type: queue.Queue
    def reader() -> None:
        try:
            while True:
                try:
                    line = source()
                except Exception as e:  # a line over the limit, a read error: framing is lost
                    sys.stderr.write("pyve plugin: ending the session: %s\n" % (e,))
                    break
                if line is None:
                    break
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                what, message = _decode(line)
                if what == "error":
                    session.send(message)
                elif what == "request":
                    work.put(message)
                elif what == "response":
                    session.deliver(message)
                elif message["method"] == "$/cancel" and isinstance(message.get("params"), dict):
                    session.cancel(_usable_id(message["params"]))
                # other notifications are ignored: newer hosts may send ones we do not know
        finally:
            session.close_input()
            work.put(None)
    threading.Thread(target=reader, name="pyve-plugin-reader", daemon=True).start()
    init = None  # type: Optional[Dict[str, Any]]
    while True:
        req = work.get()
        if req is None:
            return 0
        id_, method, params = req["id"], req["method"], req.get("params")
        if method == "shutdown":
            session.send({"id": id_, "result": None})
            return 0
        flag = session.begin(id_)
        response = {"id": id_}  # type: Dict[str, Any]
        try:
            if flag is None:
                raise PluginError.cancelled()
            if method == "initialize":
                response["result"] = _initialize(plugin, params)
                init = params
            elif init is None:
                raise PluginError(kind.INVALID_REQUEST, "`%s` before `initialize`: the session must start "
                                  "with `initialize`" % method)
            else:
                response["result"] = plugin._dispatch(Context(session, flag, init), method, params)
        except PluginError as e:
            response["error"] = e.to_wire()
        except OSError as e:
            response["error"] = PluginError.from_os_error(e).to_wire()
        except Exception as e:  # a bug in the plugin: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            response["error"] = _error(kind.INTERNAL, "plugin `%s` failed while handling `%s`: %s: %s"
                                       % (plugin.name, method, type(e).__name__, e))
        finally:
            session.end()
        session.send(response)

# What handlers get

class HostSettings(types.SimpleNamespace):  # from `initialize`: interactive, verbosity, color
    pass

class _Levels:
    """``error``/``warn``/``success``/``info``/``debug``/``trace(message)``: ``self.log(level, message)``."""
    def error(self, message: Any) -> None: self.log("error", message)  # noqa: E301,E704  ERROR: (stderr)
    def warn(self, message: Any) -> None: self.log("warn", message)  # noqa: E704  WARNING: (stderr)
    def success(self, message: Any) -> None: self.log("success", message)  # noqa: E704  ✓ (stdout)
    def info(self, message: Any) -> None: self.log("info", message)  # noqa: E704  INFO: (stdout)
    def debug(self, message: Any) -> None: self.log("debug", message)  # noqa: E704  with --verbose
    def trace(self, message: Any) -> None: self.log("trace", message)  # noqa: E704  with -v -v

class Context(_Levels):
    """What a handler gets: ``$/log``, ``$/progress``, ``host/prompt`` through the host; cancellation."""
    def __init__(self, session: _Session, cancelled: threading.Event, init: Dict[str, Any]) -> None:
        self._session, self._cancelled, self._open = session, cancelled, []  # type: Any
        s = init.get("settings") if isinstance(init.get("settings"), dict) else {}
        self.settings = HostSettings(interactive=bool(s.get("interactive")), verbosity=int(s.get("verbosity") or 0),
                                     color=bool(s.get("color")))
        project = init.get("project") if isinstance(init.get("project"), dict) else {}
        self.project_root = project.get("root")  # requests carry their own project_root: use that
    def log(self, level: str, message: Any) -> None:
        if level not in LOG_LEVELS:
            raise ValueError("log level must be one of %s, not %r" % (", ".join(LOG_LEVELS), level))
        self._session.notify("$/log", {"level": level, "message": str(message)})
    def progress(self, title: str, total: Optional[int] = None) -> "Progress":
        """``begin`` now; ``with`` it or ``end()`` it, else it ends with the handler."""
        p = Progress(self, "t%d" % self._session.next_number(), total)
        self._session.notify("$/progress", _some(token=p.token, kind="begin", title=str(title), total=total))
        self._open.append(p)
        return p
    def is_cancelled(self) -> bool:  # by `$/cancel`, or the host went away
        return self._cancelled.is_set()
    def check_cancelled(self) -> None:  # raise `cancelled` if so: call it between steps
        if self._cancelled.is_set():
            raise PluginError.cancelled()
    def prompt(self, message: str, choices: Optional[Iterable[Any]] = None, default: Optional[str] = None,
               non_interactive_hint: Optional[str] = None) -> str:
        """The chosen key of ``(key, label)`` ``choices``, or the text typed; ``not-interactive`` at once
        when the session is not."""
        if not self.settings.interactive:
            raise PluginError(kind.NOT_INTERACTIVE, 'cannot ask "%s": the session is not interactive' % message,
                              hint=non_interactive_hint)
        listed = [c if isinstance(c, dict) else {"key": str(c[0]), "label": str(c[1])} for c in choices or ()]
        response = self._session.request("host/prompt", _some(message=str(message), choices=listed or None,
                                                              default=default, non_interactive_hint=non_interactive_hint))
        if "error" in response:
            raise PluginError.from_wire(response["error"] if isinstance(response["error"], dict) else {})
        result = response.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("answer"), str):
            raise PluginError(kind.INVALID_REQUEST, "the host answered `host/prompt` with an unexpected result")
        return result["answer"]
    def confirm(self, message: str, default: bool = False, non_interactive_hint: Optional[str] = None) -> bool:
        answer = self.prompt(message, [("y", "yes"), ("n", "no")], "y" if default else "n", non_interactive_hint)
        return answer.lower() in ("y", "yes")

def _some(**fields: Any) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}

class Progress:  # from Context.progress
    def __init__(self, cx: Context, token: str, total: Optional[int]) -> None:
        self._cx, self.token, self.total, self.ended = cx, token, total, False
    def report(self, message: str, done: Optional[int] = None) -> None:
        self._cx._session.notify("$/progress", _some(token=self.token, kind="report", message=str(message),
                                                     done=done, total=self.total))
    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self._cx._open.remove(self)
            self._cx._session.notify("$/progress", {"token": self.token, "kind": "end"})
    def __enter__(self) -> "Progress": return self  # noqa: E704
    def __exit__(self, *exc: Any) -> None: self.end()  # noqa: E301,E704

# Passthrough: `pyve NAME ARGS...` runs the plugin with ARGS and the context in variables

class HostContext(types.SimpleNamespace):
    """What pyve passes to a passthrough command (an empty variable counts as absent)."""
    @classmethod
    def from_env(cls, environ: Optional[Dict[str, str]] = None) -> "HostContext":
        env = os.environ if environ is None else environ
        var = lambda name: env.get(name) or None  # noqa: E731
        verbosity = var("PYVE_VERBOSITY") or "0"
        verbosity = int(verbosity) if verbosity.lstrip("+-").isdigit() and verbosity.isascii() else 0
        return cls(pyve=var("PYVE"), pyve_version=as_text(var("PYVE_VERSION")), project_root=var("PYVE_PROJECT_ROOT"),
                   pyve_home=var("PYVE_HOME"), verbosity=verbosity if -128 <= verbosity <= 127 else 0,
                   color=var("PYVE_COLOR") == "always")

class Invocation(types.SimpleNamespace):
    """One run of a passthrough command: ``command`` (the name typed), ``args``, ``host``."""
    def __init__(self, command: str, args: List[str], host: HostContext) -> None:
        super().__init__(command=command, args=args, host=host)
    output = property(lambda self: Output(self.host.verbosity, self.host.color))

# The status lines of pyve and its plugins, as pyve_protocol::output::Line:
# kind -> (prefix, stream: 1 stdout / 2 stderr, lowest verbosity that shows it, SGR colour).
LINES = {"error": ("ERROR:", 2, -1, "1;31"), "warn": ("WARNING:", 2, -1, "1;33"), "hint": ("hint:", 2, -1, "1;36"),
         "info": ("INFO:", 1, 0, "1;34"), "success": ("\u2713", 1, 0, "1;32"), "plain": ("", 1, 0, ""),
         "debug": ("", 2, 1, "2"), "trace": ("", 2, 2, "2")}

def render(line_kind: str, message: str, color: bool = False) -> str:
    """One status line without its newline: ``render("error", "boom") == "ERROR: boom"``."""
    prefix, _, _, sgr = LINES[line_kind]
    if not prefix:
        return "\x1b[%sm%s\x1b[0m" % (sgr, message) if color and sgr else message
    return "\x1b[%sm%s\x1b[0m %s" % (sgr, prefix, message) if color else "%s %s" % (prefix, message)

class Output(_Levels):
    """A passthrough command's terminal, the Rust SDK's ``pyve_sdk::output`` (RPC handlers use ``Context``)."""
    def __init__(self, verbosity: int = 0, color: bool = False, stdout: Any = None, stderr: Any = None) -> None:
        self.verbosity, self.color, self._stdout, self._stderr = verbosity, color, stdout, stderr
    @classmethod
    def from_env(cls) -> "Output":
        host = HostContext.from_env()
        return cls(host.verbosity, host.color)
    def line(self, line_kind: str, message: Any) -> None:
        """One line of a kind of ``LINES`` (also a ``$/log`` level)."""
        _, stream, least, _ = LINES[line_kind]
        if self.verbosity < least:
            return
        out, err = self._stdout or sys.stdout, self._stderr or sys.stderr
        if stream == 2:
            out.flush()
            out = err
        out.write(render(line_kind, str(message), self.color and (stream == 2 or out.isatty())) + "\n")
        out.flush()
    log = line
    def status(self, message: Any) -> None: self.line("plain", message)  # noqa: E301,E704
    def hint(self, message: Any) -> None: self.line("hint", message)  # noqa: E704
    def error(self, message: Any, hint: Optional[str] = None) -> None:
        self.line("error", message)
        if hint is not None:
            self.hint(hint)
    def prompt(self, text: str) -> str:
        """Print ``text`` on stdout and read one line of stdin, trimmed. A person at a terminal is
        waited for; any other stdin must answer within ``prompt_wait()``. Raises ``NoAnswer``."""
        out = self._stdout or sys.stdout
        print(text, end="", file=out, flush=True)
        piped = not os.isatty(0)
        try:
            answer = _read_line(prompt_wait() if piped or not out.isatty() else None)
        except NoAnswer:
            out.write("\n")
            raise
        finally:
            out.flush()
        if piped:  # show a piped answer after its prompt, as a terminal would have echoed it
            print(answer, file=out, flush=True)
        return answer
    def confirm(self, question: str) -> bool:
        """``QUESTION [y/N]: ``: True only for y or yes."""
        return self.prompt("%s [y/N]: " % question).lower() in ("y", "yes")

class NoAnswer(Exception):
    """A prompt got no answer: the input ended, stayed silent, or cannot be read."""

def prompt_wait() -> float:
    """How long a stdin that is not a person at a terminal may take: ``PYVE_PROMPT_TIMEOUT``, as the host."""
    try:
        secs = float(os.environ.get("PYVE_PROMPT_TIMEOUT", "").strip())
    except ValueError:
        secs = -1.0
    return min(secs, 7 * 24 * 3600.0) if 0 <= secs < float("inf") else 10.0

def _read_line(wait: Optional[float]) -> str:
    """One line of fd 0, byte by byte (nothing after it is consumed), within ``wait`` in all."""
    deadline, data = None if wait is None else time.monotonic() + wait, b""
    while True:
        try:
            if deadline is not None and not select.select([0], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise NoAnswer("standard input and output are not both a terminal, and the input gave no answer within %d s" % wait)
            byte = os.read(0, 1)
        except (OSError, ValueError):
            raise NoAnswer("standard input cannot be read") from None
        if byte == b"\n" or (not byte and data):
            return data.decode("utf-8", "replace").strip()
        if not byte:
            raise NoAnswer("the input ended before an answer")
        data += byte

def run_passthrough(plugin: "Plugin", args: Sequence[str], environ: Optional[Dict[str, str]] = None) -> int:
    """Run the command ``PYVE_COMMAND`` names, else the one named like the plugin, else its only one."""
    wanted = as_text((os.environ if environ is None else environ).get("PYVE_COMMAND")) or None
    found = next((c for c in plugin._commands if c[0] == (wanted or plugin.name)), None)
    if found is None and wanted is None and len(plugin._commands) == 1:
        found = plugin._commands[0]
    host = HostContext.from_env(environ)
    if found is not None:
        status = found[2](Invocation(found[0], list(args), host))
        return 0 if status is None else int(status)
    names = [c[0] for c in plugin._commands]
    Output(host.verbosity, host.color).error(
        "pyve-%s has no command `%s`" % (plugin.name, wanted) if wanted
        else "pyve-%s %s is a pyve plugin and is run by pyve" % (plugin.name, plugin.version),
        "run one of its commands through pyve: pyve %s" % " | pyve ".join(names) if names
        else "it provides no commands; see what it does with `pyve plugin info %s`" % plugin.name)
    return 1

# Exec plans (protocol.md section 3.1): a passthrough command that ends by exec'ing a program leaves
# pyve a plan of that exec; while nothing it watched changed, pyve runs the program itself.

PLAN_VAR, TOKEN_VAR = "PYVE_EXEC_PLAN", "PYVE_EXEC_PLAN_TOKEN"  # pyve's offer
PLAN_FORMAT, ABSENT, UNKNOWN = 1, "absent", "unknown"

def fingerprint(path: Any) -> str:
    """``DEV:INO:MODE:SIZE:MTIME_NS:CTIME_NS`` of ``lstat`` (``MODE`` octal, with the type bits),
    ``absent`` when nothing is there, ``unknown`` when it cannot be looked at."""
    try:
        s = os.lstat(path)
    except FileNotFoundError:
        return ABSENT
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return UNKNOWN
    return "%d:%d:%o:%d:%d:%d" % (s.st_dev, s.st_ino, s.st_mode, s.st_size, s.st_mtime_ns, s.st_ctime_ns)

def exec_environ(env_changes: Optional[Dict[str, Optional[str]]] = None,
                 environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment to exec with: ``os.environ`` (or ``environ``) with ``env_changes`` applied
    (None removes), and never pyve's offer (``PYVE_EXEC_PLAN``, ``PYVE_EXEC_PLAN_TOKEN``)."""
    env = dict(os.environ if environ is None else environ)
    for name, value in dict(env_changes or {}, **{PLAN_VAR: None, TOKEN_VAR: None}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = os.fsdecode(value)
    return env

class ExecPlan:
    """The plan pyve offered this run (``ExecPlan.offered()``), the paths watched and variables read so far."""
    def __init__(self, file: str, token: str) -> None:
        self.file, self.token, self.unwritable = file, token, False  # unwritable: read a non-UTF-8 variable
        self.watched = []  # type: List[Dict[str, str]]
        self.vars = {}  # type: Dict[str, Optional[str]]
    @classmethod
    def offered(cls, environ: Optional[Dict[str, str]] = None) -> Optional["ExecPlan"]:
        """None when pyve made no offer (an older pyve, plans disabled, or not run by pyve)."""
        env = os.environ if environ is None else environ
        file, token = env.get(PLAN_VAR) or "", as_text(env.get(TOKEN_VAR)) or ""
        return cls(file, token) if token and os.path.isabs(file) else None
    def var(self, name: str) -> Optional[str]:
        """``os.environ.get(name)``, remembered: the plan holds only while it is the same (unset stays unset)."""
        value = os.environ.get(name)
        if value is not None and as_text(value) is None:
            self.unwritable = True
        else:
            self.vars[name] = value
        return value
    def watch(self, path: Any) -> "ExecPlan":
        """Watch ``path`` (absolute against the current directory): its fingerprint now. Watch before
        reading what it holds, and missing paths too (their appearing matters)."""
        path = os.fsdecode(path)
        try:
            path = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
        except OSError:  # no current directory: unwatchable, so no plan
            path = ""
        stat = fingerprint(path) if path and as_text(path) is not None else UNKNOWN
        self.watched.append({"path": path, "stat": stat})
        return self
    def plan(self, argv: Sequence[Any], env_changes: Optional[Dict[str, Any]] = None,
             cwd: Any = None) -> Optional[Dict[str, Any]]:
        """The plan of exec'ing ``argv`` (``argv[0]`` an absolute path) with ``env_changes`` in ``cwd``, if
        every watched path still has its fingerprint and all of it can be written down; else None."""
        unchanged = all(w["stat"] != UNKNOWN and os.path.isabs(w["path"]) and fingerprint(w["path"]) == w["stat"]
                        for w in self.watched)
        argv = [os.fsdecode(a) for a in argv]
        if not unchanged or self.unwritable or not argv or not argv[0].startswith("/"):
            return None
        if cwd is not None:
            cwd = os.fsdecode(cwd)
            try:
                cwd = cwd if os.path.isabs(cwd) else os.path.join(os.getcwd(), cwd)
            except OSError:
                return None
        env = dict(((k, None if v is None else os.fsdecode(v)) for k, v in (env_changes or {}).items()),
                   **{PLAN_VAR: None, TOKEN_VAR: None})
        names = list(env) + list(self.vars)
        values = [v for v in list(env.values()) + list(self.vars.values()) if v is not None]
        if not all(k and "=" not in k for k in names) or any(  # what pyve can run: UTF-8, no NUL
                as_text(t) is None or "\0" in t for t in argv + [cwd or ""] + names + values):
            return None
        return _some(format=PLAN_FORMAT, token=self.token, program=argv[0], args=argv[1:], cwd=cwd,
                     env=dict(sorted(env.items())), vars=dict(sorted(self.vars.items())),
                     watch=[dict(w) for w in self.watched])
    def commit(self, argv: Sequence[Any], env_changes: Optional[Dict[str, Any]] = None, cwd: Any = None) -> bool:
        """Write the plan of the exec about to happen (see ``plan``); whether one was written. Call it
        only when this run printed, asked and changed nothing, then exec with ``exec_environ(env_changes)``."""
        plan = self.plan(argv, env_changes, cwd)
        directory, name = os.path.split(self.file)
        if plan is None or not name:
            return False
        tmp = os.path.join(directory, ".%s.%d.tmp" % (name, os.getpid()))
        try:  # private: pyve takes no plan that others could have written
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as f:
                os.fchmod(fd, 0o600)  # also when an old temporary file was there
                f.write(json.dumps(plan, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
            os.replace(tmp, self.file)
            return True
        except OSError:
            try:
                os.remove(tmp)
            except OSError:
                pass
            return False

# The plugin

class Backend:
    """Optional base of a backend, supplying ``doctor`` (no checks)."""
    def doctor(self, cx: Context, params: Dict[str, Any]) -> Dict[str, Any]:
        return {"checks": []}

_BACKEND_METHODS = {"env/create": "create", "env/describe": "describe", "env/activation": "activation",
                    "env/remove": "remove", "doctor/checks": "doctor"}

class Plugin:
    """A plugin: its name (``[a-z][a-z0-9-]*``), its own semver version, and its roles."""
    def __init__(self, name: str, version: str, description: str = "") -> None:
        if not is_valid_plugin_name(name):
            raise ValueError("invalid plugin name %r: use [a-z][a-z0-9-]*" % name)
        self.name, self.version, self.description = name, version, description
        self._backends, self._commands, self._hooks = [], [], []  # type: Any
    def command(self, name: str, summary: str = "") -> Callable[[Callable], Callable]:
        return lambda func: self._commands.append((name, summary, func)) or func
    def hook(self, event: str, description: str = "") -> Callable[[Callable], Callable]:
        if event != "post-create":
            raise ValueError('unknown hook event %r: protocol 1.0 defines only "post-create"' % event)
        return lambda func: self._hooks.append((event, description, func)) or func
    def backend(self, name: str, backend: Any, selectors: Sequence[str] = (), priority: int = 0,
                description: str = "", options: Sequence[Dict[str, Any]] = ()) -> Any:
        """``options``: what it adds to ``pyve --init`` (protocol 1.1), see docs/plugins.md."""
        missing = [m for m in ("create", "describe", "activation", "remove") if not callable(getattr(backend, m, None))]
        if missing or isinstance(selectors, str):
            raise TypeError("backend %r: lacks %s, or selectors is not a list" % (name, ", ".join(missing) or "nothing"))
        if any(not isinstance(o, dict) or not o.get("name") or not o.get("setting") for o in options):
            raise TypeError("backend %r: each option is a dict with at least name and setting" % name)
        info = {"name": name, "selectors": list(selectors), "priority": int(priority), "description": description,
                "options": [dict(o) for o in options]}
        self._backends.append((info, backend))
        return backend
    def manifest(self, protocol: str = PROTOCOL_VERSION) -> Dict[str, Any]:  # the answer to `initialize`
        provides = _some(
            backends=[{k: v for k, v in i.items() if v or k == "priority"} for i, _ in self._backends] or None,
            commands=[_some(name=n, summary=s or None) for n, s, _ in self._commands] or None,
            hooks=[_some(event=e, description=d or None) for e, d, _ in self._hooks] or None)
        return _some(name=self.name, version=self.version, protocol=protocol, description=self.description or None,
                     provides=provides, capabilities={"cancel": True, "progress": True, "prompt": True})
    def _dispatch(self, cx: Context, method: str, raw: Any) -> Any:
        try:
            if method in _BACKEND_METHODS:
                params = _params(method, raw)
                backend = next((b for info, b in self._backends if info["name"] == params["backend"]), None)
                if backend is None:
                    known = ", ".join(info["name"] for info, _ in self._backends) or "no backends"
                    raise PluginError.invalid_params("plugin `%s` has no backend `%s` (it provides: %s)"
                                                     % (self.name, params["backend"], known))
                handler = getattr(backend, _BACKEND_METHODS[method], None)
                return _result(self.name, method, handler(cx, params) if handler else {"checks": []})
            if method == "hook/post-create" and self._hooks:
                params, merged = _params(method, raw), {"changed": False}  # type: Any
                for _, _, func in self._hooks:
                    r = _result(self.name, method, func(cx, dict(params)))
                    merged = dict(merged, changed=bool(merged["changed"] or r["changed"]), **_some(summary=r.get("summary")))
                return merged
        finally:
            for p in list(cx._open):
                p.end()
        raise PluginError(kind.METHOD_NOT_FOUND, "unknown method `%s`" % method)

# Running

def serve_stdio(plugin: Plugin) -> int:
    """Serve on stdin/stdout, made private first: fd 1 goes to stderr (a stray ``print()`` reaches the
    user), fd 0 reads ``/dev/null`` (a child cannot swallow the host's messages); SIGINT: default."""
    sys.stdout.flush()
    out_fd, in_fd, null = os.dup(1), os.dup(0), os.open(os.devnull, os.O_RDONLY)
    os.dup2(2, 1)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    stream = os.fdopen(in_fd, "rb", buffering=1 << 16)
    def source() -> Optional[bytes]:
        line = stream.readline(MAX_LINE + 2)
        if len(line.rstrip(b"\r\n")) > MAX_LINE:
            raise ValueError("a line is longer than %d bytes" % MAX_LINE)
        return line or None
    def sink(line: bytes) -> None:
        view = memoryview(line)
        while view:
            view = view[os.write(out_fd, view):]
    return serve(plugin, source, sink)

def run(plugin: Plugin, argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--pyve-rpc"]:
        return serve_stdio(plugin)
    try:
        return run_passthrough(plugin, args)
    except KeyboardInterrupt:
        return 130

def main(plugin: Plugin, argv: Optional[Sequence[str]] = None) -> None:
    """``--pyve-rpc``: serve, then exit at once (threads the plugin started or not); else the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    status = run(plugin, args)
    sys.stdout.flush(), sys.stderr.flush()
    (os._exit if args[:1] == ["--pyve-rpc"] else sys.exit)(status)

# Testing

class TestClient:
    """A host for tests, serving ``plugin`` on a thread. ``on_prompt(params) -> str`` answers
    ``host/prompt`` (or raises ``PluginError``) and makes the session interactive."""
    __test__ = False  # not a test case, whatever pytest thinks of its name
    def __init__(self, plugin: Plugin, on_prompt: Optional[Callable[[Dict[str, Any]], str]] = None,
                 interactive: Optional[bool] = None, timeout: float = 60.0) -> None:
        self._to, self._from = queue.Queue(), queue.Queue()  # type: Any
        self._next_id, self.timeout, self.on_prompt, self.exit_code = 1, timeout, on_prompt, None
        self.notifications = []  # type: List[Dict[str, Any]]
        self.interactive = (on_prompt is not None) if interactive is None else interactive
        def server() -> None:
            self.exit_code = serve(plugin, self._to.get, self._from.put)
            self._from.put(None)
        self._thread = threading.Thread(target=server, name="pyve-plugin-test", daemon=True)
        self._thread.start()
    def initialize(self, project_root: Optional[str] = None, protocol_versions: Sequence[str] = (PROTOCOL_VERSION,)) -> Any:
        return self.call("initialize", _some(
            protocol_versions=list(protocol_versions), host={"name": "pyve-test", "version": "0.0.0"},
            settings={"interactive": self.interactive, "color": False},
            project={"root": str(project_root)} if project_root is not None else None))
    def call(self, method: str, params: Any = None) -> Any:
        response = self.wait_for(self.send_request(method, params))
        if "error" in response:
            raise PluginError.from_wire(response["error"])
        return response["result"]
    def send_request(self, method: str, params: Any = None) -> int:
        id_, self._next_id = self._next_id, self._next_id + 1
        self._to.put(_encode({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}))
        return id_
    def notify(self, method: str, params: Any = None) -> None:
        self._to.put(_encode({"jsonrpc": "2.0", "method": method, "params": params}))
    def cancel(self, id_: Any) -> None:
        self.notify("$/cancel", {"id": id_})
    def send_raw(self, line: Any) -> None:
        self._to.put(line.encode("utf-8") if isinstance(line, str) else bytes(line))
    def recv(self) -> Dict[str, Any]:
        try:
            line = self._from.get(timeout=self.timeout)
        except queue.Empty:
            raise AssertionError("the plugin did not answer within %s seconds" % self.timeout) from None
        if line is None:
            self._from.put(None)
            raise AssertionError("the plugin ended the session")
        return json.loads(line.decode("utf-8"))
    def wait_for(self, id_: Any) -> Dict[str, Any]:
        """The response to ``id_``; notifications are collected, prompts answered."""
        while True:
            message = self.recv()
            if "method" in message and "id" in message:
                self._to.put(_encode(dict(self._answer(message), jsonrpc="2.0", id=message["id"])))
            elif "method" in message:
                self.notifications.append(message)
            elif message.get("id") == id_:
                return message
            else:
                raise AssertionError("a response to an unknown request: %r" % (message,))
    def _answer(self, request: Dict[str, Any]) -> Dict[str, Any]:
        params = request.get("params") or {}
        if request["method"] != "host/prompt":
            return {"error": _error(kind.METHOD_NOT_FOUND, "unknown method `%s`" % request["method"])}
        if self.on_prompt is None:
            return {"error": _error(kind.NOT_INTERACTIVE, "unexpected prompt in a test: %s" % params.get("message"))}
        try:
            return {"result": {"answer": self.on_prompt(params)}}
        except PluginError as e:
            return {"error": e.to_wire()}
    def logs(self, method: str = "$/log") -> List[Dict[str, Any]]:
        return [n["params"] for n in self.notifications if n.get("method") == method]
    def progress(self) -> List[Dict[str, Any]]:
        return self.logs("$/progress")
    def shutdown(self) -> None:
        self.call("shutdown")
        self.close()
    def close(self) -> None:
        self._to.put(None)
        self._thread.join(self.timeout)
