//! Running every scenario on a backend.

use super::*;

// ----------------------------------------------------------------------------------------
// The run
// ----------------------------------------------------------------------------------------

pub(crate) struct Ctx {
    pub(crate) settings: Settings,
    pub(crate) pinned: bool,
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) http: reqwest::blocking::Client,
    pub(crate) ticks_per_sec: f64,
    pub(crate) dir: PathBuf,
    pub(crate) config: quanze::config::Config,
}

pub(crate) fn orchestrate() {
    // Before any thread exists, so that every thread of the load generator inherits it.
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (pinned, pinning) = pin_self(nproc);
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("the package directory");
    let settings = Settings::from_env();
    let mut machine = Machine::describe(nproc, pinned, pinning);
    machine.commit = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let stamp = chrono::Utc::now();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(format!("load-{}", stamp.format("%Y%m%dT%H%M%SZ")));
    std::fs::create_dir_all(&dir).expect("the results directory");
    eprintln!(
        "quanze load benchmark: {} scale, {} s per scenario, {} connections; {}",
        settings.scale_name, settings.seconds, settings.connections, machine.pinning
    );
    let rt = load_runtime();
    let ctx = Ctx {
        settings,
        pinned,
        rt,
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .expect("an HTTP client"),
        ticks_per_sec: clock_ticks_per_sec(),
        dir,
        config: quanze::config::Config::load(None).expect("the configuration"),
    };
    let started = Instant::now();
    let mut backends = Vec::new();
    backends.push(run_backend(&ctx, false));
    write_reports(&ctx, &machine, &stamp, &backends, started.elapsed());
    if let Some(_admin) = &ctx.settings.postgres {
        backends.push(run_backend(&ctx, true));
        write_reports(&ctx, &machine, &stamp, &backends, started.elapsed());
    }
    let report = ctx.dir.join("report.md");
    println!("\n{}", std::fs::read_to_string(&report).unwrap_or_default());
    println!("report: {}", report.display());
    println!("        {}", ctx.dir.join("report.json").display());
    println!("        {}", ctx.dir.join("latency.svg").display());
}

