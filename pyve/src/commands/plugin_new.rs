//! `pyve plugin new NAME [--lang rust|python] [--backend|--command|--hook]`: a working plugin
//! skeleton that builds, passes `pyve plugin test`, and shows in `pyve --list` once installed.
//!
//! Rust: a crate `pyve-NAME/` on the SDK, a library (`export_dylib!`: the `libpyve_NAME.so`
//! pyve loads in-process) and a binary (`pyve-NAME`). Python: a directory `pyve-NAME/` with the
//! one-file plugin and the helper `pyve_plugin.py` beside it.

use std::path::{Path, PathBuf};

use crate::env::HostEnv;
use crate::error::{Context as _, Error, Result};
use crate::ui;

/// What the skeleton provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A passthrough command `pyve NAME`.
    Command,
    /// A backend `NAME`.
    Backend,
    /// A `post-create` hook.
    Hook,
}

/// The language of the skeleton.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A crate on pyve-sdk (executable and dynamic library).
    Rust,
    /// One script on the stdlib-only helper pyve_plugin.py.
    Python,
}

/// Where the Rust skeleton gets `pyve-sdk` until it is on the Rust package registry.
fn sdk_dependency(env: &HostEnv, sdk: Option<&Path>) -> String {
    let path =
        sdk.map(Path::to_path_buf).or_else(|| {
            // A pyve built in a checkout (target/debug/pyve): the checkout's SDK.
            env.exe.as_deref()?.ancestors().skip(1).map(|d| d.join("sdk/plugin")).find(|d| {
                std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("name = \"pyve-sdk\""))
            })
        });
    match path {
        Some(p) => {
            let abs = std::path::absolute(&p).unwrap_or(p);
            format!("pyve-sdk = {{ path = {} }}", toml_string(&abs.display().to_string()))
        }
        None => "pyve-sdk = { git = \"https://github.com/pyve-rs/pyve\" }".to_owned(),
    }
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn rust_ident(name: &str) -> String {
    name.replace('-', "_")
}

