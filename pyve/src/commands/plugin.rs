//! `pyve plugin list|which|info` and `pyve --list`.

use std::fmt::Write as _;
use std::io::Write as _;

use pyve_protocol::types::Manifest;
use serde_json::{Value, json};

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::plugins::{self, Entry, Inventory, Kind, Status, discovery};
use crate::ui;

/// What a manifest provides, in a few words: `backend venv; commands testenv, test`.
fn provides(m: Option<&Manifest>) -> String {
    let Some(m) = m else { return "-".into() };
    let p = &m.provides;
    let mut parts = Vec::new();
    let names = |v: Vec<&str>| v.join(", ");
    if !p.backends.is_empty() {
        let word = if p.backends.len() == 1 { "backend" } else { "backends" };
        parts.push(format!("{word} {}", names(p.backends.iter().map(|b| b.name.as_str()).collect())));
    }
    if !p.commands.is_empty() {
        let word = if p.commands.len() == 1 { "command" } else { "commands" };
        parts.push(format!("{word} {}", names(p.commands.iter().map(|c| c.name.as_str()).collect())));
    }
    if !p.hooks.is_empty() {
        let word = if p.hooks.len() == 1 { "hook" } else { "hooks" };
        parts.push(format!("{word} {}", names(p.hooks.iter().map(|h| h.event.as_str()).collect())));
    }
    if parts.is_empty() { "nothing".into() } else { parts.join("; ") }
}

/// Where a plugin file came from, per its install receipt (`None`: not installed by
/// `pyve plugin install`).
fn receipt_source(env: &HostEnv, e: &Entry) -> Option<plugins::install::Source> {
    let dir = env.user_plugin_dir()?;
    plugins::install::Receipt::owning(&dir, &e.candidate.path).map(|r| r.source)
}

fn entry_json(env: &HostEnv, e: &Entry) -> Value {
    let m = e.manifest.as_ref();
    let (shadowed_by, error) = match &e.status {
        Status::Shadowed(by) => (Some(by.clone()), None),
        Status::Unusable(p) => (None, Some(p.explain())),
        Status::Failed(err) => (None, Some(err.summary())),
        Status::Ok => (None, None),
        Status::Unpinned(req) => (None, Some(format!("does not match the project's pin \"{req}\""))),
    };
    json!({
        "name": e.candidate.name,
        "version": m.map(|m| m.version.clone()),
        "kind": e.candidate.kind,
        "path": e.candidate.path,
        "status": e.status.word(),
        "provides": m.map(|m| serde_json::to_value(&m.provides).unwrap_or(Value::Null)).unwrap_or_else(|| json!({})),
        "description": m.map(|m| m.description.clone()),
        "protocol": m.map(|m| m.protocol.to_string()),
        "origin": e.candidate.origin,
        "serves": e.serves,
        "shadowed_by": shadowed_by,
        "error": error,
        "source": receipt_source(env, e),
    })
}

/// `pyve plugin list [--json] [-v]` and `pyve --list`.
pub fn list(env: &HostEnv, builtins: &[&str], as_json: bool, verbose: bool) -> Result<u8> {
    let inventory = plugins::inventory(env, builtins);
    if as_json {
        let array: Vec<Value> = inventory.entries.iter().map(|e| entry_json(env, e)).collect();
        let mut out = std::io::stdout().lock();
        let text = crate::json::pretty(&array);
        let _ = writeln!(out, "{text}");
        return Ok(0);
    }
    if verbose {
        for dir in &inventory.search.dirs {
            for (path, why) in discovery::misnamed_files(&dir.path) {
                ui::warn(&format!("{} is ignored: not a plugin name; {why}", path.display()));
            }
        }
    }
    if inventory.entries.is_empty() {
        ui::status("No plugins found.");
        ui::hint(&format!("pyve looks in {}", search_summary(&inventory)));
        return Ok(0);
    }
    print_table(env, &inventory, verbose);
    if verbose {
        for e in inventory.entries.iter().filter(|e| !e.logs.is_empty()) {
            plugins::show_logs(&e.candidate.name, &e.logs);
        }
    }
    for e in &inventory.entries {
        let c = &e.candidate;
        match &e.status {
            Status::Shadowed(by) if !verbose => {
                ui::warn(&format!("{} is shadowed by {by}", c.path.display()));
            }
            Status::Unusable(p) => ui::warn(&format!("{}: {}; {}", c.path.display(), p.explain(), p.hint(&c.path))),
            Status::Failed(err) => {
                let e = err.to_error();
                ui::warn(&format!("{e}"));
                if let Some(h) = e.hint_text() {
                    ui::hint(h);
                }
            }
            _ => {}
        }
    }
    inventory.warn_pins();
    for name in inventory.pins.pins.keys() {
        if let Some(e) = inventory.pin_error(name) {
            ui::warn(&e.to_string());
            if let Some(h) = e.hint_text() {
                ui::hint(h);
            }
        }
    }
    Ok(0)
}

