//! Configuration: `config/default.toml` (or the file given with `--config`), then
//! `QUANZE_*` environment variables on top.

pub mod check;

use serde::{Deserialize, Serialize};

/// The defaults shipped with the binary, so it runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// The development secret in `config/default.toml`: public, so never for real use.
pub const DEV_SECRET: &str = "INSECURE-DEV-SECRET-do-not-use-outside-your-laptop";

/// All settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server.
    pub server: ServerConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Tokens.
    pub jwt: JwtConfig,
    /// Logging.
    pub log: LogConfig,
    /// The publication workflow and the public read path.
    #[serde(default)]
    pub publication: PublicationConfig,
    /// The keys that sign publications and the audit chain.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Bounds on expensive work.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The metrics listener.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// Where the metrics are served: a listener of their own, never the API port, so that
/// the public address does not carry them and a scraper needs no token.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `host:port` of the metrics listener; empty for none.
    pub bind: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            bind: "127.0.0.1:9464".into(),
        }
    }
}

/// Bounds on expensive answers (diffs, statistics, exports, the audit check).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// How many of each class are made at once.
    pub expensive_concurrency: usize,
    /// How long a request waits for a place before a 503, in milliseconds.
    pub expensive_wait_ms: u64,
    /// Memory for answers about immutable things (diffs of published editions and
    /// versions), rendered once and shared, in bytes.
    pub shared_answer_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            expensive_concurrency: 2,
            expensive_wait_ms: 2000,
            shared_answer_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Where the service's own keys are. An empty file name means a development key, made
/// on first start in `dev_dir` and announced in the start-up log.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// The Ed25519 private key (PKCS#8 PEM) that signs publications.
    pub signing_key_file: String,
    /// Public keys (PEM) of earlier signing keys, still served so old signatures verify.
    pub retired_signing_keys: Vec<String>,
    /// The audit chain's HMAC key: at least 32 random bytes as hex text.
    pub audit_key_file: String,
    /// Where development keys are made.
    pub dev_dir: String,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            signing_key_file: String::new(),
            retired_signing_keys: Vec::new(),
            audit_key_file: String::new(),
            dev_dir: "data".into(),
        }
    }
}

/// Review stages per kind of list, and the public read path's caches.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicationConfig {
    /// Stages a power list passes (legality, government, staffing, approval).
    pub power_stages: Vec<String>,
    /// Whether the power list's stages approve in order.
    pub power_ordered: bool,
    /// Stages a responsibility list passes.
    pub duty_stages: Vec<String>,
    /// Whether the responsibility list's stages approve in order.
    pub duty_ordered: bool,
    /// The kind of organisation that holds each stage, by stage name: a review is taken
    /// only from an organisation of that kind in the list's county.
    pub stage_holders: std::collections::BTreeMap<String, String>,
    /// How long the answer "which version is in force" is trusted, in milliseconds.
    pub in_force_cache_ms: u64,
    /// Memory for rendered published versions, in bytes.
    pub cache_bytes: usize,
}

