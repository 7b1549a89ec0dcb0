//! Bearer JWT authentication, roles, regional scope and the permission table.

mod policy;

pub use policy::{Permission, Role};

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpMessage, HttpRequest};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::codes::RegionCode;
use crate::config::JwtConfig;
use crate::error::AppError;

/// The claims quanze reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// The user's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The organisation the user acts for.
    pub org: String,
    /// The division code of the region the token acts in.
    pub region: String,
    /// Role names; unknown names are ignored (deny by default).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// Verifies (and, with an HS secret, signs) tokens with one pinned algorithm.
pub struct TokenKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    max_lifetime_secs: i64,
}

/// Clock skew tolerated between quanze and the identity provider, seconds.
const LEEWAY_SECS: i64 = 60;

impl TokenKeys {
    /// Builds the keys from configuration; errors name what is missing.
    pub fn from_config(config: &JwtConfig) -> Result<TokenKeys, String> {
        let algorithm: Algorithm = config
            .algorithm
            .parse()
            .map_err(|_| format!("unknown JWT algorithm {:?}", config.algorithm))?;
        let (decoding, encoding) = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                if config.secret.len() < 16 {
                    return Err("the JWT secret must be at least 16 bytes".into());
                }
                (
                    DecodingKey::from_secret(config.secret.as_bytes()),
                    Some(EncodingKey::from_secret(config.secret.as_bytes())),
                )
            }
            Algorithm::RS256 | Algorithm::ES256 => {
                if config.public_key_file.is_empty() {
                    return Err(format!("{algorithm:?} needs jwt.public_key_file"));
                }
                let pem = std::fs::read(&config.public_key_file)
                    .map_err(|e| format!("cannot read {}: {e}", config.public_key_file))?;
                let key = if algorithm == Algorithm::RS256 {
                    DecodingKey::from_rsa_pem(&pem)
                } else {
                    DecodingKey::from_ec_pem(&pem)
                }
                .map_err(|e| format!("bad public key in {}: {e}", config.public_key_file))?;
                (key, None)
            }
            other => return Err(format!("JWT algorithm {other:?} is not supported")),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS as u64;
        if config.max_lifetime_secs <= 0 {
            return Err("jwt.max_lifetime_secs must be positive".into());
        }
        Ok(TokenKeys {
            algorithm,
            decoding,
            encoding,
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            max_lifetime_secs: config.max_lifetime_secs,
        })
    }

    /// Checks a token and reads its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AppError::Unauthorized(format!("the bearer token is not valid: {e}")))?;
        self.check_times(&claims, chrono::Utc::now().timestamp())
            .map_err(|e| AppError::Unauthorized(format!("the bearer token is not valid: {e}")))?;
        Ok(claims)
    }

    /// What the library leaves to us: a token is not issued in the future, and lives no
    /// longer than the configured lifetime (a stolen token of years is refused).
    fn check_times(&self, claims: &Claims, now: i64) -> Result<(), String> {
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECS))
        {
            return Err("it was issued in the future (iat)".into());
        }
        let start = claims.iat.unwrap_or(now).min(now);
        let limit = self.max_lifetime_secs.saturating_add(LEEWAY_SECS);
        if claims.exp.saturating_sub(start) > limit {
            return Err(format!(
                "it lives longer than the {} seconds allowed (exp - iat)",
                self.max_lifetime_secs
            ));
        }
        Ok(())
    }

    /// Mints a token; only with an HS* secret (for development and tests).
    pub fn mint(
        &self,
        sub: &str,
        org: &str,
        region: &str,
        roles: &[String],
        ttl_secs: i64,
    ) -> Result<String, String> {
        let key = self.encoding.as_ref().ok_or_else(|| {
            format!(
                "the configured algorithm is {:?}: tokens are minted by your identity provider, not by quanze",
                self.algorithm
            )
        })?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.into(),
            name: None,
            org: org.into(),
            region: region.into(),
            roles: roles.to_vec(),
            exp: now + ttl_secs,
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key).map_err(|e| e.to_string())
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub sub: String,
    /// The organisation the user acts for.
    pub org: String,
    /// The region the token acts in.
    pub region: RegionCode,
    /// The roles quanze knows.
    pub roles: Vec<Role>,
}

