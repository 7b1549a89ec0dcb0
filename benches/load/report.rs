//! The report: tables, markdown, the chart.

use super::*;

// ----------------------------------------------------------------------------------------
// The report: Markdown, JSON, SVG
// ----------------------------------------------------------------------------------------

pub(crate) fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3}")
    } else if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

pub(crate) fn yes(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

pub(crate) fn table(b: &BackendReport) -> String {
    let cores =
        |u: Option<f64>| u.map_or_else(|| "—".to_string(), |u| format!("{:.0}%", u * 100.0));
    let mut out = String::new();
    out.push_str("| scenario | requests | throughput (req/s) | p50 ms | p99 ms | max ms | errors | ratio to limit | CPU server / client / other | KB/answer |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in &b.scenarios {
        let _ = writeln!(
            out,
            "| ({}) {} | {} | {:.0} | {} | {} | {} | {} | {} | {} / {} / {} | {:.1} |",
            c.key,
            c.name,
            c.requests,
            c.throughput,
            ms(c.p50_ms),
            ms(c.p99_ms),
            ms(c.max_ms),
            if c.errors == 0 {
                "0".to_string()
            } else {
                format!("{} ({})", c.errors, c.error_detail)
            },
            c.ratio_to_limit
                .map_or_else(|| "—".to_string(), |r| format!("{r:.2}")),
            cores(c.server_cpu),
            cores(c.client_cpu),
            cores(c.other_cpu),
            c.bytes_per_response / 1024.0,
        );
    }
    out
}

pub(crate) fn markdown(
    ctx: &Ctx,
    machine: &Machine,
    stamp: &str,
    backends: &[BackendReport],
    total: Duration,
) -> String {
    let s = &ctx.settings;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# quanze load benchmark, {stamp}, commit {}\n",
        machine.commit
    );
    let _ = writeln!(
        out,
        "Machine: {} cores ({}), {} MB memory, Linux {}. Pinning: {}.\n",
        machine.nproc, machine.cpu, machine.memory_mb, machine.kernel, machine.pinning
    );
    let _ = writeln!(
        out,
        "Run: `{}` scale (seed {SEED}), at most {} s and {} requests per scenario, {} connections, \
         quanze with `QUANZE_WORKERS=1` and its default pool (8); the limit and the peer with one worker. \
         Latency is measured by the client from the send (closed loop) or from the scheduled send time \
         (open loop, scenario 6 and the writes of 5), to the last byte of the answer. Before each scenario the \
         run waits (at most a minute) for other processes to leave the machine quiet. CPU is a share \
         of one core: the server (quanze, or the limit/peer process), this load generator, and every \
         other process on the machine (PostgreSQL, other people's work). Total time {:.0} s.\n",
        s.scale_name, s.seconds, s.max_requests, s.connections, total.as_secs_f64()
    );
    for b in backends {
        let g = &b.generation;
        let _ = writeln!(out, "## {}\n", b.backend);
        let phases: Vec<String> = g
            .phases
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.1} s"))
            .collect();
        let _ = writeln!(
            out,
            "Data: {}; generated in **{:.1} s** ({}); database size **{:.0} MB**; {} counties, {} townships, \
             {} organisations, {} catalogue items, {} claims answered, {} matters, {} versions published.{}\n",
            b.database,
            g.seconds,
            phases.join(", "),
            g.database_bytes as f64 / MIB,
            g.counties,
            g.townships,
            g.organisations,
            g.items,
            g.claims,
            g.matters,
            g.publications,
            b.vacuum_seconds.map_or_else(String::new, |v| format!(
                " Then `VACUUM (ANALYZE)` ({v:.1} s), as after any bulk load, so that autovacuum stays out of the measurements."
            ))
        );
        let _ = writeln!(
            out,
            "Slice: township {} of county {}, {} items, {} bytes; its first (cold) read took {:.0} ms; \
             quanze's RSS after it {:.0} MB.\n",
            b.township, b.county, b.slice_items, b.slice_bytes, b.first_slice_ms, b.rss_after_first_slice_mb
        );
        out.push_str(&table(b));
        let _ = writeln!(
            out,
            "\nPeak RSS of quanze (VmHWM): **{:.0} MB** over scenarios 1–6; {:.0} MB including the province-wide \
             sweep (7). {} claims reopened for (5) in {:.1} s.\n",
            b.peak_rss_mb, b.peak_rss_with_sweep_mb, b.reopened_claims, b.reopen_seconds
        );
        let slowest = b
            .scenarios
            .iter()
            .filter(|c| c.target == "quanze")
            .max_by(|x, y| x.p99_ms.total_cmp(&y.p99_ms));
        if let Some(c) = slowest {
            let _ = writeln!(
                out,
                "Slowest quanze path by p99: ({}) {}: p99 {} ms, {:.0} requests/s.\n",
                c.key,
                c.name,
                ms(c.p99_ms),
                c.throughput
            );
        }
        for note in &b.notes {
            let _ = writeln!(out, "- {note}");
        }
        out.push('\n');
    }
    out.push_str("## Goals\n\n| goal | ");
    out.push_str(
        &backends
            .iter()
            .map(|b| b.backend.clone())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(backends.len()));
    out.push('\n');
    let row = |label: &str, cell: &dyn Fn(&BackendReport) -> String| {
        let cells: Vec<String> = backends.iter().map(cell).collect();
        format!("| {label} | {} |\n", cells.join(" | "))
    };
    out.push_str(&row(
        "township slice ≥ 0.8 of the limit's throughput",
        &|b| {
            format!(
                "{} ({})",
                b.goals
                    .slice_ratio
                    .map_or_else(|| "—".into(), |r| format!("{r:.2}")),
                yes(b.goals.slice_ratio_met)
            )
        },
    ));
    out.push_str(&row("p99 < 10 ms at half the peak rate (6)", &|b| {
        format!(
            "{} ms ({})",
            ms(b.goals.half_peak_p99_ms),
            yes(b.goals.half_peak_met)
        )
    }));
    out.push_str(&row("RSS < 300 MB during the run (1–9)", &|b| {
        format!("{:.0} MB ({})", b.goals.peak_rss_mb, yes(b.goals.rss_met))
    }));
    out.push_str(&row("no errors in the run (1–10)", &|b| {
        format!("{} ({})", b.goals.errors, yes(b.goals.errors_met))
    }));
    let ratio = |r: Option<f64>| r.map_or_else(|| "— (no nginx)".into(), |r| format!("{r:.2}"));
    out.push_str(&row("one township ≥ 0.8 of nginx (1n)", &|b| {
        let met = b.goals.one_to_nginx.is_some_and(|r| r >= 0.8);
        format!("{} ({})", ratio(b.goals.one_to_nginx), yes(met))
    }));
    out.push_str(&row(
        "uniform over all townships ≥ 0.5 of nginx, p99 < 20 ms (8)",
        &|b| {
            format!(
                "{}, p99 {} ms ({})",
                ratio(b.goals.uniform_to_nginx),
                ms(b.goals.uniform_p99_ms),
                yes(b.goals.uniform_met)
            )
        },
    ));
    out.push_str(&row("first read after publication p99 < 5 ms (10)", &|b| {
        let met = b.goals.first_read_p99_ms < 5.0;
        format!("{} ms ({})", ms(b.goals.first_read_p99_ms), yes(met))
    }));
    out.push_str(&row(
        "publishing a county, bytes included, < 1.5 s (10)",
        &|b| {
            let met = b.goals.publish_seconds < 1.5;
            format!("{:.2} s ({})", b.goals.publish_seconds, yes(met))
        },
    ));
    out.push_str(&row(
        "claims statistics ≥ 10× 318 requests/s (4)",
        &|b| {
            let met = b.goals.statistics_rps >= 3180.0;
            format!("{:.0} /s ({})", b.goals.statistics_rps, yes(met))
        },
    ));
    out.push_str("\n![p50 and p99 per scenario](latency.svg)\n");
    out
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A scenario's name on the chart.
pub(crate) fn short_label(key: &str) -> &'static str {
    match key {
        "1" => "slice",
        "2" => "slice, 304",
        "3" => "lookup by text",
        "4" => "claims statistics",
        "5" => "mixed: reads",
        "5w" => "mixed: claim answers",
        "6" => "slice at half peak",
        "7" => "province-wide slices",
        "L1" => "limit: slice",
        "L2" => "limit: 304",
        "L6" => "limit: half peak",
        "P1" => "peer: json_agg",
        _ => "",
    }
}

