//! The limit (and the PostgreSQL peer): the same bytes from a minimal server.

use super::*;

// ----------------------------------------------------------------------------------------
// The limit and the peer: a minimal actix-web server
// ----------------------------------------------------------------------------------------

pub(crate) type PgPool = diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::PgConnection>>;

pub(crate) struct LimitState {
    pub(crate) body: web::Bytes,
    pub(crate) etag: String,
    pub(crate) location: String,
    pub(crate) peer: Option<(PgPool, String)>,
}

/// The same bytes from memory, with the same validators: 304 when the client has them.
pub(crate) async fn limit_slice(req: HttpRequest, state: web::Data<LimitState>) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == state.etag.as_bytes());
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, state.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60, must-revalidate"))
        .insert_header((header::CONTENT_LOCATION, state.location.clone()));
    if fresh {
        response.finish()
    } else {
        response
            .content_type("application/json")
            .body(state.body.clone())
    }
}

/// PostgREST's way: the database assembles the whole JSON answer per request.
pub(crate) const PEER_SQL: &str = "\
WITH items AS (
  SELECT 'statutory' AS holding, ci.code, ci.name, ci.category, ci.source, ci.delegation_mode,
         ci.sector, ci.domain, ci.legal_basis::json AS legal_basis,
         ci.responsibilities::json AS responsibilities, ci.accountability::json AS accountability,
         ci.time_limit_days, ci.high_frequency, ci.service_guide, ci.parent_code,
         NULL::json AS unit, NULL::bigint AS round
    FROM catalogue_items ci
   WHERE ci.edition_code = $1 AND ci.source = 'statutory'
  UNION ALL
  SELECT 'delegated', ci.code, ci.name, ci.category, ci.source, ci.delegation_mode,
         ci.sector, ci.domain, ci.legal_basis::json, ci.responsibilities::json,
         ci.accountability::json, ci.time_limit_days, ci.high_frequency, ci.service_guide,
         ci.parent_code,
         CASE WHEN o.code IS NULL THEN NULL ELSE json_build_object('code', o.code, 'name', o.name) END,
         cl.round_id
    FROM claims cl
    JOIN claim_rounds r ON r.id = cl.round_id
    JOIN catalogue_items ci ON ci.id = cl.item_id
    LEFT JOIN organisations o ON o.code = cl.unit_code
   WHERE cl.township_code = $2 AND cl.state = 'confirmed' AND r.edition_code = $1
)
SELECT json_build_object(
         'county', json_build_object('code', c.code, 'name', c.name),
         'edition', $1::text,
         'kind', 'power',
         'township', json_build_object('code', t.code, 'kind', t.kind, 'name', t.name),
         'item_count', (SELECT count(*) FROM items),
         'items', (SELECT coalesce(json_agg(i ORDER BY i.code), '[]'::json) FROM items i)
       )::text AS body
  FROM regions t JOIN regions c ON c.code = t.parent_code
 WHERE t.code = $2";

#[derive(QueryableByName)]
pub(crate) struct PeerBody {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) body: String,
}

pub(crate) async fn peer_slice(
    state: web::Data<LimitState>,
    township: web::Path<String>,
) -> HttpResponse {
    let Some((pool, edition)) = state.peer.clone() else {
        return HttpResponse::NotFound().finish();
    };
    let township = township.into_inner();
    let answer = web::block(move || -> Result<Option<String>, String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        diesel::sql_query(PEER_SQL)
            .bind::<diesel::sql_types::Text, _>(&edition)
            .bind::<diesel::sql_types::Text, _>(&township)
            .get_result::<PeerBody>(&mut conn)
            .optional()
            .map(|b| b.map(|b| b.body))
            .map_err(|e| e.to_string())
    })
    .await;
    match answer {
        Ok(Ok(Some(body))) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Ok(Ok(None)) => HttpResponse::NotFound().finish(),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable().body(e),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// `limit-server --port P --body FILE --etag E --location L [--peer URL --edition E]`.
pub(crate) fn limit_server(args: &[String]) {
    let mut options = BTreeMap::new();
    let mut it = args.iter();
    while let Some(key) = it.next() {
        if let (Some(name), Some(value)) = (key.strip_prefix("--"), it.next()) {
            options.insert(name.to_string(), value.clone());
        }
    }
    let option = |name: &str| {
        options
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("limit-server needs --{name}"))
    };
    let port: u16 = option("port").parse().expect("a port");
    let body = web::Bytes::from(std::fs::read(option("body")).expect("the body file"));
    let peer = options.get("peer").map(|url| {
        let pool = diesel::r2d2::Pool::builder()
            .max_size(8)
            .build_unchecked(diesel::r2d2::ConnectionManager::<diesel::PgConnection>::new(url));
        (pool, option("edition"))
    });
    let state = web::Data::new(LimitState {
        body,
        etag: format!("\"{}\"", option("etag")),
        location: option("location"),
        peer,
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the limit server's port");
    actix_web::rt::System::new()
        .block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .route(
                        "/public/v1/townships/{township}/power-list",
                        web::get().to(limit_slice),
                    )
                    .route(
                        "/peer/townships/{township}/power-list",
                        web::get().to(peer_slice),
                    )
                    .route("/readyz", web::get().to(|| async { "ready" }))
            })
            .workers(1)
            .shutdown_timeout(1)
            .tcp_nodelay(true)
            .listen(listener)?
            .run()
            .await
        })
        .expect("the limit server");
}