impl Default for PublicationConfig {
    fn default() -> Self {
        PublicationConfig {
            power_stages: vec!["legality".into(), "government".into()],
            power_ordered: true,
            duty_stages: vec!["staffing".into(), "legality".into(), "approval".into()],
            duty_ordered: false,
            stage_holders: [
                ("legality", "justice_bureau"),
                ("government", "county_government"),
                ("staffing", "staffing_office"),
                ("approval", "approval_bureau"),
            ]
            .into_iter()
            .map(|(stage, kind)| (stage.to_string(), kind.to_string()))
            .collect(),
            in_force_cache_ms: 1000,
            cache_bytes: 128 * 1024 * 1024,
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: String,
    /// Largest JSON body, bytes.
    pub body_limit: usize,
    /// Largest import body, bytes.
    pub import_limit: usize,
    /// Seconds in-flight requests get to finish on SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Worker threads; 0 for one per core.
    pub workers: usize,
    /// Connections that may wait to be accepted.
    #[serde(default = "default_backlog")]
    pub backlog: i32,
    /// Each connection's socket send buffer, bytes; 0 leaves it to the kernel's autotuning.
    #[serde(default = "default_send_buffer")]
    pub send_buffer_bytes: usize,
    /// How long a client has to send a whole request head once it has begun one (and,
    /// for its first request, once it has connected), milliseconds; then a 408 problem.
    #[serde(default = "default_head_timeout")]
    pub head_timeout_ms: u64,
    /// How long a request may take before its answer is a 503 problem, milliseconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

fn default_request_timeout() -> u64 {
    60_000
}

fn default_head_timeout() -> u64 {
    5_000
}

fn default_send_buffer() -> usize {
    64 * 1024
}

fn default_backlog() -> i32 {
    4096
}

/// Database settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// SQLite file path or `postgres://` URL.
    pub url: String,
    /// Connections in the pool.
    pub pool_size: u32,
    /// How long a request waits for a connection before a 503.
    pub pool_timeout_ms: u64,
    /// A PostgreSQL streaming replica the public read path reads from; empty for none.
    #[serde(default)]
    pub read_url: String,
    /// How far behind the primary the replica may fall and still serve, in milliseconds;
    /// further behind, or down, and the public reads go to the primary.
    #[serde(default = "default_read_max_lag")]
    pub read_max_lag_ms: u64,
    /// Whether `serve` applies pending migrations; when unset, yes for SQLite and no for
    /// PostgreSQL, where several instances start at once and one `quanze migrate` should
    /// upgrade the schema before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate_on_start: Option<bool>,
}

impl DatabaseConfig {
    /// Whether `serve` applies pending migrations.
    pub fn migrates_on_start(&self) -> bool {
        self.migrate_on_start
            .unwrap_or(crate::db::Backend::from_url(&self.url) == crate::db::Backend::Sqlite)
    }
}

fn default_read_max_lag() -> u64 {
    1_000
}

/// Token settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The one accepted algorithm.
    pub algorithm: String,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Shared secret for HS*.
    pub secret: String,
    /// PEM public key for RS256/ES256.
    pub public_key_file: String,
    /// The longest lifetime (`exp` after `iat`, or after now) a token may have, seconds.
    #[serde(default = "default_max_token_lifetime")]
    pub max_lifetime_secs: i64,
}

fn default_max_token_lifetime() -> i64 {
    12 * 3600
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Config {
    /// Reads the file (or the built-in defaults when `path` is `None` and
    /// `config/default.toml` is absent), then applies the environment.
    pub fn load(path: Option<&str>) -> Result<Config, String> {
        let text = match path {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
            }
            None => std::fs::read_to_string("config/default.toml")
                .unwrap_or_else(|_| DEFAULT_TOML.to_string()),
        };
        let mut config: Config =
            toml::from_str(&text).map_err(|e| format!("bad configuration: {e}"))?;
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// The built-in defaults with the environment applied.
    pub fn defaults() -> Config {
        toml::from_str(DEFAULT_TOML).expect("the built-in configuration parses")
    }

    /// Applies `QUANZE_*` overrides read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        text(&get, "QUANZE_BIND", &mut self.server.bind);
        number(&get, "QUANZE_BODY_LIMIT", &mut self.server.body_limit)?;
        number(&get, "QUANZE_IMPORT_LIMIT", &mut self.server.import_limit)?;
        number(
            &get,
            "QUANZE_SHUTDOWN_TIMEOUT_SECS",
            &mut self.server.shutdown_timeout_secs,
        )?;
        number(
            &get,
            "QUANZE_SEND_BUFFER_BYTES",
            &mut self.server.send_buffer_bytes,
        )?;
        number(
            &get,
            "QUANZE_HEAD_TIMEOUT_MS",
            &mut self.server.head_timeout_ms,
        )?;
        number(&get, "QUANZE_BACKLOG", &mut self.server.backlog)?;
        number(
            &get,
            "QUANZE_REQUEST_TIMEOUT_MS",
            &mut self.server.request_timeout_ms,
        )?;
        text(&get, "QUANZE_METRICS_BIND", &mut self.metrics.bind);
        if let Some(value) = get("QUANZE_MIGRATE_ON_START") {
            self.database.migrate_on_start = Some(match value.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(format!(
                        "QUANZE_MIGRATE_ON_START must be true or false, not {value:?}"
                    ))
                }
            });
        }
        number(&get, "QUANZE_WORKERS", &mut self.server.workers)?;
        if let Some(v) = get("QUANZE_DATABASE_URL").or_else(|| get("DATABASE_URL")) {
            self.database.url = v;
        }
        number(&get, "QUANZE_POOL_SIZE", &mut self.database.pool_size)?;
        number(
            &get,
            "QUANZE_POOL_TIMEOUT_MS",
            &mut self.database.pool_timeout_ms,
        )?;
        text(
            &get,
            "QUANZE_DATABASE_READ_URL",
            &mut self.database.read_url,
        );
        number(
            &get,
            "QUANZE_DATABASE_READ_MAX_LAG_MS",
            &mut self.database.read_max_lag_ms,
        )?;
        number(
            &get,
            "QUANZE_PUBLICATION_IN_FORCE_CACHE_MS",
            &mut self.publication.in_force_cache_ms,
        )?;
        number(
            &get,
            "QUANZE_PUBLICATION_CACHE_BYTES",
            &mut self.publication.cache_bytes,
        )?;
        self.apply_secrets_env(&get)
    }

    /// The token, key and log overrides.
    fn apply_secrets_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<(), String> {
        text(&get, "QUANZE_JWT_ALGORITHM", &mut self.jwt.algorithm);
        text(&get, "QUANZE_JWT_ISSUER", &mut self.jwt.issuer);
        text(&get, "QUANZE_JWT_AUDIENCE", &mut self.jwt.audience);
        text(&get, "QUANZE_JWT_SECRET", &mut self.jwt.secret);
        text(
            &get,
            "QUANZE_JWT_PUBLIC_KEY_FILE",
            &mut self.jwt.public_key_file,
        );
        number(
            &get,
            "QUANZE_EXPENSIVE_CONCURRENCY",
            &mut self.limits.expensive_concurrency,
        )?;
        number(
            &get,
            "QUANZE_EXPENSIVE_WAIT_MS",
            &mut self.limits.expensive_wait_ms,
        )?;
        number(
            &get,
            "QUANZE_SHARED_ANSWER_BYTES",
            &mut self.limits.shared_answer_bytes,
        )?;
        number(
            &get,
            "QUANZE_JWT_MAX_LIFETIME_SECS",
            &mut self.jwt.max_lifetime_secs,
        )?;
        text(
            &get,
            "QUANZE_SIGNING_KEY_FILE",
            &mut self.keys.signing_key_file,
        );
        if let Some(v) = get("QUANZE_RETIRED_SIGNING_KEYS") {
            self.keys.retired_signing_keys = v
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(String::from)
                .collect();
        }
        text(&get, "QUANZE_AUDIT_KEY_FILE", &mut self.keys.audit_key_file);
        text(&get, "QUANZE_DEV_KEY_DIR", &mut self.keys.dev_dir);
        text(&get, "QUANZE_LOG_LEVEL", &mut self.log.level);
        text(&get, "QUANZE_LOG_FORMAT", &mut self.log.format);
        Ok(())
    }

    /// True when the public development secret is in use.
    pub fn uses_dev_secret(&self) -> bool {
        self.jwt.algorithm.starts_with("HS") && self.jwt.secret == DEV_SECRET
    }
}

