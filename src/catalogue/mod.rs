//! The province catalogue of powers (法定和賦權指導目錄), in editions.

mod diff;
mod item;
mod model;
mod transfer;

pub use diff::{ChangedItem, EditionDiff, FieldChange};
pub use item::{DelegationMode, Item, ItemInput, ItemRecord, LegalBasis, Responsibility, Source};
pub use model::{
    dictionaries, dictionary_lists, DictionaryEntry, DictionaryLists, Edition, EditionPatch,
    EditionStatus, EditionView, ItemFilter, Items, NewEdition,
};
pub use transfer::{
    legal_basis_cell, legal_basis_from_cell, parse_items, EditionExport, ItemsDocument,
};

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{MaybePrincipal, Permission, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::http::expensive::{shared_json, WorkClass};
use crate::http::{download, with_etag, ExportQuery};
use crate::http::{
    CleanJson, Format, IfMatch, ImportBody, ImportParams, ImportReport, Page, PageParams, ValidJson,
};
use crate::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(get_dictionaries)
        .service(list_editions)
        .service(create_edition)
        .service(get_edition)
        .service(update_edition)
        .service(delete_edition)
        .service(publish_edition)
        .service(retire_edition)
        .service(copy_edition)
        .service(import_edition)
        .service(export_edition)
        .service(export_edition_csv)
        .service(list_items)
        .service(create_item)
        .service(get_item)
        .service(update_item)
        .service(delete_item)
        .service(diff_editions);
}

/// Registers the anonymous routes (see `crate::public`).
pub fn public_routes(cfg: &mut crate::http::Routes) {
    cfg.service(public_list_editions)
        .service(public_get_edition)
        .service(public_list_items)
        .service(public_get_item)
        .service(public_export_edition)
        .service(public_export_edition_csv)
        .service(public_diff_editions);
}

/// The item-type and sector dictionaries. Public.
#[utoipa::path(
    tag = "catalogue",
    responses((status = 200, body = DictionaryLists)),
    security(())
)]
#[get("/api/v1/dictionaries")]
pub async fn get_dictionaries(state: web::Data<AppState>) -> AppResult<web::Json<DictionaryLists>> {
    let dictionaries = state.db.read(dictionary_lists).await?;
    Ok(web::Json(dictionaries))
}

/// Filter on the edition list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EditionQuery {
    /// Only editions in this state.
    pub status: Option<EditionStatus>,
}

async fn editions_page(
    state: &AppState,
    reader: Option<Principal>,
    query: EditionQuery,
    page: PageParams,
) -> AppResult<web::Json<Page<EditionView>>> {
    let page = page.resolve()?;
    let (items, total) = state
        .db
        .read(move |conn| Edition::list(conn, reader.as_ref(), query.status, page))
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// Catalogue editions, newest first. Without a token, published and retired ones only.
#[utoipa::path(
    tag = "catalogue",
    params(EditionQuery, PageParams),
    responses((status = 200, body = Page<EditionView>)),
    security((), ("bearer" = []))
)]
#[get("/api/v1/catalogue/editions")]
pub async fn list_editions(
    state: web::Data<AppState>,
    reader: MaybePrincipal,
    query: web::Query<EditionQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<EditionView>>> {
    editions_page(&state, reader.0, query.into_inner(), page.into_inner()).await
}

/// Create an empty draft edition. `catalogue_admin`.
#[utoipa::path(
    tag = "catalogue",
    request_body = NewEdition,
    responses(
        (status = 201, body = Edition, headers(("ETag" = String, description = "The revision"))),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/catalogue/editions")]
pub async fn create_edition(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewEdition>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let input = body.into_inner();
    let edition = state
        .db
        .write(move |conn| Edition::create(conn, &principal, input))
        .await?;
    Ok(with_etag(StatusCode::CREATED, edition.revision, &edition))
}

async fn edition_view(
    state: &AppState,
    reader: Option<Principal>,
    code: String,
) -> AppResult<HttpResponse> {
    let view = state
        .db
        .read(move |conn| {
            let edition = Edition::find(conn, &code)?;
            edition.ensure_readable(reader.as_ref())?;
            edition.view(conn)
        })
        .await?;
    Ok(with_etag(StatusCode::OK, view.edition.revision, &view))
}

/// One edition with its item count; its revision is the `ETag`.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code")),
    responses((status = 200, body = EditionView, headers(("ETag" = String, description = "The revision")))),
    security((), ("bearer" = []))
)]
#[get("/api/v1/catalogue/editions/{edition}")]
pub async fn get_edition(
    state: web::Data<AppState>,
    reader: MaybePrincipal,
    edition: web::Path<String>,
) -> AppResult<HttpResponse> {
    edition_view(&state, reader.0, edition.into_inner()).await
}

