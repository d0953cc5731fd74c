"""Tests of the Python plugin helper (stdlib unittest only).

Run from the repository root:

    python3 -m unittest discover -s sdk/python/tests -t sdk/python

The example plugin is also run end to end on every Python 3.8-3.13 found under
/root/.pyenv/versions (or PYVE_TEST_PYTHONS, a `:`-separated list of interpreters). When the
Rust SDK's example is built (PYVE_RUST_HELLO, $CARGO_TARGET_DIR or target/ of the repository,
`cargo build -p pyve-sdk --examples`), both examples are fed the same input and their outputs
are compared byte for byte; without it those tests are skipped, and the golden answers
recorded from the Rust SDK (RUST_GOLDEN, CANCEL_CONVERSATION and IO_ERROR_GOLDEN, at the end of
this file) are still checked.
"""

import contextlib
import glob
import importlib.machinery
import importlib.util
import io
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(SDK))
EXAMPLE = os.path.join(SDK, "examples", "pyve-hello")
if SDK not in sys.path:
    sys.path.insert(0, SDK)

import pyve_plugin as pp  # noqa: E402

INIT = (
    '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocol_versions":["1.0"],'
    '"host":{"name":"pyve","version":"0.1.0"}}}'
)
HELLO_MANIFEST = (
    '{"capabilities":{"cancel":true,"progress":true,"prompt":true},"description":"An example plugin: '
    'a command and a hook","name":"hello","protocol":"1.0","provides":{"commands":[{"name":"hello",'
    '"summary":"Say hello"}],"hooks":[{"description":"Write hello.txt into new environments",'
    '"event":"post-create"}]},"version":"0.1.0"}'
)


def init_line(id_=0, versions=("1.0",), interactive=False, project=None, host=("pyve", "0.1.0"), verbosity=0):
    params = {
        "protocol_versions": list(versions),
        "host": {"name": host[0], "version": host[1]},
        "settings": {"interactive": interactive, "verbosity": verbosity, "color": False},
    }
    if project is not None:
        params["project"] = {"root": project}
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": "initialize", "params": params})


def request_line(id_, method, params=None):
    msg = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg)


def load_example():
    loader = importlib.machinery.SourceFileLoader("pyve_hello_example", EXAMPLE)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class Wire:
    """Plays the host over in-memory lines against `serve`, one message at a time."""

    def __init__(self, plugin):
        self.inbox = queue.Queue()
        self.outbox = queue.Queue()
        self.code = None

        def run():
            self.code = pp.serve(plugin, self.inbox.get, self.outbox.put)
            self.outbox.put(None)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def send(self, line):
        self.inbox.put(line.encode("utf-8") if isinstance(line, str) else line)

    def recv_line(self, timeout=30):
        line = self.outbox.get(timeout=timeout)
        if line is None:
            self.outbox.put(None)
            raise AssertionError("the session ended")
        assert line.endswith(b"\n") and line.count(b"\n") == 1, line
        return line[:-1].decode("utf-8")

    def recv(self, timeout=30):
        return json.loads(self.recv_line(timeout))

    def close(self):
        self.inbox.put(None)

    def finished(self, timeout=30):
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def silent(self, wait=0.2):
        try:
            line = self.outbox.get(timeout=wait)
        except queue.Empty:
            return True
        self.outbox.put(line)
        return line is None


def session(plugin, lines, timeout=30):
    """Serve all `lines` then the end of input; returns the output lines (str)."""
    wire = Wire(plugin)
    for line in lines:
        wire.send(line)
    wire.close()
    out = []
    while True:
        line = wire.outbox.get(timeout=timeout)
        if line is None:
            return out, wire.code
        out.append(line[:-1].decode("utf-8"))


def quiet_stderr():
    return contextlib.redirect_stderr(io.StringIO())


# =============================================================================================


class JsonTests(unittest.TestCase):
    def test_floats_are_written_like_serde_json(self):
        cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e22, "1.2345678901234568e+22"),
            (0.00001, "0.00001"),
            (1.5e-5, "0.000015"),
            (1e-6, "1e-6"),
            (1.5e-7, "1.5e-7"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (544431068535091.6, "544431068535091.6"),
            (-123.456, "-123.456"),
        ]
        for value, text in cases:
            self.assertEqual(pp._fmt_f64(value), text, value)

    def test_values_are_written_compact_sorted_and_unescaped(self):
        value = {"b": [1, 2.5, None, True], "a": "é\n\x01\"\\/\x7f😀", "c": {"z": {}, "y": []}}
        self.assertEqual(
            pp._dumps(value),
            '{"a":"é\\n\\u0001\\"\\\\/\x7f😀","b":[1,2.5,null,true],"c":{"y":[],"z":{}}}',
        )
        self.assertEqual(pp._dumps(float("nan")), "null")

    def test_fast_and_exact_parsers_agree(self):
        import random

        rnd = random.Random(7)

        def value(depth=0):
            k = rnd.randrange(7 if depth < 4 else 5)
            if k == 0:
                return rnd.choice([None, True, False])
            if k == 1:
                return rnd.randrange(-(2**63), 2**64)
            if k == 2:
                return rnd.uniform(-1e10, 1e10)
            if k in (3, 4):
                return "".join(chr(rnd.randrange(1, 0x2FFFF)) for _ in range(rnd.randrange(5))).replace(
                    "\ud800", ""
                )
            if k == 5:
                return [value(depth + 1) for _ in range(rnd.randrange(4))]
            return {str(rnd.randrange(100)): value(depth + 1) for _ in range(rnd.randrange(4))}

        for _ in range(300):
            v = value()
            for ensure_ascii in (True, False):
                try:
                    text = json.dumps(v, ensure_ascii=ensure_ascii)
                except ValueError:
                    continue
                try:
                    raw = text.encode("utf-8")
                except UnicodeEncodeError:
                    continue
                try:
                    exact = pp._SerdeJson(raw).parse()
                except pp._JsonError:
                    continue  # lone surrogates from the random text: both must reject
                self.assertEqual(pp._FAST.decode(text), exact)

    def test_numbers_are_read_like_serde_json(self):
        def parse(text):
            return pp._json_loads(text.encode(), text)

        self.assertEqual(repr(parse("-0")), "-0.0")
        self.assertIsInstance(parse("18446744073709551615"), int)
        self.assertIsInstance(parse("18446744073709551616"), float)
        self.assertIsInstance(parse("-9223372036854775808"), int)
        self.assertIsInstance(parse("-9223372036854775809"), float)
        self.assertEqual(parse("1e-400"), 0.0)
        for bad, message in [
            ("1e400", "number out of range at line 1 column 5"),
            ("NaN", "expected value at line 1 column 1"),
            ("-Infinity", "invalid number at line 1 column 2"),
            ('"\\ud800"', "unexpected end of hex escape at line 1 column 8"),
            ("[" * 128, "recursion limit exceeded at line 1 column 128"),
        ]:
            with self.assertRaises(pp._JsonError) as cm:
                parse(bad)
            self.assertEqual(str(cm.exception), message)

    def test_rust_debug_escaping(self):
        self.assertEqual(pp._rust_debug_str("é\u0301\u00a0\t\0\x1b'\"\\x😀"), '"é\\u{301}\\u{a0}\\t\\0\\u{1b}\'\\"\\\\x😀"')


class FramingTests(unittest.TestCase):
    def test_transcripts_decode(self):
        files = sorted(glob.glob(os.path.join(REPO, "sdk", "protocol", "tests", "transcripts", "*.jsonl")))
        if not files:
            self.skipTest("no protocol transcripts in this checkout")
        for path in files:
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip() or line.startswith("#"):
                        continue
                    payload = line[1:].lstrip("!").strip()
                    with self.subTest(file=os.path.basename(path), line=n):
                        message = pp._decode(payload.encode("utf-8"))
                        self.assertIsInstance(message, (pp._Request, pp._Response, pp._Notification))

    def test_line_reader(self):
        r, w = os.pipe()
        os.write(w, b"\n\r\nabc\r\n\nxy\r\r\n" + b"x" * 10 + b"\nlast")
        os.close(w)
        reader = pp._LineReader(r, limit=10)
        self.assertEqual(reader(), b"abc")
        self.assertEqual(reader(), b"xy")
        self.assertEqual(reader(), b"x" * 10)
        self.assertEqual(reader(), b"last")
        self.assertIsNone(reader())
        os.close(r)

        r, w = os.pipe()
        os.write(w, b"ok\n" + b"y" * 11 + b"\n")
        os.close(w)
        reader = pp._LineReader(r, limit=10)
        self.assertEqual(reader(), b"ok")
        with self.assertRaises(ValueError):
            reader()
        os.close(r)

    def test_a_line_over_the_limit_ends_the_session(self):
        r, w = os.pipe()
        os.write(w, (INIT + "\n").encode() + b"z" * 301 + b"\n" + request_line(1, "shutdown").encode() + b"\n")
        os.close(w)
        out = []
        with quiet_stderr() as err:
            code = pp.serve(load_example().plugin, pp._LineReader(r, limit=300), out.append)
        os.close(r)
        self.assertEqual(code, 0)
        self.assertEqual(len(out), 1)  # the manifest; the rest is never read
        self.assertIn(b'"result":{"capabilities"', out[0])
        self.assertEqual(err.getvalue(), "pyve plugin: ending the session: a line is longer than 300 bytes\n")

    def test_a_read_error_ends_the_session_with_rusts_wording(self):
        def source():
            raise IsADirectoryError(21, "Is a directory")

        with quiet_stderr() as err:
            out, code = [], pp.serve(load_example().plugin, source, lambda line: None)
        self.assertEqual(code, 0)
        self.assertEqual(err.getvalue(), "pyve plugin: ending the session: Is a directory (os error 21)\n")


class RustGoldenTests(unittest.TestCase):
    """Answers recorded from the Rust SDK's example plugin, for the same input lines."""

    def test_same_answers_as_the_rust_sdk(self):
        plugin = load_example().plugin
        for case, expected in RUST_GOLDEN:
            with self.subTest(case=case[:120]):
                out, code = session(plugin, [INIT, case])
                self.assertEqual(code, 0)
                out = [line for line in out if not line.startswith('{"jsonrpc":"2.0","id":0,"result"')]
                self.assertEqual(out, expected)