fn rust_files(name: &str, role: Role, sdk_dep: &str) -> Vec<(PathBuf, String)> {
    let krate = format!("pyve-{name}");
    let ident = format!("pyve_{}", rust_ident(name));
    let cargo = format!(
        r#"[package]
name = "{krate}"
version = "0.1.0"
edition = "2021"
description = "A pyve plugin: {what}"

# The library is what pyve loads in-process (lib{ident}.so); the binary serves passthrough
# and the protocol over stdin/stdout. Both come from src/lib.rs.
[lib]
crate-type = ["cdylib", "rlib"]

[[bin]]
name = "{krate}"
path = "src/main.rs"

[dependencies]
# Until pyve-sdk is on the Rust package registry: a path to pyve's sdk/plugin, or its git URL.
{sdk_dep}

# A crate of its own, even inside another workspace.
[workspace]
"#,
        what = match role {
            Role::Command => format!("the command `pyve {name}`"),
            Role::Backend => format!("the backend `{name}`"),
            Role::Hook => "a post-create hook".to_owned(),
        }
    );
    let lib = match role {
        Role::Command => format!(
            r#"//! {krate}: the command `pyve {name}`.
use pyve_sdk::{{Invocation, Plugin}};

fn run(inv: Invocation) -> i32 {{
    let out = pyve_sdk::output::Output::from_host(&inv.host);
    match inv.args.first().and_then(|a| a.to_str()) {{
        Some("--version") => println!("{krate} {{}}", env!("CARGO_PKG_VERSION")),
        Some(who) => out.success(&format!("Hello, {{who}}!")),
        None => out.info("Hello from {krate}: pass a name"),
    }}
    0
}}

/// The plugin: its manifest and handlers.
pub fn plugin() -> Plugin {{
    Plugin::new("{name}", env!("CARGO_PKG_VERSION"))
        .description("Says hello (a skeleton from `pyve plugin new`)")
        .command("{name}", "Say hello", run)
}}

pyve_sdk::export_dylib!(plugin);
"#
        ),
        Role::Hook => format!(
            r#"//! {krate}: a post-create hook.
use pyve_sdk::{{Context, Hook, Plugin, Result, types::*}};

struct Mark;

impl Hook for Mark {{
    fn post_create(&self, cx: &mut Context<'_>, p: PostCreateParams) -> Result<HookResult> {{
        if !p.env_path.is_dir() {{
            return Ok(HookResult {{ changed: false, summary: Some("no environment".into()) }});
        }}
        let file = p.env_path.join("{name}.txt");
        std::fs::write(&file, format!("made by the {{}} backend\n", p.backend))
            .map_err(|e| pyve_sdk::Error::io("write", &file, e))?;
        cx.info(format!("wrote {{}}", file.display()));
        Ok(HookResult {{ changed: true, summary: Some("marked the environment".into()) }})
    }}
}}

/// The plugin: its manifest and handlers.
pub fn plugin() -> Plugin {{
    Plugin::new("{name}", env!("CARGO_PKG_VERSION"))
        .description("Marks new environments (a skeleton from `pyve plugin new`)")
        .hook("post-create", "Write {name}.txt into new environments", Mark)
}}

pyve_sdk::export_dylib!(plugin);
"#
        ),
        Role::Backend => format!(
            r#"//! {krate}: the backend `{name}`. Its environment is the directory `.{name}-env` of the
//! project, with a `bin/` that `pyve run` puts first on PATH. Replace the bodies with your
//! real environment; keep the contract (docs/protocol.md section 7).
use std::path::{{Path, PathBuf}};

use pyve_sdk::{{Backend, Context, Error, Plugin, Result, types::*}};

struct Dir;

fn env_path(root: &Path) -> PathBuf {{
    root.join(".{name}-env")
}}

fn io(action: &str, path: &Path, e: std::io::Error) -> Error {{
    Error::io(action, path, e)
}}

impl Backend for Dir {{
    fn create(&self, cx: &mut Context<'_>, p: CreateParams) -> Result<CreateResult> {{
        let env = env_path(&p.project_root);
        let exists = env.is_dir();
        if !exists || p.replace {{
            // Build beside the final place, then swap: an interruption leaves nothing half-made.
            let tmp = p.project_root.join(".{name}-env.tmp");
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(tmp.join("bin")).map_err(|e| io("create", &tmp, e))?;
            cx.check_cancelled()?;
            if exists {{
                std::fs::remove_dir_all(&env).map_err(|e| io("remove", &env, e))?;
            }}
            std::fs::rename(&tmp, &env).map_err(|e| io("rename", &tmp, e))?;
        }}
        let created = !exists || p.replace;
        let activation = self.activation(cx, EnvParams {{ project_root: p.project_root, backend: p.backend, settings: p.settings }})?;
        Ok(CreateResult {{
            env_path: env,
            created,
            interpreter: None,
            python_version: None,
            activation,
            settings: Default::default(),
            gitignore: vec![".{name}-env".into()],
            created_files: Vec::new(),
            // The project files the environment is made from: `pyve sync` rebuilds on a change.
            inputs: vec!["{name}.toml".into()],
        }})
    }}

    fn describe(&self, _cx: &mut Context<'_>, p: EnvParams) -> Result<EnvDescription> {{
        let env = env_path(&p.project_root);
        Ok(EnvDescription {{ exists: env.is_dir(), env_path: Some(env), ..Default::default() }})
    }}

    fn activation(&self, _cx: &mut Context<'_>, p: EnvParams) -> Result<Activation> {{
        Ok(Activation {{ path_prepend: vec![env_path(&p.project_root).join("bin")], ..Default::default() }})
    }}

    fn remove(&self, _cx: &mut Context<'_>, p: EnvParams) -> Result<RemoveResult> {{
        let env = env_path(&p.project_root);
        let mut removed = Vec::new();
        if env.is_dir() {{
            std::fs::remove_dir_all(&env).map_err(|e| io("remove", &env, e))?;
            removed.push(env);
        }}
        // pyve reports what `removed` and `kept` list.
        Ok(RemoveResult {{ removed, ..Default::default() }})
    }}
}}

