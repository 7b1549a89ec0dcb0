//! quanze (權責): a registry of the powers and duties of China's townships.
//!
//! The crate is the service: `build_app` assembles the one actix `App` that the binary
//! and the tests both run.

pub mod audit;
pub mod auth;
pub mod catalogue;
pub mod claims;
pub mod codes;
pub mod config;
pub mod db;
pub mod demo;
pub mod duties;
pub mod error;
pub mod generate;
pub mod health;
pub mod http;
pub mod import;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod organisations;
pub mod paging;
pub mod public;
pub mod publication;
pub mod regions;
pub mod revision;
pub mod text;
pub mod timestamp;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App};

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::db::Db;
use crate::http::BodyLimits;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Where the public read path reads: a streaming replica while it keeps up, else `db`.
    pub reads: db::replica::Reads,
    /// The publication workflow and the caches of published versions.
    pub publication: Arc<publication::Publication>,
    /// Bounds on expensive work.
    pub gates: Arc<http::expensive::Gates>,
    /// Expensive answers about immutable things, made once and shared.
    pub shared: Arc<http::expensive::SharedAnswers>,
    /// What an operator watches.
    pub metrics: Arc<metrics::Metrics>,
}

/// Everything `build_app` needs, built once per process.
#[derive(Clone)]
pub struct Service {
    /// Shared state.
    pub state: AppState,
    /// Token verification.
    pub keys: Arc<TokenKeys>,
    /// Body limits.
    pub limits: BodyLimits,
    /// How long a read may take.
    pub request_timeout: http::RequestTimeout,
}

impl Service {
    /// Connects the pool and loads the keys; does not touch the database yet.
    pub fn from_config(config: &Config) -> Result<Service, String> {
        let own_keys = keys::ServiceKeys::load(&config.keys)?;
        for path in &own_keys.development {
            tracing::warn!(
                path = %path.display(),
                "using a DEVELOPMENT key made on first start; configure [keys] before production"
            );
        }
        let db = Db::connect(
            &config.database.url,
            config.database.pool_size,
            Duration::from_millis(config.database.pool_timeout_ms),
        )
        .map_err(|e| e.to_string())?
        .with_audit_key(own_keys.audit);
        let reads = db::replica::Reads::new(db.clone(), read_replica(&config.database)?);
        let keys = TokenKeys::from_config(&config.jwt)?;
        let publication =
            publication::Publication::from_config(&config.publication, own_keys.signing)?;
        let metrics = metrics::Metrics::new(db.counters(), publication.cache.counters());
        Ok(Service {
            state: AppState {
                db,
                reads,
                metrics: Arc::new(metrics),
                publication: Arc::new(publication),
                gates: Arc::new(http::expensive::Gates::new(&config.limits)),
                shared: Arc::new(http::expensive::SharedAnswers::new(
                    config.limits.shared_answer_bytes,
                )),
            },
            keys: Arc::new(keys),
            limits: BodyLimits {
                json: config.server.body_limit,
                import: config.server.import_limit,
            },
            request_timeout: http::RequestTimeout(Duration::from_millis(
                config.server.request_timeout_ms,
            )),
        })
    }
}

/// The configured read replica, watched; none when `read_url` is empty.
fn read_replica(
    config: &config::DatabaseConfig,
) -> Result<Option<Arc<db::replica::ReadReplica>>, String> {
    if config.read_url.is_empty() {
        return Ok(None);
    }
    if db::Backend::from_url(&config.read_url) != db::Backend::Postgres
        || db::Backend::from_url(&config.url) != db::Backend::Postgres
    {
        return Err("database.read_url names a PostgreSQL streaming replica: both it and database.url must be postgres:// URLs".into());
    }
    // A replica that does not answer at once is skipped for the primary, not waited for.
    let replica = Db::connect(
        &config.read_url,
        config.pool_size,
        Duration::from_millis(config.pool_timeout_ms.min(500)),
    )
    .map_err(|e| e.to_string())?;
    Ok(Some(db::replica::ReadReplica::watch(
        replica,
        Duration::from_millis(config.read_max_lag_ms),
    )))
}