/// p50 and p99 per scenario, one panel per backend, on a logarithmic axis.
pub(crate) fn chart(backends: &[Value]) -> String {
    let empty = Vec::new();
    let scenarios = |b: &Value| b["scenarios"].as_array().unwrap_or(&empty).clone();
    let number = |c: &Value, key: &str| c[key].as_f64().unwrap_or(0.0);
    let (width, left, right) = (1100.0, 80.0, 20.0);
    let (pad, plot, labels) = (50.0, 240.0, 110.0);
    let panel = pad + plot + labels;
    let height = 60.0 + panel * backends.len() as f64;
    let lo: f64 = 0.01;
    let top_value = backends
        .iter()
        .flat_map(|b| scenarios(b).into_iter().map(|c| number(&c, "p99_ms")))
        .fold(100.0, f64::max);
    let hi = 10f64.powf(top_value.log10().ceil());
    let decades = (hi / lo).log10();
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="24" font-size="16" font-weight="bold">quanze load benchmark: latency per scenario (log scale, ms)</text>"#
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="12" width="12" height="12" fill="#9ecae1"/><text x="{}" y="23">p50</text><rect x="{}" y="12" width="12" height="12" fill="#08519c"/><text x="{}" y="23">p99</text><line x1="{}" y1="18" x2="{}" y2="18" stroke="#d62728" stroke-dasharray="6 3"/><text x="{}" y="23">10 ms goal</text>"##,
        width - 330.0,
        width - 314.0,
        width - 270.0,
        width - 254.0,
        width - 210.0,
        width - 180.0,
        width - 175.0
    );
    for (n, b) in backends.iter().enumerate() {
        let top = 40.0 + panel * n as f64 + pad;
        let y = |v: f64| top + plot * (1.0 - (v.max(lo) / lo).log10() / decades);
        let _ = writeln!(
            svg,
            r#"<text x="{left}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            top - 14.0,
            escape(b["backend"].as_str().unwrap_or(""))
        );
        let mut v = lo;
        while v <= hi * 1.0001 {
            let label = if v < 1.0 {
                format!("{v}")
            } else {
                format!("{v:.0}")
            };
            let _ = writeln!(
                svg,
                r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#dddddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{label}</text>"##,
                y(v),
                width - right,
                left - 6.0,
                y(v) + 4.0
            );
            v *= 10.0;
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#d62728" stroke-dasharray="6 3"/>"##,
            y(GOAL_P99_MS),
            width - right
        );
        let bars = scenarios(b);
        let group = (width - left - right) / bars.len().max(1) as f64;
        for (i, c) in bars.iter().enumerate() {
            let key = c["key"].as_str().unwrap_or("");
            let (p50, p99) = (number(c, "p50_ms"), number(c, "p99_ms"));
            let x = left + group * i as f64;
            for (j, (value, colour)) in [(p50, "#9ecae1"), (p99, "#08519c")].iter().enumerate() {
                let bx = x + group * (0.15 + 0.35 * j as f64);
                let _ = writeln!(
                    svg,
                    r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>({}) {}: {} ms</title></rect>"#,
                    y(*value),
                    group * 0.33,
                    (top + plot - y(*value)).max(0.5),
                    escape(key),
                    if j == 0 { "p50" } else { "p99" },
                    ms(*value)
                );
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                x + group * 0.5,
                y(p99) - 4.0,
                ms(p99)
            );
            let short = short_label(key);
            let cx = x + group * 0.5;
            let cy = top + plot + 14.0;
            let _ = writeln!(
                svg,
                r#"<text x="{cx:.1}" y="{cy:.1}" text-anchor="end" transform="rotate(-35 {cx:.1} {cy:.1})">({}) {}</text>"#,
                escape(key),
                escape(short)
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#333333"/>"##,
            top + plot,
            width - right
        );
    }
    svg.push_str("</svg>\n");
    svg
}

pub(crate) fn write_reports(
    ctx: &Ctx,
    machine: &Machine,
    stamp: &chrono::DateTime<chrono::Utc>,
    backends: &[BackendReport],
    total: Duration,
) {
    let when = stamp.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let s = &ctx.settings;
    let json = json!({
        "timestamp": when,
        "machine": machine,
        "settings": {
            "scale": s.scale_name,
            "seed": SEED,
            "seconds_per_scenario": s.seconds,
            "max_requests_per_scenario": s.max_requests,
            "connections": s.connections,
            "writes_per_sec": s.writes_per_sec,
            "quanze_workers": 1,
        },
        "total_seconds": total.as_secs_f64(),
        "backends": backends,
    });
    std::fs::write(
        ctx.dir.join("report.json"),
        serde_json::to_string_pretty(&json).expect("the report serialises"),
    )
    .expect("report.json");
    std::fs::write(
        ctx.dir.join("report.md"),
        markdown(ctx, machine, &when, backends, total),
    )
    .expect("report.md");
    let rows = json["backends"].as_array().cloned().unwrap_or_default();
    std::fs::write(ctx.dir.join("latency.svg"), chart(&rows)).expect("latency.svg");
}
