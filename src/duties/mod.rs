//! 屬地管理 responsibility lists (屬地管理事項責任清單): per county, matters that a
//! department leads and others support, with the township's duties; duty admission; and
//! the dispatch lookup "in this township, who leads this matter?".

mod admissions;
mod model;
mod stats;
mod transfer;

pub use admissions::{
    Admission, AdmissionAcceptance, AdmissionRejection, AdmissionRequest, AdmissionStatus,
    Admissions,
};
pub use model::{
    DepartmentDuties, DepartmentRole, DutyList, DutyLists, Matter, MatterFilter, MatterInput,
};
pub use stats::{duty_statistics, DepartmentLoad, DutyStatistics, OneMatterFigures};
pub use transfer::{parse_matters, DutyListExport, MattersDocument};

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Permission, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::http::expensive::WorkClass;
use crate::http::{download, with_etag, ExportQuery};
use crate::http::{
    CleanJson, Format, IfMatch, ImportBody, ImportParams, ImportReport, Page, PageParams,
};
use crate::regions::county_path;
use crate::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(get_duty_list)
        .service(list_matters)
        .service(create_matter)
        .service(import_duty_list)
        .service(export_duty_list)
        .service(export_duty_list_csv)
        .service(get_duty_statistics)
        .service(get_matter)
        .service(update_matter)
        .service(delete_matter)
        .service(lookup_duties)
        .service(request_admission)
        .service(list_admissions)
        .service(get_admission)
        .service(accept_admission)
        .service(reject_admission);
}

/// The working copy's header: its revision (the ETag an import needs) and size.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code")),
    responses((status = 200, body = DutyList, headers(("ETag" = String, description = "The list's revision"))))
)]
#[get("/api/v1/counties/{county}/duty-list")]
pub async fn get_duty_list(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
) -> AppResult<HttpResponse> {
    let county = county_path(&county)?;
    principal.require_related(Permission::ReadDutyList, &county)?;
    let list = state
        .db
        .read(move |conn| DutyLists::header(conn, &county))
        .await?;
    Ok(with_etag(StatusCode::OK, list.revision, &list))
}

/// Filters on the matter list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatterQuery {
    /// Domain.
    pub domain: Option<String>,
    /// Organisation code of the lead department.
    pub lead: Option<String>,
    /// Organisation code of a supporting department.
    pub supporter: Option<String>,
    /// Only one-matter (一件事) matters, or only the others.
    pub one_matter: Option<bool>,
    /// Text in the name, in simplified or traditional script.
    pub q: Option<String>,
}

