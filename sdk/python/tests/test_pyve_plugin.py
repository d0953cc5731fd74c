"""Behaviour tests of pyve_plugin.py (stdlib unittest, Python 3.8+). Wire conformance of the
examples is checked by `pyve plugin test` (tests/plugin_test.rs), not by byte comparisons."""

import io
import json
import os
import stat
import subprocess
import tempfile
import sys
import threading
import time
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
sys.path.insert(0, SDK)
import pyve_plugin as pp  # noqa: E402


class Dir(pp.Backend):
    def __init__(self):
        self.seen = []
        self.gate, self.started = threading.Event(), threading.Event()

    def create(self, cx, params):
        self.seen.append(params)
        cx.success("Created it")
        return {"env_path": params["project_root"] + "/env", "created": bool(params["replace"])}

    def describe(self, cx, params):
        if params.get("block"):
            self.started.set()
            while not cx.is_cancelled() and not self.gate.wait(0.01):
                pass
            return {"exists": cx.is_cancelled()}
        return {"exists": False}

    def activation(self, cx, params):
        with cx.progress("work", total=2) as p:
            p.report("half", done=1)
        return {"path_prepend": ["/x"]}

    def remove(self, cx, params):
        raise RuntimeError("boom")

    def doctor(self, cx, params):
        return {"checks": [{"status": "ok", "label": "x"}], "extra": cx.confirm("go?")}


def plugin():
    p = pp.Plugin("demo", "0.1.0", description="demo")
    b = p.backend("dir", Dir())
    return p, b


class Protocol(unittest.TestCase):
    def setUp(self):
        self.plugin, self.backend = plugin()
        self.c = pp.TestClient(self.plugin, timeout=10)

    def tearDown(self):
        self.backend.gate.set()
        self.c.close()

    def test_negotiation(self):
        self.assertEqual(self.c.initialize(protocol_versions=["2.0", "1.3"])["protocol"], "1.1")
        self.assertEqual(pp.TestClient(self.plugin).initialize(protocol_versions=["1.0"])["protocol"], "1.0")
        with self.assertRaises(pp.PluginError) as e:
            pp.TestClient(self.plugin).initialize(protocol_versions=["2.0"])
        self.assertEqual((e.exception.code, e.exception.kind), (-32001, "incompatible-protocol"))
        self.assertIn("pyve-demo", e.exception.hint)
        self.assertEqual(e.exception.details, {"plugin": ["1.1"], "host": ["2.0"]})

    def test_before_initialize_and_unknown_method(self):
        with self.assertRaises(pp.PluginError) as e:
            self.c.call("env/describe", {"project_root": "/p", "backend": "dir"})
        self.assertEqual((e.exception.code, e.exception.kind), (-32600, "invalid-request"))
        self.c.initialize()
        with self.assertRaises(pp.PluginError) as e:
            self.c.call("env/frobnicate", {})
        self.assertEqual((e.exception.code, e.exception.kind), (-32601, "method-not-found"))

    def test_every_field_passes_through_replace_included(self):
        self.c.initialize()
        r = self.c.call("env/create", {"project_root": "/p", "backend": "dir", "replace": True, "future": {"a": 1}})
        self.assertEqual(r, {"env_path": "/p/env", "created": True})
        seen = self.backend.seen[0]
        self.assertEqual((seen["replace"], seen["future"], seen["settings"], seen["python_version"]),
                         (True, {"a": 1}, {}, None))
        self.c.call("env/create", {"project_root": "/p", "backend": "dir"})
        self.assertIs(self.backend.seen[1]["replace"], False)
        self.assertEqual(self.c.logs()[0], {"level": "success", "message": "Created it"})

    def test_invalid_params(self):
        self.c.initialize()
        for params in ({"backend": 7}, {"project_root": "/p", "backend": "dir", "replace": "yes"},
                       {"project_root": "/p", "backend": "nope"}, None):
            with self.assertRaises(pp.PluginError) as e:
                self.c.call("env/create", params)
            self.assertEqual((e.exception.code, e.exception.kind), (-32602, "invalid-params"), params)

    def test_parse_error_and_invalid_request(self):
        self.c.initialize()
        self.c.send_raw(b"not json")
        m = self.c.recv()
        self.assertEqual((m["id"], m["error"]["code"], m["error"]["data"]["kind"]), (None, -32700, "parse-error"))
        self.c.send_raw(json.dumps({"jsonrpc": "1.0", "id": 77, "method": "initialize"}))
        m = self.c.recv()
        self.assertEqual((m["id"], m["error"]["code"], m["error"]["data"]["kind"]), (77, -32600, "invalid-request"))
        self.c.notify("$/telemetry", {"a": 1})
        self.c.shutdown()
        self.assertEqual(self.c.exit_code, 0)

    def test_progress_pairs_and_exceptions_are_internal(self):
        self.c.initialize()
        self.c.call("env/activation", {"project_root": "/p", "backend": "dir"})
        self.assertEqual([p["kind"] for p in self.c.progress()], ["begin", "report", "end"])
        with self.assertRaises(pp.PluginError) as e:
            self.c.call("env/remove", {"project_root": "/p", "backend": "dir"})
        self.assertEqual((e.exception.code, e.exception.kind), (-32603, "internal"))
        self.assertIn("boom", str(e.exception))

    def test_cancel_running_and_queued(self):
        self.c.initialize()
        running = self.c.send_request("env/describe", {"project_root": "/p", "backend": "dir", "block": True})
        queued = self.c.send_request("env/describe", {"project_root": "/p", "backend": "dir"})
        self.assertTrue(self.backend.started.wait(5))
        self.c.cancel(queued)
        self.c.cancel(running)
        self.assertEqual(self.c.wait_for(running)["result"], {"exists": True})  # saw itself cancelled
        self.assertEqual(self.c.wait_for(queued)["error"]["data"]["kind"], "cancelled")

    def test_prompt(self):
        c = pp.TestClient(self.plugin, on_prompt=lambda p: "y")
        c.initialize()
        self.assertTrue(c.call("doctor/checks", {"project_root": "/p", "backend": "dir"})["extra"])
        self.c.initialize()
        with self.assertRaises(pp.PluginError) as e:
            self.c.call("doctor/checks", {"project_root": "/p", "backend": "dir"})
        self.assertEqual(e.exception.kind, "not-interactive")

    def test_log_levels(self):
        self.assertIn("success", pp.LOG_LEVELS)
        with self.assertRaises(ValueError):
            pp.Context(None, threading.Event(), {}).log("loud", "x")


