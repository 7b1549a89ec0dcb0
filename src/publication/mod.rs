//! Versioned publication: a county's power list and responsibility list are submitted as
//! frozen versions, reviewed by stage (the justice bureau's legality review first),
//! approved, published and superseded; the public reads them without a token.

mod cache;
mod document;
pub mod feed;
mod model;
pub mod public;
mod rendered;
pub mod separation;
pub mod shapes;

pub use cache::{Published, PublishedCache, Slice};
pub use document::{
    canonical_bytes, diff_documents, sha256_hex, ChangedEntry, DocumentDiff, FieldDifference,
    ListKind,
};
pub use model::{
    AnsweredFinding, Decision, Finding, OrganisationName, PublicReview, PublishInput, Review,
    ReviewInput, Severity, Stage, StagePlan, StageState, SubmitInput, Version, VersionHistory,
    VersionKey, VersionStatus, Versions, Workflow,
};
pub use public::{PublicLookup, PublicVersion, PublicationEntry, PublicationFeed};
pub use rendered::{render_slices, Rendered, StoredCheck, StoredPart, StoredSlice};

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpResponse};

use crate::auth::{Permission, Principal};
use crate::error::{AppResult, Problem};
use crate::http::{with_etag, CleanJson, IfMatch, ValidJson};
use crate::keys::SigningKeys;
use crate::regions::county_path;
use crate::regions::RegionCode;
use crate::AppState;

/// The workflow's configuration and the public path's caches.
pub struct Publication {
    /// Stage plans.
    pub workflow: Workflow,
    /// Rendered published versions.
    pub cache: PublishedCache,
    /// Signs published documents, township slices and anchors of the audit chain.
    pub signing: Arc<SigningKeys>,
}

impl Publication {
    /// From configuration; errors name a bad stage.
    pub fn from_config(
        config: &crate::config::PublicationConfig,
        signing: SigningKeys,
    ) -> Result<Publication, String> {
        Ok(Publication {
            signing: Arc::new(signing),
            workflow: Workflow::from_config(config)?,
            cache: PublishedCache::new(
                Duration::from_millis(config.in_force_cache_ms),
                config.cache_bytes,
            ),
        })
    }
}

/// Makes the bytes of every published version that has none yet (published before they
/// were made at publication), a version a transaction, off the request path; a read that
/// comes first makes its version's bytes itself, once. Returns how many were made.
pub fn render_missing(db: &crate::db::Db, publication: &Publication) -> AppResult<usize> {
    let missing = db.read_blocking(Rendered::missing)?;
    let mut made = 0;
    for (done, version) in missing.iter().enumerate() {
        let fresh = publication.cache.rendering(|| {
            db.write_blocking(|conn| Rendered::store(conn, version, &publication.signing))
        })?;
        made += usize::from(fresh);
        tracing::info!(
            version = %version.public_path(),
            done = done + 1,
            of = missing.len(),
            "made a published version's bytes"
        );
    }
    Ok(made)
}

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(submit_version)
        .service(list_versions)
        .service(get_version)
        .service(get_version_document)
        .service(review_version)
        .service(publish_version)
        .service(withdraw_version);
}

fn target(county: &str, kind: &str) -> AppResult<(RegionCode, ListKind)> {
    Ok((county_path(county)?, ListKind::parse(kind)?))
}

/// The version a `/counties/{county}/lists/{kind}/versions/{n}` path names.
fn version_key(path: &(String, String, i32)) -> AppResult<VersionKey> {
    let (county, kind) = target(&path.0, &path.1)?;
    Ok(VersionKey {
        county,
        kind,
        number: path.2,
    })
}

