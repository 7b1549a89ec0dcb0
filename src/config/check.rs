//! The configuration checked before anything is served: every problem at once, each named
//! by its setting, so that an operator fixes them in one pass instead of one restart each.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use serde::Serialize;

use super::Config;
use crate::organisations::OrganisationKind;
use crate::publication::Stage;

/// The shortest HS secret accepted outside loopback: as many bytes as the hash's output.
pub const MIN_SECRET_BYTES: usize = 32;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The service refuses to start.
    Error,
    /// The service starts, and says so in its log.
    Warning,
}

/// One finding about one setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The setting, as `section.key`.
    pub setting: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Every finding about `config`, errors first. Reads the key files it names (never
/// writes: a development key not made yet is only noted).
pub fn check(config: &Config) -> Vec<Finding> {
    let mut found = Findings::default();
    found.listening(config);
    found.database(config);
    found.tokens(config);
    found.keys(config);
    found.stages(config);
    found.timeouts(config);
    found.logging(config);
    let mut findings = found.0;
    findings.sort_by_key(|f| f.severity != Severity::Error);
    findings
}

/// Only the errors.
pub fn errors(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect()
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn error(&mut self, setting: &str, message: impl Into<String>) {
        self.push(Severity::Error, setting, message);
    }

    fn warning(&mut self, setting: &str, message: impl Into<String>) {
        self.push(Severity::Warning, setting, message);
    }

    fn push(&mut self, severity: Severity, setting: &str, message: impl Into<String>) {
        self.0.push(Finding {
            severity,
            setting: setting.into(),
            message: message.into(),
        });
    }

    fn listening(&mut self, config: &Config) {
        let api = self.address("server.bind", &config.server.bind);
        if !config.metrics.bind.is_empty() {
            let metrics = self.address("metrics.bind", &config.metrics.bind);
            if let (Some(api), Some(metrics)) = (api, metrics) {
                if api.port() == metrics.port() && api.port() != 0 {
                    self.error(
                        "metrics.bind",
                        "the metrics listener needs a port of its own, not server.bind's",
                    );
                }
                if !metrics.ip().is_loopback() {
                    self.warning(
                        "metrics.bind",
                        format!("{metrics} is not loopback: whoever reaches it reads the service's metrics; keep it on an operations network"),
                    );
                }
            }
        }
        if config.server.workers > 1024 {
            self.error("server.workers", "more than 1024 worker threads");
        }
        if config.server.body_limit > config.server.import_limit {
            self.warning(
                "server.body_limit",
                "larger than server.import_limit: an import may be smaller than a JSON body",
            );
        }
    }

    /// The socket address `text` names, or an error naming `setting`.
    fn address(&mut self, setting: &str, text: &str) -> Option<SocketAddr> {
        let has_port = text
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !has_port {
            self.error(
                setting,
                format!(
                    "{text:?} is not host:port (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080)"
                ),
            );
            return None;
        }
        match text.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(address)) => Some(address),
            _ => {
                self.error(
                    setting,
                    format!("{text:?} names no address on this machine"),
                );
                None
            }
        }
    }

    fn database(&mut self, config: &Config) {
        let db = &config.database;
        if db.url.trim().is_empty() {
            self.error(
                "database.url",
                "empty: name an SQLite file or a postgres:// URL",
            );
        }
        if db.pool_size == 0 {
            self.error("database.pool_size", "must be at least 1");
        }
        if !db.read_url.is_empty() {
            let postgres =
                |url: &str| crate::db::Backend::from_url(url) == crate::db::Backend::Postgres;
            if !postgres(&db.read_url) || !postgres(&db.url) {
                self.error(
                    "database.read_url",
                    "a read replica is a PostgreSQL streaming replica: both it and database.url must be postgres:// URLs",
                );
            }
        }
    }

    fn tokens(&mut self, config: &Config) {
        let jwt = &config.jwt;
        let loopback = self.loopback_only(config);
        match jwt.algorithm.as_str() {
            "HS256" | "HS384" | "HS512" => {
                if config.uses_dev_secret() {
                    if loopback {
                        self.warning("jwt.secret", "the public development secret: anyone can mint tokens with it; fine on a laptop only");
                    } else {
                        self.error("jwt.secret", "the public development secret on an address other than loopback: anyone could mint tokens for any role; set QUANZE_JWT_SECRET (at least 32 random bytes) or use RS256/ES256");
                    }
                } else if jwt.secret.len() < MIN_SECRET_BYTES {
                    let message = format!(
                        "{} bytes: an HS secret needs at least {MIN_SECRET_BYTES} random bytes",
                        jwt.secret.len()
                    );
                    if loopback && jwt.secret.len() >= 16 {
                        self.warning("jwt.secret", message);
                    } else {
                        self.error("jwt.secret", message);
                    }
                }
            }
            "RS256" | "ES256" => {
                if jwt.public_key_file.is_empty() {
                    self.error(
                        "jwt.public_key_file",
                        format!(
                            "{} needs the identity provider's public key (PEM)",
                            jwt.algorithm
                        ),
                    );
                } else if let Err(problem) = crate::auth::TokenKeys::from_config(jwt) {
                    self.error("jwt.public_key_file", problem);
                }
            }
            other => self.error(
                "jwt.algorithm",
                format!("{other:?} is not one of HS256, HS384, HS512, RS256, ES256"),
            ),
        }
        if jwt.issuer.is_empty() {
            self.error("jwt.issuer", "empty: tokens must name their issuer");
        }
        if jwt.audience.is_empty() {
            self.error("jwt.audience", "empty: tokens must name this service");
        }
        if jwt.max_lifetime_secs <= 0 {
            self.error("jwt.max_lifetime_secs", "must be positive");
        }
    }

    /// True when neither listener is reachable from another machine.
    fn loopback_only(&self, config: &Config) -> bool {
        let loopback = |text: &str| {
            text.to_socket_addrs()
                .map(|mut a| a.all(|a| a.ip().is_loopback()))
                .unwrap_or(false)
        };
        loopback(&config.server.bind)
    }

    fn keys(&mut self, config: &Config) {
        let keys = &config.keys;
        if keys.signing_key_file.is_empty() || keys.audit_key_file.is_empty() {
            self.warning(
                "keys",
                format!(
                    "development keys (made in {}): fine on a laptop, never in production; `quanze keys generate` writes real ones",
                    keys.dev_dir
                ),
            );
        }
        if !keys.signing_key_file.is_empty() {
            if let Err(problem) = crate::keys::read_signing_key(Path::new(&keys.signing_key_file)) {
                self.error("keys.signing_key_file", problem);
            }
        }
        if !keys.audit_key_file.is_empty() {
            if let Err(problem) = crate::keys::AuditKey::read(Path::new(&keys.audit_key_file)) {
                self.error("keys.audit_key_file", problem);
            }
        }
        for file in &keys.retired_signing_keys {
            if let Err(problem) = crate::keys::read_public_key(Path::new(file)) {
                self.error("keys.retired_signing_keys", problem);
            }
        }
    }

    fn stages(&mut self, config: &Config) {
        let publication = &config.publication;
        for (setting, names) in [
            ("publication.power_stages", &publication.power_stages),
            ("publication.duty_stages", &publication.duty_stages),
        ] {
            if names.is_empty() {
                self.error(setting, "a list needs at least one review stage");
            }
            for name in names {
                match Stage::parse(name) {
                    None => self.error(
                        setting,
                        format!("{name:?} is not a review stage (legality, government, staffing, approval)"),
                    ),
                    Some(_) if !publication.stage_holders.contains_key(name) => self.error(
                        "publication.stage_holders",
                        format!("no organisation kind holds the {name} stage"),
                    ),
                    Some(_) => {}
                }
            }
        }
        for (stage, kind) in &publication.stage_holders {
            if Stage::parse(stage).is_none() {
                self.error(
                    "publication.stage_holders",
                    format!("{stage:?} is not a review stage"),
                );
            }
            if OrganisationKind::parse(kind).is_none() {
                self.error(
                    "publication.stage_holders",
                    format!(
                        "{stage}: {kind:?} is not an organisation kind ({})",
                        OrganisationKind::names()
                    ),
                );
            }
        }
    }

    fn timeouts(&mut self, config: &Config) {
        let request = config.server.request_timeout_ms;
        if request == 0 {
            self.error("server.request_timeout_ms", "must be positive");
            return;
        }
        for (setting, wait) in [
            ("database.pool_timeout_ms", config.database.pool_timeout_ms),
            ("limits.expensive_wait_ms", config.limits.expensive_wait_ms),
        ] {
            if wait >= request {
                self.error(
                    setting,
                    format!("{wait} ms is not shorter than server.request_timeout_ms ({request} ms): a request would be cut off while it still waits, and its client would never hear the wait's own 503"),
                );
            }
        }
        if config.server.head_timeout_ms == 0 {
            self.error("server.head_timeout_ms", "must be positive");
        }
    }

    fn logging(&mut self, config: &Config) {
        if !matches!(config.log.format.as_str(), "text" | "json") {
            self.error(
                "log.format",
                format!("{:?} is neither text nor json", config.log.format),
            );
        }
        if let Err(problem) = tracing_subscriber::EnvFilter::try_new(&config.log.level) {
            self.error(
                "log.level",
                format!("{:?} is not a tracing filter: {problem}", config.log.level),
            );
        }
    }
}