class NegotiationTests(unittest.TestCase):
    def setUp(self):
        self.plugin = load_example().plugin

    def answer(self, line):
        out, _ = session(self.plugin, [line])
        self.assertEqual(len(out), 1)
        return out[0]

    def test_same_version(self):
        self.assertEqual(
            self.answer(init_line(versions=["1.0"])), '{"jsonrpc":"2.0","id":0,"result":%s}' % HELLO_MANIFEST
        )

    def test_newer_minor_is_answered_with_ours(self):
        for versions in (["1.3"], ["0.9", "1.3"], ["1.3", "2.0"], ["01.07"]):
            with self.subTest(versions=versions):
                self.assertEqual(json.loads(self.answer(init_line(versions=versions)))["result"]["protocol"], "1.0")

    def test_no_shared_major(self):
        self.assertEqual(
            self.answer(init_line(versions=["2.0", "2.1", "3.0"], host=("pyve", "9.0.0"))),
            '{"jsonrpc":"2.0","id":0,"error":{"code":-32001,"message":"no shared protocol version: pyve 9.0.0 '
            'speaks 2.0, 2.1, 3.0, plugin hello 0.1.0 speaks 1.0","data":{"details":{"host":["2.0","2.1","3.0"],'
            '"plugin":["1.0"]},"hint":"install a version of pyve-hello built for protocol 2/3, or a pyve that '
            'speaks protocol 1","kind":"incompatible-protocol"}}}',
        )
        error = json.loads(self.answer(init_line(versions=["2.0"])))["error"]
        self.assertEqual(error["code"], -32001)
        self.assertEqual(error["data"]["details"], {"plugin": ["1.0"], "host": ["2.0"]})
        # the hint lists the host's majors sorted and once each; the message and details as offered
        error = json.loads(self.answer(init_line(versions=["3.5", "2.1", "03.0", "2.0", "10.0"])))["error"]
        self.assertIn("built for protocol 2/3/10, or", error["data"]["hint"])
        self.assertEqual(error["data"]["details"]["host"], ["3.5", "2.1", "3.0", "2.0", "10.0"])

    def test_no_versions_offered_is_invalid_params(self):
        self.assertEqual(
            self.answer(init_line(versions=[])),
            '{"jsonrpc":"2.0","id":0,"error":{"code":-32602,"message":"invalid parameters for `initialize`: '
            '`protocol_versions` is empty: offer at least one version","data":{"kind":"invalid-params"}}}',
        )
        # a malformed version is invalid parameters too
        error = json.loads(self.answer(init_line(versions=["x"])))["error"]
        self.assertEqual(error["code"], -32602)
        self.assertIn("invalid protocol version `x`", error["message"])
        # and the session is still waiting for its `initialize`
        out, _ = session(self.plugin, [init_line(0, versions=[]), request_line(1, "hook/post-create", {})])
        self.assertEqual(json.loads(out[1])["error"]["code"], -32600)

    def test_a_failed_initialize_keeps_the_session_as_it_was(self):
        out, _ = session(
            self.plugin,
            [
                init_line(0),
                init_line(1, versions=["2.0"]),
                request_line(2, "hook/post-create", {"project_root": "/p", "backend": "venv", "env_path": "/nonexistent/e"}),
            ],
        )
        self.assertEqual([json.loads(line)["id"] for line in out], [0, 1, 2])
        self.assertEqual(json.loads(out[2])["error"]["data"]["kind"], "io")  # not "before initialize"

    def test_a_failed_first_initialize_leaves_the_session_uninitialized(self):
        out, _ = session(self.plugin, [init_line(0, versions=["2.0"]), request_line(1, "hook/post-create", {})])
        self.assertEqual(json.loads(out[1])["error"]["code"], -32600)


class ErrorTests(unittest.TestCase):
    def setUp(self):
        plugin = pp.Plugin("errs", "1.0.0")

        @plugin.hook("post-create")
        def hook(cx, params):
            what = params["backend"]
            if what == "plain":
                raise pp.PluginError("python-not-available", "no python", hint="install it", details={"v": [1]})
            if what == "params":
                raise pp.PluginError.invalid_params("bad setting")
            if what == "notfound":
                raise pp.PluginError.not_found("no such thing")
            if what == "cancelled":
                raise pp.PluginError.cancelled()
            if what == "os":
                open(os.path.join(params["env_path"], "missing", "file"))
            if what == "bug":
                return 1 // 0
            if what == "badresult":
                return {"changed": "yes"}
            if what == "unknownfield":
                return {"chnged": True}
            if what == "none":
                return None
            return {"changed": True, "summary": what}

        self.plugin = plugin

    def call(self, backend, env_path="/nonexistent"):
        client = pp.TestClient(self.plugin)
        client.initialize()
        try:
            with quiet_stderr() as err:
                return client.call(
                    "hook/post-create", {"project_root": "/p", "backend": backend, "env_path": env_path}
                ), err.getvalue()
        finally:
            client.close()

    def error(self, backend):
        with self.assertRaises(pp.PluginError) as cm:
            self.call(backend)
        return cm.exception

    def test_plugin_errors(self):
        e = self.error("plain")
        self.assertEqual(
            e.to_wire(),
            {
                "code": -32000,
                "message": "no python",
                "data": {"kind": "python-not-available", "hint": "install it", "details": {"v": [1]}},
            },
        )
        self.assertEqual((self.error("params").code, self.error("params").kind), (-32602, "invalid-params"))
        self.assertEqual((self.error("notfound").code, self.error("notfound").kind), (-32000, "not-found"))
        e = self.error("cancelled")
        self.assertEqual((e.code, e.kind, e.message), (-32800, "cancelled", "the request was cancelled"))

    def test_os_errors_are_io_errors_worded_like_rust(self):
        e = self.error("os")
        self.assertEqual((e.code, e.kind, e.message), (-32000, "io", "No such file or directory (os error 2)"))

    def test_the_code_follows_the_kind(self):
        for kind_, code in (("invalid-params", -32602), ("cancelled", -32800), ("io", -32000), ("x", -32000),
                            ("internal", -32000), ("not-found", -32000)):
            with self.subTest(kind=kind_):
                e = pp.PluginError(kind_, "m")
                self.assertEqual(e.to_wire(), {"code": code, "message": "m", "data": {"kind": kind_}})
        self.assertEqual(pp.PluginError("x", "m", code=-32099).code, -32099)
        self.assertEqual(pp.PluginError.io("m", hint="h").to_wire(),
                         {"code": -32000, "message": "m", "data": {"kind": "io", "hint": "h"}})

    def test_io_error_says_what_failed_on_which_path_like_rust(self):
        # (path, error, message, hint): answers of the Rust SDK's `Error::io("write", path, err)`
        for path, error, message, hint in IO_ERROR_GOLDEN:
            with self.subTest(path=path, error=error):
                e = pp.PluginError.io_error("write", path, error)
                self.assertEqual((e.code, e.kind, e.message, e.hint), (-32000, "io", message, hint))
        e = pp.PluginError.io_error("create", b"/d\xff\xfe/f\xe2\x82", OSError(13, "Permission denied"))
        self.assertEqual(e.message, "cannot create /d\ufffd\ufffd/f\ufffd: Permission denied (os error 13)")
        self.assertEqual(e.hint, "check the permissions of /d\ufffd\ufffd")
        same = pp.PluginError.io_error("create", os.fsdecode(b"/d\xff\xfe/f\xe2\x82"), OSError(13, "x"))
        self.assertEqual(same.to_wire(), e.to_wire())
        import pathlib
        e = pp.PluginError.io_error("read", pathlib.Path("/etc/x"), ValueError("odd"))
        self.assertEqual((e.message, e.hint), ("cannot read /etc/x: odd", None))
        # a real failure, through a session
        plugin = pp.Plugin("fs", "1.0.0")

        @plugin.hook("post-create")
        def hook(cx, params):
            path = os.path.join(params["env_path"], "missing", "f")
            try:
                open(path, "w").close()
            except OSError as e:
                raise pp.PluginError.io_error("write", path, e) from None

        client = pp.TestClient(plugin)
        client.initialize()
        with self.assertRaises(pp.PluginError) as cm:
            client.call("hook/post-create", ["/p", "b", "/nonexistent"])
        self.assertEqual(
            cm.exception.to_wire(),
            {"code": -32000, "message": "cannot write /nonexistent/missing/f: No such file or directory (os error 2)",
             "data": {"kind": "io"}},
        )
        client.close()

    def test_hooks_only_for_post_create(self):
        plugin = pp.Plugin("h", "1.0.0")
        for event, shown in (("pre-remove", '"pre-remove"'), ("post_create", '"post_create"'), ("", '""'),
                             ("é\n", '"é\\n"')):
            with self.subTest(event=event):
                with self.assertRaises(ValueError) as cm:
                    plugin.hook(event, description="never called")
                self.assertEqual(str(cm.exception),
                                 'unknown hook event %s: protocol 1.0 defines only "post-create"' % shown)
        self.assertEqual(plugin.manifest()["provides"], {})
        out, _ = session(plugin, [INIT, request_line(1, "hook/pre-remove", {}), request_line(2, "hook/post-create", {})])
        self.assertEqual(
            out[1:],
            ['{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"unknown method `hook/pre-remove`",'
             '"data":{"kind":"method-not-found"}}}',
             '{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"unknown method `hook/post-create`",'
             '"data":{"kind":"method-not-found"}}}'],
        )

    def test_exceptions_are_internal_errors_and_the_session_goes_on(self):
        wire = Wire(self.plugin)
        wire.send(INIT)
        wire.recv()
        with quiet_stderr() as err:
            wire.send(request_line(1, "hook/post-create", {"project_root": "/p", "backend": "bug", "env_path": "/e"}))
            line = wire.recv_line()
        self.assertEqual(
            line,
            '{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"plugin `errs` panicked while handling '
            '`hook/post-create`: ZeroDivisionError: integer division or modulo by zero","data":{"kind":"internal"}}}',
        )
        self.assertIn("Traceback", err.getvalue())
        wire.send(request_line(2, "hook/post-create", {"project_root": "/p", "backend": "fine", "env_path": "/e"}))
        self.assertEqual(wire.recv()["result"], {"changed": True, "summary": "fine"})
        wire.close()

    def test_results_that_do_not_fit_are_internal_errors(self):
        e = self.error("badresult")
        self.assertEqual((e.code, e.kind), (-32603, "internal"))
        self.assertIn("`changed` must be a boolean", e.message)
        self.assertIn("unknown field `chnged`", self.error("unknownfield").message)
        self.assertEqual(self.call("none")[0], {"changed": False})

    def test_protocol_errors(self):
        hook = {"project_root": "/p", "backend": "x", "env_path": "/e"}
        out, code = session(
            self.plugin,
            [
                request_line(1, "hook/post-create", hook),
                "not json",
                '{"jsonrpc":"1.0","id":"a","method":"x"}',
                '{"jsonrpc":"2.0","id":[1],"method":"x"}',
                init_line(2),
                request_line(3, "env/frobnicate", {}),
                request_line(4, "env/create", {"backend": "venv"}),
                request_line(5, "hook/post-create", ["/p", "x", "/e", None, None, "no"]),
                request_line(6, "env/describe", {"project_root": "/p", "backend": "venv"}),
                '{"jsonrpc":"2.0","method":"$/whatever","params":{"x":1}}',
                '{"jsonrpc":"2.0","id":"zz","result":{"answer":"y"}}',
                request_line(7, "hook/post-create", dict(hook, future_field=[1, 2], backend="fine")),
                request_line(8, "shutdown"),
                request_line(9, "hook/post-create", hook),
            ],
        )
        self.assertEqual(code, 0)
        got = {}
        for line in out:
            msg = json.loads(line)
            got.setdefault(json.dumps(msg["id"]), []).append(msg.get("error") or msg["result"])
        self.assertEqual(
            got["1"],
            [
                {
                    "code": -32600,
                    "message": "`hook/post-create` before `initialize`: the session must start with `initialize`",
                    "data": {"kind": "invalid-request"},
                }
            ],
        )
        self.assertEqual(
            got["null"],
            [
                {
                    "code": -32700,
                    "message": "the line is not a JSON object: expected ident at line 1 column 2",
                    "data": {"kind": "parse-error"},
                },
                {
                    "code": -32600,
                    "message": "not a JSON-RPC 2.0 message: a request `id` must be an integer or a string",
                    "data": {"kind": "invalid-request"},
                },
            ],
        )
        self.assertEqual(got['"a"'][0]["code"], -32600)
        self.assertEqual(
            got["3"], [{"code": -32601, "message": "unknown method `env/frobnicate`", "data": {"kind": "method-not-found"}}]
        )
        self.assertEqual(
            got["4"],
            [
                {
                    "code": -32602,
                    "message": "invalid parameters for `env/create`: missing field `project_root`",
                    "data": {"kind": "invalid-params"},
                }
            ],
        )
        self.assertEqual(
            got["5"][0]["message"], 'invalid parameters for `hook/post-create`: invalid type: string "no", expected a boolean'
        )
        self.assertEqual(
            got["6"],
            [
                {
                    "code": -32602,
                    "message": "plugin `errs` has no backend `venv` (it provides: no backends)",
                    "data": {"kind": "invalid-params"},
                }
            ],
        )
        self.assertEqual(got["7"], [{"changed": True, "summary": "fine"}])
        self.assertEqual(got["8"], [None])
        self.assertNotIn("9", got)  # nothing is answered after shutdown
        self.assertNotIn('"zz"', got)  # answers to unknown requests are ignored

    def test_end_of_input_finishes_queued_work_and_exits_0(self):
        out, code = session(
            self.plugin,
            [INIT, request_line(1, "hook/post-create", {"project_root": "/p", "backend": "a", "env_path": "/e"})],
        )
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out[-1]), {"jsonrpc": "2.0", "id": 1, "result": {"changed": True, "summary": "a"}})

    def test_error_details_that_are_not_json_are_stringified(self):
        plugin = pp.Plugin("d", "1")

        @plugin.hook("post-create")
        def hook(cx, params):
            raise pp.PluginError("odd", "odd details", details={"set": {1}, "path": __import__("pathlib").Path("/x")})

        client = pp.TestClient(plugin)
        client.initialize()
        with self.assertRaises(pp.PluginError) as cm:
            client.call("hook/post-create", ["/p", "b", "/e"])
        self.assertEqual(cm.exception.details, {"set": "{1}", "path": "/x"})
        client.close()

    def test_plugin_names_are_checked(self):
        for bad in ("", "1x", "Hello", "a_b", "a b"):
            with self.assertRaises(ValueError):
                pp.Plugin(bad, "1")