class Output(unittest.TestCase):
    def lines(self, verbosity=0, color=False):
        out, err = io.StringIO(), io.StringIO()
        o = pp.Output(verbosity, color, stdout=out, stderr=err)
        o.info("i")
        o.success("s")
        o.status("p")
        o.warn("w")
        o.debug("d")
        o.error("e", hint="h")
        return out.getvalue(), err.getvalue()

    def test_prefixes_and_streams(self):
        self.assertEqual(self.lines(), ("INFO: i\n\u2713 s\np\n", "WARNING: w\nERROR: e\nhint: h\n"))

    def test_verbosity(self):
        self.assertEqual(self.lines(-1), ("", "WARNING: w\nERROR: e\nhint: h\n"))
        self.assertIn("d\n", self.lines(1)[1])

    def test_colours_on_stderr_and_only_on_a_terminal_stdout(self):
        out, err = self.lines(color=True)
        self.assertEqual(out, "INFO: i\n\u2713 s\np\n")  # a StringIO is not a terminal
        self.assertIn("\x1b[1;31mERROR:\x1b[0m e\n", err)
        self.assertEqual(pp.render("success", "ok", True), "\x1b[1;32m\u2713\x1b[0m ok")

    def test_host_context(self):
        h = pp.HostContext.from_env({"PYVE_VERBOSITY": "-1", "PYVE_COLOR": "always", "PYVE_VERSION": "0.1.0"})
        self.assertEqual((h.verbosity, h.color, h.pyve_version, h.project_root), (-1, True, "0.1.0", None))
        self.assertEqual(pp.HostContext.from_env({"PYVE_VERBOSITY": "999"}).verbosity, 0)


