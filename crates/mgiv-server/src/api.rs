//! JSON API handlers: thin wrappers around [`crate::service`] and the storage layer.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::{dummy_hash, token_sha256, verify_password};
use crate::db::Patient;
use crate::error::{ApiError, JsonBody};
use crate::routes::{Session, SESSION_COOKIE};
use crate::service::{self, AcceptIn, AdjustIn, LevelIn, OrderIn, PatientIn};
use crate::util::random_hex;
use crate::AppState;

/// Session lifetime.
pub const SESSION_TTL_S: i64 = 12 * 3600;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    pub username: String,
    /// clinician, pharmacist or admin
    pub role: String,
    pub team: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct LoginOut {
    pub username: String,
    pub role: String,
    pub team: String,
    /// send back in the X-CSRF-Token header of every state-changing request
    pub csrf_token: String,
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok", "mgiv_version": env!("CARGO_PKG_VERSION")}))
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "path",
        "",
        "no such route (see /api/openapi.json)",
        "a route of /api/openapi.json",
    )
}

pub fn session_cookie(st: &AppState, token: &str, max_age_s: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if st.secure_cookies { "; Secure" } else { "" }
    )
}

/// Check a password (rate limited) and open a session: (cookie, csrf token, user).
pub async fn sign_in(
    st: &AppState,
    username: &str,
    password: &str,
) -> Result<(String, String, crate::db::User), ApiError> {
    if username.is_empty() || username.len() > 64 {
        return Err(crate::db::invalid("username", username.len(), "1 to 64 characters").into());
    }
    if password.len() > 1024 {
        return Err(crate::db::invalid(
            "password",
            format!("{} bytes", password.len()),
            "at most 1024 bytes",
        )
        .into());
    }
    if let Some(wait) = st.limiter.locked(username) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "username",
            username,
            &format!("too many failed sign-ins for this name: try again in {wait} s"),
            "fewer failed attempts",
        ));
    }
    let found = st.db.user_by_name(username).await?;
    let (hash, pw) = (
        found
            .as_ref()
            .map(|f| f.1.clone())
            .unwrap_or_else(|| dummy_hash().to_string()),
        password.to_string(),
    );
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    let user = match (ok, found) {
        (true, Some((u, _))) => u,
        _ => {
            st.limiter.failed(username);
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "password",
                "",
                "wrong user name or password",
                "the account's password",
            ));
        }
    };
    st.limiter.succeeded(username);
    let token = random_hex(32);
    let csrf = random_hex(32);
    st.db
        .create_session(&user, &token_sha256(&token), &csrf, SESSION_TTL_S)
        .await?;
    Ok((session_cookie(st, &token, SESSION_TTL_S), csrf, user))
}

pub async fn login(
    State(st): State<AppState>,
    JsonBody(b): JsonBody<LoginIn>,
) -> Result<Response, ApiError> {
    let (cookie, csrf, user) = sign_in(&st, &b.username, &b.password).await?;
    let out = LoginOut {
        username: user.username,
        role: user.role,
        team: user.team,
        csrf_token: csrf,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(out)).into_response())
}

pub async fn logout(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
) -> Result<Response, ApiError> {
    st.db.delete_session(&s.token_sha256).await?;
    Ok((
        [(header::SET_COOKIE, session_cookie(&st, "", 0))],
        Json(json!({"signed_out": true})),
    )
        .into_response())
}

pub async fn me(Extension(s): Extension<Session>) -> Json<Value> {
    Json(
        json!({"username": s.user.username, "role": s.user.role, "team": s.user.team, "csrf_token": s.csrf}),
    )
}

pub async fn list_patients(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({"patients": st.db.list_patients(&s.user.team).await?}),
    ))
}

pub async fn admit(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    JsonBody(p): JsonBody<PatientIn>,
) -> Result<Response, ApiError> {
    let p = service::admit(&st.db, &s.user, p).await?;
    Ok((StatusCode::CREATED, Json(json!({"patient": p}))).into_response())
}

/// The patient if it belongs to the caller's team.
pub async fn patient_of(st: &AppState, s: &Session, id: &str) -> Result<Patient, ApiError> {
    Ok(st.db.patient(id, &s.user.team).await?)
}

