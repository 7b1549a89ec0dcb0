//! What an operator watches: the service's metrics in the OpenMetrics text format, served
//! on a listener of their own (`metrics.bind`, loopback by default), never on the API port.
//!
//! Each component owns its counters (the pool its waits, the published-bytes cache its hits
//! and evictions); this registry holds them all, and the gauges that describe a moment
//! (connections in use, bytes held, the audit chain's length, memory) are read when scraped.
//! Label values are route templates, methods, status classes and audit actions: bounded
//! sets, never raw paths, codes or people.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;

/// The media type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets, in seconds: from a cached public read to a province-wide export.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with the service's buckets.
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.iter().copied())
}

/// A request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: &'static str,
}

/// A route's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

/// A committed change's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

/// A pool connection's state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    state: &'static str,
}

/// The database pool's own counters, kept by [`crate::db::Db`].
#[derive(Clone, Debug)]
pub struct PoolCounters {
    /// How long each request for a connection waited.
    pub wait: Histogram,
    /// Requests for a connection that gave up (a 503 to the client).
    pub timeouts: Counter,
    /// Changes committed, by audit action.
    committed: Family<ActionLabels, Counter>,
}

impl Default for PoolCounters {
    fn default() -> Self {
        PoolCounters {
            wait: latency_histogram(),
            timeouts: Counter::default(),
            committed: Family::default(),
        }
    }
}

impl PoolCounters {
    /// Counts the audit events a committed transaction wrote.
    pub fn committed(&self, actions: &[String]) {
        for action in actions {
            self.committed
                .get_or_create(&ActionLabels {
                    action: action.clone(),
                })
                .inc();
        }
    }
}

/// The published-bytes cache's counters, kept by the cache.
#[derive(Clone, Debug, Default)]
pub struct CacheCounters {
    /// Reads answered from memory.
    pub hits: Counter,
    /// Reads that went to the database.
    pub misses: Counter,
    /// Entries let go of to stay within the budget.
    pub evictions: Counter,
}

/// The gauges read at each scrape.
#[derive(Default)]
struct Moment {
    pool_connections: Family<ConnectionLabels, Gauge>,
    pool_max: Gauge,
    cache_bytes: Gauge,
    cache_entries: Gauge,
    audit_chain_length: Gauge,
    replica_serving: Gauge,
    resident_memory: Gauge,
    virtual_memory: Gauge,
    open_fds: Gauge,
    start_time: Gauge,
}

/// The registry and the request counters the HTTP layer moves.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    moment: Moment,
}