class Prompt(unittest.TestCase):
    def ask(self, stdin, code='print(repr(pp.Output().prompt("name? ")))', **env):
        script = "import pyve_plugin as pp\ntry:\n    %s\nexcept pp.NoAnswer as e:\n    print('NoAnswer:', e)\n" % code
        proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=dict(os.environ, PYTHONPATH=SDK, **env))
        start = time.monotonic()
        out = proc.communicate(stdin, timeout=30)[0] if stdin is not None else proc.stdout.read()
        proc.stdin.close()
        proc.wait(30)
        return out.decode(), time.monotonic() - start

    def test_a_piped_answer_is_read_and_echoed(self):
        self.assertEqual(self.ask(b"  Ann \nrest\n")[0], "name? Ann\n'Ann'\n")
        self.assertEqual(self.ask(b"last line without newline")[0], "name? last line without newline\n"
                                                                    "'last line without newline'\n")

    def test_end_of_input_is_not_an_answer(self):
        self.assertEqual(self.ask(b"")[0], "name? \nNoAnswer: the input ended before an answer\n")

    def test_a_silent_pipe_waits_prompt_timeout_seconds(self):
        out, took = self.ask(None, PYVE_PROMPT_TIMEOUT="1")
        self.assertEqual(out, "name? \nNoAnswer: standard input and output are not both a terminal, and the input gave no answer within 1 s\n")
        self.assertTrue(0.9 <= took < 10, took)

    def test_confirm_is_true_only_for_y_or_yes(self):
        code = 'print(pp.Output().confirm("go?"))'
        for answer, expected in ((b"y\n", True), (b"YES\n", True), (b"n\n", False), (b"yep\n", False), (b"\n", False)):
            self.assertEqual(self.ask(answer, code)[0].splitlines()[-1], str(expected), answer)
        self.assertIn("go? [y/N]: ", self.ask(b"y\n", code)[0])
        self.assertIn("NoAnswer: the input ended", self.ask(b"", code)[0])

    def test_prompt_wait(self):
        for value, expected in (("", 10.0), ("2.5", 2.5), ("x", 10.0), ("-1", 10.0), ("inf", 10.0), ("nan", 10.0), ("1e9", 604800.0)):
            os.environ["PYVE_PROMPT_TIMEOUT"] = value
            try:
                self.assertEqual(pp.prompt_wait(), expected, value)
            finally:
                del os.environ["PYVE_PROMPT_TIMEOUT"]


