//! The measuring harness: warm-up, samples, the statistics of a case, the `Bench` that
//! filters cases by name and collects their rows, and the temporary directory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Operations slower than this are timed one per sample.
pub(crate) const SLOW_OP: Duration = Duration::from_micros(20);
/// Samples of fast cases (each of many iterations).
pub(crate) const FAST_SAMPLES: usize = 50;
/// Bounds on the samples of slow cases.
pub(crate) const MIN_SLOW_SAMPLES: usize = 10;
pub(crate) const MAX_SLOW_SAMPLES: usize = 3000;

#[derive(Clone, Debug)]
pub(crate) struct Stats {
    pub(crate) median: f64,
    pub(crate) p99: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
    pub(crate) samples: usize,
    pub(crate) iters: u64,
}

pub(crate) fn stats(mut per_op: Vec<f64>, iters: u64) -> Stats {
    per_op.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = per_op.len();
    let rank = |q: f64| per_op[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    let median = if n % 2 == 1 { per_op[n / 2] } else { (per_op[n / 2 - 1] + per_op[n / 2]) / 2.0 };
    Stats { median, p99: rank(0.99), min: per_op[0], max: per_op[n - 1], mean: per_op.iter().sum::<f64>() / n as f64, samples: n, iters }
}

/// Times `op` (which does one operation per call) for about `budget`, after a warm-up.
pub(crate) fn measure(budget: Duration, mut op: impl FnMut()) -> Stats {
    // Warm-up: a tenth of the budget, at least two operations; also estimates one op's time.
    let start = Instant::now();
    let mut warm = 0u64;
    while warm < 2 || start.elapsed() < budget / 10 {
        op();
        warm += 1;
    }
    let estimate = start.elapsed() / warm as u32;
    if std::env::var_os("FLOORS_DEBUG").is_some() {
        eprintln!("  warm-up: {warm} ops, {estimate:?} each");
    }
    if estimate >= SLOW_OP {
        let n = (budget.as_nanos() / estimate.as_nanos().max(1)) as usize;
        let per_op = slow_samples(budget, n, || {
            let t = Instant::now();
            op();
            t.elapsed().as_nanos() as f64
        });
        return stats(per_op, 1);
    }
    let per_sample = budget / FAST_SAMPLES as u32;
    let iters = (per_sample.as_nanos() / estimate.as_nanos().max(1)).max(1) as u64;
    let per_op = (0..FAST_SAMPLES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                op();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    stats(per_op, iters)
}

/// Like [`measure`] for slow operations that need untimed preparation: `setup` runs before
/// each operation and `op` consumes its output; only `op` is timed (what it returns is
/// dropped after the clock stops).
pub(crate) fn measure_with_setup<S, T>(budget: Duration, mut setup: impl FnMut() -> S, mut op: impl FnMut(S) -> T) -> Stats {
    let mut timed = |setup: &mut dyn FnMut() -> S| {
        let input = setup();
        let t = Instant::now();
        let output = op(input);
        let ns = t.elapsed().as_nanos() as f64;
        drop(output);
        ns
    };
    let start = Instant::now();
    let mut warm = Vec::new();
    while warm.len() < 2 || start.elapsed() < budget / 10 {
        warm.push(timed(&mut setup));
    }
    let estimate = warm.iter().sum::<f64>() / warm.len() as f64;
    let n = (budget.as_nanos() as f64 / estimate.max(1.0)) as usize;
    stats(slow_samples(budget, n, || timed(&mut setup)), 1)
}

/// `n` single-operation samples (within the bounds), stopping early once three budgets have
/// gone by (if the warm-up underestimated the operation).
pub(crate) fn slow_samples(budget: Duration, n: usize, mut sample: impl FnMut() -> f64) -> Vec<f64> {
    let start = Instant::now();
    let n = n.clamp(MIN_SLOW_SAMPLES, MAX_SLOW_SAMPLES);
    let mut out = Vec::with_capacity(n);
    while out.len() < n && (out.len() < MIN_SLOW_SAMPLES || start.elapsed() < budget * 3) {
        out.push(sample());
    }
    out
}

pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) floor_of: &'static str,
    /// Bytes of one value, and values per operation.
    pub(crate) value_bytes: usize,
    pub(crate) values: usize,
    pub(crate) stats: Stats,
}

pub(crate) struct Bench {
    pub(crate) filters: Vec<String>,
    pub(crate) io_budget: Duration,
    pub(crate) cpu_budget: Duration,
    pub(crate) rows: Vec<Row>,
    /// (value, codec bytes, BufferJSON text bytes) of the codec group's values.
    pub(crate) sizes: Vec<(&'static str, usize, usize)>,
}

impl Bench {
    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    fn record(&mut self, name: &str, floor_of: &'static str, value_bytes: usize, values: usize, stats: Stats) {
        eprintln!("{name:<40} median {:>10}  p99 {:>10}  ({} × {})", fmt_ns(stats.median), fmt_ns(stats.p99), stats.samples, stats.iters);
        self.rows.push(Row { name: name.to_owned(), floor_of, value_bytes, values, stats });
    }

    /// An I/O case: `op` does one operation.
    pub(crate) fn io(&mut self, name: &str, floor_of: &'static str, bytes: (usize, usize), op: impl FnMut()) {
        if self.wants(name) {
            let s = measure(self.io_budget, op);
            self.record(name, floor_of, bytes.0, bytes.1, s);
        }
    }

    pub(crate) fn io_setup<S, T>(
        &mut self,
        name: &str,
        floor_of: &'static str,
        bytes: (usize, usize),
        setup: impl FnMut() -> S,
        op: impl FnMut(S) -> T,
    ) {
        if self.wants(name) {
            let s = measure_with_setup(self.io_budget, setup, op);
            self.record(name, floor_of, bytes.0, bytes.1, s);
        }
    }

    pub(crate) fn cpu(&mut self, name: &str, floor_of: &'static str, bytes: (usize, usize), op: impl FnMut()) {
        if self.wants(name) {
            let s = measure(self.cpu_budget, op);
            self.record(name, floor_of, bytes.0, bytes.1, s);
        }
    }
}

pub(crate) fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else {
        (ns / 1e6, "ms")
    };
    if v < 10.0 {
        format!("{v:.2} {unit}")
    } else if v < 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

pub(crate) fn fmt_bytes(bytes: usize, values: usize) -> String {
    let b = if bytes >= 10_000 { format!("{:.1} KB", bytes as f64 / 1000.0) } else { format!("{bytes} B") };
    if values > 1 {
        format!("{values} × {b}")
    } else {
        b
    }
}

/// A directory under the system temp dir, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("bra-floors-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