/// The patient version from an If-Match header ("3" or "\"3\""), when the body has none.
fn if_match(h: &HeaderMap) -> Option<i64> {
    h.get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().trim_matches('"').parse().ok())
}

pub async fn patient(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let p = patient_of(&st, &s, &id).await?;
    let recs = st.db.records(&p.id).await?;
    let etag = format!("\"{}\"", p.version);
    Ok((
        [(header::ETAG, etag)],
        Json(json!({"patient": p, "records": recs})),
    )
        .into_response())
}

pub async fn order(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    h: HeaderMap,
    JsonBody(mut o): JsonBody<OrderIn>,
) -> Result<Response, ApiError> {
    let p = patient_of(&st, &s, &id).await?;
    o.expected_version = o.expected_version.or(if_match(&h));
    Ok((
        StatusCode::CREATED,
        Json(service::order(&st.db, &s.user, &p, o).await?),
    )
        .into_response())
}

pub async fn level(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    h: HeaderMap,
    JsonBody(mut l): JsonBody<LevelIn>,
) -> Result<Response, ApiError> {
    let p = patient_of(&st, &s, &id).await?;
    l.expected_version = l.expected_version.or(if_match(&h));
    let r = service::add_level(&st.db, &s.user, &p, l).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"record": r, "patient_version": r.patient_version})),
    )
        .into_response())
}

pub async fn forecast(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let p = patient_of(&st, &s, &id).await?;
    let key = (p.id.clone(), p.version);
    let cached = st.forecasts.lock().ok().and_then(|c| c.get(&key).cloned());
    let text = match cached {
        Some(t) => t,
        None => {
            let t = std::sync::Arc::new(service::forecast(&st.db, &p).await?.to_string());
            if let Ok(mut c) = st.forecasts.lock() {
                if c.len() >= crate::FORECAST_CACHE_MAX {
                    c.clear();
                }
                c.insert(key, t.clone());
            }
            t
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        (*text).clone(),
    )
        .into_response())
}

pub async fn adjust(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    h: HeaderMap,
    JsonBody(mut a): JsonBody<AdjustIn>,
) -> Result<Response, ApiError> {
    let p = patient_of(&st, &s, &id).await?;
    a.expected_version = a.expected_version.or(if_match(&h));
    Ok((
        StatusCode::CREATED,
        Json(service::adjust(&st.db, &s.user, &p, a).await?),
    )
        .into_response())
}

pub async fn accept(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    Path((id, rid)): Path<(String, String)>,
    h: HeaderMap,
    JsonBody(mut a): JsonBody<AcceptIn>,
) -> Result<Response, ApiError> {
    let p = patient_of(&st, &s, &id).await?;
    a.expected_version = a.expected_version.or(if_match(&h));
    let r = service::accept(&st.db, &s.user, &p, &rid, a).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"record": r, "patient_version": r.patient_version})),
    )
        .into_response())
}

pub async fn add_user(
    State(st): State<AppState>,
    Extension(s): Extension<Session>,
    JsonBody(u): JsonBody<UserIn>,
) -> Result<Response, ApiError> {
    let role = crate::auth::Role::parse(&u.role)?;
    if u.username.trim().is_empty()
        || u.username.len() > 64
        || !u
            .username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(crate::db::invalid(
            "username",
            &u.username,
            "1 to 64 characters: letters, digits, . _ - @",
        )
        .into());
    }
    if u.team.trim().is_empty() || u.team.len() > 64 {
        return Err(crate::db::invalid("team", &u.team, "1 to 64 characters").into());
    }
    let pw = u.password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&pw))
        .await
        .map_err(|e| ApiError::internal(&e.to_string()))??;
    let user = st
        .db
        .create_user(&u.username, role.as_str(), &u.team, &hash, &s.user.username)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"user": user}))).into_response())
}

pub async fn audit_verify(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let c = st.db.verify_audit().await?;
    Ok(Json(
        json!({"intact": c.first_broken.is_none(), "check": c}),
    ))
}

pub async fn export(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(st.db.export().await?))
}
