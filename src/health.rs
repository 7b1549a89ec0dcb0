//! Liveness and readiness.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(healthz).service(readyz);
}

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
    /// Where the public read path reads now (readiness only): `primary`, or `replica`
    /// while a configured read replica keeps up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_reads: Option<PublicReads>,
}

/// Where the public read path reads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicReads {
    /// The primary database.
    Primary,
    /// The read replica.
    Replica,
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        public_reads: None,
    })
}

/// The database answers; 503 with `Retry-After` when it does not.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if state.db.ping().await {
        let public_reads = if state.reads.from_replica() {
            PublicReads::Replica
        } else {
            PublicReads::Primary
        };
        Ok(HttpResponse::Ok().json(Health {
            status: "ready".into(),
            public_reads: Some(public_reads),
        }))
    } else {
        Err(AppError::Unavailable)
    }
}
