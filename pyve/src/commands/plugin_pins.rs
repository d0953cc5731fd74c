//! The team workflow around pins: `pyve plugin pin NAME` writes a pin for the copy in use (and
//! where it came from), `pyve plugin install` without a source installs every pinned plugin
//! that no installed copy matches, from the source recorded beside its pin.

use std::path::{Path, PathBuf};

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::plugins::install::{InstallRequest, Receipt, SourceKind};
use crate::plugins::pins::Pin;
use crate::plugins::{self, Entry, Status};
use crate::project::{self, Config, Lock, files};
use crate::ui;

const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The project of the current directory and its config, or the error that says there is none.
fn project_config(env: &HostEnv, what: &str) -> Result<(PathBuf, Config)> {
    let cwd = project::current_dir()?;
    let Some(root) = env.project_root(&cwd) else {
        return Err(Error::new(format!(
            "{what}: no pyve project here (no {} in {} or its parents)",
            project::CONFIG_FILE,
            cwd.display()
        ))
        .hint("pins live in the project's .pyve/config: run this in a project set up with `pyve --init`"));
    };
    let config = Config::load(&root)?.ok_or_else(|| Error::new(format!("{what}: {} is gone", project::CONFIG_FILE)))?;
    Ok((root, config))
}

/// A source as written into a pin: paths inside the project relative to it (a teammate's clone
/// is elsewhere), others as they are.
fn source_for_pin(root: &Path, receipt: &Receipt) -> Option<String> {
    match receipt.source.kind {
        // `NAME@REQ` is what the pin itself says: no source needed.
        SourceKind::Registry => None,
        SourceKind::Git => Some(receipt.source.spec.clone()),
        _ => {
            let spec = Path::new(&receipt.source.spec);
            Some(match spec.strip_prefix(root) {
                Ok(rel) => format!("./{}", rel.display()),
                Err(_) => receipt.source.spec.clone(),
            })
        }
    }
}

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The value of a pin as written: `"REQ"`, or `{version: "REQ", source: "...", registry: "..."}`.
pub fn render_pin(req: &semver::VersionReq, source: Option<&str>, registry: Option<&str>) -> String {
    if source.is_none() && registry.is_none() {
        return quoted(&req.to_string());
    }
    let mut parts = vec![format!("version: {}", quoted(&req.to_string()))];
    if let Some(s) = source {
        parts.push(format!("source: {}", quoted(s)));
    }
    if let Some(r) = registry {
        parts.push(format!("registry: {}", quoted(r)));
    }
    format!("{{{}}}", parts.join(", "))
}

/// The config text with the pin of `name` set to `value` (a YAML value on one line), every
/// other line kept as written. A `plugins:` section in flow style is rewritten in block style.
pub fn with_pin(config: &Config, name: &str, value: &str) -> String {
    edit_pin(config, name, Some(value))
}

/// The config text without the pin of `name` (its line and continuation lines), every other
/// line kept as written. A `plugins:` section in flow style is rewritten in block style; a
/// section left with nothing in it goes too.
pub fn without_pin(config: &Config, name: &str) -> String {
    edit_pin(config, name, None)
}

