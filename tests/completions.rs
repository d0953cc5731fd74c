//! Completions run by the real shells (bash, zsh, fish) against the scripts `pyve completions
//! SHELL` prints: built-in and plugin commands, the installed backends for `--backend`, the
//! installed backends' `--init` options, a plugin installed after the script was written; and
//! the man page.
//!
//! bash: `COMP_WORDS`/`COMP_CWORD` and the completion function. fish: `complete -C`. zsh: the
//! script's completer function with `words`/`CURRENT` set and `_describe` replaced by one that
//! prints what it is given (zsh's completion system itself needs a terminal).

use std::process::Command;

use pyve_tests::{Outcome, Sandbox, python_command_plugin, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-testenv", "pyve-micromamba"]);
    sb
}

fn shell(sb: &Sandbox, program: &str) -> Command {
    let mut cmd = Command::new(program);
    sb.isolate(&mut cmd);
    cmd.env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", sb.path().join("bin").display()));
    cmd
}

fn script(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    let out = run(sb.pyve_cmd().args(["completions", name]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let path = sb.path().join(format!("completion.{name}"));
    std::fs::write(&path, out.stdout).unwrap();
    path
}

fn lines(out: &Outcome) -> Vec<String> {
    assert_eq!(out.code, Some(0), "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    out.stdout.lines().map(|l| l.split(['\t', ':']).next().unwrap_or("").to_owned()).collect()
}

/// The words bash offers for `line` (the last word is the one completed; "" for a new one).
fn bash(sb: &Sandbox, words: &[&str]) -> Vec<String> {
    let path = script(sb, "bash");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let code = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _clap_complete_pyve pyve '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    lines(&run(shell(sb, "bash").args(["--norc", "--noprofile", "-c", &code])))
}

fn fish(sb: &Sandbox, line: &str) -> Vec<String> {
    let path = script(sb, "fish");
    let code = format!("source '{}'; complete -C '{line}'", path.display());
    lines(&run(shell(sb, "fish").args(["--no-config", "-c", &code])))
}

fn zsh(sb: &Sandbox, words: &[&str]) -> Vec<String> {
    let path = script(sb, "zsh");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let code = format!(
        "compdef() {{ : }}; _describe() {{ local n=${{@[-1]}}; print -rl -- \"${{(@P)n}}\" }}; source '{}'; words=({}); CURRENT={}; _clap_dynamic_completer_pyve",
        path.display(),
        quoted.join(" "),
        words.len(),
    );
    lines(&run(shell(sb, "zsh").args(["-f", "-c", &code])))
}

fn has(got: &[String], want: &[&str], what: &str) {
    for w in want {
        assert!(got.iter().any(|g| g == w), "{what}: `{w}` missing from {got:?}");
    }
}

#[test]
fn the_shells_complete_commands_backends_and_backend_options() {
    let sb = sandbox();
    // Commands: the plugin's two, nothing else starting with `te`.
    for (shell, got) in
        [("bash", bash(&sb, &["pyve", "te"])), ("fish", fish(&sb, "pyve te")), ("zsh", zsh(&sb, &["pyve", "te"]))]
    {
        let mut got: Vec<String> = got.into_iter().filter(|g| g.starts_with("te")).collect();
        got.sort();
        assert_eq!(got, ["test", "testenv"], "{shell}");
    }
    // The installed backends.
    for (shell, got) in [
        ("bash", bash(&sb, &["pyve", "--init", "--backend", ""])),
        ("fish", fish(&sb, "pyve --init --backend ")),
        ("zsh", zsh(&sb, &["pyve", "--init", "--backend", ""])),
    ] {
        has(&got, &["auto", "micromamba", "venv"], shell);
    }
    // The options of the installed backends.
    for (shell, got) in [
        ("bash", bash(&sb, &["pyve", "--init", "--"])),
        ("fish", fish(&sb, "pyve --init --")),
        ("zsh", zsh(&sb, &["pyve", "--init", "--"])),
    ] {
        has(&got, &["--env-name", "--strict", "--venv-dir", "--backend", "--force"], shell);
    }
    // Built-in commands, `init` spelled as a command too.
    has(&bash(&sb, &["pyve", ""]), &["init", "run", "completions", "doctor"], "bash");
    has(&bash(&sb, &["pyve", "init", "--b"]), &["--backend"], "bash");
    // `plugin` subcommands, `unpin` included.
    for (shell, got) in [
        ("bash", bash(&sb, &["pyve", "plugin", "u"])),
        ("fish", fish(&sb, "pyve plugin u")),
        ("zsh", zsh(&sb, &["pyve", "plugin", "u"])),
    ] {
        has(&got, &["unpin"], shell);
    }
}

#[test]
fn without_micromamba_its_options_are_not_offered() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let got = bash(&sb, &["pyve", "--init", "--"]);
    has(&got, &["--venv-dir"], "bash");
    assert!(!got.iter().any(|g| g == "--env-name"), "{got:?}");
    let got = fish(&sb, "pyve --init --backend ");
    assert!(!got.iter().any(|g| g == "micromamba"), "{got:?}");
}

#[test]
fn a_plugin_installed_later_completes_without_a_new_script() {
    let sb = sandbox();
    let bash_before = bash(&sb, &["pyve", "gr"]);
    assert!(!bash_before.iter().any(|g| g == "greet"), "{bash_before:?}");
    let src = python_command_plugin(&sb.path().join("src"), "greeter", &["greet"]);
    let out = run(sb.pyve_cmd().args(["plugin", "install"]).arg(&src));
    assert_eq!(out.code, Some(0), "plugin install:\n{}\n{}", out.stdout, out.stderr);
    has(&bash(&sb, &["pyve", "gr"]), &["greet"], "bash");
    has(&fish(&sb, "pyve gr"), &["greet"], "fish");
    has(&zsh(&sb, &["pyve", "gr"]), &["greet"], "zsh");
}

#[test]
fn completions_of_an_unknown_shell_are_a_usage_error() {
    let sb = Sandbox::new();
    let out = run(sb.pyve_cmd().args(["completions", "tcsh"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("tcsh"), "{}", out.stderr);
}

#[test]
fn the_man_page_is_generated_from_the_command_line() {
    let sb = Sandbox::new();
    let out = run(sb.pyve_cmd().arg("__man"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with(".ie \\n(.g .ds Aq") || out.stdout.contains(".TH pyve 1"), "{}", out.stdout);
    assert!(out.stdout.contains(".TH pyve 1"), "{}", out.stdout);
    for cmd in ["completions", "doctor", "plugin"] {
        assert!(out.stdout.contains(cmd), "{cmd} missing from the man page");
    }
    // `man -l` renders it, where man is installed.
    if Command::new("man").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let page = sb.path().join("pyve.1");
        std::fs::write(&page, &out.stdout).unwrap();
        let mut cmd = Command::new("man");
        sb.isolate(&mut cmd);
        let out = run(cmd.env("MANPAGER", "cat").env("PAGER", "cat").arg("-l").arg(&page));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(out.stdout.contains("pyve - Python environments in one command"), "{}", out.stdout);
    }
}
