//! The report: the machine, the Markdown table `bench/floors.md` quotes, the JSON.

use crate::harness::*;

pub(crate) fn machine() -> (String, usize, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split(':').nth(1)?.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into());
    (cpu, cores, load)
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (no date crate).
pub(crate) fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

pub(crate) fn markdown(rows: &[Row], sizes: &[(&str, usize, usize)], header: &str) -> String {
    let mut out = format!("{header}\n");
    if !sizes.is_empty() {
        out += "\n### Values\n\n| value | codec bytes | as BufferJSON text (what the JS bench records) |\n";
        out += "| --- | --- | --- |\n";
        for (name, codec, json) in sizes {
            out += &format!("| `{name}` | {codec} | {json} |\n");
        }
    }
    let groups = [
        ("raw/", "Raw rusqlite (WAL, synchronous=FULL)"),
        ("store/", "Through the `Store` trait (`SqliteStore`)"),
        ("executor/", "Through the executor (submit → worker thread → result back)"),
        ("codec/", "The codec alone"),
        ("wire/", "The binding's Rust-side buffers (`core::wire`)"),
    ];
    for (prefix, title) in groups {
        let group: Vec<&Row> = rows.iter().filter(|r| r.name.starts_with(prefix)).collect();
        if group.is_empty() {
            continue;
        }
        out += &format!("\n### {title}\n\n");
        out += "| case | floor of | value | median | p99 | min | samples × iters |\n";
        out += "| --- | --- | --- | --- | --- | --- | --- |\n";
        for r in group {
            let s = &r.stats;
            out += &format!(
                "| `{}` | {} | {} | {} | {} | {} | {} × {} |\n",
                &r.name[prefix.len()..],
                r.floor_of,
                fmt_bytes(r.value_bytes, r.values),
                fmt_ns(s.median),
                fmt_ns(s.p99),
                fmt_ns(s.min),
                s.samples,
                s.iters
            );
        }
    }
    out
}

pub(crate) fn json(rows: &[Row], sizes: &[(&str, usize, usize)], meta: serde_json::Value) -> String {
    let sizes: Vec<_> = sizes
        .iter()
        .map(|(name, codec, json)| serde_json::json!({ "value": name, "codecBytes": codec, "bufferJsonBytes": json }))
        .collect();
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let s = &r.stats;
            serde_json::json!({
                "case": r.name, "floorOf": r.floor_of, "valueBytes": r.value_bytes, "valuesPerOp": r.values,
                "medianNs": s.median, "p99Ns": s.p99, "minNs": s.min, "maxNs": s.max, "meanNs": s.mean,
                "samples": s.samples, "itersPerSample": s.iters,
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "meta": meta, "values": sizes, "rows": rows })).unwrap()
}