/// The pin of `name` set to `value`, or removed (`None`), in the config text.
fn edit_pin(config: &Config, name: &str, value: Option<&str>) -> String {
    let mut lines: Vec<String> = config.text.lines().map(str::to_owned).collect();
    let entry = value.map(|v| format!("{name}: {v}"));
    let Some(start) = lines.iter().position(|l| l.starts_with("plugins:")) else {
        if let Some(entry) = entry {
            lines.push("plugins:".into());
            lines.push(format!("  {entry}"));
        }
        return finish(lines);
    };
    let inline = lines[start]["plugins:".len()..].split(" #").next().unwrap_or("").trim().to_owned();
    if !inline.is_empty() {
        // Flow style (`plugins: {a: "1"}`): one line per pin, in block style.
        let mut block = vec!["plugins:".to_owned()];
        for (n, pin) in &config.plugins.pins {
            if n != name {
                block.push(format!("  {n}: {}", render_pin(&pin.req, pin.source.as_deref(), pin.registry.as_deref())));
            }
        }
        block.extend(entry.map(|e| format!("  {e}")));
        if block.len() == 1 {
            block.clear();
        }
        lines.splice(start..=start, block);
        return finish(lines);
    }
    // Block style: the section is the indented (or blank, or comment) lines after it.
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let mut end = start + 1;
    let mut indent = None;
    while end < lines.len() {
        let l = &lines[end];
        if !l.trim().is_empty() && indent_of(l) == 0 {
            break;
        }
        if indent.is_none() && !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            indent = Some(indent_of(l));
        }
        end += 1;
    }
    while end > start + 1 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let indent = indent.unwrap_or(2);
    let pad = " ".repeat(indent);
    let own = (start + 1..end).find(|&i| {
        let t = lines[i].trim_start();
        indent_of(&lines[i]) == indent
            && [format!("{name}:"), format!("\"{name}\":"), format!("'{name}':")].iter().any(|k| t.starts_with(k))
    });
    match (own, entry) {
        (Some(i), entry) => {
            // The pin's own line and its more-indented continuation lines.
            let mut j = i + 1;
            while j < end && (lines[j].trim().is_empty() || indent_of(&lines[j]) > indent) {
                j += 1;
            }
            let alone = i == start + 1 && j == end;
            let removed = entry.is_none();
            lines.splice(i..j, entry.map(|e| format!("{pad}{e}")));
            if removed && alone {
                // The section held nothing else (no other pin, no comment): it goes too.
                lines.remove(start);
            }
        }
        (None, Some(entry)) => lines.insert(end, format!("{pad}{entry}")),
        (None, None) => {}
    }
    finish(lines)
}

fn finish(lines: Vec<String>) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The plugin that serves `name` now (a plugin name, or a command a plugin provides).
fn in_use<'a>(inventory: &'a plugins::Inventory, name: &str) -> Option<&'a Entry> {
    let serving = |e: &&Entry| e.candidate.name == name && matches!(e.status, Status::Ok);
    inventory
        .entries
        .iter()
        .filter(serving)
        .min_by_key(|e| !e.serves.contains(&"rpc"))
        .or_else(|| inventory.command_provider(name))
}

