//! Public reads across the whole province beside nginx serving the same bytes from files:
//! one township, every township drawn uniformly, Zipf-distributed townships, the sweep of
//! (7); and the first read of each township right after its county publishes.

use super::*;

/// A server under load: its pid, address and `Host`.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
    pub(crate) host: &'a str,
}

/// What the province-wide reads measured.
#[derive(Default)]
pub(crate) struct ProvinceReads {
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) notes: Vec<String>,
    /// quanze / nginx, median of the rounds: one township, and uniform over all.
    pub(crate) one_ratio: Option<f64>,
    pub(crate) uniform_ratio: Option<f64>,
    pub(crate) uniform_p99_ms: f64,
    pub(crate) first_read_p99_ms: f64,
    /// The slowest publication of a county, its bytes included, in seconds.
    pub(crate) publish_seconds: f64,
}

/// Draws of townships a scenario cycles through.
const DRAWS: usize = 200_000;

/// One side of an alternation: a server, how its scenario is named, and the requests it
/// cycles through.
pub(crate) struct Side<'a> {
    pub(crate) target: Target<'a>,
    pub(crate) server: &'static str,
    pub(crate) key: &'a str,
    pub(crate) name: String,
    pub(crate) requests: Vec<Vec<u8>>,
}

/// quanze and an anchor in alternating rounds on the same requests, so that whatever the
/// machine does meanwhile (a VM's neighbours, the CPU's clock) weighs on both alike; each
/// round starts further into the list, so that no round replays what the one before left
/// in memory. Returns the anchor's scenario, quanze's (carrying the median of the rounds'
/// ratios) and a note listing the rounds'.
pub(crate) fn alternate(ctx: &Ctx, quanze: Side, anchor: Side) -> (Scenario, Scenario, String) {
    let s = &ctx.settings;
    let n = s.connections;
    let round_length = s.duration() / ROUNDS as u32;
    let round_max = (s.max_requests / ROUNDS as u64).max(1);
    let run = |side: &Side, round: usize| {
        let start = round * side.requests.len() / ROUNDS;
        let mut list = side.requests.clone();
        list.rotate_left(start);
        let target = side.target;
        measured(target.pid, ctx.ticks_per_sec, || {
            ctx.rt.block_on(closed_loop(
                target.addr,
                Arc::new(list),
                n,
                round_max,
                round_length,
            ))
        })
    };
    let (mut anchor_side, mut quanze_side) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        anchor_side.push(run(&anchor, round));
        quanze_side.push(run(&quanze, round));
    }
    let rate = |raw: &Raw| raw.latencies_us.len() as f64 / raw.elapsed.max(1e-9);
    let mut ratios: Vec<f64> = anchor_side
        .iter()
        .zip(&quanze_side)
        .map(|((a, _), (q, _))| rate(q) / rate(a).max(1e-9))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let note = format!(
        "({})/({}) per round, in order of size: {}; the ratio reported is their median.",
        quanze.key,
        anchor.key,
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mode = format!("closed loop, {n} connections");
    let (raw, usage) = Raw::combine(anchor_side);
    let anchor_scenario = scenario(
        anchor.key,
        &anchor.name,
        anchor.server,
        mode.clone(),
        n,
        raw,
        &usage,
    );
    let (raw, usage) = Raw::combine(quanze_side);
    let mut quanze_scenario = scenario(quanze.key, &quanze.name, "quanze", mode, n, raw, &usage);
    quanze_scenario.ratio_to_limit = Some(ratios[ratios.len() / 2]);
    (anchor_scenario, quanze_scenario, note)
}

