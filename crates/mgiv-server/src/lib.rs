//! mgiv clinical web service (`mgiv serve`): a JSON API described by `/api/openapi.json`,
//! server-rendered pages, SQLite or PostgreSQL storage, accounts, a hash-chained audit log and
//! FHIR R4 Observation import. It makes no clinical decision of its own: the clinical context,
//! plan, safety alerts, TDM and brain effects come from mgiv-clinical (and through it
//! mgiv-safety, mgiv-pop, mgiv-brain, mgiv-core).

// an ApiError (status, field, value, message, allowed) is returned at most once per request:
// boxing it would only add noise
#![allow(clippy::result_large_err)]

pub mod api;
pub mod auth;
pub mod db;
pub mod error;
pub mod fhir;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod service;
pub mod util;

use std::net::SocketAddr;
use std::sync::Arc;

pub use db::{Db, StoreError};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub limiter: Arc<auth::RateLimiter>,
    /// `Secure` on the session cookie (set when the server listens on a non-loopback address)
    pub secure_cookies: bool,
    /// forecasts by (patient id, patient version): a forecast depends only on what is stored for
    /// the patient, and every write moves the version, so an entry is never stale (kept as JSON text)
    pub forecasts: Arc<std::sync::Mutex<ForecastCache>>,
}

/// Forecast JSON text by (patient id, patient version).
pub type ForecastCache = std::collections::HashMap<(String, i64), Arc<String>>;

/// Forecasts kept at most (the cache is emptied when full).
pub const FORECAST_CACHE_MAX: usize = 4096;

impl AppState {
    pub fn new(db: Db, secure_cookies: bool) -> AppState {
        AppState {
            db,
            limiter: Arc::new(auth::RateLimiter::default()),
            secure_cookies,
            forecasts: Default::default(),
        }
    }
}

/// The whole application (built from the one route table, [`routes::ROUTES`]).
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serve until Ctrl-C / SIGTERM. `on_ready` is called with the bound address.
pub async fn serve(
    addr: SocketAddr,
    db_url: &str,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::connect(db_url).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let state = AppState::new(db, !bound.ip().is_loopback());
    on_ready(bound);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A multi-threaded runtime for the CLI (so mgiv-cli needs no tokio of its own).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, std::io::Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

/// `mgiv user add`: create an account (the password is hashed with argon2id; never printed).
pub async fn add_user(
    db_url: &str,
    name: &str,
    role: &str,
    team: &str,
    password: &str,
) -> Result<db::User, Box<dyn std::error::Error>> {
    let role = auth::Role::parse(role)?;
    if name.trim().is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(
            db::invalid("NAME", name, "1 to 64 characters: letters, digits, . _ - @").into(),
        );
    }
    if team.trim().is_empty() || team.len() > 64 {
        return Err(db::invalid("--team", team, "1 to 64 characters").into());
    }
    let hash = auth::hash_password(password)?;
    let db = Db::connect(db_url).await?;
    Ok(db
        .create_user(name, role.as_str(), team, &hash, "mgiv user add")
        .await?)
}