/// The matters of a county's list, in code order, with filters.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code"), MatterQuery, PageParams),
    responses((status = 200, body = Page<Matter>))
)]
#[get("/api/v1/counties/{county}/duty-list/matters")]
pub async fn list_matters(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    query: web::Query<MatterQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Matter>>> {
    let county = county_path(&county)?;
    principal.require_related(Permission::ReadDutyList, &county)?;
    let page = page.into_inner().resolve()?;
    let q = query.into_inner();
    let filter = MatterFilter {
        domain: q.domain,
        lead: q.lead,
        supporter: q.supporter,
        one_matter: q.one_matter,
        q: q.q,
    };
    let (items, total) = state
        .db
        .read(move |conn| DutyLists::list(conn, &county, &filter, page))
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// Add a matter. `county_compiler`.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code")),
    request_body = MatterInput,
    responses(
        (status = 201, body = Matter, headers(("ETag" = String, description = "The matter's revision"))),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/counties/{county}/duty-list/matters")]
pub async fn create_matter(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    body: CleanJson<MatterInput>,
) -> AppResult<HttpResponse> {
    let county = county_path(&county)?;
    principal.require(Permission::ManageDutyList, &county)?;
    let input = body.into_inner();
    let matter = state
        .db
        .write(move |conn| DutyLists::create(conn, &principal, &county, input))
        .await?;
    Ok(with_etag(StatusCode::CREATED, matter.revision, &matter))
}

/// One matter; its revision is the `ETag`.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code"), ("code" = String, Path, description = "Matter code")),
    responses((status = 200, body = Matter, headers(("ETag" = String, description = "The revision"))))
)]
#[get("/api/v1/counties/{county}/duty-list/matters/{code}")]
pub async fn get_matter(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (county, code) = path.into_inner();
    let county = county_path(&county)?;
    principal.require_related(Permission::ReadDutyList, &county)?;
    let matter = state
        .db
        .read(move |conn| DutyLists::find(conn, &county, &code))
        .await?;
    Ok(with_etag(StatusCode::OK, matter.revision, &matter))
}

/// Replace a matter. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "duties",
    params(
        ("county" = String, Path, description = "County division code"),
        ("code" = String, Path, description = "Matter code"),
        ("If-Match" = String, Header, description = "The ETag you read")
    ),
    request_body = MatterInput,
    responses((status = 200, body = Matter, headers(("ETag" = String, description = "The new revision"))))
)]
#[put("/api/v1/counties/{county}/duty-list/matters/{code}")]
pub async fn update_matter(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
    body: CleanJson<MatterInput>,
) -> AppResult<HttpResponse> {
    let (county, code) = path.into_inner();
    let county = county_path(&county)?;
    principal.require(Permission::ManageDutyList, &county)?;
    let expected = if_match.revision()?;
    let input = body.into_inner();
    let matter = state
        .db
        .write(move |conn| DutyLists::update(conn, &principal, &county, &code, expected, input))
        .await?;
    Ok(with_etag(StatusCode::OK, matter.revision, &matter))
}

/// Remove a matter. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "duties",
    params(
        ("county" = String, Path, description = "County division code"),
        ("code" = String, Path, description = "Matter code"),
        ("If-Match" = String, Header, description = "The ETag you read")
    ),
    responses((status = 204, description = "Removed"))
)]
#[delete("/api/v1/counties/{county}/duty-list/matters/{code}")]
pub async fn delete_matter(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    let (county, code) = path.into_inner();
    let county = county_path(&county)?;
    principal.require(Permission::ManageDutyList, &county)?;
    let expected = if_match.revision()?;
    state
        .db
        .write(move |conn| DutyLists::delete(conn, &principal, &county, &code, expected))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the whole list from JSON (`{"matters": [...]}`) or CSV, all or nothing, with
/// every problem reported by row and column. `?dry_run=true` checks without writing; a
/// real import needs `If-Match` with the list's ETag (`"0"` before the first matter).
#[utoipa::path(
    tag = "duties",
    params(
        ("county" = String, Path, description = "County division code"),
        ("If-Match" = Option<String>, Header, description = "The list's ETag (not needed for a dry run)"),
        ImportParams
    ),
    request_body(
        description = "JSON {\"matters\": [...]} or CSV with header code,name,domain,legal_basis,lead_department,lead_duties,supporters,township_duties,one_matter,lead_response_minutes,support_arrival_minutes,notes",
        content((MattersDocument = "application/json"), (String = "text/csv"))
    ),
    responses(
        (status = 200, body = ImportReport),
        (status = 413, description = "The file is larger than the import limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/counties/{county}/duty-list/import")]
pub async fn import_duty_list(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    if_match: IfMatch,
    params: web::Query<ImportParams>,
    body: ImportBody,
) -> AppResult<HttpResponse> {
    let county = county_path(&county)?;
    principal.require(Permission::ManageDutyList, &county)?;
    let dry_run = params.dry_run;
    let expected = if dry_run {
        None
    } else {
        Some(if_match.revision()?)
    };
    let rows = parse_matters(&body)?;
    let report = state
        .db
        .write(move |conn| DutyLists::import(conn, &principal, &county, expected, rows, dry_run))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Export the list as JSON (the document import reads). `export.csv` is the CSV form.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code")),
    responses((status = 200, description = "The list", body = DutyListExport))
)]
#[get("/api/v1/counties/{county}/duty-list/export")]
pub async fn export_duty_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    if let Some(redirect) = query.redirect(&req) {
        return Ok(redirect);
    }
    export_list(&state, &principal, &county, Format::Json).await
}

