//! The public read API: published material only, no token, cacheable.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::cache::{
    signature_header, EntityTags, FilteredAnswer, FilteredKey, OnDemand, Published, Slice,
    SliceFilter, SliceIndex,
};
use super::document::{diff_documents, sha256_hex, DocumentDiff, ListKind};
use super::model::{PublicReview, Version, Versions};
use super::rendered::{gzipped, slice_bytes, Rendered, SliceHead};
use super::shapes::{ListDocument, TownshipPowerList};
use crate::audit::Anchor;
use crate::error::{AppError, AppResult};
use crate::http::expensive::{not_modified, shared_json, SharedBody, WorkClass};
use crate::keys::JwkSet;
use crate::regions::county_path;
use crate::regions::{Level, RegionCode};
use crate::text::search_terms;
use crate::AppState;

/// Published versions by number never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// What is in force changes when a version is published: revalidate after a minute.
const IN_FORCE: &str = "public, max-age=60, must-revalidate";
/// The header that carries a published body's detached JWS.
pub const SIGNATURE_HEADER: &str = "x-jws-signature";

/// Registers the routes. The router tries each in turn with a regex, so a township's
/// slice, the read portals make most, comes first.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(public_township_power_list)
        .service(public_list_in_force)
        .service(public_keys)
        .service(public_list_versions)
        .service(public_version)
        .service(public_diff)
        .service(public_lookup);
}

/// `?at=YYYY-MM-DD`: the date whose version in force is wanted (default today, China
/// Standard Time).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// A date, `YYYY-MM-DD`.
    pub at: Option<String>,
}

fn parse_date(field: &str, value: Option<&str>) -> AppResult<NaiveDate> {
    match value {
        None => Ok(crate::db::today()),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| AppError::invalid(field, "must be a date, YYYY-MM-DD")),
    }
}

/// The body of an answer from cached bytes.
enum Encoded {
    /// The bytes as they are (`Compress` may still encode them, if they were made for
    /// this request and have no cached copy).
    Identity(Bytes),
    /// Their cached gzip copy.
    Gzip(Bytes),
}

/// Whether `Accept-Encoding` admits gzip (`gzip`, `x-gzip` or `*`, with a non-zero q).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let mut star = false;
    for coding in req
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let accepted = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .all(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0));
        match name.as_str() {
            "gzip" | "x-gzip" => return accepted,
            "*" => star = accepted,
            _ => {}
        }
    }
    star
}

/// Cached bytes as the client will take them: their gzip copy when gzip is accepted,
/// otherwise the bytes themselves.
async fn negotiated(
    req: &HttpRequest,
    bytes: &Bytes,
    gzip: &OnDemand<Bytes>,
) -> AppResult<Encoded> {
    if !accepts_gzip(req) {
        return Ok(Encoded::Identity(bytes.clone()));
    }
    let copy = gzip
        .get_or_make(bytes, |b| Ok(Bytes::from(gzipped(b))))
        .await?;
    Ok(Encoded::Gzip(copy.clone()))
}

/// An answer from cached bytes: 304 when the client has them, else the bytes. Headers
/// are made once with the bytes, so nothing here formats or validates text.
fn cached(
    req: &HttpRequest,
    tags: &EntityTags,
    signature: &HeaderValue,
    body: Encoded,
    cache_control: &'static str,
    location: Option<&HeaderValue>,
) -> HttpResponse {
    let tag = match body {
        Encoded::Gzip(_) => &tags.gzip,
        Encoded::Identity(_) => &tags.identity,
    };
    let fresh = not_modified(req.headers(), tag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    // Every answer here depends on Accept-Encoding, through its gzip copy or `Compress`.
    response
        .insert_header((header::ETAG, tag.clone()))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ))
        .insert_header((header::VARY, HeaderValue::from_static("accept-encoding")));
    if let Some(location) = location {
        response.insert_header((header::CONTENT_LOCATION, location.clone()));
    }
    if fresh {
        return response.finish();
    }
    // A gzip answer carries the signature of its decoded bytes: what the client reads.
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .insert_header((SIGNATURE_HEADER, signature.clone()));
    match body {
        Encoded::Identity(bytes) => response.body(SharedBody::new(bytes)),
        Encoded::Gzip(bytes) => response
            .insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
            .body(SharedBody::new(bytes)),
    }
}

