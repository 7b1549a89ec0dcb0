//! The publication log for consuming systems, as JSON and as Atom, with `since=` for
//! delta sync: a portal asks only for what was published after what it has.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::NaiveDateTime;
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::Versions;
use super::public::{public_versions, PublicVersion, PublicationEntry, PublicationFeed};
use crate::error::{AppError, AppResult};
use crate::AppState;

/// The publication log's two forms.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(publications_json).service(publications_atom);
}

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// Where to start, and how many.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Only publications after this moment: an RFC 3339 date-time (any offset) or a date
    /// (UTC); pass the previous answer's `next_since`.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// At most this many (default 100, at most 1,000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

fn parse_since(value: Option<&str>) -> AppResult<Option<NaiveDateTime>> {
    value
        .map(|text| crate::timestamp::parse("since", text))
        .transpose()
}

async fn entries(state: &AppState, query: &FeedQuery) -> AppResult<Vec<PublicVersion>> {
    let since = parse_since(query.since.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    state
        .db
        .read(move |conn| {
            let versions = Versions::publications(conn, since, limit)?;
            public_versions(conn, versions)
        })
        .await
}

/// Every publication (county, kind, version, dates, change summary, hash), oldest first.
#[utoipa::path(tag = "public", params(FeedQuery), responses((status = 200, body = PublicationFeed)))]
#[get("/public/v1/publications.json")]
pub async fn publications_json(
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
) -> AppResult<web::Json<PublicationFeed>> {
    let items = entries(&state, &query).await?;
    let next_since = items
        .last()
        .and_then(|v| v.published_at)
        .or(parse_since(query.since.as_deref())?);
    Ok(web::Json(PublicationFeed {
        items: items
            .into_iter()
            .map(|version| PublicationEntry { version })
            .collect(),
        next_since,
    }))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rfc3339(at: NaiveDateTime) -> String {
    crate::timestamp::format(&at)
}

/// The same log as an Atom feed, for feed readers.
#[utoipa::path(
    tag = "public",
    params(FeedQuery),
    responses((status = 200, description = "An Atom feed", content_type = "application/atom+xml", body = String))
)]
#[get("/public/v1/publications.atom")]
pub async fn publications_atom(
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
) -> AppResult<HttpResponse> {
    let items = entries(&state, &query).await?;
    let updated = items
        .last()
        .and_then(|v| v.published_at)
        .map(rfc3339)
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    xml.push_str("  <id>urn:quanze:publications</id>\n  <title>quanze publications</title>\n");
    xml.push_str(&format!("  <updated>{updated}</updated>\n  <link rel=\"self\" href=\"/public/v1/publications.atom\"/>\n"));
    for v in &items {
        let published = v.published_at.map(rfc3339).unwrap_or_default();
        xml.push_str("  <entry>\n");
        xml.push_str(&format!(
            "    <id>urn:quanze:{}:{}:{}</id>\n",
            v.county, v.kind, v.number
        ));
        xml.push_str(&format!("    <title>{}</title>\n", escape(&v.title)));
        xml.push_str(&format!(
            "    <updated>{published}</updated>\n    <published>{published}</published>\n"
        ));
        xml.push_str(&format!(
            "    <link rel=\"alternate\" type=\"application/json\" href=\"{}\"/>\n",
            escape(&v.url)
        ));
        xml.push_str(&format!(
            "    <category term=\"{}\"/>\n    <summary>{}</summary>\n",
            v.kind,
            escape(&format!(
                "{} · 生效 {} · sha256 {} · {}",
                v.county,
                v.effective_from.map(|d| d.to_string()).unwrap_or_default(),
                v.content_hash,
                v.change_summary
            ))
        ));
        xml.push_str("  </entry>\n");
    }
    xml.push_str("</feed>\n");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"))
        .body(xml))
}