/// Export the list as CSV (UTF-8 with BOM, the columns import reads).
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code")),
    responses((status = 200, description = "The list", content_type = "text/csv", body = String))
)]
#[get("/api/v1/counties/{county}/duty-list/export.csv")]
pub async fn export_duty_list_csv(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
) -> AppResult<HttpResponse> {
    export_list(&state, &principal, &county, Format::Csv).await
}

async fn export_list(
    state: &AppState,
    principal: &Principal,
    county: &str,
    format: Format,
) -> AppResult<HttpResponse> {
    let county = county_path(county)?;
    principal.require_related(Permission::ReadDutyList, &county)?;
    let name = county.to_string();
    let db = state.db.clone();
    let read = move || {
        db.read_blocking(|conn| {
            let list = DutyLists::header(conn, &county)?;
            let matters = DutyLists::all(conn, &county)?;
            transfer::render(list, &matters, format)
        })
    };
    let bytes = state.gates.run(WorkClass::Export, read).await?;
    Ok(download(bytes, format, &format!("duty-list-{name}")))
}

/// The list's figures: matters, departments involved, leads, supporters, and the
/// one-matter subset with its distinct leads and collaborators.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code")),
    responses((status = 200, body = DutyStatistics))
)]
#[get("/api/v1/counties/{county}/duty-list/statistics")]
pub async fn get_duty_statistics(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
) -> AppResult<web::Json<DutyStatistics>> {
    let county = county_path(&county)?;
    principal.require_related(Permission::ReadDutyList, &county)?;
    let db = state.db.clone();
    let read = move || db.read_blocking(|conn| duty_statistics(conn, &county));
    let stats = state.gates.run(WorkClass::Statistics, read).await?;
    Ok(web::Json(stats))
}

/// A lookup: which township, which text.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// Township division code.
    pub township: String,
    /// Words of the matter, in simplified or traditional script; every word must match.
    #[param(pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    pub q: String,
}

/// The answer to a lookup.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupResult {
    /// The township.
    pub township: String,
    /// Its name.
    pub township_name: String,
    /// Its county, whose list answered.
    pub county: String,
    /// Where the answer comes from: `working_copy`.
    pub source: String,
    /// The matters that match, with lead, supporters and the township's duties.
    pub matches: Vec<Matter>,
}

/// Dispatch lookup on the working copy: in this township, who leads the matter, who
/// supports, and what the township must do. Matching ignores the script (油烟 finds 油煙).
#[utoipa::path(
    tag = "duties",
    params(LookupQuery),
    responses((status = 200, body = LookupResult))
)]
#[get("/api/v1/lookup")]
pub async fn lookup_duties(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<LookupQuery>,
) -> AppResult<web::Json<LookupResult>> {
    principal.require_any(Permission::ReadDutyList)?;
    let LookupQuery { township, q } = query.into_inner();
    if crate::text::search_terms(&q).is_empty() {
        return Err(AppError::invalid("q", "say what the matter is about"));
    }
    let result = state
        .db
        .read(move |conn| {
            let (code, name) = crate::regions::township_named(conn, &township)?;
            let county = code.county().expect("a township lies in a county");
            principal.require_related(Permission::ReadDutyList, &code)?;
            let filter = MatterFilter {
                q: Some(q),
                ..Default::default()
            };
            let page = crate::http::PageRequest {
                page: 1,
                size: crate::http::MAX_PAGE_SIZE,
            };
            let (matches, _) = DutyLists::list(conn, &county, &filter, page)?;
            Ok(LookupResult {
                township: code.to_string(),
                township_name: name,
                county: county.to_string(),
                source: "working_copy".into(),
                matches,
            })
        })
        .await?;
    Ok(web::Json(result))
}