/// The published version in force for a county and kind on a date. The hot path: memory
/// answers while its answer is fresh; otherwise one indexed query.
async fn in_force(
    state: &AppState,
    county: &RegionCode,
    kind: ListKind,
    date: NaiveDate,
) -> AppResult<Arc<Version>> {
    let cache = &state.publication.cache;
    if let Some(Some(version)) = cache.cached_in_force(county, kind, date) {
        return Ok(version);
    }
    let publication = state.publication.clone();
    let county = county.clone();
    state
        .reads
        .read(move |conn| {
            publication
                .cache
                .refresh_in_force(conn, &county, kind, date)?
                .ok_or_else(|| {
                    AppError::NotFound(format!(
                        "no {} list of county {county} is in force on {date}",
                        kind.as_str()
                    ))
                })
        })
        .await
}

/// A version's whole document: from memory, or read from storage on a blocking thread,
/// once however many ask for it at once.
async fn document(state: &AppState, version: Arc<Version>) -> AppResult<Arc<Published>> {
    if let Some(hit) = state.publication.cache.document(version.id) {
        return Ok(hit);
    }
    let publication = state.publication.clone();
    let reads = state.reads.clone();
    web::block(move || {
        publication.cache.load_document(version.id, || {
            let id = version.id;
            let (content, gzip) = reads.read_blocking(|conn| {
                Ok((
                    Versions::content(conn, id)?,
                    Rendered::document_gzip(conn, id)?,
                ))
            })?;
            Published::build((*version).clone(), content, gzip, &publication.signing)
        })
    })
    .await?
}

/// A township's slice of a published power list, as it is or its gzip copy: from memory,
/// or that representation's stored bytes read once however many ask for them at once. A
/// version published before its bytes were made at publication has them made now, once.
async fn township_slice(
    state: &AppState,
    version: Arc<Version>,
    township: RegionCode,
    gzip: bool,
) -> AppResult<Arc<Slice>> {
    let cache = &state.publication.cache;
    if let Some(hit) = cache.slice(version.id, township.as_str(), gzip) {
        return Ok(hit);
    }
    let publication = state.publication.clone();
    let (db, reads) = (state.db.clone(), state.reads.clone());
    web::block(move || {
        let code = township.as_str();
        publication.cache.load_slice(version.id, code, gzip, || {
            let read =
                |conn: &mut crate::db::DbConnection| Rendered::slice(conn, version.id, code, gzip);
            // Made on the primary and read from it: a replica may not have them yet.
            let stored = match reads.read_blocking(read)? {
                Some(stored) => Some(stored),
                None => {
                    render_on_demand(&db, &publication, &version)?;
                    db.read_blocking(read)?
                }
            };
            let stored = stored.ok_or_else(|| {
                AppError::NotFound(format!(
                    "the power list in force has no township {township}"
                ))
            })?;
            Slice::from_stored(stored, gzip, &version)
        })
    })
    .await?
}

/// Makes a published version's bytes if they are not stored yet (it was published
/// before they were made at publication).
fn render_on_demand(
    db: &crate::db::Db,
    publication: &super::Publication,
    version: &Version,
) -> AppResult<()> {
    if db.read_blocking(|conn| Rendered::is_stored(conn, version.id))? {
        return Ok(());
    }
    publication.cache.rendering(|| {
        db.write_blocking(|conn| Rendered::store(conn, version, &publication.signing))
            .map(|_| ())
    })
}

/// A published version by number (published or superseded; anything else is not found).
async fn published_version(
    state: &AppState,
    county: RegionCode,
    kind: ListKind,
    number: i32,
) -> AppResult<Arc<Published>> {
    let version = state
        .db
        .read(move |conn| {
            let version = Versions::find(conn, &county, kind, number)?;
            if version.published_at.is_none() {
                return Err(AppError::NotFound(format!(
                    "county {county} has no published {} list version {number}",
                    kind.as_str()
                )));
            }
            Ok(version)
        })
        .await?;
    document(state, Arc::new(version)).await
}