/// quanze alone, when nginx is not installed.
fn alone(ctx: &Ctx, quanze: Target, (key, name): (&str, String), paths: &[String]) -> Scenario {
    let s = &ctx.settings;
    let list = Arc::new(paths.iter().map(|p| get(quanze.host, p, &[])).collect());
    let (raw, usage) = measured(quanze.pid, ctx.ticks_per_sec, || {
        ctx.rt.block_on(closed_loop(
            quanze.addr,
            list,
            s.connections,
            s.max_requests,
            s.duration(),
        ))
    });
    let mode = format!("closed loop, {} connections", s.connections);
    scenario(key, &name, "quanze", mode, s.connections, raw, &usage)
}

fn slice_path(township: &str) -> String {
    format!("/public/v1/townships/{township}/power-list")
}

/// Where nginx keeps a slice's gzip copy: its own path, answered with
/// `Content-Encoding: gzip`.
fn gzip_path(path: &str) -> String {
    format!("/gz{path}")
}

/// Reads every township's slice once, as it is and gzipped (the first reads of the
/// province, from storage), and keeps both for nginx.
pub(crate) fn read_every_slice(ctx: &Ctx, base: &str, picked: &Picked) -> (Files, Vec<u32>) {
    let mut files = Files::new();
    let mut latencies = Vec::with_capacity(picked.all_townships.len());
    for township in &picked.all_townships {
        let path = slice_path(township);
        let started = Instant::now();
        let response = ctx
            .http
            .get(format!("{base}{path}"))
            .send()
            .expect("a slice");
        assert_eq!(response.status(), 200, "GET {path}");
        let body = response.bytes().expect("the slice");
        latencies.push(started.elapsed().as_micros() as u32);
        files.put(&path, &body);
        let gzipped = ctx
            .http
            .get(format!("{base}{path}"))
            .header("Accept-Encoding", "gzip")
            .send()
            .expect("a gzipped slice");
        assert_eq!(gzipped.headers()["content-encoding"], "gzip", "GET {path}");
        files.put(
            &gzip_path(&path),
            &gzipped.bytes().expect("the gzipped slice"),
        );
    }
    latencies.sort_unstable();
    (files, latencies)
}

/// The scenarios over the province: (1n), (8) uniform, (9) Zipf and (7n) the sweep, each
/// beside nginx when it is installed.
pub(crate) fn province_reads(
    ctx: &Ctx,
    quanze: Target,
    nginx: Option<Target>,
    picked: &Picked,
) -> ProvinceReads {
    let mut out = ProvinceReads::default();
    let mut rng = SplitMix(SEED ^ 0x5EED);
    let everyone = &picked.all_townships;
    let uniform: Vec<String> = (0..DRAWS)
        .map(|_| slice_path(&everyone[(rng.next() % everyone.len() as u64) as usize]))
        .collect();
    let zipfian: Vec<String> = zipf(everyone, DRAWS, SEED)
        .iter()
        .map(|t| slice_path(t))
        .collect();
    let sweep: Vec<String> = picked.sweep.iter().map(|t| slice_path(t)).collect();
    let one = vec![slice_path(&picked.township)];
    let cases: [(&str, String, &[String]); 5] = [
        ("1n", "one township's slice".into(), &one),
        (
            "8",
            format!(
                "a township drawn uniformly from all {} each request",
                everyone.len()
            ),
            &uniform,
        ),
        (
            "8g",
            "the same as (8), gzip accepted (as browsers and portals do)".into(),
            &uniform,
        ),
        (
            "9",
            "a township drawn by Zipf's law (s = 1)".into(),
            &zipfian,
        ),
        (
            "7n",
            format!("the sweep of (7): {} counties, shuffled", sweep.len()),
            &sweep,
        ),
    ];
    for (key, name, paths) in cases {
        eprintln!("   ({key}) {name}");
        let (measured, ratio) = match nginx {
            Some(anchor) => {
                let anchor_key = format!("N{}", key.trim_end_matches('n'));
                // (8g) asks for gzip; nginx keeps the gzip copies at their own paths.
                let gzip = key.ends_with('g');
                let accept = [("Accept-Encoding", "gzip".to_string())];
                let quanze_requests = paths
                    .iter()
                    .map(|p| get(quanze.host, p, if gzip { &accept } else { &[] }))
                    .collect();
                let anchor_requests = paths
                    .iter()
                    .map(|p| match gzip {
                        true => get(anchor.host, &gzip_path(p), &accept),
                        false => get(anchor.host, p, &[]),
                    })
                    .collect();
                let (anchor_scenario, scenario, note) = alternate(
                    ctx,
                    Side {
                        target: quanze,
                        server: "quanze",
                        key,
                        name: name.clone(),
                        requests: quanze_requests,
                    },
                    Side {
                        target: anchor,
                        server: "nginx",
                        key: &anchor_key,
                        name: format!("nginx: {name}, the same bytes from files"),
                        requests: anchor_requests,
                    },
                );
                out.notes.push(note);
                out.scenarios.push(anchor_scenario);
                let ratio = scenario.ratio_to_limit;
                (scenario, ratio)
            }
            None if key.ends_with('g') => continue,
            None => (alone(ctx, quanze, (key, name), paths), None),
        };
        match key {
            "1n" => out.one_ratio = ratio,
            "8" => {
                out.uniform_ratio = ratio;
                out.uniform_p99_ms = measured.p99_ms;
            }
            _ => {}
        }
        out.scenarios.push(measured);
    }
    if nginx.is_none() {
        out.notes.push(
            "nginx is not installed (Debian: apt install nginx-light): (1n), (8), (9) and (7n) ran without their anchor."
                .into(),
        );
    }
    out
}