/// Retitle a draft edition. Needs `If-Match`.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code"), ("If-Match" = String, Header, description = "The ETag you read")),
    request_body = EditionPatch,
    responses((status = 200, body = Edition, headers(("ETag" = String, description = "The new revision"))))
)]
#[put("/api/v1/catalogue/editions/{edition}")]
pub async fn update_edition(
    state: web::Data<AppState>,
    principal: Principal,
    edition: web::Path<String>,
    if_match: IfMatch,
    body: ValidJson<EditionPatch>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let expected = if_match.revision()?;
    let code = edition.into_inner();
    let patch = body.into_inner();
    let edition = state
        .db
        .write(move |conn| Edition::rename(conn, &principal, &code, expected, patch))
        .await?;
    Ok(with_etag(StatusCode::OK, edition.revision, &edition))
}

/// Delete a draft edition and its items. Needs `If-Match`.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code"), ("If-Match" = String, Header, description = "The ETag you read")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json"))
)]
#[delete("/api/v1/catalogue/editions/{edition}")]
pub async fn delete_edition(
    state: web::Data<AppState>,
    principal: Principal,
    edition: web::Path<String>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let expected = if_match.revision()?;
    let code = edition.into_inner();
    state
        .db
        .write(move |conn| Edition::delete(conn, &principal, &code, expected))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Publish a draft edition; it is immutable from then on. Needs `If-Match`.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code"), ("If-Match" = String, Header, description = "The ETag you read")),
    responses((status = 200, body = Edition), (status = 409, description = "Not a draft, or empty", body = Problem, content_type = "application/problem+json"))
)]
#[post("/api/v1/catalogue/editions/{edition}/publish")]
pub async fn publish_edition(
    state: web::Data<AppState>,
    principal: Principal,
    edition: web::Path<String>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let expected = if_match.revision()?;
    let code = edition.into_inner();
    let edition = state
        .db
        .write(move |conn| Edition::publish(conn, &principal, &code, expected))
        .await?;
    Ok(with_etag(StatusCode::OK, edition.revision, &edition))
}

/// Retire a published edition. Needs `If-Match`.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code"), ("If-Match" = String, Header, description = "The ETag you read")),
    responses((status = 200, body = Edition), (status = 409, description = "Not published", body = Problem, content_type = "application/problem+json"))
)]
#[post("/api/v1/catalogue/editions/{edition}/retire")]
pub async fn retire_edition(
    state: web::Data<AppState>,
    principal: Principal,
    edition: web::Path<String>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let expected = if_match.revision()?;
    let code = edition.into_inner();
    let edition = state
        .db
        .write(move |conn| Edition::retire(conn, &principal, &code, expected))
        .await?;
    Ok(with_etag(StatusCode::OK, edition.revision, &edition))
}