/// Ask for a matter outside the list to be admitted (職責準入). `department_officer` of a
/// department of the county.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code")),
    request_body = AdmissionRequest,
    responses((status = 201, body = Admission, headers(("ETag" = String, description = "The request's revision"))))
)]
#[post("/api/v1/counties/{county}/duty-admissions")]
pub async fn request_admission(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    body: CleanJson<AdmissionRequest>,
) -> AppResult<HttpResponse> {
    let county = county_path(&county)?;
    principal.require(Permission::RequestDutyAdmission, &county)?;
    let request = body.into_inner();
    let admission = state
        .db
        .write(move |conn| Admissions::request(conn, &principal, &county, request))
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        admission.revision,
        &admission,
    ))
}

/// Filter on admission requests.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdmissionQuery {
    /// Only requests in this state.
    pub status: Option<AdmissionStatus>,
}

/// A county's admission requests, newest first.
#[utoipa::path(
    tag = "duties",
    params(("county" = String, Path, description = "County division code"), AdmissionQuery, PageParams),
    responses((status = 200, body = Page<Admission>))
)]
#[get("/api/v1/counties/{county}/duty-admissions")]
pub async fn list_admissions(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    query: web::Query<AdmissionQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Admission>>> {
    let county = county_path(&county)?;
    principal.require_related(Permission::ReadDutyList, &county)?;
    let page = page.into_inner().resolve()?;
    let status = query.status;
    let (items, total) = state
        .db
        .read(move |conn| Admissions::list(conn, &county, status, page))
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// One admission request; its revision is the `ETag`.
#[utoipa::path(
    tag = "duties",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = Admission, headers(("ETag" = String, description = "The revision"))))
)]
#[get("/api/v1/duty-admissions/{id}")]
pub async fn get_admission(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ReadDutyList)?;
    let id = id.into_inner();
    let admission = state
        .db
        .read(move |conn| Admissions::find(conn, id))
        .await?;
    principal.require_related(Permission::ReadDutyList, &county_path(&admission.county)?)?;
    Ok(with_etag(StatusCode::OK, admission.revision, &admission))
}

/// The outcome of an acceptance.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedAdmission {
    /// The request, now accepted.
    pub admission: Admission,
    /// The matter added to the working copy.
    pub matter: Matter,
}

/// Accept a request: the matter (as proposed, or as amended in the body) joins the
/// working copy under every rule of the list. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "duties",
    params(("id" = i64, Path, description = "Request id"), ("If-Match" = String, Header, description = "The request's ETag")),
    request_body = AdmissionAcceptance,
    responses(
        (status = 200, body = AcceptedAdmission),
        (status = 409, description = "Already decided, or the matter's code is taken", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/duty-admissions/{id}/accept")]
pub async fn accept_admission(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    if_match: IfMatch,
    body: CleanJson<AdmissionAcceptance>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageDutyList)?;
    let expected = if_match.revision()?;
    let id = id.into_inner();
    let acceptance = body.into_inner();
    let (admission, matter) = state
        .db
        .write(move |conn| Admissions::accept(conn, &principal, id, expected, acceptance))
        .await?;
    Ok(with_etag(
        StatusCode::OK,
        admission.revision,
        &AcceptedAdmission { admission, matter },
    ))
}

/// Reject a request with a reason. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "duties",
    params(("id" = i64, Path, description = "Request id"), ("If-Match" = String, Header, description = "The request's ETag")),
    request_body = AdmissionRejection,
    responses(
        (status = 200, body = Admission),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/duty-admissions/{id}/reject")]
pub async fn reject_admission(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    if_match: IfMatch,
    body: CleanJson<AdmissionRejection>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageDutyList)?;
    let expected = if_match.revision()?;
    let id = id.into_inner();
    let rejection = body.into_inner();
    let admission = state
        .db
        .write(move |conn| Admissions::reject(conn, &principal, id, expected, rejection))
        .await?;
    Ok(with_etag(StatusCode::OK, admission.revision, &admission))
}