class PromptTests(unittest.TestCase):
    def make_plugin(self):
        plugin = pp.Plugin("asker", "0.2.0")

        @plugin.hook("post-create")
        def hook(cx, params):
            if params["backend"] == "confirm":
                return {"changed": cx.confirm("Go on?", default=True, non_interactive_hint="pass --yes")}
            answer = cx.prompt(
                "sitecustomize.py exists. Replace it?",
                choices=[("y", "yes"), {"key": "n", "label": "no"}],
                default="n",
                non_interactive_hint="set PYVE_DISABLE_DISTUTILS_SHIM=1",
            )
            return {"changed": answer == "y", "summary": "answer " + answer}

        return plugin

    def start(self, interactive=True):
        wire = Wire(self.make_plugin())
        wire.send(init_line(interactive=interactive))
        wire.recv()
        return wire

    def test_round_trip(self):
        wire = self.start()
        wire.send(request_line(2, "hook/post-create", {"project_root": "/p", "backend": "venv", "env_path": "/p/.venv"}))
        self.assertEqual(
            wire.recv_line(),
            '{"jsonrpc":"2.0","id":"p1","method":"host/prompt","params":{"choices":[{"key":"y","label":"yes"},'
            '{"key":"n","label":"no"}],"default":"n","message":"sitecustomize.py exists. Replace it?",'
            '"non_interactive_hint":"set PYVE_DISABLE_DISTUTILS_SHIM=1"}}',
        )
        wire.send('{"jsonrpc":"2.0","id":"p1","result":{"answer":"y","extra":1}}')
        self.assertEqual(wire.recv_line(), '{"jsonrpc":"2.0","id":2,"result":{"changed":true,"summary":"answer y"}}')
        # the counter goes on
        wire.send(request_line(3, "hook/post-create", ["/p", "venv", "/e"]))
        self.assertEqual(wire.recv()["id"], "p2")
        wire.send('{"jsonrpc":"2.0","id":"p2","result":{"answer":"n"}}')
        self.assertEqual(wire.recv()["result"]["changed"], False)
        wire.close()

    def test_host_errors_and_bad_answers(self):
        wire = self.start()
        wire.send(request_line(2, "hook/post-create", ["/p", "venv", "/e"]))
        self.assertEqual(wire.recv()["method"], "host/prompt")
        wire.send('{"jsonrpc":"2.0","id":"p1","error":{"code":-32000,"message":"nope","data":{"kind":"not-interactive","hint":"h"}}}')
        self.assertEqual(
            wire.recv_line(),
            '{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"nope","data":{"hint":"h","kind":"not-interactive"}}}',
        )
        wire.send(request_line(3, "hook/post-create", ["/p", "venv", "/e"]))
        wire.recv()
        wire.send('{"jsonrpc":"2.0","id":"p2","result":{"answer":5}}')
        self.assertEqual(
            wire.recv_line(),
            '{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"the host answered `host/prompt` with an '
            'unexpected result: invalid type: integer `5`, expected a string","data":{"kind":"invalid-request"}}}',
        )
        wire.send(request_line(4, "hook/post-create", ["/p", "venv", "/e"]))
        wire.recv()
        wire.close()  # end of input while the prompt waits
        self.assertEqual(
            wire.recv_line(),
            '{"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"the host closed the session before answering",'
            '"data":{"kind":"io"}}}',
        )
        self.assertTrue(wire.finished())
        self.assertEqual(wire.code, 0)

    def test_not_interactive_fails_at_once(self):
        wire = self.start(interactive=False)
        wire.send(request_line(2, "hook/post-create", ["/p", "venv", "/e"]))
        self.assertEqual(
            wire.recv_line(),
            '{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"cannot ask \\"sitecustomize.py exists. Replace '
            'it?\\": the session is not interactive","data":{"hint":"set PYVE_DISABLE_DISTUTILS_SHIM=1",'
            '"kind":"not-interactive"}}}',
        )
        wire.close()

    def test_confirm(self):
        for answer, expected in (("y", True), ("Yes", True), ("YES", True), ("n", False), ("", False), ("ÿ", False)):
            with self.subTest(answer=answer):
                client = pp.TestClient(self.make_plugin(), on_prompt=lambda p, a=answer: a)
                client.initialize()
                self.assertEqual(client.call("hook/post-create", ["/p", "confirm", "/e"]), {"changed": expected})
                client.close()
        wire = self.start()
        wire.send(request_line(2, "hook/post-create", ["/p", "confirm", "/e"]))
        self.assertEqual(
            wire.recv()["params"],
            {
                "message": "Go on?",
                "choices": [{"key": "y", "label": "yes"}, {"key": "n", "label": "no"}],
                "default": "y",
                "non_interactive_hint": "pass --yes",
            },
        )
        wire.close()