/// The version in force (default today) of a county's power or responsibility list, as
/// its canonical JSON document. `Content-Location` names the immutable version.
#[utoipa::path(
    tag = "public",
    params(("county" = String, Path, description = "County division code"), ("kind" = ListKind, Path, description = "power or duty"), AtQuery),
    responses(
        (status = 200, description = "The canonical document; ETag is its SHA-256", content_type = "application/json", body = ListDocument,
            headers(("ETag" = String, description = "The content hash"), ("Content-Location" = String, description = "The version's own address"), ("x-jws-signature" = String, description = "Detached JWS (RFC 7515 Appendix F, EdDSA) over the body's decoded bytes; keys at /public/v1/keys"))),
        (status = 304, description = "Not modified (If-None-Match)")
    )
)]
#[get("/public/v1/counties/{county}/lists/{kind}")]
pub async fn public_list_in_force(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<AtQuery>,
) -> AppResult<HttpResponse> {
    let county = county_path(&path.0)?;
    let kind = ListKind::parse(&path.1)?;
    let date = parse_date("at", query.at.as_deref())?;
    let published = document(&state, in_force(&state, &county, kind, date).await?).await?;
    Ok(cached(
        &req,
        &published.tags,
        &published.signature,
        negotiated(&req, &published.bytes, &published.gzip).await?,
        IN_FORCE,
        Some(&published.location),
    ))
}

/// A published version's metadata, for portals.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicVersion {
    /// The county.
    pub county: String,
    /// `power` or `duty`.
    pub kind: String,
    /// Version number.
    pub number: i32,
    /// `published` (the latest) or `superseded`.
    pub status: crate::publication::VersionStatus,
    /// Title.
    pub title: String,
    /// 調整說明.
    pub change_summary: String,
    /// SHA-256 of the content.
    pub content_hash: String,
    /// Items.
    pub item_count: i32,
    /// When it was published, UTC.
    #[serde(with = "crate::timestamp::utc_option")]
    pub published_at: Option<NaiveDateTime>,
    /// First day in force.
    pub effective_from: Option<NaiveDate>,
    /// First day no longer in force.
    pub effective_to: Option<NaiveDate>,
    /// Its document's address.
    pub url: String,
    /// The detached JWS (RFC 7515 Appendix F, EdDSA) over the document's bytes; its `kid`
    /// names a key at `/public/v1/keys`.
    pub signature: Option<String>,
    /// Each stage's approval this publication rests on: organisation, time, hash.
    pub reviews: Vec<PublicReview>,
    /// The audit chain's head at publication, signed with this publication: keep it, and
    /// a chain later cut behind it is detected.
    pub audit_anchor: Option<Anchor>,
}

impl PublicVersion {
    /// A version with the approvals it rests on.
    pub fn new(v: Version, reviews: Vec<PublicReview>) -> Self {
        let url = v.public_path();
        let audit_anchor = match (v.anchor_seq, v.anchor_mac, v.anchor_jws) {
            (Some(audit_seq), Some(audit_mac), Some(jws)) => Some(Anchor {
                audit_seq,
                audit_mac,
                jws,
            }),
            _ => None,
        };
        PublicVersion {
            signature: v.signature,
            reviews,
            audit_anchor,
            url,
            county: v.county_code,
            kind: v.kind,
            number: v.number,
            status: v.status,
            title: v.title,
            change_summary: v.change_summary,
            content_hash: v.content_hash,
            item_count: v.item_count,
            published_at: v.published_at,
            effective_from: v.effective_from,
            effective_to: v.effective_to,
        }
    }
}

/// The published versions of a county's list, newest first, with their dates and
/// change summaries.
#[utoipa::path(
    tag = "public",
    params(("county" = String, Path, description = "County division code"), ("kind" = ListKind, Path, description = "power or duty")),
    responses((status = 200, body = [PublicVersion]))
)]
#[get("/public/v1/counties/{county}/lists/{kind}/versions")]
pub async fn public_list_versions(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<Vec<PublicVersion>>> {
    let county = county_path(&path.0)?;
    let kind = ListKind::parse(&path.1)?;
    let versions = state
        .db
        .read(move |conn| {
            let versions = Versions::list(conn, &county, kind, true)?;
            public_versions(conn, versions)
        })
        .await?;
    Ok(web::Json(versions))
}

/// Published versions with the approvals each rests on, in one query.
pub fn public_versions(
    conn: &mut crate::db::DbConnection,
    versions: Vec<Version>,
) -> AppResult<Vec<PublicVersion>> {
    let ids: Vec<i64> = versions.iter().map(|v| v.id).collect();
    let mut approvals = Versions::approvals(conn, &ids)?;
    Ok(versions
        .into_iter()
        .map(|v| {
            let reviews = approvals.remove(&v.id).unwrap_or_default();
            PublicVersion::new(v, reviews)
        })
        .collect())
}

/// The public keys that sign publications, as a JWK Set (RFC 7517; Ed25519 keys as
/// RFC 8037 OKP). The current key first; retired keys stay so that what they signed
/// still verifies. A portal checks a document's `x-jws-signature` against these.
#[utoipa::path(
    tag = "public",
    responses((status = 200, body = JwkSet, content_type = "application/jwk-set+json"))
)]
#[get("/public/v1/keys")]
pub async fn public_keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .json(state.publication.signing.jwk_set())
}

