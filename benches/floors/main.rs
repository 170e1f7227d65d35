//! Engine floors: the store's operations on the Rust core alone, without Node, the N-API
//! binding or the JavaScript codec. `bench/floors.md` says what each row is the floor of and
//! how to read it next to `bench/results/latest.md`.
//!
//! ```sh
//! cargo bench --no-default-features --bench floors                  # everything, ~45 s on 2 cores
//! cargo bench --no-default-features --bench floors -- codec/ raw/   # only cases whose name contains one of these
//! FLOORS_JSON=floors.json cargo bench --no-default-features --bench floors   # also write JSON
//! ```
//!
//! Environment: `FLOORS_JSON=path` (or `--json path`) writes the results as JSON;
//! `FLOORS_BUDGET_MS` sets the measuring time of each I/O case (default 1500; CPU-only cases
//! get half of it); `FLOORS_DEBUG=1` prints each warm-up's estimate.
//!
//! A tiny harness instead of criterion, so that `cargo test` (which compiles dev-dependencies)
//! stays cheap: each case is warmed up, then timed in samples. A case slower than
//! [`SLOW_OP`] is timed one operation per sample (so p99 is the p99 of single operations); a
//! faster one in samples of many iterations (p99 is then over samples, close to their max).
//! Values are made by a small xorshift generator, so every run writes the same bytes.

mod codec;
mod executor;
mod harness;
mod inputs;
mod raw;
mod report;
mod store;

use std::time::{Duration, Instant};

use harness::*;
use inputs::*;
use report::*;

fn main() {
    // `cargo bench` passes `--bench`; other arguments are name filters, plus `--json <path>`.
    let mut filters = Vec::new();
    let mut json_path = std::env::var("FLOORS_JSON").ok().filter(|s| !s.is_empty());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json_path = args.next(),
            a if a.starts_with("--") => {}
            _ => filters.push(arg),
        }
    }
    let budget_ms: u64 = std::env::var("FLOORS_BUDGET_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let mut bench = Bench {
        filters,
        io_budget: Duration::from_millis(budget_ms),
        cpu_budget: Duration::from_millis(budget_ms / 2),
        rows: Vec::new(),
        sizes: Vec::new(),
    };

    let started = Instant::now();
    let (cpu, cores, load_start) = machine();
    let dir = TempDir::new();
    let inp = inputs();
    raw::raw_group(&mut bench, &dir.0, &inp);
    store::store_group(&mut bench, &dir.0, &inp);
    executor::executor_group(&mut bench, &dir.0, &inp);
    codec::codec_group(&mut bench);
    drop(dir);
    let (_, _, load_end) = machine();

    let header = format!(
        "{} · {cores} × {cpu} · SQLite {} · temp dir {} · {:.0} s · \
         load average {load_start} at start, {load_end} at end",
        utc_now(),
        rusqlite::version(),
        std::env::temp_dir().display(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", markdown(&bench.rows, &bench.sizes, &header));
    if let Some(path) = json_path {
        let meta = serde_json::json!({
            "date": utc_now(), "cpu": cpu, "cores": cores, "sqlite": rusqlite::version(),
            "loadStart": load_start, "loadEnd": load_end, "budgetMs": budget_ms,
            "seconds": started.elapsed().as_secs_f64(),
        });
        std::fs::write(&path, json(&bench.rows, &bench.sizes, meta)).expect("write FLOORS_JSON");
        eprintln!("wrote {path}");
    }
}
