//! Time RPC sessions with a plugin over each transport, side by side:
//!
//! `rpc-roundtrip EXEC DYLIB [N]` prints, for the executable and the library, the median and
//! mean of N sessions (start + `initialize` + `shutdown`), and of N `initialize` round trips
//! on one open session (the per-message cost).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pyve::plugins::{Candidate, Kind};
use pyve::rpc::{Client, QuietHandler, SessionInfo, Timeouts};
use pyve_protocol::methods::request;
use pyve_protocol::types::{HostInfo, HostSettings, InitializeParams};

fn candidate(path: PathBuf, kind: Kind) -> Candidate {
    Candidate::from_file(path.clone(), "hello", kind).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let median = v[v.len() / 2].as_secs_f64() * 1e6;
    let mean = v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1e6;
    (median, mean)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (exec, dylib) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let info = SessionInfo { project_root: None, settings: HostSettings::default(), env: vec![] };
    let timeouts = Timeouts { handshake: Duration::from_secs(10), call: None };
    let params = InitializeParams {
        protocol_versions: vec![pyve_protocol::PROTOCOL_VERSION],
        host: HostInfo { name: "pyve".into(), version: "bench".into() },
        project: None,
        settings: HostSettings::default(),
    };

    println!(
        "| transport | session: start + initialize + shutdown (median / mean, µs) | initialize round trip on an open session (median / mean, µs) |"
    );
    println!("|---|---|---|");
    let mut medians = Vec::new();
    for (label, c) in [("executable", candidate(exec, Kind::Exec)), ("dynamic library", candidate(dylib, Kind::Dylib))]
    {
        // Warm up (page cache, the library's first load).
        for _ in 0..5 {
            let mut client = Client::start(&c, &info, timeouts).unwrap();
            client.initialize(&info, &mut QuietHandler).unwrap();
            client.shutdown();
        }
        let mut sessions = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let mut client = Client::start(&c, &info, timeouts).unwrap();
            client.initialize(&info, &mut QuietHandler).unwrap();
            client.shutdown();
            sessions.push(t.elapsed());
        }
        let mut client = Client::start(&c, &info, timeouts).unwrap();
        let mut trips = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            client.call::<request::Initialize>(&params, &mut QuietHandler).unwrap();
            trips.push(t.elapsed());
        }
        client.shutdown();
        let (sm, sa) = stats(sessions);
        let (tm, ta) = stats(trips);
        medians.push((sm, tm));
        println!("| {label} | {sm:.0} / {sa:.0} | {tm:.1} / {ta:.1} |");
    }
    let (exec_s, exec_t) = medians[0];
    let (lib_s, lib_t) = medians[1];
    println!();
    println!(
        "library / executable, medians: sessions {:.4} (1/{:.0}), round trips {:.3} (1/{:.1})",
        lib_s / exec_s,
        exec_s / lib_s,
        lib_t / exec_t,
        exec_t / lib_t
    );
}