/// Freeze the working copy into the next version: its canonical JSON and SHA-256, a
/// title and a change summary. `county_compiler`. Refused while another version of the
/// list is under review or approved; a power list is refused (409 `not-ready`, the
/// undecided claims counted per township) while the county's open round has undecided
/// claims, unless `allow_incomplete` with an `incomplete_reason`.
#[utoipa::path(
    tag = "publication",
    params(("county" = String, Path, description = "County division code"), ("kind" = ListKind, Path, description = "power or duty")),
    request_body = SubmitInput,
    responses(
        (status = 201, body = VersionHistory, headers(("ETag" = String, description = "The version's revision"))),
        (status = 409, description = "Another version is under review, there is nothing to submit, or (not-ready) claims of the county's open round are undecided", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/counties/{county}/lists/{kind}/versions")]
pub async fn submit_version(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: ValidJson<SubmitInput>,
) -> AppResult<HttpResponse> {
    let (county, kind) = target(&path.0, &path.1)?;
    principal.require(Permission::SubmitLists, &county)?;
    let input = body.into_inner();
    let publication = state.publication.clone();
    let history = state
        .db
        .write(move |conn| {
            let version = Versions::submit(conn, &principal, &county, kind, input)?;
            Versions::history(conn, &publication.workflow, version)
        })
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        history.version.revision,
        &history,
    ))
}

/// Every version of a county's list, newest first, in any state. The county's roles and
/// the auditor.
#[utoipa::path(
    tag = "publication",
    params(("county" = String, Path, description = "County division code"), ("kind" = ListKind, Path, description = "power or duty")),
    responses((status = 200, body = [Version]))
)]
#[get("/api/v1/counties/{county}/lists/{kind}/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<Vec<Version>>> {
    let (county, kind) = target(&path.0, &path.1)?;
    principal.require_related(Permission::ReadVersions, &county)?;
    let versions = state
        .db
        .read(move |conn| Versions::list(conn, &county, kind, false))
        .await?;
    Ok(web::Json(versions))
}

/// A version's full history: submission, the stages and their reviews with findings,
/// the earlier findings it answers, publication.
#[utoipa::path(
    tag = "publication",
    params(
        ("county" = String, Path, description = "County division code"),
        ("kind" = ListKind, Path, description = "power or duty"),
        ("n" = i32, Path, description = "Version number")
    ),
    responses((status = 200, body = VersionHistory, headers(("ETag" = String, description = "The revision"))))
)]
#[get("/api/v1/counties/{county}/lists/{kind}/versions/{n}")]
pub async fn get_version(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String, i32)>,
) -> AppResult<HttpResponse> {
    let key = version_key(&path)?;
    principal.require_related(Permission::ReadVersions, &key.county)?;
    let publication = state.publication.clone();
    let history = state
        .db
        .read(move |conn| {
            let version = Versions::find(conn, &key.county, key.kind, key.number)?;
            Versions::history(conn, &publication.workflow, version)
        })
        .await?;
    Ok(with_etag(
        StatusCode::OK,
        history.version.revision,
        &history,
    ))
}

/// The frozen content of a version in any state (what reviewers read), with its content
/// hash as a strong `ETag`.
#[utoipa::path(
    tag = "publication",
    params(
        ("county" = String, Path, description = "County division code"),
        ("kind" = ListKind, Path, description = "power or duty"),
        ("n" = i32, Path, description = "Version number")
    ),
    responses((status = 200, description = "The canonical JSON document", content_type = "application/json", body = shapes::ListDocument))
)]
#[get("/api/v1/counties/{county}/lists/{kind}/versions/{n}/document")]
pub async fn get_version_document(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String, i32)>,
) -> AppResult<HttpResponse> {
    let key = version_key(&path)?;
    principal.require_related(Permission::ReadVersions, &key.county)?;
    let (hash, content) = state
        .db
        .read(move |conn| {
            let version = Versions::find(conn, &key.county, key.kind, key.number)?;
            Ok((
                version.content_hash.clone(),
                Versions::content(conn, version.id)?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{hash}\"")))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .content_type("application/json")
        .body(content))
}

