//! An example plugin: the passthrough command `pyve hello` and a `post-create` hook.
use pyve_sdk::{Context, Hook, Invocation, Plugin, Result, types::*};

struct Greet;

impl Hook for Greet {
    fn post_create(&self, cx: &mut Context<'_>, p: PostCreateParams) -> Result<HookResult> {
        let file = p.env_path.join("hello.txt");
        std::fs::write(&file, format!("hello from the {} backend\n", p.backend))?;
        cx.info(format!("wrote {}", file.display()));
        Ok(HookResult { changed: true, summary: Some("greeted the environment".into()) })
    }
}

fn hello(inv: Invocation) -> i32 {
    match inv.args.first().and_then(|a| a.to_str()) {
        Some("--version") => println!("pyve-hello {}", env!("CARGO_PKG_VERSION")),
        Some(name) => println!("Hello, {name}!"),
        None => println!("Hello from pyve {}!", inv.host.pyve_version.as_deref().unwrap_or("?")),
    }
    0
}

pub fn plugin() -> Plugin {
    Plugin::new("hello", env!("CARGO_PKG_VERSION"))
        .description("An example plugin: a command and a hook")
        .command("hello", "Say hello", hello)
        .hook("post-create", "Write hello.txt into new environments", Greet)
}