/// Every route of the service, each declared once (see `http::Routes`). The router tries
/// routes in this order, so the public read path that portals hit all day comes first.
pub fn routes(cfg: &mut crate::http::Routes) {
    public::routes(cfg);
    health::routes(cfg);
    openapi::routes(cfg);
    regions::routes(cfg);
    organisations::routes(cfg);
    catalogue::routes(cfg);
    claims::routes(cfg);
    duties::routes(cfg);
    publication::routes(cfg);
    audit::routes(cfg);
}

/// The application: routes, shared state, extractor configuration and middleware.
pub fn build_app(
    service: Service,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use utoipa_actix_web::AppExt;
    App::new()
        .into_utoipa_app()
        .app_data(web::Data::new(service.state))
        .app_data(web::Data::new(service.keys))
        .app_data(web::Data::new(service.limits))
        .app_data(web::Data::new(service.request_timeout))
        .app_data(http::query_config())
        .app_data(http::path_config())
        .app_data(http::payload_config(service.limits.import))
        .configure(routes)
        .into_app()
        .default_service(web::to(http::not_found))
        .wrap(from_fn(public::caching))
        .wrap(from_fn(http::idempotency))
        .wrap(Compress::default())
        .wrap(from_fn(http::deadline))
        .wrap(from_fn(http::request_id))
}

/// The listening socket for `server.bind`, with `server.backlog` pending connections
/// (the standard library's is 128: a burst of connections past it has its SYNs dropped,
/// and every client waits a retransmission, a second or more, even for `/healthz`).
pub fn listen(server: &config::ServerConfig) -> std::io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let address = server
        .bind
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the address names no socket address"))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    // Accepted connections inherit the send buffer: a fixed one bounds what the kernel takes
    // from each connection at once (autotuned, a thousand slow readers of a large answer
    // would have the workers copy gigabytes into socket buffers before anything else).
    if server.send_buffer_bytes > 0 {
        socket.set_send_buffer_size(server.send_buffer_bytes)?;
    }
    socket.bind(&address.into())?;
    socket.listen(server.backlog)?;
    Ok(socket.into())
}

/// An HTTP/1.1 server on `listener`, with graceful shutdown on SIGTERM and SIGINT.
///
/// What actix-web's `HttpServer::listen` assembles, with one difference: each connection
/// is read through the wire screen (`http::wire`), so the heads the HTTP parser refuses
/// are answered as problem+json too.
pub fn http_server(
    service: Service,
    listener: TcpListener,
    config: &Config,
) -> std::io::Result<Server> {
    use actix_http::{HttpService, Protocol};
    use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
    use actix_web::dev::AppConfig;

    let addr = listener.local_addr()?;
    let limits = http::wire::WireLimits {
        head_timeout: Duration::from_millis(config.server.head_timeout_ms),
    };
    let mut builder = Server::build().shutdown_timeout(config.server.shutdown_timeout_secs);
    if config.server.workers > 0 {
        builder = builder.workers(config.server.workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder.listen("quanze", listener, move || {
        let shutdown = shutdown.clone();
        let app = build_app(service.clone())
            .into_factory()
            .map_err(|error| error.error_response());
        let http = HttpService::build()
            // The screen times request heads and answers a late one itself.
            .client_request_timeout(Duration::ZERO)
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .finish(map_config(app, |_| AppConfig::default()));
        let decoding = actix_http::ServiceConfig::default();
        fn_service(move |io: actix_rt::net::TcpStream| {
            // Answers are written whole; with Nagle's algorithm on, the tail of a large
            // one could wait for the client's delayed ACK.
            let _ = io.set_nodelay(true);
            let peer = io.peer_addr().ok();
            let screened = http::wire::Screened::new(io, decoding.clone(), limits);
            std::future::ready(Ok((screened, Protocol::Http1, peer)))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}
