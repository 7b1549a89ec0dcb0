//! Organisations of counties and townships: departments by sector, the justice bureau,
//! staffing office, approval bureau, county government and township units.

mod model;

pub use model::{
    known_sectors, Organisation, OrganisationFilter, OrganisationInput, OrganisationKind,
    DEPARTMENT_OF_COUNTY,
};

use actix_web::{delete, get, post, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Permission, Principal};
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::http::{
    parse_csv, with_etag, Format, IfMatch, ImportBody, ImportParams, ImportReport, Page,
    PageParams, ValidJson,
};
use crate::regions::RegionCode;
use crate::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(list_organisations)
        .service(create_organisation)
        .service(import_organisations)
        .service(get_organisation)
        .service(update_organisation)
        .service(delete_organisation);
}

/// Filters on the organisation list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganisationQuery {
    /// Only organisations of exactly this region.
    pub region: Option<String>,
    /// Only this kind.
    pub kind: Option<OrganisationKind>,
    /// Only this sector.
    pub sector: Option<String>,
}

/// Organisations inside the caller's region, in code order.
#[utoipa::path(
    tag = "organisations",
    params(OrganisationQuery, PageParams),
    responses((status = 200, body = Page<Organisation>))
)]
#[get("/api/v1/organisations")]
pub async fn list_organisations(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<OrganisationQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Organisation>>> {
    principal.require_any(Permission::ReadOrganisations)?;
    let page = page.into_inner().resolve()?;
    let query = query.into_inner();
    if let Some(region) = &query.region {
        let code = RegionCode::parse(region).map_err(|e| AppError::invalid("region", e))?;
        principal.require(Permission::ReadOrganisations, &code)?;
    }
    let filter = OrganisationFilter {
        scope: Some(principal.region.clone()),
        region: query.region,
        kind: query.kind,
        sector: query.sector,
    };
    let (items, total) = state
        .db
        .read(move |conn| Organisation::list(conn, &filter, page))
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// One organisation, with its revision as `ETag`.
#[utoipa::path(
    tag = "organisations",
    params(("code" = String, Path, description = "Organisation code")),
    responses((status = 200, body = Organisation, headers(("ETag" = String, description = "The revision"))))
)]
#[get("/api/v1/organisations/{code}")]
pub async fn get_organisation(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ReadOrganisations)?;
    let code = code.into_inner();
    let org = state
        .db
        .read(move |conn| Organisation::find(conn, &code))
        .await?;
    principal.require(Permission::ReadOrganisations, &org.region())?;
    Ok(with_etag(
        actix_web::http::StatusCode::OK,
        org.revision,
        &org,
    ))
}

/// Create an organisation. `catalogue_admin` (province) or `county_compiler` (county).
#[utoipa::path(
    tag = "organisations",
    request_body = OrganisationInput,
    responses(
        (status = 201, body = Organisation, headers(("ETag" = String, description = "The revision"))),
        (status = 409, description = "The code or the name is taken", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/organisations")]
pub async fn create_organisation(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<OrganisationInput>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageOrganisations)?;
    let input = body.into_inner();
    let org = state
        .db
        .write(move |conn| Organisation::create(conn, &principal, input))
        .await?;
    Ok(with_etag(
        actix_web::http::StatusCode::CREATED,
        org.revision,
        &org,
    ))
}

/// Replace an organisation's name, kind and sector. Needs `If-Match`.
#[utoipa::path(
    tag = "organisations",
    params(("code" = String, Path, description = "Organisation code"), ("If-Match" = String, Header, description = "The ETag you read")),
    request_body = OrganisationInput,
    responses((status = 200, body = Organisation, headers(("ETag" = String, description = "The new revision"))))
)]
#[put("/api/v1/organisations/{code}")]
pub async fn update_organisation(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
    if_match: IfMatch,
    body: ValidJson<OrganisationInput>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageOrganisations)?;
    let expected = if_match.revision()?;
    let code = code.into_inner();
    let input = body.into_inner();
    let org = state
        .db
        .write(move |conn| Organisation::update(conn, &principal, &code, expected, input))
        .await?;
    Ok(with_etag(
        actix_web::http::StatusCode::OK,
        org.revision,
        &org,
    ))
}

/// Delete an organisation nothing refers to. Needs `If-Match`.
#[utoipa::path(
    tag = "organisations",
    params(("code" = String, Path, description = "Organisation code"), ("If-Match" = String, Header, description = "The ETag you read")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Still referred to", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/api/v1/organisations/{code}")]
pub async fn delete_organisation(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageOrganisations)?;
    let expected = if_match.revision()?;
    let code = code.into_inner();
    state
        .db
        .write(move |conn| Organisation::delete(conn, &principal, &code, expected))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Import organisations from JSON (an array) or CSV (`code,name,kind,sector,region`),
/// all or nothing, within the caller's region.
#[utoipa::path(
    tag = "organisations",
    params(ImportParams),
    request_body(
        description = "JSON array of organisations, or CSV with header code,name,kind,sector,region",
        content((Vec<OrganisationInput> = "application/json"), (String = "text/csv"))
    ),
    responses(
        (status = 200, body = ImportReport),
        (status = 413, description = "The file is larger than the import limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/organisations/import")]
pub async fn import_organisations(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<ImportParams>,
    body: ImportBody,
) -> AppResult<HttpResponse> {
    principal.require(Permission::ManageOrganisations, &principal.region)?;
    let rows = parse_organisations(&body)?;
    let dry_run = params.dry_run;
    let report = state
        .db
        .write(move |conn| {
            let scope = principal.region.clone();
            Organisation::import(conn, &principal, Some(&scope), rows, dry_run)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Reads an organisation import file.
pub fn parse_organisations(body: &ImportBody) -> AppResult<Vec<(usize, OrganisationInput)>> {
    Ok(match body.format {
        Format::Json => body
            .json::<Vec<OrganisationInput>>()?
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i + 1, r))
            .collect(),
        Format::Csv => {
            let mut errors = Vec::new();
            let rows = parse_csv::<OrganisationCsvRow>(&body.bytes)?
                .into_iter()
                .filter_map(|(row, r)| r.into_input(row, &mut errors).map(|input| (row, input)))
                .collect();
            if !errors.is_empty() {
                return Err(AppError::Malformed {
                    detail: format!(
                        "the CSV file has {} problem(s); nothing was written",
                        errors.len()
                    ),
                    errors,
                });
            }
            rows
        }
    })
}

/// One CSV row: an empty sector cell means none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationCsvRow {
    code: String,
    name: String,
    kind: String,
    #[serde(default, deserialize_with = "crate::http::empty_as_none")]
    sector: Option<String>,
    region: String,
}

impl OrganisationCsvRow {
    /// The kind is read here rather than by serde so that a bad value names its column.
    fn into_input(self, row: usize, errors: &mut Vec<FieldError>) -> Option<OrganisationInput> {
        let Some(kind) = OrganisationKind::parse(&self.kind) else {
            errors.push(
                FieldError::new(
                    "kind",
                    format!(
                        "{:?} is not a kind; use one of {}",
                        self.kind,
                        OrganisationKind::names()
                    ),
                )
                .in_row(row),
            );
            return None;
        };
        Some(OrganisationInput {
            code: self.code,
            name: self.name,
            kind,
            sector: self.sector,
            region: self.region,
        })
    }
}