/// Sets `slot` to the variable `name`, when it is set.
fn text(get: &impl Fn(&str) -> Option<String>, name: &str, slot: &mut String) {
    if let Some(value) = get(name) {
        *slot = value;
    }
}

/// Sets `slot` to the number in the variable `name`, when it is set; an error names it.
fn number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    slot: &mut T,
) -> Result<(), String> {
    if let Some(value) = get(name) {
        *slot = value
            .parse()
            .map_err(|_| format!("{name} must be a number, not {value:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut config = Config::defaults();
        config
            .apply_env(|name| match name {
                "DATABASE_URL" => Some("postgres://x/y".into()),
                "QUANZE_POOL_SIZE" => Some("3".into()),
                "QUANZE_PUBLICATION_CACHE_BYTES" => Some("1048576".into()),
                "QUANZE_PUBLICATION_IN_FORCE_CACHE_MS" => Some("250".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.database.url, "postgres://x/y");
        assert_eq!(config.database.pool_size, 3);
        assert_eq!(config.publication.cache_bytes, 1 << 20);
        assert_eq!(config.publication.in_force_cache_ms, 250);
        assert!(config.uses_dev_secret());
    }

    #[test]
    fn a_bad_number_is_named() {
        let mut config = Config::defaults();
        let err = config
            .apply_env(|name| (name == "QUANZE_POOL_SIZE").then(|| "many".into()))
            .unwrap_err();
        assert!(err.contains("QUANZE_POOL_SIZE"), "{err}");
    }
}
