//! Scenarios, percentiles and goals.

use super::*;

// ----------------------------------------------------------------------------------------
// Results
// ----------------------------------------------------------------------------------------

#[derive(Serialize, Clone)]
pub(crate) struct Scenario {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) target: String,
    pub(crate) mode: String,
    pub(crate) connections: usize,
    pub(crate) requests: u64,
    pub(crate) seconds: f64,
    pub(crate) throughput: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) mean_ms: f64,
    pub(crate) errors: u64,
    pub(crate) error_detail: String,
    pub(crate) statuses: BTreeMap<String, u64>,
    pub(crate) bytes_per_response: f64,
    pub(crate) ratio_to_limit: Option<f64>,
    pub(crate) server_cpu: Option<f64>,
    pub(crate) client_cpu: Option<f64>,
    pub(crate) other_cpu: Option<f64>,
    pub(crate) waited_for_quiet_s: f64,
    pub(crate) busy_before_cores: f64,
    pub(crate) server_rss_max_mb: f64,
    pub(crate) offered_rate: Option<f64>,
}

pub(crate) fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index] as f64 / 1000.0
}

pub(crate) fn scenario(
    key: &str,
    name: &str,
    target: &str,
    mode: String,
    connections: usize,
    mut raw: Raw,
    usage: &Usage,
) -> Scenario {
    raw.latencies_us.sort_unstable();
    let responses = raw.latencies_us.len() as u64;
    let requests = responses + raw.io_errors;
    let mut error_detail: Vec<String> = raw
        .statuses
        .iter()
        .filter(|(s, _)| !((200..300).contains(*s) || **s == 304))
        .map(|(s, n)| format!("{n}× {s}"))
        .collect();
    if raw.io_errors > 0 {
        error_detail.push(format!("{}× connection error or timeout", raw.io_errors));
    }
    Scenario {
        key: key.into(),
        name: name.into(),
        target: target.into(),
        mode,
        connections,
        requests,
        seconds: raw.elapsed,
        throughput: if raw.elapsed > 0.0 {
            responses as f64 / raw.elapsed
        } else {
            0.0
        },
        p50_ms: percentile(&raw.latencies_us, 0.50),
        p90_ms: percentile(&raw.latencies_us, 0.90),
        p99_ms: percentile(&raw.latencies_us, 0.99),
        max_ms: raw.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        mean_ms: if responses > 0 {
            raw.latencies_us.iter().map(|&l| l as f64).sum::<f64>() / responses as f64 / 1000.0
        } else {
            0.0
        },
        errors: raw.errors(),
        error_detail: error_detail.join(", "),
        statuses: raw
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect(),
        bytes_per_response: if responses > 0 {
            raw.bytes as f64 / responses as f64
        } else {
            0.0
        },
        ratio_to_limit: None,
        server_cpu: usage.server_cpu,
        client_cpu: usage.client_cpu,
        other_cpu: usage.other_cpu,
        waited_for_quiet_s: usage.settled.0,
        busy_before_cores: usage.settled.1,
        server_rss_max_mb: usage.rss_max_kb as f64 / 1024.0,
        offered_rate: None,
    }
}

#[derive(Serialize)]
pub(crate) struct Goals {
    pub(crate) slice_ratio: Option<f64>,
    pub(crate) slice_ratio_met: bool,
    pub(crate) half_peak_p99_ms: f64,
    pub(crate) half_peak_met: bool,
    pub(crate) peak_rss_mb: f64,
    pub(crate) rss_met: bool,
    pub(crate) errors: u64,
    pub(crate) errors_met: bool,
    /// quanze / nginx serving the same bytes: one township (≥ 0.8), uniform (≥ 0.5).
    pub(crate) one_to_nginx: Option<f64>,
    pub(crate) uniform_to_nginx: Option<f64>,
    pub(crate) uniform_met: bool,
    pub(crate) uniform_p99_ms: f64,
    pub(crate) first_read_p99_ms: f64,
    pub(crate) publish_seconds: f64,
    pub(crate) statistics_rps: f64,
}

#[derive(Serialize)]
pub(crate) struct BackendReport {
    pub(crate) backend: String,
    pub(crate) database: String,
    pub(crate) generation: GenerationReport,
    pub(crate) county: String,
    pub(crate) township: String,
    pub(crate) slice_bytes: usize,
    pub(crate) slice_items: u64,
    pub(crate) first_slice_ms: f64,
    pub(crate) rss_after_first_slice_mb: f64,
    pub(crate) scenarios: Vec<Scenario>,
    /// VmHWM after scenarios (1)–(6).
    pub(crate) peak_rss_mb: f64,
    /// VmHWM after the province-wide sweep (7) as well.
    pub(crate) peak_rss_with_sweep_mb: f64,
    pub(crate) reopened_claims: usize,
    pub(crate) reopen_seconds: f64,
    /// PostgreSQL: `VACUUM (ANALYZE)` after the generator, before the service starts.
    pub(crate) vacuum_seconds: Option<f64>,
    pub(crate) goals: Goals,
    pub(crate) notes: Vec<String>,
}