/// A published version's document by number: immutable, cacheable forever.
#[utoipa::path(
    tag = "public",
    params(
        ("county" = String, Path, description = "County division code"),
        ("kind" = ListKind, Path, description = "power or duty"),
        ("n" = i32, Path, description = "Version number")
    ),
    responses(
        (status = 200, description = "The canonical document", content_type = "application/json", body = ListDocument, headers(("ETag" = String, description = "The content hash"), ("x-jws-signature" = String, description = "Detached JWS (RFC 7515 Appendix F, EdDSA) over the body's decoded bytes; keys at /public/v1/keys"))),
        (status = 304, description = "Not modified (If-None-Match)")
    )
)]
#[get("/public/v1/counties/{county}/lists/{kind}/versions/{n}")]
pub async fn public_version(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, i32)>,
) -> AppResult<HttpResponse> {
    let county = county_path(&path.0)?;
    let kind = ListKind::parse(&path.1)?;
    let published = published_version(&state, county, kind, path.2).await?;
    Ok(cached(
        &req,
        &published.tags,
        &published.signature,
        negotiated(&req, &published.bytes, &published.gzip).await?,
        IMMUTABLE,
        None,
    ))
}

/// Two version numbers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionDiffQuery {
    /// The older version.
    pub from: i32,
    /// The newer version.
    pub to: i32,
}

/// What changed between two published versions: items added, removed, and changed field
/// by field (power lists key items as `township/code`).
#[utoipa::path(
    tag = "public",
    params(("county" = String, Path, description = "County division code"), ("kind" = ListKind, Path, description = "power or duty"), VersionDiffQuery),
    responses((status = 200, body = DocumentDiff))
)]
#[get("/public/v1/counties/{county}/lists/{kind}/diff")]
pub async fn public_diff(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<VersionDiffQuery>,
) -> AppResult<HttpResponse> {
    let county = county_path(&path.0)?;
    let kind = ListKind::parse(&path.1)?;
    // Published versions never change: their diff is made once and shared.
    let key = format!(
        "version-diff\n{county}\n{}\n{}\n{}",
        kind.as_str(),
        query.from,
        query.to
    );
    if let Some(answer) = state.shared.ready(&key) {
        return Ok(shared_json(&req, &answer, IMMUTABLE));
    }
    let from = published_version(&state, county.clone(), kind, query.from).await?;
    let to = published_version(&state, county.clone(), kind, query.to).await?;
    let answer = state
        .shared
        .get_or_render(&state.gates, WorkClass::Diff, key, move || {
            let a: Value = serde_json::from_slice(&from.bytes)?;
            let b: Value = serde_json::from_slice(&to.bytes)?;
            Ok(serde_json::to_vec(&diff_documents(kind, &a, &b))?)
        })
        .await?;
    Ok(shared_json(&req, &answer, IMMUTABLE))
}

/// Filters on a township's power list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PowerListQuery {
    /// The date whose list is wanted (`YYYY-MM-DD`, default today).
    pub at: Option<String>,
    /// Only this item-type code.
    pub category: Option<String>,
    /// Only this domain.
    pub domain: Option<String>,
    /// Only high-frequency items (`true`) or only the others.
    pub high_frequency: Option<bool>,
}