impl Metrics {
    /// A registry over the service's components.
    pub fn new(pool: &PoolCounters, cache: &CacheCounters) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let moment = Moment::default();
        let q = &mut registry;
        register_requests(q, &requests, &latency);
        register_database(q, pool, &moment);
        register_published_cache(q, cache, &moment);
        register_process(q, &moment);
        moment.start_time.set(chrono::Utc::now().timestamp());
        Metrics {
            registry,
            requests,
            latency,
            moment,
        }
    }

    /// Counts an answered request. `route` is the matched route's template (`None`: no
    /// route matched, counted as `unmatched`).
    pub fn observe_request(
        &self,
        route: Option<&str>,
        method: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let route = route.map_or_else(|| "unmatched".to_string(), route_label);
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other",
        }
        .to_string();
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method: method.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// The exposition, with the moment's gauges read first.
    pub fn render(&self, state: &AppState) -> String {
        let m = &self.moment;
        let pool = state.db.pool_state();
        let in_use = i64::from(pool.connections.saturating_sub(pool.idle));
        m.pool_connections
            .get_or_create(&ConnectionLabels { state: "in_use" })
            .set(in_use);
        m.pool_connections
            .get_or_create(&ConnectionLabels { state: "idle" })
            .set(i64::from(pool.idle));
        m.pool_max.set(i64::from(pool.max));
        let held = state.publication.cache.held();
        m.cache_bytes.set(to_i64(held.bytes));
        m.cache_entries.set(to_i64(held.entries));
        m.replica_serving.set(i64::from(state.reads.from_replica()));
        if let Ok(length) = state.db.read_blocking(crate::audit::chain_length) {
            m.audit_chain_length.set(length);
        }
        if let Some(memory) = process_memory() {
            m.resident_memory.set(to_i64(memory.resident));
            m.virtual_memory.set(to_i64(memory.size));
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            m.open_fds.set(to_i64(fds.count() as u64));
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn register_requests(
    q: &mut Registry,
    requests: &Family<RequestLabels, Counter>,
    latency: &Family<RouteLabels, Histogram, fn() -> Histogram>,
) {
    q.register(
        "quanze_http_requests",
        "HTTP requests answered, by route template, method and status class",
        requests.clone(),
    );
    q.register(
        "quanze_http_request_duration_seconds",
        "Time from a request's head to its answer, by route template and method",
        latency.clone(),
    );
}

fn register_database(q: &mut Registry, pool: &PoolCounters, moment: &Moment) {
    q.register(
        "quanze_db_pool_connections",
        "Database connections open, idle or in use",
        moment.pool_connections.clone(),
    );
    q.register(
        "quanze_db_pool_max_connections",
        "The pool's size",
        moment.pool_max.clone(),
    );
    q.register(
        "quanze_db_pool_wait_seconds",
        "Time spent waiting for a database connection",
        pool.wait.clone(),
    );
    q.register(
        "quanze_db_pool_timeouts",
        "Waits for a database connection that gave up (answered 503)",
        pool.timeouts.clone(),
    );
    q.register(
        "quanze_audit_events",
        "Changes committed, by audit action (publication.publish: publications; \
         publication.review: reviews; claims.*: claim transitions)",
        pool.committed.clone(),
    );
    q.register(
        "quanze_audit_chain_length",
        "Events in the audit chain (its head's sequence number)",
        moment.audit_chain_length.clone(),
    );
}

fn register_published_cache(q: &mut Registry, cache: &CacheCounters, moment: &Moment) {
    q.register(
        "quanze_published_cache_hits",
        "Published documents and slices answered from memory",
        cache.hits.clone(),
    );
    q.register(
        "quanze_published_cache_misses",
        "Published documents and slices read from the database",
        cache.misses.clone(),
    );
    q.register(
        "quanze_published_cache_evictions",
        "Published documents and slices let go of to stay within the memory budget",
        cache.evictions.clone(),
    );
    q.register(
        "quanze_published_cache_bytes",
        "Bytes of published documents and slices held in memory",
        moment.cache_bytes.clone(),
    );
    q.register(
        "quanze_published_cache_entries",
        "Published documents and slices held in memory",
        moment.cache_entries.clone(),
    );
    q.register(
        "quanze_public_reads_from_replica",
        "1 while the public reads go to the read replica, else 0",
        moment.replica_serving.clone(),
    );
}

fn register_process(q: &mut Registry, moment: &Moment) {
    q.register(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        moment.resident_memory.clone(),
    );
    q.register(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes",
        moment.virtual_memory.clone(),
    );
    q.register(
        "process_open_fds",
        "Open file descriptors",
        moment.open_fds.clone(),
    );
    q.register(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch, in seconds",
        moment.start_time.clone(),
    );
}

/// A route template as a label value: `/a/{b}/c` as `/a/:b/c`, since braces inside label
/// values trip simpler exposition parsers than Prometheus's own.
pub fn route_label(template: &str) -> String {
    template
        .chars()
        .filter_map(|c| match c {
            '{' => Some(':'),
            '}' => None,
            other => Some(other),
        })
        .collect()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The process's memory, in bytes.
struct ProcessMemory {
    size: u64,
    resident: u64,
}

/// From `/proc/self/statm` (pages); `None` where there is no such file.
fn process_memory() -> Option<ProcessMemory> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    // The kernel's page size; every platform this runs on in production uses 4 KiB pages.
    let page = 4096;
    Some(ProcessMemory {
        size: fields.next()?? * page,
        resident: fields.next()?? * page,
    })
}

/// `GET /metrics` on the metrics listener.
pub async fn exposition(state: web::Data<AppState>) -> HttpResponse {
    let metrics = state.metrics.clone();
    let state = state.into_inner();
    match web::block(move || metrics.render(&state)).await {
        Ok(text) => HttpResponse::Ok()
            .content_type(CONTENT_TYPE)
            .insert_header(("cache-control", "no-store"))
            .body(text),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// The metrics listener's server: `GET /metrics` and nothing else.
pub fn server(
    state: AppState,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(state);
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(exposition))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