/// Record a review at a stage: decision, comments, the hash reviewed and per-item
/// findings. By the stage's role in the same county: `legality_reviewer` (legality),
/// `government_approver` (government), `staffing_reviewer` (staffing),
/// `approval_reviewer` (approval), acting for the registered organisation that holds the
/// stage in that county (the justice bureau, the county government, the staffing office,
/// the approval bureau). Separation of duties: the submitter never reviews, nobody
/// approves two stages of one version, and a token that also compiles never reviews;
/// each refusal is a 403 whose `rule` names the rule. A return ends the version; an
/// approval cannot carry a blocking finding.
#[utoipa::path(
    tag = "publication",
    params(
        ("county" = String, Path, description = "County division code"),
        ("kind" = ListKind, Path, description = "power or duty"),
        ("n" = i32, Path, description = "Version number")
    ),
    request_body = ReviewInput,
    responses(
        (status = 201, body = VersionHistory),
        (status = 403, description = "Refused by a rule of separation of duties (`rule`: stage-role, reviewer-also-compiles, stage-holder, submitter-cannot-review, one-stage-per-person)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version is no longer reviewed, or the hash is not its content's", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/counties/{county}/lists/{kind}/versions/{n}/reviews")]
pub async fn review_version(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String, i32)>,
    body: CleanJson<ReviewInput>,
) -> AppResult<HttpResponse> {
    let key = version_key(&path)?;
    principal.require(Permission::ReviewLists, &key.county)?;
    let input = body.into_inner();
    let publication = state.publication.clone();
    let history = state
        .db
        .write(move |conn| Versions::review(conn, &principal, &publication.workflow, &key, input))
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        history.version.revision,
        &history,
    ))
}

/// Publish an approved version, in force from `effective_from` (default today, China
/// Standard Time; may be in the future); the previous publication ends that day. Refused,
/// naming what is missing, unless every required stage approved this content in the
/// required order. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "publication",
    params(
        ("county" = String, Path, description = "County division code"),
        ("kind" = ListKind, Path, description = "power or duty"),
        ("n" = i32, Path, description = "Version number"),
        ("If-Match" = String, Header, description = "The version's ETag")
    ),
    request_body = PublishInput,
    responses(
        (status = 200, body = Version),
        (status = 409, description = "Stages missing or out of order, or the version is not under review", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/counties/{county}/lists/{kind}/versions/{n}/publish")]
pub async fn publish_version(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String, i32)>,
    if_match: IfMatch,
    body: CleanJson<PublishInput>,
) -> AppResult<HttpResponse> {
    let key = version_key(&path)?;
    principal.require(Permission::SubmitLists, &key.county)?;
    let expected = if_match.revision()?;
    let input = body.into_inner();
    let publication = state.publication.clone();
    let version = state
        .db
        .write(move |conn| {
            Versions::publish(
                conn,
                &principal,
                &publication.workflow,
                &publication.signing,
                &key,
                expected,
                input,
            )
        })
        .await?;
    state.publication.cache.invalidate_in_force();
    Ok(with_etag(StatusCode::OK, version.revision, &version))
}

/// Withdraw a version under review or approved. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "publication",
    params(
        ("county" = String, Path, description = "County division code"),
        ("kind" = ListKind, Path, description = "power or duty"),
        ("n" = i32, Path, description = "Version number"),
        ("If-Match" = String, Header, description = "The version's ETag")
    ),
    responses((status = 200, body = Version), (status = 409, description = "Not under review", body = Problem, content_type = "application/problem+json"))
)]
#[post("/api/v1/counties/{county}/lists/{kind}/versions/{n}/withdraw")]
pub async fn withdraw_version(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String, i32)>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    let key = version_key(&path)?;
    principal.require(Permission::SubmitLists, &key.county)?;
    let expected = if_match.revision()?;
    let version = state
        .db
        .write(move |conn| Versions::withdraw(conn, &principal, &key, expected))
        .await?;
    Ok(with_etag(StatusCode::OK, version.revision, &version))
}