pub(crate) fn run_backend(ctx: &Ctx, postgres: bool) -> BackendReport {
    let s = &ctx.settings;
    let (label, tag) = if postgres {
        ("PostgreSQL", "postgresql")
    } else {
        ("SQLite", "sqlite")
    };
    let mut notes = Vec::new();

    // 1. Data: a fresh database, generated in this process through the domain code.
    let sqlite_dir = tempfile::tempdir().expect("a temporary directory");
    let (url, pg_database, database) = if postgres {
        let admin = s.postgres.as_deref().expect("a PostgreSQL URL");
        let (guard, url) = PgDatabase::create(admin);
        let described = format!("fresh PostgreSQL database {}", guard.name);
        (url, Some(guard), described)
    } else {
        let path = sqlite_dir.path().join("quanze.db");
        (
            path.to_string_lossy().into_owned(),
            None,
            "fresh SQLite file (WAL) in a temporary directory".to_string(),
        )
    };
    eprintln!(
        "== {label}: generating the {} province (seed {SEED})",
        s.scale_name
    );
    // The generator writes with the keys the server will run with, as `quanze generate`.
    let mut config = ctx.config.clone();
    config.database.url = url.clone();
    config.database.pool_size = 2;
    let service = quanze::Service::from_config(&config).expect("the service");
    let db = service.state.db.clone();
    db.migrate().expect("migrations");
    let generation = quanze::generate::generate(&db, SEED, &s.scale, &service.state.publication)
        .unwrap_or_else(|e| panic!("the generator failed: {e}"));
    eprintln!(
        "   generated in {:.1} s, database {:.0} MB",
        generation.seconds,
        generation.database_bytes as f64 / MIB
    );
    // What an operator does after a bulk load, so that autovacuum does not run during the
    // measurements: the generator updated every claim twice.
    let vacuum_seconds = postgres.then(|| {
        use diesel::connection::SimpleConnection;
        eprintln!("   VACUUM (ANALYZE)");
        let started = Instant::now();
        let mut conn = diesel::PgConnection::establish(&url).expect("connect for VACUUM");
        conn.batch_execute("VACUUM (ANALYZE)")
            .expect("VACUUM (ANALYZE)");
        started.elapsed().as_secs_f64()
    });
    let writes_wanted = (s.writes_per_sec * s.seconds).ceil() as usize + 5;
    let picked = pick(&db, writes_wanted);
    drop((db, service));

    // 2. The service, pinned to core 0.
    let port = free_port();
    let envs = [
        ("QUANZE_DATABASE_URL", url.clone()),
        ("QUANZE_BIND", format!("127.0.0.1:{port}")),
        ("QUANZE_METRICS_BIND", "127.0.0.1:0".to_string()),
        ("QUANZE_LOG_LEVEL", "warn".to_string()),
        ("QUANZE_WORKERS", "1".to_string()),
    ];
    let mut quanze = Server::spawn(
        "quanze",
        Path::new(env!("CARGO_BIN_EXE_quanze")),
        &["serve".to_string()],
        &envs,
        ctx.pinned,
        ctx.dir.join(format!("quanze-{tag}.log")),
        port,
    );
    quanze.wait_ready(&ctx.http, "/readyz");
    let pid = quanze.pid();
    let base = format!("http://{}", quanze.addr);
    let host = quanze.addr.to_string();
    eprintln!("   quanze serve is up (pid {pid}) on {host}");

    // Warm-up: the slice (cold: its county's published version is loaded and rendered),
    // every township of that county, the lookups and the statistics.
    let slice_path = format!("/public/v1/townships/{}/power-list", picked.township);
    let started = Instant::now();
    let first = ctx
        .http
        .get(format!("{base}{slice_path}"))
        .send()
        .expect("the first slice");
    assert_eq!(first.status(), 200, "GET {slice_path}");
    let etag = first.headers()["etag"]
        .to_str()
        .expect("an ETag")
        .to_string();
    let location = first
        .headers()
        .get("content-location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let slice = first.bytes().expect("the slice").to_vec();
    let first_slice_ms = started.elapsed().as_secs_f64() * 1000.0;
    let slice_items = serde_json::from_slice::<Value>(&slice)
        .ok()
        .and_then(|v| v["item_count"].as_u64())
        .unwrap_or(0);
    let rss_after_first_slice_mb = status_kb(pid, "VmRSS").unwrap_or(0) as f64 / 1024.0;
    eprintln!(
        "   slice of {}: {} bytes, {slice_items} items, first read {first_slice_ms:.0} ms; RSS {rss_after_first_slice_mb:.0} MB",
        picked.township,
        slice.len()
    );
    let mut etags = BTreeMap::new();
    for t in &picked.county_townships {
        let response = ctx
            .http
            .get(format!("{base}/public/v1/townships/{t}/power-list"))
            .send()
            .expect("a slice");
        assert_eq!(response.status(), 200, "slice of {t}");
        etags.insert(
            t.clone(),
            response.headers()["etag"].to_str().unwrap().to_string(),
        );
    }
    let mut lookup_paths = Vec::new();
    for q in LOOKUPS {
        for t in &picked.lookup_townships {
            lookup_paths.push(format!("/public/v1/lookup?township={t}&q={}", encode(q)));
        }
    }
    let mut matches = BTreeMap::new();
    for path in &lookup_paths {
        let response = ctx
            .http
            .get(format!("{base}{path}"))
            .send()
            .expect("a lookup");
        assert_eq!(response.status(), 200, "GET {path}");
        let body: Value = response.json().expect("a lookup answer");
        *matches
            .entry(path.rsplit('=').next().unwrap_or("").to_string())
            .or_insert(0) += body["matches"].as_array().map_or(0, Vec::len);
    }
    notes.push(format!(
        "Lookups (3) found {} matters in total per pass over {} townships ({}).",
        matches.values().sum::<usize>(),
        picked.lookup_townships.len(),
        LOOKUPS.join(", ")
    ));
    let keys = quanze::auth::TokenKeys::from_config(&ctx.config.jwt).expect("token keys");
    let mint = |org: String, region: &str, role: &str| {
        keys.mint("load-bench", &org, region, &[role.to_string()], 6 * 3600)
            .expect("a token")
    };
    let mut stats_requests = Vec::new();
    for (round, county) in &picked.rounds {
        let token = mint(format!("{}-gov", prefix(county)), county, "county_compiler");
        let path = format!("/api/v1/claim-rounds/{round}/statistics");
        let response = ctx
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .expect("statistics");
        assert_eq!(response.status(), 200, "GET {path}");
        stats_requests.push(get(
            &host,
            &path,
            &[("Authorization", format!("Bearer {token}"))],
        ));
    }

    // Every township's slice once: the province's first reads (from storage, not from
    // memory), and the bytes nginx will serve.
    eprintln!(
        "   every township's slice once ({} townships)",
        picked.all_townships.len()
    );
    let (files, first_reads) = read_every_slice(ctx, &base, &picked);
    notes.push(format!(
        "Every township's slice read once before the scenarios ({} slices, {:.0} MB): p50 {} ms, p99 {} ms, max {} ms.",
        first_reads.len(),
        files.bytes as f64 / MIB,
        ms(percentile(&first_reads, 0.5)),
        ms(percentile(&first_reads, 0.99)),
        ms(first_reads.last().copied().unwrap_or(0) as f64 / 1000.0)
    ));

    // The limit (and, on PostgreSQL, the peer): the same bytes from memory, pinned alike.
    let body_file = std::env::temp_dir().join(format!(
        "quanze-load-{}-{tag}-slice.json",
        std::process::id()
    ));
    std::fs::write(&body_file, &slice).expect("the slice's bytes");
    let limit_port = free_port();
    let mut args: Vec<String> = [
        "limit-server",
        "--port",
        &limit_port.to_string(),
        "--body",
        &body_file.to_string_lossy(),
        "--etag",
        etag.trim_matches('"'),
        "--location",
        &location,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    if postgres {
        args.extend([
            "--peer".into(),
            url.clone(),
            "--edition".into(),
            picked.edition.clone(),
        ]);
    }
    let mut limit = Server::spawn(
        "limit server",
        &std::env::current_exe().expect("this benchmark's executable"),
        &args,
        &[],
        ctx.pinned,
        ctx.dir.join(format!("limit-{tag}.log")),
        limit_port,
    );
    limit.wait_ready(&ctx.http, "/readyz");
    let limit_host = limit.addr.to_string();
    let from_limit = ctx
        .http
        .get(format!("http://{limit_host}{slice_path}"))
        .send()
        .expect("the limit's slice")
        .bytes()
        .expect("bytes");
    assert_eq!(
        from_limit.as_ref(),
        slice.as_slice(),
        "the limit serves the same bytes"
    );

    let n = s.connections;
    let closed = |addr: SocketAddr, requests: Vec<Vec<u8>>, connections: usize| {
        ctx.rt.block_on(closed_loop(
            addr,
            Arc::new(requests),
            connections,
            s.max_requests,
            s.duration(),
        ))
    };
    let closed_mode = |c: usize| format!("closed loop, {c} connections");
    let if_none_match = |t: &str| vec![("If-None-Match", etags[t].clone())];

    let mut peer = None;
    if postgres {
        let peer_path = format!("/peer/townships/{}/power-list", picked.township);
        let answer = ctx
            .http
            .get(format!("http://{limit_host}{peer_path}"))
            .send()
            .expect("the peer's slice");
        assert_eq!(answer.status(), 200, "GET {peer_path}");
        let answer = answer.bytes().expect("bytes");
        let items = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v["item_count"].as_u64())
            .unwrap_or(0);
        notes.push(format!(
            "The peer's slice (json_agg per request) has {items} items in {} bytes; quanze's has {slice_items} items in {} bytes.",
            answer.len(),
            slice.len()
        ));
        eprintln!("   peer: json_agg per request");
        let (raw, usage) = measured(limit.pid(), ctx.ticks_per_sec, || {
            closed(limit.addr, vec![get(&limit_host, &peer_path, &[])], n)
        });
        peer = Some(scenario(
            "P1",
            "peer: PostgreSQL builds the slice with json_agg per request (PostgREST-style)",
            "peer",
            closed_mode(n),
            n,
            raw,
            &usage,
        ));
    }

    // 3. The scenarios on quanze; (1) and (2) alternate with the limit in rounds, so that
    // whatever the machine does meanwhile (a VM's neighbours, the CPU's clock) weighs on
    // both alike: a limit measured minutes apart varied by a quarter between runs.
    eprintln!("   (1) slice and (2) revalidation, alternating with the limit in {ROUNDS} rounds");
    let round_max = (s.max_requests / ROUNDS as u64).max(1);
    let (limit_pid, limit_addr, quanze_addr) = (limit.pid(), limit.addr, quanze.addr);
    let quanze_target = Target {
        pid,
        addr: quanze_addr,
        host: &host,
    };
    let limit_target = Target {
        pid: limit_pid,
        addr: limit_addr,
        host: &limit_host,
    };
    let (limit1, s1, note) = alternate(
        ctx,
        Side {
            target: quanze_target,
            server: "quanze",
            key: "1",
            name: format!(
                "township slice of the power list in force ({} KB)",
                slice.len() / 1024
            ),
            requests: vec![get(&host, &slice_path, &[])],
        },
        Side {
            target: limit_target,
            server: "limit",
            key: "L1",
            name: "limit: the same slice bytes from memory".into(),
            requests: vec![get(&limit_host, &slice_path, &[])],
        },
    );
    notes.push(note);
    quanze.check_alive("scenario (1)");
    limit.check_alive("scenario L1");
    let (limit2, s2, note) = alternate(
        ctx,
        Side {
            target: quanze_target,
            server: "quanze",
            key: "2",
            name: "the same with If-None-Match (304)".into(),
            requests: vec![get(&host, &slice_path, &if_none_match(&picked.township))],
        },
        Side {
            target: limit_target,
            server: "limit",
            key: "L2",
            name: "limit: the same with If-None-Match (304)".into(),
            requests: vec![get(
                &limit_host,
                &slice_path,
                &if_none_match(&picked.township),
            )],
        },
    );
    notes.push(note);
    quanze.check_alive("scenario (2)");
    limit.check_alive("scenario L2");
    // (6) Half of the peak rate, open loop, alternating with the limit at the same rate:
    // what the machine itself does to the tail (a slow spell of the VM shows in both). The
    // machine's speed drifts by a quarter within minutes, so each round first measures the
    // peak again (a short closed loop on (1)) and offers half of that.
    let round_seconds = s.seconds / ROUNDS as f64;
    let probe_length = Duration::from_secs_f64((round_seconds / 2.0).max(0.5));
    eprintln!(
        "   (6) slice at half the peak, open loop, alternating with the limit in {ROUNDS} rounds"
    );
    let open = |addr: SocketAddr, request: Vec<u8>, rate: f64| {
        let count = ((rate * round_seconds) as u64).clamp(1, round_max);
        ctx.rt
            .block_on(open_loop(addr, Arc::new(vec![request]), n, rate, count))
    };
    let (mut quanze_side, mut limit_side, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let peak = ctx.rt.block_on(closed_loop(
            quanze_addr,
            Arc::new(vec![get(&host, &slice_path, &[])]),
            n,
            round_max,
            probe_length,
        ));
        let rate = (peak.latencies_us.len() as f64 / peak.elapsed.max(1e-9) / 2.0).max(1.0);
        rates.push(rate);
        limit_side.push(measured(limit_pid, ctx.ticks_per_sec, || {
            open(limit_addr, get(&limit_host, &slice_path, &[]), rate)
        }));
        quanze_side.push(measured(pid, ctx.ticks_per_sec, || {
            open(quanze_addr, get(&host, &slice_path, &[]), rate)
        }));
    }
    quanze.check_alive("scenario (6)");
    limit.check_alive("scenario L6");
    let rate = rates.iter().sum::<f64>() / rates.len() as f64;
    let rounds = |side: &[(Raw, Usage)]| {
        side.iter()
            .map(|(raw, _)| {
                let mut sorted = raw.latencies_us.clone();
                sorted.sort_unstable();
                let spells = bursts(&raw.slow);
                let p99 = percentile(&sorted, 0.99);
                match spells.len() {
                    0 => format!("{p99:.2}"),
                    count => format!(
                        "{p99:.2} ({count} spell{}, {:.0} ms, {} answers)",
                        if count == 1 { "" } else { "s" },
                        spells.iter().fold(0.0, |t, b| t + b.1 * 1000.0),
                        spells.iter().map(|b| b.2).sum::<usize>()
                    ),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    notes.push(format!(
        "(6) offered per round, requests/s (half of the peak measured just before): {}. \
         p99 per round, ms, with any spells of answers ≥ {SLOW_MS} ms (their total length and answers): {}; \
         the limit at the same rates (L6): {}.",
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        rounds(&quanze_side),
        rounds(&limit_side)
    ));
    let open_mode =
        format!("open loop at half the peak, {rate:.0} requests/s on average, {n} connections");
    let (raw, usage) = Raw::combine(quanze_side);
    let mut s6 = scenario(
        "6",
        "township slice at half of the peak rate of (1)",
        "quanze",
        open_mode.clone(),
        n,
        raw,
        &usage,
    );
    s6.offered_rate = Some(rate);
    let (raw, usage) = Raw::combine(limit_side);
    let mut limit6 = scenario(
        "L6",
        "limit: the same slice at the same rate",
        "limit",
        open_mode,
        n,
        raw,
        &usage,
    );
    limit6.offered_rate = Some(rate);

    limit.stop();
    let _ = std::fs::remove_file(&body_file);

    eprintln!("   (3) lookup, (4) statistics");
    let lookups: Vec<Vec<u8>> = lookup_paths.iter().map(|p| get(&host, p, &[])).collect();
    let (raw, usage) = measured(pid, ctx.ticks_per_sec, || {
        closed(quanze.addr, lookups.clone(), n)
    });
    quanze.check_alive("scenario (3)");
    let s3 = scenario(
        "3",
        &format!(
            "duty lookup by text, {} townships",
            picked.lookup_townships.len()
        ),
        "quanze",
        closed_mode(n),
        n,
        raw,
        &usage,
    );
    let (raw, usage) = measured(pid, ctx.ticks_per_sec, || {
        closed(quanze.addr, stats_requests.clone(), n)
    });
    quanze.check_alive("scenario (4)");
    let s4 = scenario(
        "4",
        &format!(
            "claims statistics, rounds of {} counties",
            picked.rounds.len()
        ),
        "quanze",
        closed_mode(n),
        n,
        raw,
        &usage,
    );

    // (5) Mixed: reads closed-loop, a paced trickle of claim answers. A compiler reopens
    // the claims the clerk will answer.
    eprintln!("   (5) mixed reads with a trickle of claim answers");
    let compiler = mint(
        format!("{}-gov", prefix(&picked.county)),
        &picked.county,
        "county_compiler",
    );
    let started = Instant::now();
    let mut writes = Vec::new();
    for (id, township, item, revision) in &picked.reopen {
        let response = ctx
            .http
            .post(format!("{base}/api/v1/claims/{id}/reopen"))
            .bearer_auth(&compiler)
            .header("If-Match", format!("\"{revision}\""))
            .json(&json!({"reason": "负载测试：重新认领"}))
            .send()
            .expect("reopen");
        assert_eq!(response.status(), 200, "reopen claim {id}");
        let claim: Value = response.json().expect("the reopened claim");
        let clerk = mint(
            format!("{}-bmzx", prefix(township)),
            township,
            "township_clerk",
        );
        let (answer, reason) = if writes.len() % 2 == 0 {
            ("defer", "暂无持证执法人员，暂缓承接")
        } else {
            ("decline", "辖区内无此类事项")
        };
        let body = json!({
            "township": township,
            "answers": [{"item": item, "answer": answer, "reason": reason, "revision": claim["revision"]}],
        });
        writes.push(request(
            "POST",
            &host,
            &format!("/api/v1/claim-rounds/{}/answers", picked.round),
            &[("Authorization", format!("Bearer {clerk}"))],
            Some(body.to_string().as_bytes()),
        ));
    }
    let reopen_seconds = started.elapsed().as_secs_f64();
    let write_count = ((s.writes_per_sec * s.seconds).round() as usize).min(writes.len());
    if write_count < (s.writes_per_sec * s.seconds).round() as usize {
        notes.push(format!(
            "Mixed (5): only {write_count} claims could be reopened for answers, fewer than {:.0} writes/s × {} s.",
            s.writes_per_sec, s.seconds
        ));
    }
    let mut mixed = Vec::new();
    for i in 0..60 {
        let t = &picked.county_townships[i % picked.county_townships.len()];
        let path = format!("/public/v1/townships/{t}/power-list");
        mixed.push(match i % 5 {
            0..=2 => get(&host, &path, &[]),
            3 => get(&host, &path, &if_none_match(t)),
            _ => lookups[i % lookups.len()].clone(),
        });
    }
    let readers = n - 1;
    let ((reads, written), usage) = measured(pid, ctx.ticks_per_sec, || {
        ctx.rt.block_on(async {
            tokio::join!(
                closed_loop(
                    quanze.addr,
                    Arc::new(mixed),
                    readers,
                    s.max_requests,
                    s.duration()
                ),
                open_loop(
                    quanze.addr,
                    Arc::new(writes),
                    1,
                    s.writes_per_sec,
                    write_count as u64
                ),
            )
        })
    });
    quanze.check_alive("scenario (5)");
    let mut s5 = scenario(
        "5",
        "mixed reads: 60% slices, 20% revalidations, 20% lookups",
        "quanze",
        format!("{} + a paced writer", closed_mode(readers)),
        readers,
        reads,
        &usage,
    );
    let mut s5w = scenario(
        "5w",
        "… with claim answers by a township clerk (one claim per request)",
        "quanze",
        format!("open loop at {} writes/s, 1 connection", s.writes_per_sec),
        1,
        written,
        &usage,
    );
    s5w.offered_rate = Some(s.writes_per_sec);
    s5.mode = format!(
        "{}; writes {:.2}% of requests",
        s5.mode,
        100.0 * s5w.requests as f64 / (s5.requests + s5w.requests).max(1) as f64
    );
    let peak_rss_mb = status_kb(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0;

    // (7) The whole province: one township per county, every request another county.
    eprintln!("   (7) slices across the province");
    let sweep: Vec<Vec<u8>> = picked
        .sweep
        .iter()
        .map(|t| get(&host, &format!("/public/v1/townships/{t}/power-list"), &[]))
        .collect();
    let (raw, usage) = measured(pid, ctx.ticks_per_sec, || closed(quanze.addr, sweep, n));
    quanze.check_alive("scenario (7)");
    let s7 = scenario(
        "7",
        &format!(
            "township slices across the province ({} counties, shuffled)",
            picked.sweep.len()
        ),
        "quanze",
        closed_mode(n),
        n,
        raw,
        &usage,
    );
    let mut nginx = nginx_binary().map(|binary| start_nginx(ctx, &binary, &files, tag));
    let nginx_host = nginx
        .as_ref()
        .map(|n| n.addr.to_string())
        .unwrap_or_default();
    let nginx_target = nginx.as_ref().map(|n| Target {
        pid: n.pid(),
        addr: n.addr,
        host: &nginx_host,
    });
    let mut province = province_reads(ctx, quanze_target, nginx_target, &picked);
    quanze.check_alive("the province-wide reads");
    if let Some(nginx) = nginx.as_mut() {
        nginx.check_alive("the province-wide reads");
    }
    let peak_rss_with_sweep_mb = status_kb(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0;
    first_reads_after_publication(ctx, &config, quanze_target, &picked.fresh, &mut province);
    quanze.check_alive("scenario (10)");
    if let Some(nginx) = nginx {
        nginx.stop();
    }
    drop(files);
    notes.append(&mut province.notes);
    quanze.stop();
    drop(pg_database);
    drop(sqlite_dir);

    // Goals and notes.
    // The goals hold for the whole run, the province-wide sweep included.
    let core = [&s1, &s2, &s3, &s4, &s5, &s5w, &s6, &s7];
    let errors: u64 = core.iter().map(|c| c.errors).sum::<u64>()
        + province.scenarios.iter().map(|c| c.errors).sum::<u64>();
    let statistics_rps = s4.throughput;
    let goals = Goals {
        slice_ratio: s1.ratio_to_limit,
        slice_ratio_met: s1.ratio_to_limit.is_some_and(|r| r >= GOAL_RATIO),
        half_peak_p99_ms: s6.p99_ms,
        half_peak_met: s6.p99_ms < GOAL_P99_MS && s6.errors == 0,
        peak_rss_mb: peak_rss_with_sweep_mb,
        rss_met: peak_rss_with_sweep_mb < GOAL_RSS_MB,
        errors,
        errors_met: errors == 0,
        one_to_nginx: province.one_ratio,
        uniform_to_nginx: province.uniform_ratio,
        uniform_met: province.uniform_ratio.is_some_and(|r| r >= 0.5)
            && province.uniform_p99_ms < 20.0,
        uniform_p99_ms: province.uniform_p99_ms,
        first_read_p99_ms: province.first_read_p99_ms,
        publish_seconds: province.publish_seconds,
        statistics_rps,
    };
    let mut scenarios: Vec<Scenario> =
        vec![s1, s2, s3, s4, s5, s5w, s6, s7, limit1, limit2, limit6];
    scenarios.append(&mut province.scenarios);
    if let Some(mut p) = peer {
        p.ratio_to_limit = Some(p.throughput / scenarios[8].throughput.max(1e-9));
        scenarios.push(p);
    }
    for c in &scenarios {
        if c.busy_before_cores >= 0.25 {
            notes.push(format!(
                "({}) started on a busy machine: other processes kept {:.1} cores busy after a {:.0} s wait for quiet.",
                c.key, c.busy_before_cores, c.waited_for_quiet_s
            ));
        }
        if let (Some(client), Some(server)) = (c.client_cpu, c.server_cpu) {
            if client > 0.9 && server < 0.85 && c.mode.starts_with("closed") {
                notes.push(format!(
                    "({}) the load generator was busier ({:.0}% of its core) than the server ({:.0}%): this figure may be bounded by the client.",
                    c.key,
                    client * 100.0,
                    server * 100.0
                ));
            }
        }
    }
    if postgres {
        notes.push(
            "PostgreSQL's own processes are not pinned: they share both cores with the servers and the load generator."
                .into(),
        );
    }
    BackendReport {
        backend: label.into(),
        database,
        generation,
        county: picked.county,
        township: picked.township,
        slice_bytes: slice.len(),
        slice_items,
        first_slice_ms,
        rss_after_first_slice_mb,
        scenarios,
        peak_rss_mb,
        peak_rss_with_sweep_mb,
        reopened_claims: picked.reopen.len(),
        reopen_seconds,
        vacuum_seconds,
        goals,
        notes,
    }
}