class CancelTests(unittest.TestCase):
    def make_plugin(self):
        plugin = pp.Plugin("slow", "1.0.0")

        @plugin.hook("post-create")
        def hook(cx, params):
            cx.info("started")
            deadline = time.monotonic() + float(params["backend"])
            while time.monotonic() < deadline:
                cx.check_cancelled()
                time.sleep(0.005)
            return {"changed": cx.is_cancelled()}

        return plugin

    def test_cancel_a_running_request(self):
        for id_ in (7, "seven"):
            with self.subTest(id=id_):
                wire = Wire(self.make_plugin())
                wire.send(INIT)
                wire.recv()
                wire.send(request_line(id_, "hook/post-create", ["/p", "30", "/e"]))
                self.assertEqual(wire.recv()["params"]["message"], "started")
                wire.send(json.dumps({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": id_}}))
                self.assertEqual(
                    wire.recv_line(10),
                    '{"jsonrpc":"2.0","id":%s,"error":{"code":-32800,"message":"the request was cancelled",'
                    '"data":{"kind":"cancelled"}}}' % json.dumps(id_),
                )
                wire.close()

    def test_cancel_of_another_request_leaves_the_running_one(self):
        wire = Wire(self.make_plugin())
        wire.send(INIT)
        wire.recv()
        wire.send(request_line(1, "hook/post-create", ["/p", "0.3", "/e"]))
        wire.recv()
        for params in ('{"id":2}', '{"id":"1"}', "[2]", '{"id":1.0}', '{"nope":1}', "null"):
            wire.send('{"jsonrpc":"2.0","method":"$/cancel","params":%s}' % params)
        self.assertEqual(wire.recv()["result"], {"changed": False})
        # the ids remembered while 1 ran (2, "1") are forgotten once the worker takes 3
        wire.send(request_line(3, "hook/post-create", ["/p", "0", "/e"]))
        self.assertEqual([wire.recv()["params"]["message"], wire.recv()["result"]], ["started", {"changed": False}])
        wire.send(request_line(2, "hook/post-create", ["/p", "0", "/e"]))
        self.assertEqual([wire.recv()["params"]["message"], wire.recv()["result"]], ["started", {"changed": False}])
        # positional parameters name the request too
        wire.send(request_line(4, "hook/post-create", ["/p", "30", "/e"]))
        wire.recv()
        wire.send('{"jsonrpc":"2.0","method":"$/cancel","params":[4]}')
        self.assertEqual(wire.recv(10)["error"]["code"], -32800)
        wire.close()

    def test_cancel_of_a_queued_request_answers_it_without_running_it(self):
        plugin = pp.Plugin("queue", "1.0.0")
        ran = []

        @plugin.hook("post-create")
        def hook(cx, params):
            ran.append(params["backend"])
            cx.info("started %s" % params["backend"])
            while not cx.is_cancelled() and params["backend"] == "wait":
                time.sleep(0.005)
            return {"changed": cx.is_cancelled()}

        cancelled = '{"jsonrpc":"2.0","id":%s,"error":{"code":-32800,"message":"the request was cancelled","data":{"kind":"cancelled"}}}'
        for queued_id in (2, "two"):
            with self.subTest(id=queued_id):
                del ran[:]
                wire = Wire(plugin)
                wire.send(INIT)
                wire.recv()
                wire.send(request_line(1, "hook/post-create", ["/p", "wait", "/e"]))
                self.assertEqual(wire.recv()["params"]["message"], "started wait")  # 1 is running
                wire.send(request_line(queued_id, "hook/post-create", ["/p", "queued", "/e"]))
                wire.send(request_line(3, "hook/post-create", ["/p", "next", "/e"]))
                wire.send(json.dumps({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": queued_id}}))
                wire.send(json.dumps({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": 1}}))  # releases 1
                self.assertEqual(wire.recv()["result"], {"changed": True})
                self.assertEqual(wire.recv_line(), cancelled % json.dumps(queued_id))
                self.assertEqual(wire.recv()["params"]["message"], "started next")
                self.assertEqual(wire.recv()["result"], {"changed": False})
                self.assertEqual(ran, ["wait", "next"])  # the cancelled request never ran
                wire.close()
                self.assertTrue(wire.finished())

    def test_cancel_before_the_request_arrives(self):
        plugin = self.make_plugin()
        cancel = '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":%s}}'
        cancelled = '{"jsonrpc":"2.0","id":%s,"error":{"code":-32800,"message":"the request was cancelled","data":{"kind":"cancelled"}}}'
        wire = Wire(plugin)
        # before `initialize`, and `initialize` itself: cancelled, and the session stays uninitialized
        wire.send(cancel % 1)
        wire.send(request_line(1, "env/describe", {"project_root": "/p", "backend": "b"}))
        self.assertEqual(wire.recv_line(), cancelled % 1)
        wire.send(cancel % 2)
        wire.send(init_line(2))
        self.assertEqual(wire.recv_line(), cancelled % 2)
        wire.send(request_line(3, "hook/post-create", ["/p", "0", "/e"]))
        self.assertEqual(wire.recv()["error"]["code"], -32600)
        wire.send(init_line(4))
        self.assertEqual(wire.recv()["id"], 4)
        # only the id itself: 5 is not "5"; a cancel of a finished request changes nothing
        wire.send(cancel % '"5"')
        wire.send(cancel % 4)
        wire.send(request_line(5, "hook/post-create", ["/p", "0", "/e"]))
        self.assertEqual([wire.recv()["params"]["message"], wire.recv()["result"]], ["started", {"changed": False}])
        # `shutdown` is answered whatever was cancelled
        wire.send(cancel % 6)
        wire.send(request_line(6, "shutdown"))
        self.assertEqual(wire.recv_line(), '{"jsonrpc":"2.0","id":6,"result":null}')
        self.assertTrue(wire.finished())
        self.assertEqual(wire.code, 0)


class ProgressTests(unittest.TestCase):
    def test_notifications(self):
        plugin = pp.Plugin("prog", "1.0.0")

        @plugin.hook("post-create")
        def hook(cx, params):
            with cx.progress("Creating .venv", total=3) as p:
                cx.log("info", "Using pyenv")
                p.report("seeding pip", done=2)
            q = cx.progress("Untotalled")
            q.report("step")
            cx.progress("left open")
            if params["backend"] == "boom":
                raise RuntimeError("boom")
            q.end()
            q.end()
            return {}

        wire = Wire(plugin)
        wire.send(INIT)
        wire.recv()
        wire.send(request_line(1, "hook/post-create", ["/p", "venv", "/e"]))
        lines = [wire.recv_line() for _ in range(9)]
        self.assertEqual(
            lines,
            [
                '{"jsonrpc":"2.0","method":"$/progress","params":{"kind":"begin","title":"Creating .venv","token":"t1","total":3}}',
                '{"jsonrpc":"2.0","method":"$/log","params":{"level":"info","message":"Using pyenv"}}',
                '{"jsonrpc":"2.0","method":"$/progress","params":{"done":2,"kind":"report","message":"seeding pip","token":"t1","total":3}}',
                '{"jsonrpc":"2.0","method":"$/progress","params":{"kind":"end","token":"t1"}}',
                '{"jsonrpc":"2.0","method":"$/progress","params":{"kind":"begin","title":"Untotalled","token":"t2"}}',
                '{"jsonrpc":"2.0","method":"$/progress","params":{"kind":"report","message":"step","token":"t2"}}',
                '{"jsonrpc":"2.0","method":"$/progress","params":{"kind":"begin","title":"left open","token":"t3"}}',
                '{"jsonrpc":"2.0","method":"$/progress","params":{"kind":"end","token":"t2"}}',
                '{"jsonrpc":"2.0","method":"$/progress","params":{"kind":"end","token":"t3"}}',
            ],
        )
        self.assertEqual(wire.recv_line(), '{"jsonrpc":"2.0","id":1,"result":{"changed":false}}')
        # a handler that fails still ends its progress (newest first) before the answer
        with quiet_stderr():
            wire.send(request_line(2, "hook/post-create", ["/p", "boom", "/e"]))
            messages = []
            while not messages or "method" in messages[-1]:
                messages.append(wire.recv())
        self.assertEqual(
            [(m["params"]["kind"], m["params"]["token"]) for m in messages if m.get("method") == "$/progress"],
            [("begin", "t4"), ("report", "t4"), ("end", "t4"), ("begin", "t5"), ("report", "t5"), ("begin", "t6"),
             ("end", "t6"), ("end", "t5")],
        )
        self.assertEqual(messages[-1]["error"]["data"]["kind"], "internal")
        wire.close()

    def test_log_levels_are_checked(self):
        plugin = pp.Plugin("logs", "1.0.0")
        seen = []

        @plugin.hook("post-create")
        def hook(cx, params):
            cx.error(1)
            cx.warn("w")
            cx.info("i")
            cx.debug("d")
            cx.trace("t")
            try:
                cx.log("verbose", "x")
            except ValueError:
                seen.append("refused")
            seen.append((cx.settings, cx.project_root))
            return {}

        client = pp.TestClient(plugin)
        client.initialize(project_root="/proj")
        client.call("hook/post-create", ["/p", "b", "/e"])
        self.assertEqual([(m["level"], m["message"]) for m in client.logs()],
                         [("error", "1"), ("warn", "w"), ("info", "i"), ("debug", "d"), ("trace", "t")])
        self.assertEqual(seen, ["refused", (pp.HostSettings(False, 0, False), "/proj")])
        client.shutdown()
        self.assertEqual(client.exit_code, 0)


class BackendTests(unittest.TestCase):
    def test_backend_round_trip(self):
        import pathlib

        class Venv(pp.Backend):
            def create(self, cx, p):
                root = pathlib.Path(p["project_root"])
                return {
                    "env_path": root / ".venv",
                    "created": True,
                    "interpreter": root / ".venv/bin/python",
                    "python_version": p["python_version"],
                    "activation": {"set": {"VIRTUAL_ENV": str(root / ".venv")}, "unset": ["PYTHONHOME"],
                                   "path_prepend": [root / ".venv/bin"]},
                    "settings": p["settings"],
                    "gitignore": [".venv"],
                    "created_files": [],
                }

            def describe(self, cx, p):
                return {"exists": True, "package_count": 1, "lock": {"state": "none"}}

            def activation(self, cx, p):
                return {"set": {}, "path_prepend": ("/b",)}

            def remove(self, cx, p):
                return {"removed": ["/p/.venv"], "kept": [{"path": "/p/.tool-versions", "reason": "not ours"}]}

        plugin = pp.Plugin("venv", "0.1.0", description="Python virtual environments (venv)")
        plugin.backend("venv", Venv(), selectors=["pyproject.toml", "requirements.txt"], description="a venv in .venv")
        out, _ = session(
            plugin,
            [
                init_line(1, project="/home/u/proj"),
                request_line(2, "env/create", {"project_root": "/home/u/proj", "backend": "venv",
                                               "python_version": "3.12.1", "settings": {"directory": ".venv"}}),
                request_line(3, "env/describe", ["/home/u/proj", "venv"]),
                request_line(4, "env/activation", {"project_root": "/p", "backend": "venv"}),
                request_line(5, "doctor/checks", {"project_root": "/p", "backend": "venv"}),
                request_line(6, "env/remove", {"project_root": "/p", "backend": "venv"}),
            ],
        )
        self.assertEqual(
            out,
            [
                '{"jsonrpc":"2.0","id":1,"result":{"capabilities":{"cancel":true,"progress":true,"prompt":true},'
                '"description":"Python virtual environments (venv)","name":"venv","protocol":"1.0","provides":'
                '{"backends":[{"description":"a venv in .venv","name":"venv","priority":0,"selectors":'
                '["pyproject.toml","requirements.txt"]}]},"version":"0.1.0"}}',
                '{"jsonrpc":"2.0","id":2,"result":{"activation":{"path_prepend":["/home/u/proj/.venv/bin"],"set":'
                '{"VIRTUAL_ENV":"/home/u/proj/.venv"},"unset":["PYTHONHOME"]},"created":true,"env_path":'
                '"/home/u/proj/.venv","gitignore":[".venv"],"interpreter":"/home/u/proj/.venv/bin/python",'
                '"python_version":"3.12.1","settings":{"directory":".venv"}}}',
                '{"jsonrpc":"2.0","id":3,"result":{"exists":true,"lock":{"state":"none"},"package_count":1}}',
                '{"jsonrpc":"2.0","id":4,"result":{"path_prepend":["/b"]}}',
                '{"jsonrpc":"2.0","id":5,"result":{"checks":[]}}',
                '{"jsonrpc":"2.0","id":6,"result":{"kept":[{"path":"/p/.tool-versions","reason":"not ours"}],'
                '"removed":["/p/.venv"]}}',
            ],
        )

    def test_backends_must_have_the_methods(self):
        with self.assertRaises(TypeError):
            pp.Plugin("x", "1").backend("b", object())


class StdioTests(unittest.TestCase):
    """The stdin/stdout transport, in a child process."""

    SCRIPT = r"""
import os, subprocess, sys
sys.path.insert(0, %r)
import pyve_plugin as pp
plugin = pp.Plugin("noisy", "1.0.0")

@plugin.hook("post-create")
def hook(cx, params):
    print("a stray print")
    sys.stdout.write("a stray write\n")
    os.write(1, b"a stray os.write\n")
    subprocess.call(["sh", "-c", "echo a child process; cat"])
    return {"changed": True}

pp.main(plugin)
"""

    def test_stray_output_goes_to_stderr(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "pyve-noisy")
            with open(script, "w") as f:
                f.write(self.SCRIPT % SDK)
            lines = [INIT, request_line(1, "hook/post-create", ["/p", "b", "/e"]), "", "  \r", request_line(2, "shutdown")]
            p = subprocess.run(
                [sys.executable, script, "--pyve-rpc"],
                input=("\r\n".join(lines) + "\n").encode(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=60,
            )
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode().splitlines()
        parse_error = (
            '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while '
            'parsing a value at line 1 column 2","data":{"kind":"parse-error"}}}'
        )
        self.assertIn(parse_error, out)  # answered by the reader thread, whenever it reads the line
        out.remove(parse_error)
        self.assertEqual(
            out,
            [
                '{"jsonrpc":"2.0","id":0,"result":{"capabilities":{"cancel":true,"progress":true,"prompt":true},'
                '"name":"noisy","protocol":"1.0","provides":{"hooks":[{"event":"post-create"}]},"version":"1.0.0"}}',
                '{"jsonrpc":"2.0","id":1,"result":{"changed":true}}',
                '{"jsonrpc":"2.0","id":2,"result":null}',
            ],
        )
        err = p.stderr.decode()
        for text in ("a stray print", "a stray write", "a stray os.write", "a child process"):
            self.assertIn(text, err)
        self.assertNotIn("initialize", err)  # the child's `cat` read nothing of the protocol

    def test_exits_at_once_after_shutdown_even_with_threads_running(self):
        script = (
            "import sys, threading, time\n"
            "sys.path.insert(0, %r)\n"
            "import pyve_plugin as pp\n"
            "plugin = pp.Plugin('sleepy', '1.0.0')\n"
            "@plugin.hook('post-create')\n"
            "def hook(cx, params):\n"
            "    threading.Thread(target=time.sleep, args=(60,)).start()\n"
            "    return {}\n"
            "pp.main(plugin)\n" % SDK
        )
        lines = [INIT, request_line(1, "hook/post-create", ["/p", "b", "/e"]), request_line(2, "shutdown")]
        started = time.monotonic()
        p = subprocess.run(
            [sys.executable, "-c", script, "--pyve-rpc"],
            input=("\n".join(lines) + "\n").encode(),
            stdout=subprocess.PIPE,
            timeout=50,
        )
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.decode().splitlines()[-1], '{"jsonrpc":"2.0","id":2,"result":null}')

    def test_end_of_input_exits_0(self):
        p = subprocess.run([sys.executable, EXAMPLE, "--pyve-rpc"], input=b"", stdout=subprocess.PIPE, timeout=60)
        self.assertEqual((p.returncode, p.stdout), (0, b""))


class PassthroughTests(unittest.TestCase):
    def plugin(self, *commands):
        plugin = pp.Plugin("tool", "2.0.0")
        for name in commands:
            plugin.command(name, summary="the %s command" % name)(
                lambda inv: print("%s %s %r" % (inv.command, inv.args, inv.host.pyve_version)) or 3
            )
        return plugin

    def run_it(self, plugin, args, env):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = pp.run_passthrough(plugin, args, env)
        return code, out.getvalue(), err.getvalue()

    def test_selection(self):
        env = {"PYVE_VERSION": "0.9.2"}
        self.assertEqual(self.run_it(self.plugin("a", "tool"), ["x"], env), (3, "tool ['x'] '0.9.2'\n", ""))
        self.assertEqual(self.run_it(self.plugin("only"), [], env), (3, "only [] '0.9.2'\n", ""))
        self.assertEqual(
            self.run_it(self.plugin("a", "tool"), ["-v"], dict(env, PYVE_COMMAND="a")), (3, "a ['-v'] '0.9.2'\n", "")
        )
        self.assertEqual(self.run_it(self.plugin("a", "tool"), [], dict(env, PYVE_COMMAND="")), (3, "tool [] '0.9.2'\n", ""))
        self.assertEqual(
            self.run_it(self.plugin("a", "tool"), [], dict(env, PYVE_COMMAND="zz")),
            (1, "", "ERROR: pyve-tool has no command `zz`\nhint: run one of its commands through pyve: pyve a | pyve tool\n"),
        )
        self.assertEqual(
            self.run_it(self.plugin("a", "b"), [], env),
            (1, "", "ERROR: pyve-tool 2.0.0 is a pyve plugin and is run by pyve\n"
                    "hint: run one of its commands through pyve: pyve a | pyve b\n"),
        )
        self.assertEqual(
            self.run_it(self.plugin(), [], env),
            (1, "", "ERROR: pyve-tool 2.0.0 is a pyve plugin and is run by pyve\n"
                    "hint: it provides no commands; see what it does with `pyve plugin info tool`\n"),
        )

    def test_a_command_returning_none_exits_0(self):
        plugin = pp.Plugin("tool", "1")
        plugin.command("tool")(lambda inv: None)
        self.assertEqual(pp.run(plugin, []), 0)

    def test_host_context(self):
        self.assertEqual(pp.HostContext.from_env({}), pp.HostContext())
        full = {
            "PYVE": "/usr/bin/pyve",
            "PYVE_VERSION": "0.1.0",
            "PYVE_PROJECT_ROOT": "/p",
            "PYVE_HOME": "/h",
            "PYVE_VERBOSITY": "2",
            "PYVE_COLOR": "always",
        }
        self.assertEqual(pp.HostContext.from_env(full), pp.HostContext("/usr/bin/pyve", "0.1.0", "/p", "/h", 2, True))
        empty = dict.fromkeys(full, "")
        self.assertEqual(pp.HostContext.from_env(empty), pp.HostContext())
        for raw, verbosity in (("-1", -1), ("+1", 1), ("127", 127), ("-128", -128), ("128", 0), (" 1", 0),
                               ("1_0", 0), ("x", 0), ("", 0), ("٣", 0)):
            with self.subTest(verbosity=raw):
                self.assertEqual(pp.HostContext.from_env({"PYVE_VERBOSITY": raw}).verbosity, verbosity)
        for raw, color in (("always", True), ("never", False), ("auto", False), ("ALWAYS", False)):
            self.assertEqual(pp.HostContext.from_env({"PYVE_COLOR": raw}).color, color)
        self.assertIsNone(pp.HostContext.from_env({"PYVE_VERSION": "0.\udcff"}).pyve_version)
        self.assertEqual(pp.as_text("ok"), "ok")
        self.assertIsNone(pp.as_text("\udcff"))


# =============================================================================================
# The example plugin, end to end, on every interpreter


def interpreters():
    listed = os.environ.get("PYVE_TEST_PYTHONS")
    if listed:
        return [p for p in listed.split(os.pathsep) if p]
    found = []
    for minor in range(8, 14):
        matches = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (minor, minor)))
        if matches:
            found.append(matches[-1])
    return found or [sys.executable]


def rust_example():
    candidates = [os.environ.get("PYVE_RUST_HELLO", "")]
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(os.path.join(os.environ["CARGO_TARGET_DIR"], "debug", "examples", "pyve-hello"))
    candidates.append(os.path.join(REPO, "target", "debug", "examples", "pyve-hello"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


class ExampleTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        plugins = os.path.join(self.tmp, "plugins")
        os.mkdir(plugins)
        self.script = os.path.join(plugins, "pyve-hello")
        shutil.copy(EXAMPLE, self.script)  # a copy, away from the helper
        self.env = dict(os.environ, PYVE_PLUGIN_PYTHONPATH=SDK)
        for k in ("PYVE_VERSION", "PYVE_COMMAND"):
            self.env.pop(k, None)

    def rpc_lines(self, env_dir):
        return [
            init_line(1, versions=["1.2"], project=self.tmp),
            request_line(2, "hook/post-create", {"project_root": self.tmp, "backend": "venv", "env_path": env_dir,
                                                 "created": True, "surprise": {"x": 1}}),
            request_line(3, "hook/post-create", {"project_root": self.tmp, "backend": "venv",
                                                 "env_path": os.path.join(env_dir, "missing")}),
            request_line(4, "env/create", {"project_root": self.tmp, "backend": "venv"}),
            request_line(5, "shutdown"),
        ]

    def expected(self, env_dir):
        return [
            '{"jsonrpc":"2.0","id":1,"result":%s}' % HELLO_MANIFEST,
            '{"jsonrpc":"2.0","method":"$/log","params":{"level":"info","message":"wrote %s/hello.txt"}}' % env_dir,
            '{"jsonrpc":"2.0","id":2,"result":{"changed":true,"summary":"greeted the environment"}}',
            '{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"No such file or directory (os error 2)",'
            '"data":{"kind":"io"}}}',
            '{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"plugin `hello` has no backend `venv` '
            '(it provides: no backends)","data":{"kind":"invalid-params"}}}',
            '{"jsonrpc":"2.0","id":5,"result":null}',
        ]

    def run_rpc(self, command, env_dir):
        p = subprocess.run(
            command + ["--pyve-rpc"],
            input=("\n".join(self.rpc_lines(env_dir)) + "\n").encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.tmp,
            env=self.env,
            timeout=60,
        )
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode().splitlines()

    def run_cmd(self, command, args, **env):
        e = dict(self.env, **env)
        p = subprocess.run(command + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd="/", timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_on_every_interpreter(self):
        for python in interpreters():
            with self.subTest(python=python):
                env_dir = tempfile.mkdtemp(dir=self.tmp)
                self.assertEqual(self.run_rpc([python, self.script], env_dir), self.expected(env_dir))
                with open(os.path.join(env_dir, "hello.txt"), "rb") as f:
                    self.assertEqual(f.read(), b"hello from the venv backend\n")
                self.assertEqual(self.run_cmd([python, self.script], ["--version"]), (0, "pyve-hello 0.1.0\n", ""))
                self.assertEqual(self.run_cmd([python, self.script], ["wörld", "x"]), (0, "Hello, wörld!\n", ""))
                self.assertEqual(self.run_cmd([python, self.script], []), (0, "Hello from pyve ?!\n", ""))
                self.assertEqual(
                    self.run_cmd([python, self.script], [], PYVE_VERSION="0.9.2"), (0, "Hello from pyve 0.9.2!\n", "")
                )
                self.assertEqual(self.run_cmd([python, self.script], ["a"], PYVE_COMMAND="nope")[0], 1)

    def test_executable_found_by_shebang_and_symlink(self):
        mode = os.stat(EXAMPLE).st_mode
        self.assertTrue(mode & stat.S_IXUSR and mode & stat.S_IXOTH, "examples/pyve-hello must be executable")
        with open(EXAMPLE, "rb") as f:
            self.assertEqual(f.readline(), b"#!/usr/bin/env python3\n")
        link = os.path.join(self.tmp, "pyve-hello")
        os.symlink(EXAMPLE, link)
        env = dict(self.env)
        del env["PYVE_PLUGIN_PYTHONPATH"]
        p = subprocess.run([sys.executable, link, "--version"], stdout=subprocess.PIPE, env=env, cwd="/", timeout=60)
        self.assertEqual(p.stdout, b"pyve-hello 0.1.0\n")

    def test_copy_without_the_helper_explains(self):
        env = dict(self.env)
        del env["PYVE_PLUGIN_PYTHONPATH"]
        p = subprocess.run([sys.executable, "-S", self.script], stderr=subprocess.PIPE, env=env, cwd="/", timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"PYVE_PLUGIN_PYTHONPATH", p.stderr)

    def test_same_bytes_as_the_rust_example(self):
        rust = rust_example()
        if rust is None:
            self.skipTest("the Rust example is not built (cargo build -p pyve-sdk --examples)")
        env_dir = tempfile.mkdtemp(dir=self.tmp)
        self.assertEqual(self.run_rpc([sys.executable, self.script], env_dir), self.run_rpc([rust], env_dir))
        for args, env in ((["--version"], {}), (["n"], {}), ([], {}), ([], {"PYVE_VERSION": "1.2"}),
                          ([], {"PYVE_COMMAND": "x"}), (["\udcff"], {})):
            with self.subTest(args=args, env=env):
                self.assertEqual(self.run_cmd([sys.executable, self.script], args, **env), self.run_cmd([rust], args, **env))

    def converse(self, command, env_dir, steps, timeout=30):
        """Send each step's lines at once and read as many lines as it expects answers, then end
        the input; returns the answers (and whether hello.txt exists) of each step, what came
        after, the exit code and stderr."""
        p = subprocess.Popen(command + ["--pyve-rpc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env, cwd=self.tmp)
        lines = queue.Queue()

        def read():
            for line in iter(p.stdout.readline, b""):
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        try:
            answers = []
            for sent, expected, _ in steps:
                p.stdin.write("".join(line.replace("ENV_DIR", env_dir) + "\n" for line in sent).encode())
                p.stdin.flush()
                got = []
                for _ in expected:
                    line = lines.get(timeout=timeout)
                    got.append(None if line is None else line.decode().rstrip("\n").replace(env_dir, "ENV_DIR"))
                answers.append((got, os.path.exists(os.path.join(env_dir, "hello.txt"))))
            p.stdin.close()
            rest = []
            while True:
                line = lines.get(timeout=timeout)
                if line is None:
                    break
                rest.append(line)
            return answers, rest, p.wait(timeout), p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

    def test_cancel_before_start_as_the_rust_example(self):
        expected = [(list(answers), exists) for _, answers, exists in CANCEL_CONVERSATION]
        commands = [[sys.executable, self.script]]
        rust = rust_example()
        if rust is not None:
            commands.append([rust])
        for command in commands:
            with self.subTest(command=command[-1]):
                env_dir = tempfile.mkdtemp(dir=self.tmp)
                self.assertEqual(self.converse(command, env_dir, CANCEL_CONVERSATION), (expected, [], 0, b""))
        if rust is None:
            self.skipTest("the Rust example is not built: checked against the recorded answers only")

    def test_a_line_over_the_limit_as_the_rust_example(self):
        data = b"".join(
            line.encode() + b"\n" for line in (INIT, request_line(1, "x"))
        ) + b"z" * (pp.MAX_LINE + 1) + b"\n" + request_line(2, "shutdown").encode() + b"\n"
        outs = []
        commands = [[sys.executable, self.script]]
        rust = rust_example()
        if rust is not None:
            commands.append([rust])
        for command in commands:
            p = subprocess.run(command + ["--pyve-rpc"], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=self.env, timeout=60)
            outs.append((p.returncode, p.stdout.decode().splitlines(), p.stderr))
        self.assertEqual(
            outs[0],
            (0, ['{"jsonrpc":"2.0","id":0,"result":%s}' % HELLO_MANIFEST,
                 '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"unknown method `x`",'
                 '"data":{"kind":"method-not-found"}}}'],
             b"pyve plugin: ending the session: a line is longer than 16777216 bytes\n"),
        )
        if rust is None:
            self.skipTest("the Rust example is not built (cargo build -p pyve-sdk --examples)")
        self.assertEqual(outs[0], outs[1])

    def test_same_answers_as_the_rust_example_for_bad_input(self):
        rust = rust_example()
        if rust is None:
            self.skipTest("the Rust example is not built (cargo build -p pyve-sdk --examples)")
        data = b"\n".join([INIT.encode()] + [case for case, _ in RUST_GOLDEN] + [b"\xff\xfe"]) + b"\n"
        outs = []
        for command in ([sys.executable, self.script], [rust]):
            p = subprocess.run(command + ["--pyve-rpc"], input=data, stdout=subprocess.PIPE, env=self.env, timeout=60)
            outs.append(sorted(p.stdout.decode().splitlines()))
        self.assertEqual(outs[0], outs[1])


# =============================================================================================
# Answers of the Rust SDK's example plugin (`pyve-hello --pyve-rpc`) to INIT and then each line.

RUST_GOLDEN = [
    (
        b'{"jsonrpc":"2.0","id":0,"method":"env/create"}',
        ['{"jsonrpc":"2.0","id":0,"error":{"code":-32602,"message":"invalid parameters for `env/create`: invalid type: null, expected struct CreateParams","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocol_versions":["1.3","01.05"],"host":{"name":"pyve","version":"0.1.0"},"settings":{"verbosity":1.0}}}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1.0`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocol_versions":["1.3"],"host":{"name":"pyve","version":"0.1.0"},"settings":{"verbosity":300}}}',
        ['{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid value: integer `300`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocol_versions":["1.3"],"host":{"name":"pyve","version":"0.1.0"},"settings":{"verbosity":"\xc3\xa9\\u0301\\u00a0\\t\\u0000\\u001b\'\\"\\\\x"}}}',
        ['{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: string \\"é\\\\u{301}\\\\u{a0}\\\\t\\\\0\\\\u{1b}\'\\\\\\"\\\\\\\\x\\", expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":4,"method":"initialize","params":[["1.3"],["pyve","0.1.0"]]}',
        ['{"jsonrpc":"2.0","id":4,"result":{"capabilities":{"cancel":true,"progress":true,"prompt":true},"description":"An example plugin: a command and a hook","name":"hello","protocol":"1.0","provides":{"commands":[{"name":"hello","summary":"Say hello"}],"hooks":[{"description":"Write hello.txt into new environments","event":"post-create"}]},"version":"0.1.0"}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":5,"method":"initialize","params":[["1.3"]]}',
        ['{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid length 1, expected struct InitializeParams with 4 elements","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":6,"method":"initialize","params":[["1.3"],["pyve","0.1.0"],null,[true,1,false],5]}',
        ['{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid length 5, expected fewer elements in array","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocol_versions":["2.0","2.1","3.0"],"host":{"name":"pyve","version":"9"}}}',
        ['{"jsonrpc":"2.0","id":7,"error":{"code":-32001,"message":"no shared protocol version: pyve 9 speaks 2.0, 2.1, 3.0, plugin hello 0.1.0 speaks 1.0","data":{"details":{"host":["2.0","2.1","3.0"],"plugin":["1.0"]},"hint":"install a version of pyve-hello built for protocol 2/3, or a pyve that speaks protocol 1","kind":"incompatible-protocol"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":8,"method":"initialize","params":{"protocol_versions":[],"host":{"name":"pyve","version":"9"}}}',
        ['{"jsonrpc":"2.0","id":8,"error":{"code":-32602,"message":"invalid parameters for `initialize`: `protocol_versions` is empty: offer at least one version","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":9,"method":"initialize","params":{"protocol_versions":["1.x"],"host":{"name":"pyve","version":"9"}}}',
        ['{"jsonrpc":"2.0","id":9,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid protocol version `1.x`: expected MAJOR.MINOR, such as 1.0","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":10,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":1e300}}}',
        ['{"jsonrpc":"2.0","id":10,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1e+300`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":11,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":0.00001}}}',
        ['{"jsonrpc":"2.0","id":11,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `0.00001`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":12,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":1e-6}}}',
        ['{"jsonrpc":"2.0","id":12,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1e-6`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":13,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":1e15}}}',
        ['{"jsonrpc":"2.0","id":13,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1000000000000000.0`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":14,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":1e16}}}',
        ['{"jsonrpc":"2.0","id":14,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1e+16`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":15,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":-0}}}',
        ['{"jsonrpc":"2.0","id":15,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `-0.0`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":16,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":-129}}}',
        ['{"jsonrpc":"2.0","id":16,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid value: integer `-129`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":17,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":1.5e-7}}}',
        ['{"jsonrpc":"2.0","id":17,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1.5e-7`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":18,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"9"},"settings":{"verbosity":12345678901234567890123}}}',
        ['{"jsonrpc":"2.0","id":18,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1.2345678901234568e+22`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":19,"method":"hook/post-create","params":{"project_root":"/p","backend":"venv","env_path":"/nonexistent/x"}}',
        ['{"jsonrpc":"2.0","id":19,"error":{"code":-32000,"message":"No such file or directory (os error 2)","data":{"kind":"io"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":21,"method":"hook/post-create","params":["/p","venv"]}',
        ['{"jsonrpc":"2.0","id":21,"error":{"code":-32602,"message":"invalid parameters for `hook/post-create`: invalid length 2, expected struct PostCreateParams with 6 elements","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":22,"method":"env/create","params":{"project_root":"/p","backend":"venv"}}',
        ['{"jsonrpc":"2.0","id":22,"error":{"code":-32602,"message":"plugin `hello` has no backend `venv` (it provides: no backends)","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":23,"method":"hook/post-create","params":null}',
        ['{"jsonrpc":"2.0","id":23,"error":{"code":-32602,"message":"invalid parameters for `hook/post-create`: invalid type: null, expected struct PostCreateParams","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":24,"method":"hook/post-create","params":{"backend":5,"project_root":7}}',
        ['{"jsonrpc":"2.0","id":24,"error":{"code":-32602,"message":"invalid parameters for `hook/post-create`: invalid type: integer `5`, expected a string","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":25,"method":"hook/post-create","params":{"zz":5,"env_path":[],"backend":{}}}',
        ['{"jsonrpc":"2.0","id":25,"error":{"code":-32602,"message":"invalid parameters for `hook/post-create`: invalid type: map, expected a string","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'hello',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected value at line 1 column 1","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing an object at line 1 column 1","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'[1]',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected an object, found an array","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'5',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected an object, found a number","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"x"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected an object, found a string","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'null',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected an object, found null","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"id":1,"method":"a"}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: the `jsonrpc` member is missing","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"1.0","id":"abc","method":"a"}',
        ['{"jsonrpc":"2.0","id":"abc","error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: `jsonrpc` must be \\"2.0\\", found \\"1.0\\"","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":{"b":1,"a":[1.5,"x\\n"]},"id":1,"method":"a"}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: `jsonrpc` must be \\"2.0\\", found {\\"a\\":[1.5,\\"x\\\\n\\"],\\"b\\":1}","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":7}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: `method` must be a string, found a number","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":3}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: `params` must be an object or an array, found a number","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","result":null}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a message cannot have both `method` and `result`/`error`","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1.5,"method":"a"}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a request `id` must be an integer or a string","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":null,"method":"a"}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a request `id` must be an integer or a string","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":[],"result":1}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a response `id` must be an integer, a string or null","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0"}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a message needs `method` (a request or notification) or `id` (a response)","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a response needs `result` or `error`","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"result":1,"error":{}}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a response cannot have both `result` and `error`","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"error":"boom"}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: malformed `error`: invalid type: string \\"boom\\", expected struct ErrorObject","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"error":[1]}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: malformed `error`: invalid length 1, expected struct ErrorObject with 3 elements","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"error":{"code":18446744073709551615,"message":"x"}}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: malformed `error`: invalid value: integer `18446744073709551615`, expected i64","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"a":1,}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: trailing comma at line 1 column 8","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'[1,]',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: trailing comma at line 1 column 4","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"a" 1}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected `:` at line 1 column 6","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{1:2}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: key must be a string at line 1 column 2","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"\\ud800"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: unexpected end of hex escape at line 1 column 8","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"\\udc00"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: lone leading surrogate in hex escape at line 1 column 7","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"\\ud800\\u0041"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: lone leading surrogate in hex escape at line 1 column 13","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"\\ud800x"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: unexpected end of hex escape at line 1 column 8","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'01',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: invalid number at line 1 column 2","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'1.',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a value at line 1 column 2","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'-',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a value at line 1 column 1","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'1e',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a value at line 1 column 2","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'1e999',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: number out of range at line 1 column 5","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'tru',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a value at line 1 column 3","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'nul',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a value at line 1 column 3","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"abc',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a string at line 1 column 4","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"\\x"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: invalid escape at line 1 column 3","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"\\u12"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a string at line 1 column 6","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":9223372036854775808,"method":"a"}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a request `id` must be an integer or a string","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":-0,"method":"a"}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: a request `id` must be an integer or a string","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'[[[[',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: EOF while parsing a list at line 1 column 4","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'\xff\xfe',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not valid UTF-8","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'"a\tb"',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: control character (\\\\u0000-\\\\u001F) found while parsing a string at line 1 column 3","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":30,"method":"env/create","params":{"project_root":"/p","backend":"venv","settings":null}}',
        ['{"jsonrpc":"2.0","id":30,"error":{"code":-32602,"message":"plugin `hello` has no backend `venv` (it provides: no backends)","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":31,"method":"env/describe","params":{"project_root":"/p"}}',
        ['{"jsonrpc":"2.0","id":31,"error":{"code":-32602,"message":"invalid parameters for `env/describe`: missing field `backend`","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":32,"method":"env/remove","params":["/p"]}',
        ['{"jsonrpc":"2.0","id":32,"error":{"code":-32602,"message":"invalid parameters for `env/remove`: invalid length 1, expected struct EnvParams with 3 elements","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":33,"method":"doctor/checks","params":{"project_root":["/p"],"backend":"x"}}',
        ['{"jsonrpc":"2.0","id":33,"error":{"code":-32602,"message":"invalid parameters for `doctor/checks`: invalid type: sequence, expected path string","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":34,"method":"env/activation","params":{"project_root":"/p","backend":"venv","settings":{"a":1}}}',
        ['{"jsonrpc":"2.0","id":34,"error":{"code":-32602,"message":"plugin `hello` has no backend `venv` (it provides: no backends)","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":35,"method":"hook/post-create","params":{"project_root":"/p","backend":"venv","env_path":"/e","created":"yes"}}',
        ['{"jsonrpc":"2.0","id":35,"error":{"code":-32602,"message":"invalid parameters for `hook/post-create`: invalid type: string \\"yes\\", expected a boolean","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":36,"method":"hook/post-create","params":{"project_root":"/p","backend":"venv","env_path":"/e","interpreter":false}}',
        ['{"jsonrpc":"2.0","id":36,"error":{"code":-32602,"message":"invalid parameters for `hook/post-create`: invalid type: boolean `false`, expected path string","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":37,"method":"hook/pre-remove","params":{}}',
        ['{"jsonrpc":"2.0","id":37,"error":{"code":-32601,"message":"unknown method `hook/pre-remove`","data":{"kind":"method-not-found"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":38,"method":"host/prompt","params":{"message":"x"}}',
        ['{"jsonrpc":"2.0","id":38,"error":{"code":-32601,"message":"unknown method `host/prompt`","data":{"kind":"method-not-found"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":"s","method":"env/frobnicate"}',
        ['{"jsonrpc":"2.0","id":"s","error":{"code":-32601,"message":"unknown method `env/frobnicate`","data":{"kind":"method-not-found"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":39,"method":"initialize","params":{"protocol_versions":"1.0","host":{"name":"pyve","version":"1"}}}',
        ['{"jsonrpc":"2.0","id":39,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: string \\"1.0\\", expected a sequence","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":40,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve"}}}',
        ['{"jsonrpc":"2.0","id":40,"error":{"code":-32602,"message":"invalid parameters for `initialize`: missing field `version`","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":41,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"project":{"root":7}}}',
        ['{"jsonrpc":"2.0","id":41,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: integer `7`, expected path string","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":42,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":null}}',
        ['{"jsonrpc":"2.0","id":42,"result":{"capabilities":{"cancel":true,"progress":true,"prompt":true},"description":"An example plugin: a command and a hook","name":"hello","protocol":"1.0","provides":{"commands":[{"name":"hello","summary":"Say hello"}],"hooks":[{"description":"Write hello.txt into new environments","event":"post-create"}]},"version":"0.1.0"}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":43,"method":"initialize","params":{"protocol_versions":["0.9","1.7","3.1"],"host":{"name":"pyve","version":"1"}}}',
        ['{"jsonrpc":"2.0","id":43,"result":{"capabilities":{"cancel":true,"progress":true,"prompt":true},"description":"An example plugin: a command and a hook","name":"hello","protocol":"1.0","provides":{"commands":[{"name":"hello","summary":"Say hello"}],"hooks":[{"description":"Write hello.txt into new environments","event":"post-create"}]},"version":"0.1.0"}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":44,"method":"initialize","params":{"protocol_versions":["4294967296.0"],"host":{"name":"pyve","version":"1"}}}',
        ['{"jsonrpc":"2.0","id":44,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid protocol version `4294967296.0`: expected MAJOR.MINOR, such as 1.0","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":45,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"interactive":"yes"}}}',
        ['{"jsonrpc":"2.0","id":45,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: string \\"yes\\", expected a boolean","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":46,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":"\\u00e9\\u0301\\ud83d\\ude00\\u2028\\u00ad"}}}',
        ['{"jsonrpc":"2.0","id":46,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: string \\"é\\\\u{301}😀\\\\u{2028}\\\\u{ad}\\", expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":47,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":true}}}',
        ['{"jsonrpc":"2.0","id":47,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: boolean `true`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":48,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":[1]}}}',
        ['{"jsonrpc":"2.0","id":48,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: sequence, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":49,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":-9223372036854775809}}}',
        ['{"jsonrpc":"2.0","id":49,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `-9.223372036854776e+18`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":50,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":18446744073709551616}}}',
        ['{"jsonrpc":"2.0","id":50,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1.8446744073709552e+19`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":51,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":1.8446744073709552e19}}}',
        ['{"jsonrpc":"2.0","id":51,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1.8446744073709552e+19`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":52,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":0.1e-400}}}',
        ['{"jsonrpc":"2.0","id":52,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `0.0`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":53,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":123456789012345678901234567890.5e-10}}}',
        ['{"jsonrpc":"2.0","id":53,"error":{"code":-32602,"message":"invalid parameters for `initialize`: invalid type: floating point `1.2345678901234567e+19`, expected i8","data":{"kind":"invalid-params"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":54,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":NaN}}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected value at line 1 column 147","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":55,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"1"},"settings":{"verbosity":-Infinity}}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: invalid number at line 1 column 148","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: recursion limit exceeded at line 1 column 128","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"a":' * 127 + b'1' + b'}' * 127,
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: the `jsonrpc` member is missing","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"a":' * 126 + b'1' + b'}' * 126,
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: the `jsonrpc` member is missing","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"a"}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected value at line 1 column 1","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a"} x',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: trailing characters at line 1 column 39","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a"}\r\r',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"unknown method `a`","data":{"kind":"method-not-found"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":"\\ud83d\\ude00"}}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"unknown method `a`","data":{"kind":"method-not-found"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":"\\ud83d\\u0041"}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: lone leading surrogate in hex escape at line 1 column 64","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":"\\ud83d\\n"}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: unexpected end of hex escape at line 1 column 60","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":"\\uZZZZ"}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: invalid escape at line 1 column 58","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":1e2147483648}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: number out of range at line 1 column 63","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":0e2147483648}}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"unknown method `a`","data":{"kind":"method-not-found"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":-}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: invalid number at line 1 column 53","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":1.e3}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: invalid number at line 1 column 54","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":.5}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected value at line 1 column 52","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":tRue}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: expected ident at line 1 column 53","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":1,"x":2,}}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the line is not a JSON object: trailing comma at line 1 column 60","data":{"kind":"parse-error"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"method":"a","params":{"x" : [1 , 2 ] }    }',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"unknown method `a`","data":{"kind":"method-not-found"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"error":{"code":1.0,"message":"x"}}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: malformed `error`: invalid type: floating point `1.0`, expected i64","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x","data":null}}',
        [],
    ),
    (
        b'{"jsonrpc":"2.0","id":1,"error":{"code":1}}',
        ['{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: malformed `error`: missing field `message`","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":"p1","result":{"answer":"y"}}',
        [],
    ),
    (
        # an id no request here has: all the cases also go in one session, where a cancel for a
        # queued request would answer it `cancelled` or not depending on timing
        b'{"jsonrpc":"2.0","method":"$/cancel","params":{"id":"gone"}}',
        [],
    ),
    (
        b'{"jsonrpc":"2.0","method":"$/unknown"}',
        [],
    ),
    (
        b'{"jsonrpc":"2.0","method":"$/cancel","params":7}',
        ['{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"not a JSON-RPC 2.0 message: `params` must be an object or an array, found a number","data":{"kind":"invalid-request"}}}'],
    ),
    (
        b'{"jsonrpc":"2.0","id":60,"method":"initialize","params":{"protocol_versions":["3.5","2.1","03.0","2.0","10.0","3.0"],"host":{"name":"pyve","version":"1"}}}',
        ['{"jsonrpc":"2.0","id":60,"error":{"code":-32001,"message":"no shared protocol version: pyve 1 speaks 3.5, 2.1, 3.0, 2.0, 10.0, 3.0, plugin hello 0.1.0 speaks 1.0","data":{"details":{"host":["3.5","2.1","3.0","2.0","10.0","3.0"],"plugin":["1.0"]},"hint":"install a version of pyve-hello built for protocol 2/3/10, or a pyve that speaks protocol 1","kind":"incompatible-protocol"}}}'],
    ),
]


# A conversation with the Rust SDK's example (`pyve-hello --pyve-rpc`) about `$/cancel` for
# requests that have not started: (the lines sent, in one write; the answers recorded; whether
# ENV_DIR/hello.txt exists afterwards). ENV_DIR stands for a fresh directory.

CANCEL_CONVERSATION = [
    (
        [
            '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":3}}',
            '{"jsonrpc":"2.0","id":3,"method":"env/describe","params":{"project_root":"/p","backend":"venv"}}',
        ],
        [
            '{"jsonrpc":"2.0","id":3,"error":{"code":-32800,"message":"the request was cancelled","data":{"kind":"cancelled"}}}',
        ],
        False,
    ),
    (
        [
            '{"jsonrpc":"2.0","id":4,"method":"env/describe","params":{"project_root":"/p","backend":"venv"}}',
        ],
        [
            '{"jsonrpc":"2.0","id":4,"error":{"code":-32600,"message":"`env/describe` before `initialize`: the session must start with `initialize`","data":{"kind":"invalid-request"}}}',
        ],
        False,
    ),
    (
        [
            '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":1}}',
            '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"0.1.0"}}}',
        ],
        [
            '{"jsonrpc":"2.0","id":1,"error":{"code":-32800,"message":"the request was cancelled","data":{"kind":"cancelled"}}}',
        ],
        False,
    ),
    (
        [
            '{"jsonrpc":"2.0","id":5,"method":"hook/post-create","params":{"project_root":"ENV_DIR","backend":"venv","env_path":"ENV_DIR"}}',
        ],
        [
            '{"jsonrpc":"2.0","id":5,"error":{"code":-32600,"message":"`hook/post-create` before `initialize`: the session must start with `initialize`","data":{"kind":"invalid-request"}}}',
        ],
        False,
    ),
    (
        [
            '{"jsonrpc":"2.0","id":6,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"0.1.0"}}}',
        ],
        [
            '{"jsonrpc":"2.0","id":6,"result":{"capabilities":{"cancel":true,"progress":true,"prompt":true},"description":"An example plugin: a command and a hook","name":"hello","protocol":"1.0","provides":{"commands":[{"name":"hello","summary":"Say hello"}],"hooks":[{"description":"Write hello.txt into new environments","event":"post-create"}]},"version":"0.1.0"}}',
        ],
        False,
    ),
    (
        [
            '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":7}}',
            '{"jsonrpc":"2.0","id":7,"method":"hook/post-create","params":{"project_root":"ENV_DIR","backend":"venv","env_path":"ENV_DIR"}}',
        ],
        [
            '{"jsonrpc":"2.0","id":7,"error":{"code":-32800,"message":"the request was cancelled","data":{"kind":"cancelled"}}}',
        ],
        False,
    ),
    (
        [
            '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":"s"}}',
            '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":99}}',
            '{"jsonrpc":"2.0","id":"s","method":"hook/post-create","params":{"project_root":"ENV_DIR","backend":"venv","env_path":"ENV_DIR"}}',
            '{"jsonrpc":"2.0","id":99,"method":"hook/post-create","params":{"project_root":"ENV_DIR","backend":"venv","env_path":"ENV_DIR"}}',
        ],
        [
            '{"jsonrpc":"2.0","id":"s","error":{"code":-32800,"message":"the request was cancelled","data":{"kind":"cancelled"}}}',
            '{"jsonrpc":"2.0","method":"$/log","params":{"level":"info","message":"wrote ENV_DIR/hello.txt"}}',
            '{"jsonrpc":"2.0","id":99,"result":{"changed":true,"summary":"greeted the environment"}}',
        ],
        True,
    ),
    (
        [
            '{"jsonrpc":"2.0","id":7,"method":"hook/post-create","params":{"project_root":"ENV_DIR","backend":"venv","env_path":"ENV_DIR"}}',
        ],
        [
            '{"jsonrpc":"2.0","method":"$/log","params":{"level":"info","message":"wrote ENV_DIR/hello.txt"}}',
            '{"jsonrpc":"2.0","id":7,"result":{"changed":true,"summary":"greeted the environment"}}',
        ],
        True,
    ),
    (
        [
            '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":"8"}}',
            '{"jsonrpc":"2.0","id":8,"method":"hook/post-create","params":{"project_root":"ENV_DIR","backend":"venv","env_path":"ENV_DIR"}}',
        ],
        [
            '{"jsonrpc":"2.0","method":"$/log","params":{"level":"info","message":"wrote ENV_DIR/hello.txt"}}',
            '{"jsonrpc":"2.0","id":8,"result":{"changed":true,"summary":"greeted the environment"}}',
        ],
        True,
    ),
    (
        [
            '{"jsonrpc":"2.0","method":"$/cancel","params":[9]}',
            '{"jsonrpc":"2.0","id":9,"method":"hook/post-create","params":{"project_root":"ENV_DIR","backend":"venv","env_path":"ENV_DIR"}}',
        ],
        [
            '{"jsonrpc":"2.0","id":9,"error":{"code":-32800,"message":"the request was cancelled","data":{"kind":"cancelled"}}}',
        ],
        True,
    ),
    (
        [
            '{"jsonrpc":"2.0","method":"$/cancel","params":{"id":10}}',
            '{"jsonrpc":"2.0","id":10,"method":"shutdown"}',
        ],
        [
            '{"jsonrpc":"2.0","id":10,"result":null}',
        ],
        True,
    ),
]

# Answers of the Rust SDK's `Error::io("write", Path::new(path), err)` (message and hint).

IO_ERROR_GOLDEN = [
    ("/a/b", OSError(13, 'Permission denied'), "cannot write /a/b: Permission denied (os error 13)", "check the permissions of /a"),
    ("/a/b", OSError(1, 'Operation not permitted'), "cannot write /a/b: Operation not permitted (os error 1)", "check the permissions of /a"),
    ("/a/b", OSError(30, 'Read-only file system'), "cannot write /a/b: Read-only file system (os error 30)", "check the permissions of /a"),
    ("/a/b", OSError(28, 'No space left on device'), "cannot write /a/b: No space left on device (os error 28)", "free some disk space and try again"),
    ("/a/b", OSError(122, 'Disk quota exceeded'), "cannot write /a/b: Disk quota exceeded (os error 122)", None),
    ("/a/b", OSError(2, 'No such file or directory'), "cannot write /a/b: No such file or directory (os error 2)", None),
    ("/a/b", PermissionError("nope"), "cannot write /a/b: nope", "check the permissions of /a"),
    ("/a/b/", OSError(13, 'Permission denied'), "cannot write /a/b/: Permission denied (os error 13)", "check the permissions of /a"),
    ("/a/./b", OSError(13, 'Permission denied'), "cannot write /a/./b: Permission denied (os error 13)", "check the permissions of /a"),
    ("/a/.", OSError(13, 'Permission denied'), "cannot write /a/.: Permission denied (os error 13)", "check the permissions of /"),
    ("a", OSError(13, 'Permission denied'), "cannot write a: Permission denied (os error 13)", "check the permissions of a"),
    ("a/b", OSError(13, 'Permission denied'), "cannot write a/b: Permission denied (os error 13)", "check the permissions of a"),
    (".", OSError(13, 'Permission denied'), "cannot write .: Permission denied (os error 13)", "check the permissions of ."),
    ("./a", OSError(13, 'Permission denied'), "cannot write ./a: Permission denied (os error 13)", "check the permissions of ."),
    ("..", OSError(13, 'Permission denied'), "cannot write ..: Permission denied (os error 13)", "check the permissions of .."),
    ("/", OSError(13, 'Permission denied'), "cannot write /: Permission denied (os error 13)", "check the permissions of /"),
    ("", OSError(13, 'Permission denied'), "cannot write : Permission denied (os error 13)", "check the permissions of "),
    ("//a", OSError(13, 'Permission denied'), "cannot write //a: Permission denied (os error 13)", "check the permissions of /"),
    ("a//b//", OSError(13, 'Permission denied'), "cannot write a//b//: Permission denied (os error 13)", "check the permissions of a"),
    ("/a/..", OSError(13, 'Permission denied'), "cannot write /a/..: Permission denied (os error 13)", "check the permissions of /a"),
    ("x/./.", OSError(13, 'Permission denied'), "cannot write x/./.: Permission denied (os error 13)", "check the permissions of x/./."),
    ("./", OSError(13, 'Permission denied'), "cannot write ./: Permission denied (os error 13)", "check the permissions of ./"),
    ("é/", OSError(13, 'Permission denied'), "cannot write é/: Permission denied (os error 13)", "check the permissions of é"),
]