/// Start a new draft edition from a published one, copying its items.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Code of the published edition to copy")),
    request_body = NewEdition,
    responses(
        (status = 201, body = Edition, headers(("ETag" = String, description = "The revision"))),
        (status = 409, description = "The source is a draft, or the code is taken", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/catalogue/editions/{edition}/copy")]
pub async fn copy_edition(
    state: web::Data<AppState>,
    principal: Principal,
    edition: web::Path<String>,
    body: ValidJson<NewEdition>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let from = edition.into_inner();
    let input = body.into_inner();
    let edition = state
        .db
        .write(move |conn| Edition::copy(conn, &principal, &from, input))
        .await?;
    Ok(with_etag(StatusCode::CREATED, edition.revision, &edition))
}

/// Replace a draft's items with a JSON (`{"items": [...]}`) or CSV file, all or nothing.
/// Every problem is reported with its row and column. `?dry_run=true` checks without
/// writing; a real import needs `If-Match` with the edition's ETag.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code"), ("If-Match" = Option<String>, Header, description = "The edition's ETag (not needed for a dry run)"), ImportParams),
    request_body(
        description = "JSON {\"items\": [...]} or CSV with header code,name,category,source,delegation_mode,sector,domain,legal_basis,responsibilities,accountability,time_limit_days,high_frequency,service_guide,parent_code",
        content((ItemsDocument = "application/json"), (String = "text/csv"))
    ),
    responses(
        (status = 200, body = ImportReport),
        (status = 413, description = "The file is larger than the import limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/catalogue/editions/{edition}/import")]
pub async fn import_edition(
    state: web::Data<AppState>,
    principal: Principal,
    edition: web::Path<String>,
    if_match: IfMatch,
    params: web::Query<ImportParams>,
    body: ImportBody,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let dry_run = params.dry_run;
    let expected = if dry_run {
        None
    } else {
        Some(if_match.revision()?)
    };
    let rows = parse_items(&body)?;
    let code = edition.into_inner();
    let report = state
        .db
        .write(move |conn| Items::import(conn, &principal, &code, expected, rows, dry_run))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// An edition's export. A published (or retired) edition never changes, so its export is
/// made once per format and shared by every reader; a draft's is made each time.
async fn export(
    state: &AppState,
    reader: Option<Principal>,
    code: String,
    format: Format,
) -> AppResult<HttpResponse> {
    let stem = format!("catalogue-{code}");
    let key = format!("catalogue-export\n{code}\n{format:?}");
    if let Some(answer) = state.shared.ready(&key) {
        return Ok(download(answer.bytes.clone(), format, &stem));
    }
    let immutable = {
        let code = code.clone();
        state
            .db
            .read(move |conn| {
                let edition = Edition::find(conn, &code)?;
                edition.ensure_readable(reader.as_ref())?;
                Ok(edition.status != EditionStatus::Draft)
            })
            .await?
    };
    let db = state.db.clone();
    let render = move || {
        db.read_blocking(|conn| {
            let edition = Edition::find(conn, &code)?;
            let items = Items::all(conn, &code)?;
            transfer::render(edition.view(conn)?, items, format)
        })
    };
    let bytes = if immutable {
        state
            .shared
            .get_or_render(&state.gates, WorkClass::Export, key, render)
            .await?
            .bytes
            .clone()
    } else {
        state.gates.run(WorkClass::Export, render).await?.into()
    };
    Ok(download(bytes, format, &stem))
}

/// Export an edition as JSON (the document import reads). `export.csv` is the CSV form.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code")),
    responses((status = 200, description = "The edition", body = EditionExport)),
    security((), ("bearer" = []))
)]
#[get("/api/v1/catalogue/editions/{edition}/export")]
pub async fn export_edition(
    req: HttpRequest,
    state: web::Data<AppState>,
    reader: MaybePrincipal,
    edition: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    if let Some(redirect) = query.redirect(&req) {
        return Ok(redirect);
    }
    export(&state, reader.0, edition.into_inner(), Format::Json).await
}

/// Export an edition as CSV (UTF-8 with BOM, the columns import reads).
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code")),
    responses((status = 200, description = "The edition", content_type = "text/csv", body = String)),
    security((), ("bearer" = []))
)]
#[get("/api/v1/catalogue/editions/{edition}/export.csv")]
pub async fn export_edition_csv(
    state: web::Data<AppState>,
    reader: MaybePrincipal,
    edition: web::Path<String>,
) -> AppResult<HttpResponse> {
    export(&state, reader.0, edition.into_inner(), Format::Csv).await
}