fn print_table(env: &HostEnv, inventory: &Inventory, verbose: bool) {
    // One row per plugin (a library and an executable in one directory share a row), or with
    // -v one row per file, including shadowed ones.
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut i = 0;
    let entries: Vec<&Entry> =
        inventory.entries.iter().filter(|e| verbose || !matches!(e.status, Status::Shadowed(_))).collect();
    while i < entries.len() {
        let e = entries[i];
        let mut kind = e.candidate.kind.to_string();
        let pair = !verbose
            && matches!(e.status, Status::Ok)
            && entries.get(i + 1).is_some_and(|n| {
                n.candidate.name == e.candidate.name && matches!(n.status, Status::Ok) && n.candidate.kind == Kind::Exec
            });
        if pair {
            kind = "dylib+exec".into();
        }
        let m = e.manifest.as_ref();
        let mut row = vec![
            e.candidate.name.clone(),
            m.map(|m| m.version.clone()).unwrap_or_else(|| "-".into()),
            kind,
            e.status.word().to_owned(),
            provides(m),
        ];
        if verbose {
            // With -v, where `pyve plugin install` got it from.
            row.push(receipt_source(env, e).map(|s| s.spec).unwrap_or_else(|| "-".into()));
        }
        row.push(e.candidate.path.display().to_string());
        rows.push(row);
        i += if pair { 2 } else { 1 };
    }
    let mut headers = vec!["NAME", "VERSION", "KIND", "STATUS", "PROVIDES"];
    if verbose {
        headers.push("SOURCE");
    }
    headers.push("PATH");
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (k, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
            if k == cells.len() - 1 {
                l.push_str(cell);
            } else {
                // Padded by hand: a `{:<w$}` width above 65 535 panics, and a cell is as long
                // as what a plugin (or a path) makes it.
                l.push_str(cell);
                l.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count()) + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&headers);
    for r in &rows {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

fn search_summary(inventory: &Inventory) -> String {
    let dirs: Vec<String> =
        inventory.search.dirs.iter().map(|d| format!("{} ({})", d.path.display(), d.origin.describe())).collect();
    if dirs.is_empty() { "no directories (PATH is empty)".into() } else { dirs.join(", ") }
}

/// The inventory, with the project's pins applied, when the current project pins `name`.
fn pinned_inventory(env: &HostEnv, builtins: &[&str], name: &str) -> Option<Inventory> {
    if builtins.contains(&name) || plugins::pins::Pins::for_cwd(env).get(name).is_none() {
        return None;
    }
    Some(plugins::inventory(env, builtins))
}

/// How `name` resolves: through the project's pins when it pins it (`pinned`; a pin nothing
/// matches is its error), else by the search path.
fn resolution(search: &discovery::SearchPath, pinned: Option<&Inventory>, name: &str) -> Result<discovery::Resolution> {
    Ok(match pinned {
        Some(inventory) => {
            if let Some(err) = inventory.pin_error(name) {
                return Err(err);
            }
            crate::commands::external::pinned_resolution(inventory, name)
        }
        None if pyve_protocol::is_valid_plugin_name(name) => {
            discovery::resolve(discovery::candidates_for(search, name))
        }
        None => discovery::Resolution::default(),
    })
}

/// `pyve plugin which NAME`: which file serves a name, and why.
pub fn which(env: &HostEnv, builtins: &[&str], name: &str) -> Result<u8> {
    if builtins.contains(&name) {
        println!("{name}: built-in command (pyve {name}); built-in commands are never served by plugins");
        let search = discovery::SearchPath::from_env(env);
        for c in discovery::candidates_for(&search, name) {
            println!("  ignored: {} ({})", c.path.display(), c.origin.describe());
        }
        return Ok(0);
    }
    let search = discovery::SearchPath::from_env(env);
    let pinned = pinned_inventory(env, builtins, name);
    let res = resolution(&search, pinned.as_ref(), name)?;
    let mut out = String::new();
    if let Some(primary) = res.primary() {
        let _ = writeln!(out, "{name}: {}", primary.path.display());
        if let Some(pin) = pinned.as_ref().and_then(|i| i.pins.get(name)) {
            let _ = writeln!(
                out,
                "  pinned: {} ({}): the first copy whose version matches serves",
                pin.describe(),
                pin.place()
            );
        }
        let dir = primary.path.parent().map(|p| p.display().to_string()).unwrap_or_default();
        let _ = writeln!(out, "  found in: {dir} ({})", primary.origin.describe());
        if let Some(lib) = res.rpc.as_ref().filter(|c| c.kind == Kind::Dylib) {
            let _ = writeln!(out, "  rpc: {} (library, loaded in-process)", lib.path.display());
        } else if let Some(r) = &res.rpc {
            let _ = writeln!(out, "  rpc: {} (executable, started with --pyve-rpc)", r.path.display());
        }
        match &res.exec {
            Some(x) => {
                let _ = writeln!(out, "  passthrough: {}", x.path.display());
            }
            None => {
                let _ = writeln!(out, "  passthrough: none (a library has no command line)");
            }
        }
    } else {
        let inventory = plugins::inventory(env, builtins);
        match inventory.command_provider(name) {
            Some(e) => {
                let _ =
                    writeln!(out, "{name}: command of plugin '{}': {}", e.candidate.name, e.candidate.path.display());
                let _ = writeln!(out, "  found in: {} (its manifest lists `{name}`)", e.candidate.origin.describe());
            }
            None => {
                let mut err = Error::new(format!("no plugin or plugin command named '{name}'"));
                if let Some(bad) = res.unusable.first() {
                    let problem = bad.problem.as_ref().expect("unusable candidates have a problem");
                    err = err.because(format!("{}: {}", bad.path.display(), problem.explain()));
                    return Err(err.hint(problem.hint(&bad.path)));
                }
                return Err(err.hint(format!("pyve looks in {}", search_summary(&inventory))));
            }
        }
    }
    let unpinned: Vec<&Entry> = pinned
        .iter()
        .flat_map(|i| i.entries.iter())
        .filter(|e| e.candidate.name == name && matches!(e.status, Status::Unpinned(_)))
        .collect();
    for c in res.shadowed.iter().filter(|c| !unpinned.iter().any(|u| u.candidate.path == c.path)) {
        let _ = writeln!(out, "  shadows: {} ({})", c.path.display(), c.origin.describe());
    }
    for e in unpinned {
        let version = e.manifest.as_ref().map(|m| m.version.as_str()).unwrap_or("?");
        let _ = writeln!(
            out,
            "  skipped: {} ({}): version {version} does not match the pin",
            e.candidate.path.display(),
            e.candidate.origin.describe()
        );
    }
    for c in &res.unusable {
        let p = c.problem.as_ref().expect("unusable candidates have a problem");
        let _ = writeln!(out, "  skipped: {}: {}", c.path.display(), p.explain());
    }
    for (entry, why) in &search.skipped {
        let shown = if entry.is_empty() { "(empty)".to_owned() } else { entry.clone() };
        let _ = writeln!(out, "  not searched: PATH entry {shown}: {why}");
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(0)
}

/// `pyve plugin info NAME [--json]`: start the plugin, do the handshake, show its manifest.
pub fn info(env: &HostEnv, builtins: &[&str], name: &str, as_json: bool) -> Result<u8> {
    let search = discovery::SearchPath::from_env(env);
    let res = resolution(&search, pinned_inventory(env, builtins, name).as_ref(), name)?;
    let Some(candidate) = res.rpc.clone() else {
        if let Some(bad) = res.unusable.first() {
            let problem = bad.problem.as_ref().expect("unusable candidates have a problem");
            return Err(Error::new(format!(
                "plugin '{name}' ({}) cannot be used: {}",
                bad.path.display(),
                problem.explain()
            ))
            .hint(problem.hint(&bad.path)));
        }
        let hint = if builtins.contains(&name) {
            format!("`{name}` is a built-in command: see `pyve {name} --help`")
        } else {
            "`pyve --list` shows the installed plugins".to_owned()
        };
        return Err(Error::new(format!("no plugin named '{name}'")).hint(hint));
    };
    let info = plugins::inspect_session(env);
    let (result, logs) = plugins::fetch_manifest_logged(&candidate, &info, plugins::timeouts(env));
    // What it logged during the handshake, then the result. A plugin whose handshake timed
    // out before is tried again here, and a success replaces the cached failure.
    plugins::show_logs(name, &logs);
    if let Ok(m) = &result {
        let mut cache = plugins::cache::Cache::load(env.cache_dir.as_deref());
        cache.put_handshake(&candidate, Ok(m.clone()), logs);
        cache.save();
    }
    let manifest = result.map_err(|e| e.to_error())?;
    if as_json {
        let mut v = serde_json::to_value(&manifest).expect("manifests serialize");
        v["path"] = json!(candidate.path);
        v["kind"] = json!(candidate.kind);
        println!("{}", crate::json::pretty(&v));
        return Ok(0);
    }
    let mut out = String::new();
    let _ = writeln!(out, "name:         {}", manifest.name);
    let _ = writeln!(out, "version:      {}", manifest.version);
    let _ = writeln!(out, "protocol:     {}", manifest.protocol);
    let _ = writeln!(out, "kind:         {}", candidate.kind);
    let _ = writeln!(out, "path:         {}", candidate.path.display());
    if !manifest.description.is_empty() {
        let _ = writeln!(out, "description:  {}", manifest.description);
    }
    for b in &manifest.provides.backends {
        let sel =
            if b.selectors.is_empty() { String::new() } else { format!(" (selected by {})", b.selectors.join(", ")) };
        let _ = writeln!(out, "backend:      {}{sel}", b.name);
    }
    for c in &manifest.provides.commands {
        let _ = writeln!(
            out,
            "command:      {}{}",
            c.name,
            if c.summary.is_empty() { String::new() } else { format!(" - {}", c.summary) }
        );
    }
    for h in &manifest.provides.hooks {
        let _ = writeln!(
            out,
            "hook:         {}{}",
            h.event,
            if h.description.is_empty() { String::new() } else { format!(" - {}", h.description) }
        );
    }
    let caps = &manifest.capabilities;
    let names: Vec<&str> = [("cancel", caps.cancel), ("progress", caps.progress), ("prompt", caps.prompt)]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    let _ = writeln!(out, "capabilities: {}", if names.is_empty() { "none".into() } else { names.join(", ") });
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(0)
}

/// `pyve plugin install SOURCE [--force] [--registry R] [--offline]`.
pub fn install(env: &HostEnv, source: &str, force: bool, registry: Option<String>, offline: bool) -> Result<u8> {
    let req =
        plugins::install::InstallRequest { source: source.to_owned(), force, registry, offline, ..Default::default() };
    let r = plugins::install::install(env, &req)?;
    let dir = env.user_plugin_dir().unwrap_or_default();
    let names: Vec<String> =
        r.files.iter().filter(|f| !f.path.starts_with(".pkg")).map(|f| f.path.display().to_string()).collect();
    ui::success(&format!("Installed plugin {} {} ({}) into {}", r.name, r.version, names.join(", "), dir.display()));
    Ok(0)
}

/// `pyve plugin remove NAME`.
pub fn remove(env: &HostEnv, name: &str) -> Result<u8> {
    let r = plugins::install::remove(env, name)?;
    let dir = env.user_plugin_dir().unwrap_or_default();
    ui::success(&format!("Removed plugin {} {} ({} files) from {}", r.name, r.version, r.files.len(), dir.display()));
    Ok(0)
}

/// `pyve plugin test PATH|NAME`: the conformance kit on a plugin file (or on every file serving
/// a name: the library and the executable of a plugin that ships both).
pub fn test(
    env: &HostEnv,
    builtins: &[&str],
    target: &str,
    opts: &crate::conformance::Options,
    as_json: bool,
) -> Result<u8> {
    let candidates = test_subjects(env, builtins, target)?;
    let mut opts = opts.clone();
    opts.env = crate::commands::plugin_env(env, None, None);
    let mut reports = Vec::new();
    for c in &candidates {
        if !as_json {
            ui::info(&format!("Testing {} ({}, {})", c.name, c.kind, c.path.display()));
        }
        let report = crate::conformance::check(c, &opts);
        if !as_json {
            print_report(&report);
        }
        reports.push(report);
    }
    let failed: usize = reports.iter().map(|r| r.failed).sum();
    if as_json {
        let _ = writeln!(std::io::stdout().lock(), "{}", crate::json::pretty(&reports));
    }
    Ok(u8::from(failed > 0))
}

fn print_report(r: &crate::conformance::Report) {
    use crate::conformance::Outcome;
    let mut out = String::new();
    for f in &r.checks {
        let mark = match f.outcome {
            Outcome::Pass => "✓",
            Outcome::Fail => "✗",
            Outcome::Skip => "-",
        };
        let _ = writeln!(out, "  {mark} {}: {}", f.rule, f.detail);
        if let Some(s) = &f.sent {
            let _ = writeln!(out, "      sent: {s}");
        }
        if let Some(g) = &f.got {
            let _ = writeln!(out, "      got:  {g}");
        }
    }
    let version = r.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{}{version}: {} passed, {} failed, {} skipped ({:.1} s)",
        r.plugin,
        r.passed,
        r.failed,
        r.skipped,
        r.millis as f64 / 1000.0
    );
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// The files `pyve plugin test` checks: the file given, or the files serving a name.
fn test_subjects(env: &HostEnv, builtins: &[&str], target: &str) -> Result<Vec<discovery::Candidate>> {
    let path = std::path::Path::new(target);
    if target.contains('/') || path.exists() {
        let file = path.file_name().unwrap_or_default();
        let Some((name, kind)) = discovery::parse_file_name(file) else {
            return Err(Error::usage(format!("{target} is not named like a plugin"))
                .hint(format!(
                    "a plugin is an executable named pyve-NAME or a library named {}; rename it (NAME: lowercase letters, digits, dashes)",
                    discovery::dylib_file_name("NAME")
                )));
        };
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let c = discovery::Candidate::from_file(abs, &name, kind).map_err(|e| {
            Error::new(format!("cannot read {target}")).because(e).hint("give the path of a plugin file")
        })?;
        if !c.path.is_file() {
            return Err(Error::usage(format!("{target} is not a file")).hint("give the path of a plugin file"));
        }
        return Ok(vec![c]);
    }
    if builtins.contains(&target) {
        return Err(Error::usage(format!("`{target}` is a built-in command of pyve, not a plugin"))
            .hint("`pyve --list` shows the plugins; or give the path of a plugin file"));
    }
    let search = discovery::SearchPath::from_env(env);
    let res = resolution(&search, pinned_inventory(env, builtins, target).as_ref(), target)?;
    let mut out: Vec<discovery::Candidate> = Vec::new();
    for c in [res.rpc, res.exec].into_iter().flatten() {
        if !out.iter().any(|o| o.path == c.path) {
            out.push(c);
        }
    }
    if out.is_empty() {
        if let Some(bad) = res.unusable.first() {
            let problem = bad.problem.as_ref().expect("unusable candidates have a problem");
            return Err(Error::new(format!(
                "plugin '{target}' ({}) cannot be used: {}",
                bad.path.display(),
                problem.explain()
            ))
            .hint(problem.hint(&bad.path)));
        }
        return Err(Error::new(format!("no plugin named '{target}'"))
            .hint("give the path of the plugin file (./pyve-NAME), or see `pyve --list`"));
    }
    Ok(out)
}