/// `pyve plugin pin NAME [--version REQ]`.
pub fn pin(env: &HostEnv, name: &str, version: Option<&str>) -> Result<u8> {
    let (root, config) = project_config(env, "cannot pin")?;
    let _lock = Lock::acquire(&root, LOCK_WAIT)?;
    let inventory = plugins::inventory(env, crate::cli::BUILTINS);
    if crate::cli::BUILTINS.contains(&name) {
        return Err(Error::usage(format!("`{name}` is a built-in command of pyve, not a plugin"))
            .hint("`pyve --list` shows the plugins that can be pinned"));
    }
    // A requirement that does not parse is the user's typo: say so before anything else.
    let wanted = version
        .map(|v| {
            semver::VersionReq::parse(v).map_err(|e| {
                Error::usage(format!("`{v}` is not a version requirement: {e}"))
                    .hint("use cargo's requirement syntax, such as \"^0.2\", \"~1.4\" or \"=0.3.1\"")
            })
        })
        .transpose()?;
    // When the current pin matches no copy, re-pinning is how the user fixes it: the copy in
    // use is then the first one found, as if the plugin were not pinned.
    let unpinned =
        |n: &str| inventory.entries.iter().find(|e| e.candidate.name == n && matches!(e.status, Status::Unpinned(_)));
    let entry = match in_use(&inventory, name).or_else(|| unpinned(name)) {
        Some(e) => e,
        None => {
            if let Some(err) = inventory.pin_error(name) {
                return Err(err);
            }
            return Err(Error::new(format!("no plugin named '{name}' is installed, so there is no version to pin"))
                .hint("install it first (`pyve plugin install SOURCE`), or write the pin by hand under `plugins:` in .pyve/config"));
        }
    };
    let plugin = entry.candidate.name.clone();
    if plugin != name {
        ui::info(&format!("`{name}` is a command of plugin '{plugin}': pinning {plugin}"));
    }
    let current = entry.manifest.as_ref().map(|m| m.version.clone()).unwrap_or_default();
    let current_v = semver::Version::parse(&current).map_err(|e| {
        Error::new(format!("plugin '{plugin}' ({}) has no usable version: {e}", entry.candidate.path.display()))
    })?;
    let req = match wanted {
        Some(r) => r,
        None => semver::VersionReq::parse(&format!("^{current_v}"))
            .map_err(|e| Error::new(format!("cannot pin {plugin} to its version {current_v}: {e}")))?,
    };
    let dir = env.user_plugin_dir();
    let receipt = dir.as_deref().and_then(|d| Receipt::owning(d, &entry.candidate.path));
    let source = receipt.as_ref().and_then(|r| source_for_pin(&root, r));
    let registry = receipt.as_ref().and_then(|r| r.source.registry.clone());
    if !req.matches(&current_v) {
        // The recorded source is where the copy in use came from: `pyve plugin install` would
        // fetch that same version again, so it is no fix.
        let fix = match &source {
            Some(s) => format!(
                "its source {s} gave that version: install a matching copy (`pyve plugin install SOURCE`), then run `pyve plugin pin {plugin} --version \"{req}\"` again to record where it came from"
            ),
            None => "run `pyve plugin install` to get one that does".to_owned(),
        };
        ui::warn(&format!(
            "the copy in use, {plugin} {current} ({}), does not match \"{req}\": {fix}",
            entry.candidate.path.display()
        ));
    }
    if let Some(s) = &source
        && Path::new(s).is_absolute()
    {
        ui::warn(&format!(
            "the source {s} is outside the project: teammates need the same path (or edit `source:` in .pyve/config)"
        ));
    }
    let text = with_pin(&config, &plugin, &render_pin(&req, source.as_deref(), registry.as_deref()));
    // The result must read back as the pin written, with every other pin unchanged.
    let check = Config::parse(config.path.clone(), text.clone())?;
    let written = check.plugins.get(&plugin);
    if written.map(|p| &p.req) != Some(&req) || check.plugins.pins.len() < config.plugins.pins.len() {
        return Err(Error::new(format!("could not write the pin of {plugin} into {}", config.path.display()))
            .hint(format!("write it by hand under `plugins:`: {plugin}: \"{req}\"")));
    }
    files::write_own(&root, &config.path, text.as_bytes())?;
    let from = match (&source, receipt.as_ref().map(|r| r.source.kind)) {
        (Some(s), _) => format!(", installed from {s}"),
        (None, Some(SourceKind::Registry)) => ", from the Rust package registry".to_owned(),
        _ => String::new(),
    };
    ui::success(&format!("Pinned {plugin} to \"{req}\" in {} (in use: {current}{from})", project::CONFIG_FILE));
    if receipt.is_none() && !entry.candidate.path.starts_with(dir.as_deref().unwrap_or(Path::new("/nonexistent"))) {
        ui::info(&format!(
            "{} was not installed by `pyve plugin install`: no source is recorded (add `source:` to the pin so that `pyve plugin install` can fetch it)",
            entry.candidate.path.display()
        ));
    }
    Ok(0)
}

/// `pyve plugin unpin NAME`: the pin of `NAME` leaves `.pyve/config`, every other line stays.
pub fn unpin(env: &HostEnv, name: &str) -> Result<u8> {
    let (root, config) = project_config(env, "cannot unpin")?;
    let _lock = Lock::acquire(&root, LOCK_WAIT)?;
    let Some(pin) = config.plugins.get(name).cloned() else {
        let pinned: Vec<String> = config.plugins.pins.values().map(Pin::describe).collect();
        let there =
            if pinned.is_empty() { "it pins no plugin".to_owned() } else { format!("its pins: {}", pinned.join(", ")) };
        return Err(Error::new(format!("{} does not pin '{name}' ({there})", project::CONFIG_FILE))
            .hint("give the name of a pinned plugin (`pyve doctor` lists the pins)"));
    };
    let text = without_pin(&config, name);
    // The result must read back without the pin, with every other pin unchanged.
    let check = Config::parse(config.path.clone(), text.clone())?;
    let others_kept = config.plugins.pins.iter().filter(|(n, _)| *n != name).all(|(n, p)| {
        check.plugins.get(n).is_some_and(|c| c.req == p.req && c.source == p.source && c.registry == p.registry)
    });
    if check.plugins.get(name).is_some() || !others_kept || check.plugins.pins.len() + 1 != config.plugins.pins.len() {
        return Err(Error::new(format!("could not remove the pin of {name} from {}", config.path.display()))
            .hint(format!("remove it by hand: the line `{name}:` under `plugins:` ({})", pin.place())));
    }
    files::write_own(&root, &config.path, text.as_bytes())?;
    ui::success(&format!(
        "Unpinned {} from {} (the first copy found serves it now)",
        pin.describe(),
        project::CONFIG_FILE
    ));
    Ok(0)
}