/// The plugin: its manifest and handlers.
pub fn plugin() -> Plugin {{
    Plugin::new("{name}", env!("CARGO_PKG_VERSION"))
        .description("A directory backend (a skeleton from `pyve plugin new`)")
        .backend(
            BackendInfo {{
                name: "{name}".into(),
                selectors: vec!["{name}.toml".into()],
                priority: 5,
                // Options of `pyve --init` (an OptionInfo each: name, kind, setting, help).
                options: Vec::new(),
                ..Default::default()
            }},
            Dir,
        )
}}

pyve_sdk::export_dylib!(plugin);
"#
        ),
    };
    let main = format!("fn main() {{\n    pyve_sdk::main({ident}::plugin())\n}}\n");
    let readme = format!(
        "# {krate}\n\nA pyve plugin made by `pyve plugin new`.\n\n```console\n$ cargo build --release\n$ pyve plugin test target/release/{krate}           # the protocol, rule by rule\n$ pyve plugin test target/release/lib{ident}.so\n$ pyve plugin install .                                 # into $PYVE_HOME/plugins\n$ pyve --list\n```\n"
    );
    vec![
        (PathBuf::from("Cargo.toml"), cargo),
        (PathBuf::from("src/lib.rs"), lib),
        (PathBuf::from("src/main.rs"), main),
        (PathBuf::from("README.md"), readme),
        (PathBuf::from(".gitignore"), "/target\n".to_owned()),
    ]
}