impl Principal {
    /// The operator's command line (imports, demo data), acting as the catalogue team
    /// of `region`.
    pub fn system(region: RegionCode) -> Principal {
        Principal {
            sub: "system:cli".into(),
            org: "system".into(),
            region,
            roles: vec![Role::CatalogueAdmin],
        }
    }

    fn from_claims(claims: Claims) -> Result<Principal, AppError> {
        let region = RegionCode::parse(&claims.region).map_err(|e| {
            AppError::Unauthorized(format!(
                "the token's region claim is not a division code: {e}"
            ))
        })?;
        Ok(Principal {
            sub: claims.sub,
            org: claims.org,
            region,
            roles: claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
        })
    }

    /// True when one of the caller's roles grants `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.roles
            .iter()
            .any(|role| policy::grants(*role, permission))
    }

    /// 403 unless the caller holds `permission` and `region` lies inside its scope.
    pub fn require(&self, permission: Permission, region: &RegionCode) -> Result<(), AppError> {
        if !self.can(permission) {
            return Err(AppError::Forbidden(format!(
                "your roles do not allow {}",
                permission.describe()
            )));
        }
        if !self.region.contains(region) {
            return Err(AppError::Forbidden(format!(
                "your token acts in region {}, not in {}",
                self.region, region
            )));
        }
        Ok(())
    }

    /// 403 unless the caller holds `permission` and its region contains `region` or lies
    /// inside it (a township clerk reading its county's list).
    pub fn require_related(
        &self,
        permission: Permission,
        region: &RegionCode,
    ) -> Result<(), AppError> {
        self.require_any(permission)?;
        if self.region.contains(region) || region.contains(&self.region) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "your token acts in region {}, not in {}",
                self.region, region
            )))
        }
    }

    /// 403 unless the caller holds `permission` somewhere (for lists it then filters by scope).
    pub fn require_any(&self, permission: Permission) -> Result<(), AppError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "your roles do not allow {}",
                permission.describe()
            )))
        }
    }

    /// Role names, for the audit trail.
    pub fn role_names(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn bearer(req: &HttpRequest) -> Option<Result<&str, AppError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized("the Authorization header must be \"Bearer <token>\"".into())
            }),
    )
}

fn authenticate(req: &HttpRequest) -> Result<Option<Principal>, AppError> {
    let Some(token) = bearer(req) else {
        return Ok(None);
    };
    let token = token?;
    let keys = req
        .app_data::<web::Data<Arc<TokenKeys>>>()
        .ok_or_else(|| AppError::Internal("token keys are not configured".into()))?;
    let claims = keys.verify(token)?;
    let principal = Principal::from_claims(claims)?;
    req.extensions_mut().insert(Caller {
        org: principal.org.clone(),
        roles: principal.role_names(),
    });
    Ok(Some(principal))
}

/// Who a request acted as, for its log line: the organisation and roles of its valid
/// token (never the token, nor the person).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The organisation's code.
    pub org: String,
    /// The roles, comma-separated.
    pub roles: String,
}

/// The subject of a request's valid bearer token, if it carries one.
pub fn subject(req: &HttpRequest) -> Option<String> {
    authenticate(req).ok().flatten().map(|p| p.sub)
}

impl FromRequest for Principal {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            authenticate(req)
                .and_then(|p| {
                    p.ok_or_else(|| {
                        AppError::Unauthorized("this route needs a bearer token".into())
                    })
                })
                .map_err(Into::into),
        )
    }
}

/// A caller who may or may not carry a token: anonymous callers read published material
/// only. A token that is present but bad is still a 401, never silently anonymous.
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequest for MaybePrincipal {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(MaybePrincipal).map_err(Into::into))
    }
}