class ExecPlans(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.file = os.path.join(self.dir.name, "plan.json")
        offer = {pp.PLAN_VAR: self.file, pp.TOKEN_VAR: "tok"}
        patcher = mock.patch.dict(os.environ, offer)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_fingerprint_is_lstat_in_the_protocol_format(self):
        s = os.lstat(self.dir.name)
        self.assertEqual(pp.fingerprint(self.dir.name), "%d:%d:%o:%d:%d:%d" % (
            s.st_dev, s.st_ino, s.st_mode, s.st_size, s.st_mtime_ns, s.st_ctime_ns))
        self.assertTrue(pp.fingerprint(self.dir.name).split(":")[2].startswith("40"), "octal, with the type bits")
        link = os.path.join(self.dir.name, "link")
        os.symlink("/", link)
        self.assertEqual(pp.fingerprint(link).split(":")[2][:3], "120", "a symbolic link is not followed")
        self.assertEqual(pp.fingerprint(os.path.join(self.dir.name, "missing")), "absent")
        self.assertEqual(pp.fingerprint("a\0b"), "unknown")

    def test_offered_only_with_both_variables_and_an_absolute_file(self):
        self.assertIsNotNone(pp.ExecPlan.offered())
        for env in ({}, {pp.PLAN_VAR: self.file}, {pp.TOKEN_VAR: "tok"}, {pp.PLAN_VAR: "plan.json", pp.TOKEN_VAR: "tok"},
                    {pp.PLAN_VAR: self.file, pp.TOKEN_VAR: ""}):
            with mock.patch.dict(os.environ, env, clear=True):
                self.assertIsNone(pp.ExecPlan.offered(), env)

    def test_a_committed_plan_round_trips_and_is_private(self):
        watched = os.path.join(self.dir.name, "cfg")
        with open(watched, "w") as f:
            f.write("x")
        plan = pp.ExecPlan.offered()
        plan.watch(watched).watch(os.path.join(self.dir.name, "missing"))
        os.environ["PYVE_TEST_SET"] = "v"
        os.environ.pop("PYVE_SURELY_UNSET", None)
        self.assertEqual((plan.var("PYVE_TEST_SET"), plan.var("PYVE_SURELY_UNSET")), ("v", None))
        argv = ["/usr/bin/python3", "-m", "pytest"]
        self.assertTrue(plan.commit(argv, {"VIRTUAL_ENV": "/v", "PYTHONHOME": None}, cwd="/tmp"))
        with open(self.file) as f:
            back = json.load(f)
        self.assertEqual(back, {
            "format": 1, "token": "tok", "program": "/usr/bin/python3", "args": ["-m", "pytest"], "cwd": "/tmp",
            "env": {"VIRTUAL_ENV": "/v", "PYTHONHOME": None, pp.PLAN_VAR: None, pp.TOKEN_VAR: None},
            "vars": {"PYVE_TEST_SET": "v", "PYVE_SURELY_UNSET": None},
            "watch": [{"path": watched, "stat": pp.fingerprint(watched)},
                      {"path": os.path.join(self.dir.name, "missing"), "stat": "absent"}]})
        self.assertEqual(stat.S_IMODE(os.stat(self.file).st_mode), 0o600)
        self.assertEqual(sorted(os.listdir(self.dir.name)), ["cfg", "plan.json"], "no temporary file left")
        # Without cwd the key is left out; a relative watch is made absolute against the current directory.
        plan = pp.ExecPlan.offered().watch(os.path.relpath(watched))
        self.assertEqual(plan.watched[0]["path"], os.path.join(os.getcwd(), os.path.relpath(watched)))
        self.assertTrue(plan.commit(["/bin/true"], {}))
        with open(self.file) as f:
            self.assertNotIn("cwd", json.load(f))

    def test_no_plan_when_a_watched_path_changed_or_cannot_be_written_down(self):
        watched = os.path.join(self.dir.name, "cfg")
        plan = pp.ExecPlan.offered().watch(watched)
        with open(watched, "w") as f:
            f.write("appeared while deciding")
        self.assertFalse(plan.commit(["/bin/true"], {}))
        self.assertFalse(os.path.exists(self.file))
        plan = pp.ExecPlan.offered()
        self.assertFalse(plan.commit(["python3"], {}), "a program looked up on PATH")
        self.assertFalse(plan.commit(["/bin/true"], {"A=B": "x"}))
        self.assertFalse(pp.ExecPlan.offered().watch("a\0b").commit(["/bin/true"], {}), "an unknown fingerprint")
        self.assertFalse(os.path.exists(self.file))

    def test_exec_environ_applies_changes_and_drops_the_offer(self):
        env = pp.exec_environ({"A": "1", "B": None}, {"B": "x", "C": "y", pp.PLAN_VAR: "/p", pp.TOKEN_VAR: "t"})
        self.assertEqual(env, {"A": "1", "C": "y"})
        self.assertNotIn(pp.PLAN_VAR, pp.exec_environ())


class Examples(unittest.TestCase):
    def run_example(self, name, args, stdin=None, env=None):
        path = os.path.join(SDK, "examples", name)
        full = dict(os.environ, PYVE_PLUGIN_PYTHONPATH=SDK, **(env or {}))
        return subprocess.run([sys.executable, path] + args, input=stdin, capture_output=True, env=full, timeout=30)

    def test_hello_passthrough(self):
        r = self.run_example("pyve-hello", ["world"])
        self.assertEqual(r.stdout, b"Hello, world!\n")

    def test_direnv_passthrough_output(self):
        r = self.run_example("pyve-direnv", [], env={"PYVE_PROJECT_ROOT": ""})
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, b"", b"ERROR: not in a pyve project\nhint: run pyve --init first\n"))

    def test_rpc_session_over_stdio(self):
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocol_versions": ["1.0"], "host": {"name": "t", "version": "0"}}}
        lines = json.dumps(init) + "\n" + '{"jsonrpc":"2.0","id":2,"method":"shutdown"}\n'
        r = self.run_example("pyve-hello", ["--pyve-rpc"], stdin=lines.encode())
        answers = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(answers[0]["result"]["name"], "hello")
        self.assertEqual(answers[1], {"jsonrpc": "2.0", "id": 2, "result": None})
        self.assertEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