/// `pyve plugin install` without a source: every pin of the project that no installed copy
/// matches, from the source recorded beside it (else `NAME@REQ` from the Rust package
/// registry). Pins already satisfied are reported and left alone (`--force` reinstalls them).
pub fn install_pinned(env: &HostEnv, force: bool, offline: bool) -> Result<u8> {
    let (root, config) = project_config(env, "nothing to install")?;
    if config.plugins.is_empty() {
        return Err(Error::usage(format!("{} pins no plugin, so there is nothing to install", config.path.display()))
            .hint(
                "name what to install (`pyve plugin install SOURCE`), or pin plugins first (`pyve plugin pin NAME`)",
            ));
    }
    let inventory = plugins::inventory(env, crate::cli::BUILTINS);
    inventory.warn_pins();
    let mut failed = Vec::new();
    for (name, pin) in &config.plugins.pins {
        if !force && inventory.pin_error(name).is_none() {
            let e = in_use(&inventory, name).filter(|e| e.candidate.name == *name);
            let v = e.and_then(|e| e.manifest.as_ref()).map(|m| m.version.as_str()).unwrap_or("?");
            let path = e.map(|e| e.candidate.path.display().to_string()).unwrap_or_default();
            ui::info(&format!("{name} {v} ({path}) already matches \"{}\"", pin.req));
            continue;
        }
        let req = request(&root, pin, force, offline);
        ui::info(&format!("Installing {} from {}", pin.describe(), req.source));
        match plugins::install::install(env, &req) {
            Ok(r) => ui::success(&format!("Installed plugin {} {} (pinned \"{}\")", r.name, r.version, pin.req)),
            Err(e) => {
                ui::error(&e);
                failed.push(name.clone());
            }
        }
    }
    if failed.is_empty() {
        return Ok(0);
    }
    Err(Error::new(format!("{} of {} pinned plugins could not be installed: {}", failed.len(), config.plugins.pins.len(), failed.join(", ")))
        .hint("fix the sources in .pyve/config (`source:` beside each pin) or install them by hand with `pyve plugin install SOURCE`"))
}