fn python_files(name: &str, role: Role) -> Vec<(PathBuf, String)> {
    let file = format!("pyve-{name}");
    let body = match role {
        Role::Command => format!(
            r#"plugin = pp.Plugin("{name}", "0.1.0", description="Says hello (a skeleton from `pyve plugin new`)")


@plugin.command("{name}", summary="Say hello")
def hello(inv):
    if inv.args and inv.args[0] == "--version":
        print("{file} 0.1.0")
    elif inv.args:
        inv.output.success("Hello, %s!" % inv.args[0])
    else:
        inv.output.info("Hello from {file}: pass a name")
    return 0
"#
        ),
        Role::Hook => format!(
            r#"plugin = pp.Plugin("{name}", "0.1.0", description="Marks new environments (a skeleton from `pyve plugin new`)")


@plugin.hook("post-create", description="Write {name}.txt into new environments")
def mark(cx, params):
    env = params["env_path"]
    if not os.path.isdir(env):
        return {{"changed": False, "summary": "no environment"}}
    path = os.path.join(env, "{name}.txt")
    with open(path, "w") as f:
        f.write("made by the %s backend\n" % params["backend"])
    cx.info("wrote %s" % path)
    return {{"changed": True, "summary": "marked the environment"}}
"#
        ),
        Role::Backend => format!(
            r#"ENV = ".{name}-env"


class Dir(pp.Backend):
    """The environment is the project's directory .{name}-env, with a bin/ that `pyve run`
    puts first on PATH. Replace the bodies with your real environment; keep the contract
    (docs/protocol.md section 7)."""

    def create(self, cx, params):
        root = params["project_root"]
        env = os.path.join(root, ENV)
        exists = os.path.isdir(env)
        if not exists or params["replace"]:
            # Build beside the final place, then swap: an interruption leaves nothing half-made.
            tmp = env + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(os.path.join(tmp, "bin"))
            if exists:
                shutil.rmtree(env)
            os.rename(tmp, env)
        return {{
            "env_path": env,
            "created": not exists or params["replace"],
            "activation": self.activation(cx, params),
            "gitignore": [ENV],
        }}

    def describe(self, cx, params):
        env = os.path.join(params["project_root"], ENV)
        return {{"exists": os.path.isdir(env), "env_path": env}}

    def activation(self, cx, params):
        return {{"path_prepend": [os.path.join(params["project_root"], ENV, "bin")]}}

    def remove(self, cx, params):
        env = os.path.join(params["project_root"], ENV)
        removed = []
        if os.path.isdir(env):
            shutil.rmtree(env)
            removed.append(env)
        return {{"removed": removed}}  # pyve reports what was removed


plugin = pp.Plugin("{name}", "0.1.0", description="A directory backend (a skeleton from `pyve plugin new`)")
plugin.backend("{name}", Dir(), selectors=["{name}.toml"], priority=5)
"#
        ),
    };
    let script = format!(
        r#"#!/usr/bin/env python3
"""{file}: a pyve plugin made by `pyve plugin new`. It needs pyve_plugin.py beside it (pyve
writes it there when you `pyve plugin install` this file). Check it with
`pyve plugin test ./{file}`."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import pyve_plugin as pp  # noqa: E402

{body}

if __name__ == "__main__":
    pp.main(plugin)
"#
    );
    let readme = format!(
        "# {file}\n\nA pyve plugin made by `pyve plugin new`, on the helper `pyve_plugin.py` (stdlib only).\n\n```console\n$ pyve plugin test ./{file}        # the protocol, rule by rule\n$ pyve plugin install ./{file}     # into $PYVE_HOME/plugins, with the helper\n$ pyve --list\n```\n"
    );
    vec![
        (PathBuf::from(&file), script),
        (PathBuf::from("pyve_plugin.py"), crate::plugins::install::PYTHON_HELPER.to_owned()),
        (PathBuf::from("README.md"), readme),
    ]
}

/// `pyve plugin new`.
pub fn run(env: &HostEnv, name: &str, lang: Lang, role: Role, dir: Option<&Path>, sdk: Option<&Path>) -> Result<u8> {
    if !pyve_protocol::is_valid_plugin_name(name) {
        let fixed = name.strip_prefix("pyve-").unwrap_or(name).to_ascii_lowercase().replace('_', "-");
        let hint = if pyve_protocol::is_valid_plugin_name(&fixed) {
            format!("try `pyve plugin new {fixed}`")
        } else {
            "a plugin name starts with a lowercase letter, then lowercase letters, digits and dashes".to_owned()
        };
        return Err(Error::usage(format!("'{name}' is not a plugin name")).hint(hint));
    }
    if crate::cli::BUILTINS.contains(&name) {
        return Err(Error::usage(format!(
            "`{name}` is a built-in command of pyve: a plugin of that name would never run"
        ))
        .hint("choose another name"));
    }
    let dest = dir.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(format!("pyve-{name}")));
    if dest.exists() && std::fs::read_dir(&dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(Error::new(format!("{} already exists and is not empty", dest.display()))
            .hint("choose another directory with --dir, or remove it; pyve never overwrites files"));
    }
    let files = match lang {
        Lang::Rust => rust_files(name, role, &sdk_dependency(env, sdk)),
        Lang::Python => python_files(name, role),
    };
    for (rel, text) in &files {
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    #[cfg(unix)]
    if lang == Lang::Python {
        use std::os::unix::fs::PermissionsExt;
        let script = dest.join(format!("pyve-{name}"));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", script.display()))?;
    }
    let what = match role {
        Role::Command => "command",
        Role::Backend => "backend",
        Role::Hook => "hook",
    };
    ui::success(&format!("Created the {what} plugin {name} ({lang:?}) in {}", dest.display()));
    let d = dest.display();
    match lang {
        Lang::Rust => {
            ui::status(&format!("  cd {d} && cargo build --release"));
            ui::status(&format!("  pyve plugin test target/release/pyve-{name}"));
            ui::status(&format!("  pyve plugin install {d}"));
        }
        Lang::Python => {
            ui::status(&format!("  pyve plugin test {d}/pyve-{name}"));
            ui::status(&format!("  pyve plugin install {d}/pyve-{name}"));
        }
    }
    Ok(0)
}