/// Filters on the item list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// Item-type code, e.g. `02`.
    pub category: Option<String>,
    /// `statutory` or `delegable`.
    pub source: Option<Source>,
    /// Sector code.
    pub sector: Option<String>,
    /// Domain.
    pub domain: Option<String>,
    /// Only high-frequency items (`true`) or only the others (`false`).
    pub high_frequency: Option<bool>,
    /// Text that the name contains.
    pub q: Option<String>,
}

async fn items_page(
    state: &AppState,
    reader: Option<Principal>,
    code: String,
    query: ItemQuery,
    page: PageParams,
) -> AppResult<web::Json<Page<Item>>> {
    let page = page.resolve()?;
    let filter = ItemFilter {
        category: query.category,
        source: query.source.map(String::from),
        sector: query.sector,
        domain: query.domain,
        high_frequency: query.high_frequency,
        q: query.q.filter(|q| !q.trim().is_empty()),
    };
    let (items, total) = state
        .db
        .read(move |conn| {
            let edition = Edition::find(conn, &code)?;
            edition.ensure_readable(reader.as_ref())?;
            Items::list(conn, &code, &filter, page)
        })
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// Items of an edition in code order, with filters.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code"), ItemQuery, PageParams),
    responses((status = 200, body = Page<Item>)),
    security((), ("bearer" = []))
)]
#[get("/api/v1/catalogue/editions/{edition}/items")]
pub async fn list_items(
    state: web::Data<AppState>,
    reader: MaybePrincipal,
    edition: web::Path<String>,
    query: web::Query<ItemQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Item>>> {
    items_page(
        &state,
        reader.0,
        edition.into_inner(),
        query.into_inner(),
        page.into_inner(),
    )
    .await
}

/// Add an item to a draft edition. `catalogue_admin`.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code")),
    request_body = ItemInput,
    responses(
        (status = 201, body = Item, headers(("ETag" = String, description = "The revision"))),
        (status = 409, description = "The code is taken, or the edition is not a draft", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/catalogue/editions/{edition}/items")]
pub async fn create_item(
    state: web::Data<AppState>,
    principal: Principal,
    edition: web::Path<String>,
    body: CleanJson<ItemInput>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let code = edition.into_inner();
    let input = body.into_inner();
    let item = state
        .db
        .write(move |conn| Items::create(conn, &principal, &code, input))
        .await?;
    Ok(with_etag(StatusCode::CREATED, item.revision, &item))
}

async fn item_view(
    state: &AppState,
    reader: Option<Principal>,
    edition: String,
    code: String,
) -> AppResult<HttpResponse> {
    let item = state
        .db
        .read(move |conn| {
            Edition::find(conn, &edition)?.ensure_readable(reader.as_ref())?;
            Items::find(conn, &edition, &code)
        })
        .await?;
    Ok(with_etag(StatusCode::OK, item.revision, &item))
}

/// One item by its code; its revision is the `ETag`.
#[utoipa::path(
    tag = "catalogue",
    params(("edition" = String, Path, description = "Edition code"), ("code" = String, Path, description = "Item code")),
    responses((status = 200, body = Item, headers(("ETag" = String, description = "The revision")))),
    security((), ("bearer" = []))
)]
#[get("/api/v1/catalogue/editions/{edition}/items/{code}")]
pub async fn get_item(
    state: web::Data<AppState>,
    reader: MaybePrincipal,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (edition, code) = path.into_inner();
    item_view(&state, reader.0, edition, code).await
}

/// Replace an item in a draft edition. Needs `If-Match`.
#[utoipa::path(
    tag = "catalogue",
    params(
        ("edition" = String, Path, description = "Edition code"),
        ("code" = String, Path, description = "Item code"),
        ("If-Match" = String, Header, description = "The ETag you read")
    ),
    request_body = ItemInput,
    responses((status = 200, body = Item, headers(("ETag" = String, description = "The new revision"))))
)]
#[put("/api/v1/catalogue/editions/{edition}/items/{code}")]
pub async fn update_item(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
    body: CleanJson<ItemInput>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let expected = if_match.revision()?;
    let (edition, code) = path.into_inner();
    let input = body.into_inner();
    let item = state
        .db
        .write(move |conn| Items::update(conn, &principal, &edition, &code, expected, input))
        .await?;
    Ok(with_etag(StatusCode::OK, item.revision, &item))
}

