//! Regions by statistical division code: province → city → county → township.

mod model;

pub use crate::codes::{Level, RegionCode, TownshipKind};
pub use model::{township_named, Region, RegionFilter, RegionInput};

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Permission, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::http::{parse_csv, Format, ImportBody, ImportParams, ImportReport, Page, PageParams};
use crate::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(list_regions)
        .service(import_regions)
        .service(get_region)
        .service(list_region_children);
}

/// Filters on the region list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionQuery {
    /// Only regions of this level (`province`, `city`, `county`, `township`).
    pub level: Option<String>,
    /// Only the children of this region.
    pub parent: Option<String>,
}

/// Parses a code from a path or query, as a 404 or 422 as fits.
pub fn path_code(code: &str) -> AppResult<RegionCode> {
    RegionCode::parse(code).map_err(|e| AppError::NotFound(format!("no such region: {e}")))
}

/// Parses a path segment that must name a county; 404 otherwise.
pub fn county_path(code: &str) -> AppResult<RegionCode> {
    let region = path_code(code)?;
    if region.level() != Level::County {
        return Err(AppError::NotFound(format!("{region} is not a county")));
    }
    Ok(region)
}

/// List regions (provinces when no filter is given). Public reference data.
#[utoipa::path(
    tag = "regions",
    params(RegionQuery, PageParams),
    responses((status = 200, description = "A page of regions in code order", body = Page<Region>)),
    security(())
)]
#[get("/api/v1/regions")]
pub async fn list_regions(
    state: web::Data<AppState>,
    query: web::Query<RegionQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Region>>> {
    let page = page.into_inner().resolve()?;
    let query = query.into_inner();
    let level = match query.level.as_deref() {
        None => None,
        Some(l) => Some(Level::parse(l).ok_or_else(|| {
            AppError::invalid("level", "must be province, city, county or township")
        })?),
    };
    if let Some(parent) = &query.parent {
        RegionCode::parse(parent).map_err(|e| AppError::invalid("parent", e))?;
    }
    let filter = RegionFilter {
        level,
        parent: query.parent,
    };
    let (items, total) = state
        .db
        .read(move |conn| Region::list(conn, &filter, page))
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// One region.
#[utoipa::path(
    tag = "regions",
    params(("code" = String, Path, description = "12-digit division code")),
    responses((status = 200, body = Region)),
    security(())
)]
#[get("/api/v1/regions/{code}")]
pub async fn get_region(
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> AppResult<web::Json<Region>> {
    let code = path_code(&code)?;
    let region = state
        .db
        .read(move |conn| Region::find(conn, code.as_str()))
        .await?;
    Ok(web::Json(region))
}

/// The children of a region, in code order.
#[utoipa::path(
    tag = "regions",
    params(("code" = String, Path, description = "12-digit division code"), PageParams),
    responses((status = 200, body = Page<Region>)),
    security(())
)]
#[get("/api/v1/regions/{code}/children")]
pub async fn list_region_children(
    state: web::Data<AppState>,
    code: web::Path<String>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Region>>> {
    let page = page.into_inner().resolve()?;
    let code = path_code(&code)?;
    let (items, total) = state
        .db
        .read(move |conn| {
            Region::find(conn, code.as_str())?;
            let filter = RegionFilter {
                level: None,
                parent: Some(code.to_string()),
            };
            Region::list(conn, &filter, page)
        })
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// Import regions from JSON (an array of objects) or CSV (`code,name,level,parent`),
/// all or nothing. `catalogue_admin` within its province.
#[utoipa::path(
    tag = "regions",
    params(ImportParams),
    request_body(
        description = "JSON array of regions, or CSV with header code,name,level,parent",
        content(
            (Vec<RegionInput> = "application/json"),
            (String = "text/csv")
        )
    ),
    responses(
        (status = 200, description = "Imported (or checked, on a dry run)", body = ImportReport),
        (status = 413, description = "The file is larger than the import limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/regions/import")]
pub async fn import_regions(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<ImportParams>,
    body: ImportBody,
) -> AppResult<HttpResponse> {
    principal.require(Permission::ManageRegions, &principal.region)?;
    let rows = match body.format {
        Format::Json => body
            .json::<Vec<RegionInput>>()?
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i + 1, r))
            .collect(),
        Format::Csv => parse_csv::<RegionInput>(&body.bytes)?,
    };
    let dry_run = params.dry_run;
    let report = state
        .db
        .write(move |conn| {
            let scope = principal.region.clone();
            Region::import(conn, &principal, Some(&scope), rows, dry_run)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
