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
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// The database answers; 503 with `Retry-After` when it does not.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(Health {
            status: "ready".into(),
        }))
    } else {
        Err(AppError::Unavailable)
    }
}