/// One township's slice of its county's power list in force: its items only, with
/// filters on category, domain and the high-frequency flag.
#[utoipa::path(
    tag = "public",
    params(("township" = String, Path, description = "Township division code"), PowerListQuery),
    responses(
        (status = 200, description = "The township's items", content_type = "application/json", body = TownshipPowerList, headers(("ETag" = String, description = "SHA-256 of the answer"), ("x-jws-signature" = String, description = "Detached JWS (RFC 7515 Appendix F, EdDSA) over the body's decoded bytes; keys at /public/v1/keys"))),
        (status = 304, description = "Not modified (If-None-Match)")
    )
)]
#[get("/public/v1/townships/{township}/power-list")]
pub async fn public_township_power_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    township: web::Path<String>,
    query: web::Query<PowerListQuery>,
) -> AppResult<HttpResponse> {
    let code = RegionCode::parse(&township)
        .ok()
        .filter(|c| c.level() == Level::Township)
        .ok_or_else(|| AppError::NotFound(format!("no township {township}")))?;
    let county = code.county().expect("a township lies in a county");
    let date = parse_date("at", query.at.as_deref())?;
    let version = in_force(&state, &county, ListKind::Power, date).await?;
    let filter = SliceFilter {
        category: query.category.as_deref(),
        domain: query.domain.as_deref(),
        high_frequency: query.high_frequency,
    };
    // A filtered slice is cut from the slice as it is.
    let gzip = filter.is_empty() && accepts_gzip(&req);
    let slice = township_slice(&state, version.clone(), code.clone(), gzip).await?;
    if filter.is_empty() {
        let body = if gzip {
            Encoded::Gzip(slice.bytes.clone())
        } else {
            Encoded::Identity(slice.bytes.clone())
        };
        return Ok(cached(
            &req,
            &slice.tags,
            &slice.signature,
            body,
            IN_FORCE,
            Some(&slice.location),
        ));
    }
    let key = FilteredKey::new(version.id, code.as_str(), &filter);
    let answer = match state.publication.cache.filtered(&key) {
        Some(answer) => answer,
        None => {
            let index = slice
                .index
                .get_or_make(&slice.bytes, SliceIndex::build)
                .await?;
            let bytes = slice_bytes(
                &version,
                &SliceHead::of(&slice.bytes)?,
                &index.admitted(&slice.bytes, &filter)?,
            );
            let answer = FilteredAnswer {
                tags: EntityTags::of(&sha256_hex(&bytes)),
                signature: signature_header(&state.publication.signing, &bytes),
                bytes: Bytes::from(bytes),
            };
            state.publication.cache.keep_filtered(key, answer)
        }
    };
    Ok(cached(
        &req,
        &answer.tags,
        &answer.signature,
        Encoded::Identity(answer.bytes.clone()),
        IN_FORCE,
        Some(&slice.location),
    ))
}

/// A dispatch lookup on the published list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicLookupQuery {
    /// Township division code.
    pub township: String,
    /// Words of the matter, simplified or traditional; every word must match.
    #[param(pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    pub q: String,
    /// The date whose list answers (`YYYY-MM-DD`, default today).
    pub at: Option<String>,
}

/// The answer to a public lookup.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLookup {
    /// The township.
    pub township: String,
    /// Its name.
    pub township_name: String,
    /// Its county.
    pub county: String,
    /// The responsibility-list version that answered.
    pub version: i32,
    /// That version's content hash.
    pub content_hash: String,
    /// Matching matters, with lead, supporters and the township's duties.
    #[schema(value_type = Vec<Object>)]
    pub matches: Vec<Value>,
}

/// In this township, who leads this matter, who supports, and what must the township do?
/// Answered from the responsibility list in force, without a token. Matching ignores the
/// script (油烟 finds 油煙).
#[utoipa::path(tag = "public", params(PublicLookupQuery), responses((status = 200, body = PublicLookup)))]
#[get("/public/v1/lookup")]
pub async fn public_lookup(
    state: web::Data<AppState>,
    query: web::Query<PublicLookupQuery>,
) -> AppResult<web::Json<PublicLookup>> {
    let terms = search_terms(&query.q);
    if terms.is_empty() {
        return Err(AppError::invalid("q", "say what the matter is about"));
    }
    let date = parse_date("at", query.at.as_deref())?;
    let township = query.township.clone();
    let (code, name) = state
        .db
        .read(move |conn| crate::regions::township_named(conn, &township))
        .await?;
    let county = code.county().expect("a township lies in a county");
    let published = document(
        &state,
        in_force(&state, &county, ListKind::Duty, date).await?,
    )
    .await?;
    let matches = published
        .matters
        .iter()
        .filter(|m| terms.iter().all(|t| m.search_text.contains(t.as_str())))
        .map(|m| m.matter.clone())
        .collect();
    Ok(web::Json(PublicLookup {
        township: code.to_string(),
        township_name: name,
        county: county.to_string(),
        version: published.version.number,
        content_hash: published.version.content_hash.clone(),
        matches,
    }))
}

/// One entry of the publication log.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicationEntry {
    /// The version.
    #[serde(flatten)]
    pub version: PublicVersion,
}

/// The publication log, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicationFeed {
    /// Publications after `since`.
    pub items: Vec<PublicationEntry>,
    /// Pass as `since` to get what comes next (the last entry's `published_at`).
    #[serde(with = "crate::timestamp::utc_option")]
    pub next_since: Option<NaiveDateTime>,
}