/// What `pyve plugin install` does for one pin: its source (a relative path is relative to the
/// project root), or `NAME@REQ` from the registry, checked against the pin's name and version.
fn request(root: &Path, pin: &Pin, force: bool, offline: bool) -> InstallRequest {
    let source = match &pin.source {
        Some(s) if !s.starts_with("git+") && (s.starts_with('.') || s.contains('/')) && !Path::new(s).is_absolute() => {
            root.join(s.trim_start_matches("./")).display().to_string()
        }
        Some(s) => s.clone(),
        None => format!("{}@{}", pin.name, pin.req),
    };
    InstallRequest {
        source,
        name: Some(pin.name.clone()),
        version: Some(pin.req.clone()),
        force,
        registry: pin.registry.clone(),
        offline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(PathBuf::from("/p/.pyve/config"), text.to_owned()).unwrap()
    }

    fn req(s: &str) -> semver::VersionReq {
        semver::VersionReq::parse(s).unwrap()
    }

    #[test]
    fn pins_are_written_in_place_keeping_everything_else() {
        let v = render_pin(&req("^0.2.0"), None, None);
        assert_eq!(v, "\"^0.2.0\"");
        // No section yet.
        let c = config("# ours\nbackend: venv\n");
        assert_eq!(with_pin(&c, "hello", &v), "# ours\nbackend: venv\nplugins:\n  hello: \"^0.2.0\"\n");
        // A block section: replaced in place (with its continuation lines), or added at its end.
        let c = config(
            "backend: venv\nplugins:\n    hello:\n      version: \"1\"\n      source: x\n    venv: \"*\" # any\n\nvenv:\n  directory: .venv\n",
        );
        assert_eq!(
            with_pin(&c, "hello", &v),
            "backend: venv\nplugins:\n    hello: \"^0.2.0\"\n    venv: \"*\" # any\n\nvenv:\n  directory: .venv\n"
        );
        assert_eq!(
            with_pin(&c, "tool", &v),
            "backend: venv\nplugins:\n    hello:\n      version: \"1\"\n      source: x\n    venv: \"*\" # any\n    tool: \"^0.2.0\"\n\nvenv:\n  directory: .venv\n"
        );
        // A flow section becomes a block one.
        let c = config("plugins: {venv: \"^0.1\", x: {version: \"1\", source: ./x}}\nbackend: venv\n");
        let text = with_pin(&c, "hello", &render_pin(&req("^0.2"), Some("./tools/pyve-hello"), None));
        assert_eq!(
            text,
            "plugins:\n  venv: \"^0.1\"\n  x: {version: \"^1\", source: \"./x\"}\n  hello: {version: \"^0.2\", source: \"./tools/pyve-hello\"}\nbackend: venv\n"
        );
        let back = Config::parse(PathBuf::from("/p/.pyve/config"), text).unwrap();
        assert_eq!(back.plugins.get("hello").unwrap().source.as_deref(), Some("./tools/pyve-hello"));
        assert_eq!(back.plugins.get("x").unwrap().req, req("^1"));
    }

    #[test]
    fn pins_are_removed_in_place_keeping_everything_else() {
        // A block section: the pin's lines go (with continuation lines), comments stay.
        let c = config(
            "backend: venv # ours\nplugins:\n    # team pins\n    hello:\n      version: \"1\"\n      source: x\n    venv: \"*\" # any\n\nvenv:\n  directory: .venv\n",
        );
        assert_eq!(
            without_pin(&c, "hello"),
            "backend: venv # ours\nplugins:\n    # team pins\n    venv: \"*\" # any\n\nvenv:\n  directory: .venv\n"
        );
        assert_eq!(
            without_pin(&c, "venv"),
            "backend: venv # ours\nplugins:\n    # team pins\n    hello:\n      version: \"1\"\n      source: x\n\nvenv:\n  directory: .venv\n"
        );
        // The last pin takes the section with it; a comment keeps it.
        let c = config("plugins:\n  'hello': \"^1\"\nbackend: venv\n");
        assert_eq!(without_pin(&c, "hello"), "backend: venv\n");
        let c = config("plugins:\n  # none yet\n  hello: \"^1\"\nbackend: venv\n");
        assert_eq!(without_pin(&c, "hello"), "plugins:\n  # none yet\nbackend: venv\n");
        // A flow section becomes a block one, or goes when empty.
        let c = config("plugins: {venv: \"^0.1\", hello: \"1\"}\nbackend: venv\n");
        assert_eq!(without_pin(&c, "hello"), "plugins:\n  venv: \"^0.1\"\nbackend: venv\n");
        let c = config("backend: venv\nplugins: {hello: \"1\"}\n");
        assert_eq!(without_pin(&c, "hello"), "backend: venv\n");
    }

    #[test]
    fn a_pin_installs_from_its_source_relative_to_the_project() {
        let pin = |source: Option<&str>| Pin {
            name: "hello".into(),
            req: req("^0.2"),
            source: source.map(str::to_owned),
            registry: Some("corp".into()),
            line: None,
        };
        let root = Path::new("/proj");
        assert_eq!(request(root, &pin(Some("./tools/pyve-hello")), false, false).source, "/proj/tools/pyve-hello");
        assert_eq!(request(root, &pin(Some("/opt/pyve-hello")), false, false).source, "/opt/pyve-hello");
        assert_eq!(request(root, &pin(Some("git+https://e.x/h.git")), false, false).source, "git+https://e.x/h.git");
        let r = request(root, &pin(None), true, true);
        assert_eq!((r.source.as_str(), r.registry.as_deref(), r.force), ("hello@^0.2", Some("corp"), true));
        assert_eq!(r.name.as_deref(), Some("hello"));
    }
}