/// Counties whose lists are published again for (10).
const FRESH_COUNTIES: usize = 6;

/// (10) Counties publish their power lists again (through the domain code, as the
/// generator does, in this process); once the service's in-force answer has expired, each
/// of their townships is read once, in turn: the first reads of freshly published bytes.
pub(crate) fn first_reads_after_publication(
    ctx: &Ctx,
    config: &quanze::config::Config,
    quanze: Target,
    counties: &[(String, Vec<String>)],
    out: &mut ProvinceReads,
) {
    eprintln!("   (10) first reads after {} publications", counties.len());
    let service = quanze::Service::from_config(config).expect("the service");
    let mut seconds = Vec::new();
    let mut paths = Vec::new();
    for (county, townships) in counties.iter().take(FRESH_COUNTIES) {
        let code = quanze::regions::RegionCode::parse(county).expect("a county code");
        let started = Instant::now();
        quanze::generate::publish_now(
            &service.state.db,
            &service.state.publication,
            &code,
            quanze::publication::ListKind::Power,
            ("乡镇权责清单（负载测试再次发布）", "负载测试：再次发布"),
            quanze::db::today(),
        )
        .expect("publish a county's power list");
        seconds.push(started.elapsed().as_secs_f64());
        paths.extend(townships.iter().map(|t| slice_path(t)));
    }
    drop(service);
    std::thread::sleep(Duration::from_millis(
        ctx.config.publication.in_force_cache_ms + 300,
    ));
    let list = Arc::new(paths.iter().map(|p| get(quanze.host, p, &[])).collect());
    let count = paths.len() as u64;
    let (raw, usage) = measured(quanze.pid, ctx.ticks_per_sec, || {
        ctx.rt.block_on(closed_loop(
            quanze.addr,
            list,
            1,
            count,
            Duration::from_secs(120),
        ))
    });
    let name = format!(
        "first read of each township's slice right after its county published ({} townships of {} counties)",
        paths.len(),
        seconds.len()
    );
    let first = scenario(
        "10",
        &name,
        "quanze",
        "one connection, each once".into(),
        1,
        raw,
        &usage,
    );
    out.first_read_p99_ms = first.p99_ms;
    out.publish_seconds = seconds.iter().copied().fold(0.0, f64::max);
    out.notes.push(format!(
        "(10) publishing a county's power list, its bytes included, took {} s (per county).",
        seconds
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.scenarios.push(first);
}