/// The effective configuration as TOML, secrets masked: the HS secret, and passwords in
/// database URLs.
pub fn effective(config: &Config) -> String {
    let mut shown = config.clone();
    if !shown.jwt.secret.is_empty() {
        shown.jwt.secret = format!("<hidden: {} bytes>", shown.jwt.secret.len());
    }
    shown.database.url = mask_password(&shown.database.url);
    shown.database.read_url = mask_password(&shown.database.read_url);
    toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(findings: &[Finding], severity: Severity) -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.severity == severity)
            .map(|f| f.setting.clone())
            .collect()
    }

    #[test]
    fn the_defaults_have_warnings_only() {
        let findings = check(&Config::defaults());
        assert!(errors(&findings).is_empty(), "{findings:?}");
        let warnings = settings(&findings, Severity::Warning);
        assert!(warnings.contains(&"jwt.secret".to_string()), "{warnings:?}");
        assert!(warnings.contains(&"keys".to_string()), "{warnings:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut config = Config::defaults();
        config.server.bind = "0.0.0.0".into();
        config.jwt.secret = "short".into();
        config.publication.power_stages = vec!["legality".into(), "mayor".into()];
        config.database.pool_timeout_ms = 120_000;
        config.log.format = "xml".into();
        config.keys.signing_key_file = "/nonexistent/signing.pem".into();
        let errors = settings(&check(&config), Severity::Error);
        for setting in [
            "server.bind",
            "jwt.secret",
            "publication.power_stages",
            "database.pool_timeout_ms",
            "log.format",
            "keys.signing_key_file",
        ] {
            assert!(
                errors.contains(&setting.to_string()),
                "{setting}: {errors:?}"
            );
        }
    }

    #[test]
    fn a_short_secret_is_an_error_outside_loopback_only() {
        let mut config = Config::defaults();
        config.jwt.secret = "a-secret-of-twenty-bytes".into();
        assert!(errors(&check(&config)).is_empty());
        config.server.bind = "0.0.0.0:8080".into();
        let findings = check(&config);
        assert_eq!(settings(&findings, Severity::Error), vec!["jwt.secret"]);
        config.jwt.secret = "x".repeat(MIN_SECRET_BYTES);
        assert!(errors(&check(&config)).is_empty());
    }

    #[test]
    fn the_development_secret_is_refused_outside_loopback() {
        let mut config = Config::defaults();
        config.server.bind = "0.0.0.0:8080".into();
        let findings = check(&config);
        assert_eq!(settings(&findings, Severity::Error), vec!["jwt.secret"]);
    }

    #[test]
    fn stages_without_holders_and_unknown_kinds_are_named() {
        let mut config = Config::defaults();
        config.publication.stage_holders.remove("government");
        config
            .publication
            .stage_holders
            .insert("approval".into(), "ministry".into());
        let findings = check(&config);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains("government stage")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("\"ministry\"")),
            "{messages:?}"
        );
    }

    #[test]
    fn waits_longer_than_a_request_are_errors() {
        let mut config = Config::defaults();
        config.limits.expensive_wait_ms = config.server.request_timeout_ms;
        assert_eq!(
            settings(&check(&config), Severity::Error),
            vec!["limits.expensive_wait_ms"]
        );
    }

    #[test]
    fn the_metrics_listener_is_checked() {
        let mut config = Config::defaults();
        config.metrics.bind = "127.0.0.1".into();
        assert_eq!(
            settings(&check(&config), Severity::Error),
            vec!["metrics.bind"]
        );
        config.metrics.bind = "0.0.0.0:9464".into();
        let findings = check(&config);
        assert!(errors(&findings).is_empty(), "{findings:?}");
        assert!(settings(&findings, Severity::Warning).contains(&"metrics.bind".to_string()));
        config.metrics.bind = config.server.bind.clone();
        assert_eq!(
            settings(&check(&config), Severity::Error),
            vec!["metrics.bind"]
        );
    }

    #[test]
    fn unreadable_and_malformed_key_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not a key").unwrap();
        let mut config = Config::defaults();
        config.keys.signing_key_file = bad.to_string_lossy().into_owned();
        config.keys.audit_key_file = dir
            .path()
            .join("missing.hex")
            .to_string_lossy()
            .into_owned();
        config.keys.retired_signing_keys = vec![bad.to_string_lossy().into_owned()];
        config.jwt.algorithm = "RS256".into();
        config.jwt.public_key_file = dir.path().join("idp.pem").to_string_lossy().into_owned();
        let errors = settings(&check(&config), Severity::Error);
        for setting in [
            "keys.signing_key_file",
            "keys.audit_key_file",
            "keys.retired_signing_keys",
            "jwt.public_key_file",
        ] {
            assert!(
                errors.contains(&setting.to_string()),
                "{setting}: {errors:?}"
            );
        }
    }

    #[test]
    fn secrets_are_masked_in_the_effective_configuration() {
        let mut config = Config::defaults();
        config.jwt.secret = "s3cret-s3cret-s3cret-s3cret-s3cret".into();
        config.database.url = "postgres://quanze:hunter2@db.example/quanze".into();
        let shown = effective(&config);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://quanze:***@db.example/quanze"),
            "{shown}"
        );
    }
}