/// Remove an item from a draft edition. Needs `If-Match`.
#[utoipa::path(
    tag = "catalogue",
    params(
        ("edition" = String, Path, description = "Edition code"),
        ("code" = String, Path, description = "Item code"),
        ("If-Match" = String, Header, description = "The ETag you read")
    ),
    responses((status = 204, description = "Removed"), (status = 409, description = "Has sub-items, or the edition is not a draft", body = Problem, content_type = "application/problem+json"))
)]
#[delete("/api/v1/catalogue/editions/{edition}/items/{code}")]
pub async fn delete_item(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageCatalogue)?;
    let expected = if_match.revision()?;
    let (edition, code) = path.into_inner();
    state
        .db
        .write(move |conn| Items::delete(conn, &principal, &edition, &code, expected))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The two editions to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The older edition.
    pub from: String,
    /// The newer edition.
    pub to: String,
}

/// A diff of two editions. Two published (or retired) editions never change, so their
/// diff is made once and shared by every reader; a diff with a draft is made each time.
async fn diff_of(
    req: &HttpRequest,
    state: &AppState,
    reader: Option<Principal>,
    query: DiffQuery,
) -> AppResult<HttpResponse> {
    let DiffQuery { from, to } = query;
    let key = format!("catalogue-diff\n{from}\n{to}");
    if let Some(answer) = state.shared.ready(&key) {
        return Ok(shared_json(
            req,
            &answer,
            "public, max-age=31536000, immutable",
        ));
    }
    let immutable = {
        let (from, to) = (from.clone(), to.clone());
        state
            .db
            .read(move |conn| {
                let mut immutable = true;
                for code in [&from, &to] {
                    let edition = Edition::find(conn, code)?;
                    edition.ensure_readable(reader.as_ref())?;
                    immutable &= edition.status != EditionStatus::Draft;
                }
                Ok(immutable)
            })
            .await?
    };
    let db = state.db.clone();
    let render = move || {
        db.read_blocking(|conn| {
            let (old, new) = (Items::all(conn, &from)?, Items::all(conn, &to)?);
            Ok(serde_json::to_vec(&diff::diff(&from, old, &to, new))?)
        })
    };
    if immutable {
        let answer = state
            .shared
            .get_or_render(&state.gates, WorkClass::Diff, key, render)
            .await?;
        return Ok(shared_json(
            req,
            &answer,
            "public, max-age=31536000, immutable",
        ));
    }
    let bytes = state.gates.run(WorkClass::Diff, render).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes))
}

/// Compare two editions by item code: added, removed, and changed with the changed fields.
#[utoipa::path(
    tag = "catalogue",
    params(DiffQuery),
    responses((status = 200, body = EditionDiff)),
    security((), ("bearer" = []))
)]
#[get("/api/v1/catalogue/diff")]
pub async fn diff_editions(
    req: HttpRequest,
    state: web::Data<AppState>,
    reader: MaybePrincipal,
    query: web::Query<DiffQuery>,
) -> AppResult<HttpResponse> {
    diff_of(&req, &state, reader.0, query.into_inner()).await
}

/// Published and retired catalogue editions, for portals. No token.
#[utoipa::path(tag = "public", params(EditionQuery, PageParams), responses((status = 200, body = Page<EditionView>)))]
#[get("/public/v1/catalogue/editions")]
pub async fn public_list_editions(
    state: web::Data<AppState>,
    query: web::Query<EditionQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<EditionView>>> {
    editions_page(&state, None, query.into_inner(), page.into_inner()).await
}

/// One published edition. No token.
#[utoipa::path(tag = "public", params(("edition" = String, Path, description = "Edition code")), responses((status = 200, body = EditionView)))]
#[get("/public/v1/catalogue/editions/{edition}")]
pub async fn public_get_edition(
    state: web::Data<AppState>,
    edition: web::Path<String>,
) -> AppResult<HttpResponse> {
    edition_view(&state, None, edition.into_inner()).await
}

/// Items of a published edition. No token.
#[utoipa::path(
    tag = "public",
    params(("edition" = String, Path, description = "Edition code"), ItemQuery, PageParams),
    responses((status = 200, body = Page<Item>))
)]
#[get("/public/v1/catalogue/editions/{edition}/items")]
pub async fn public_list_items(
    state: web::Data<AppState>,
    edition: web::Path<String>,
    query: web::Query<ItemQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Item>>> {
    items_page(
        &state,
        None,
        edition.into_inner(),
        query.into_inner(),
        page.into_inner(),
    )
    .await
}

/// One item of a published edition. No token.
#[utoipa::path(
    tag = "public",
    params(("edition" = String, Path, description = "Edition code"), ("code" = String, Path, description = "Item code")),
    responses((status = 200, body = Item))
)]
#[get("/public/v1/catalogue/editions/{edition}/items/{code}")]
pub async fn public_get_item(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (edition, code) = path.into_inner();
    item_view(&state, None, edition, code).await
}

/// A published edition as JSON. `export.csv` is the CSV form. No token.
#[utoipa::path(
    tag = "public",
    params(("edition" = String, Path, description = "Edition code")),
    responses((status = 200, description = "The edition", body = EditionExport))
)]
#[get("/public/v1/catalogue/editions/{edition}/export")]
pub async fn public_export_edition(
    req: HttpRequest,
    state: web::Data<AppState>,
    edition: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    if let Some(redirect) = query.redirect(&req) {
        return Ok(redirect);
    }
    export(&state, None, edition.into_inner(), Format::Json).await
}

/// A published edition as CSV. No token.
#[utoipa::path(
    tag = "public",
    params(("edition" = String, Path, description = "Edition code")),
    responses((status = 200, description = "The edition", content_type = "text/csv", body = String))
)]
#[get("/public/v1/catalogue/editions/{edition}/export.csv")]
pub async fn public_export_edition_csv(
    state: web::Data<AppState>,
    edition: web::Path<String>,
) -> AppResult<HttpResponse> {
    export(&state, None, edition.into_inner(), Format::Csv).await
}

/// Compare two published editions. No token.
#[utoipa::path(tag = "public", params(DiffQuery), responses((status = 200, body = EditionDiff)))]
#[get("/public/v1/catalogue/diff")]
pub async fn public_diff_editions(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<DiffQuery>,
) -> AppResult<HttpResponse> {
    diff_of(&req, &state, None, query.into_inner()).await
}

/// Reads an import for the command line (JSON or CSV by file extension).
pub fn read_import_file(path: &str) -> AppResult<Vec<(usize, ItemInput)>> {
    let bytes = std::fs::read(path)
        .map_err(|e| AppError::BadRequest(format!("cannot read {path}: {e}")))?;
    let format = if path.ends_with(".csv") {
        Format::Csv
    } else {
        Format::Json
    };
    parse_items(&ImportBody {
        format,
        bytes: bytes.into(),
    })
}
