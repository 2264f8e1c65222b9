//! The one route table the router is built from (so the authorization test enumerates every
//! route), and the middleware that checks the session, the role and the CSRF token.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::auth::{same_token, token_sha256, Role, ADMIN, ANY_ROLE, CLINICAL};
use crate::db::User;
use crate::error::ApiError;
use crate::{api, fhir, openapi, pages, AppState};

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Public,
    Roles(&'static [Role]),
}

/// JSON API or HTML page (an anonymous page request is sent to the sign-in page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Api,
    Page,
}

pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub kind: Kind,
    pub summary: &'static str,
    /// the request body's schema name in the OpenAPI document
    pub body: Option<&'static str>,
    pub handler: fn() -> MethodRouter<AppState>,
}

macro_rules! r {
    ($m:literal, $p:literal, $a:expr, $k:expr, $s:literal, $b:expr, $h:expr) => {
        RouteSpec {
            method: $m,
            path: $p,
            access: $a,
            kind: $k,
            summary: $s,
            body: $b,
            handler: $h,
        }
    };
}

use Access::{Public, Roles};
use Kind::{Api, Page};

/// Every route of the service.
pub static ROUTES: &[RouteSpec] = &[
    r!("GET", "/healthz", Public, Api, "liveness", None, || get(
        api::healthz
    )),
    r!(
        "GET",
        "/api/openapi.json",
        Public,
        Api,
        "this document",
        None,
        || get(openapi::openapi_json)
    ),
    r!(
        "GET",
        "/assets/style.css",
        Public,
        Page,
        "stylesheet",
        None,
        || get(pages::style_css)
    ),
    r!(
        "POST",
        "/api/login",
        Public,
        Api,
        "sign in: sets the session cookie, returns the CSRF token",
        Some("LoginIn"),
        || post(api::login)
    ),
    r!(
        "POST",
        "/api/logout",
        Roles(ANY_ROLE),
        Api,
        "sign out",
        None,
        || post(api::logout)
    ),
    r!(
        "GET",
        "/api/me",
        Roles(ANY_ROLE),
        Api,
        "the signed-in user",
        None,
        || get(api::me)
    ),
    r!(
        "GET",
        "/api/patients",
        Roles(CLINICAL),
        Api,
        "the team's patients",
        None,
        || get(api::list_patients)
    ),
    r!(
        "POST",
        "/api/patients",
        Roles(CLINICAL),
        Api,
        "admit a patient",
        Some("PatientIn"),
        || post(api::admit)
    ),
    r!(
        "GET",
        "/api/patients/{id}",
        Roles(CLINICAL),
        Api,
        "a patient with every record version",
        None,
        || get(api::patient)
    ),
    r!(
        "POST",
        "/api/patients/{id}/orders",
        Roles(CLINICAL),
        Api,
        "enter or correct an order: pump settings, predicted levels, alerts",
        Some("OrderIn"),
        || post(api::order)
    ),
    r!(
        "POST",
        "/api/patients/{id}/levels",
        Roles(CLINICAL),
        Api,
        "enter or correct a measured level",
        Some("LevelIn"),
        || post(api::level)
    ),
    r!(
        "GET",
        "/api/patients/{id}/forecast",
        Roles(CLINICAL),
        Api,
        "predicted serum Mg of the current order, with levels and alerts",
        None,
        || get(api::forecast)
    ),
    r!(
        "POST",
        "/api/patients/{id}/adjust",
        Roles(CLINICAL),
        Api,
        "TDM recommendation (Bayesian, behind the safety engine)",
        Some("AdjustIn"),
        || post(api::adjust)
    ),
    r!(
        "POST",
        "/api/patients/{id}/recommendations/{rid}/accept",
        Roles(CLINICAL),
        Api,
        "accept a proposed recommendation",
        Some("AcceptIn"),
        || post(api::accept)
    ),
    r!(
        "POST",
        "/api/fhir/Observation",
        Roles(CLINICAL),
        Api,
        "import a FHIR R4 serum magnesium Observation",
        Some("Observation"),
        || post(fhir::import)
    ),
    r!(
        "GET",
        "/api/fhir/Observation",
        Roles(CLINICAL),
        Api,
        "a patient's levels as a FHIR searchset Bundle (?patient=ID)",
        None,
        || get(fhir::bundle)
    ),
    r!(
        "POST",
        "/api/users",
        Roles(ADMIN),
        Api,
        "create an account",
        Some("UserIn"),
        || post(api::add_user)
    ),
    r!(
        "GET",
        "/api/audit/verify",
        Roles(ADMIN),
        Api,
        "check the audit chain",
        None,
        || get(api::audit_verify)
    ),
    r!(
        "GET",
        "/api/export",
        Roles(ADMIN),
        Api,
        "every table as JSON",
        None,
        || get(api::export)
    ),
    r!("GET", "/login", Public, Page, "sign-in page", None, || get(
        pages::login_page
    )),
    r!("POST", "/login", Public, Page, "sign-in form", None, || {
        post(pages::login_form)
    }),
    r!(
        "POST",
        "/logout",
        Roles(ANY_ROLE),
        Page,
        "sign out",
        None,
        || post(pages::logout_form)
    ),
    r!(
        "GET",
        "/",
        Roles(CLINICAL),
        Page,
        "ward list",
        None,
        || get(pages::ward)
    ),
    r!(
        "POST",
        "/patients",
        Roles(CLINICAL),
        Page,
        "admit form",
        None,
        || post(pages::admit_form)
    ),
    r!(
        "GET",
        "/patients/{id}",
        Roles(CLINICAL),
        Page,
        "patient page",
        None,
        || get(pages::patient_page)
    ),
    r!(
        "POST",
        "/patients/{id}/orders",
        Roles(CLINICAL),
        Page,
        "order form",
        None,
        || post(pages::order_form)
    ),
    r!(
        "POST",
        "/patients/{id}/levels",
        Roles(CLINICAL),
        Page,
        "level form",
        None,
        || post(pages::level_form)
    ),
    r!(
        "POST",
        "/patients/{id}/adjust",
        Roles(CLINICAL),
        Page,
        "TDM form",
        None,
        || post(pages::adjust_form)
    ),
    r!(
        "POST",
        "/patients/{id}/recommendations/{rid}/accept",
        Roles(CLINICAL),
        Page,
        "accept form",
        None,
        || post(pages::accept_form)
    ),
    r!(
        "GET",
        "/patients/{id}/report",
        Roles(CLINICAL),
        Page,
        "printable report",
        None,
        || get(pages::report)
    ),
];

/// The signed-in user of a request, with the session's CSRF token (put there by the middleware).
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub token_sha256: String,
}

pub const SESSION_COOKIE: &str = "mgiv_session";

pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn refuse(kind: Kind, e: ApiError) -> Response {
    match (kind, e.status) {
        (Kind::Page, StatusCode::UNAUTHORIZED) => Redirect::to("/login").into_response(),
        (Kind::Page, s) => (s, axum::response::Html(pages::error_page(&e))).into_response(),
        _ => e.into_response(),
    }
}

async fn authz(
    State((st, roles, kind)): State<(AppState, &'static [Role], Kind)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(token) = cookie_value(req.headers(), SESSION_COOKIE) else {
        return refuse(kind, ApiError::unauthorized());
    };
    let th = token_sha256(&token);
    let (user, csrf) = match st.db.session(&th).await {
        Ok(Some(x)) => x,
        Ok(None) => return refuse(kind, ApiError::unauthorized()),
        Err(e) => return refuse(kind, e.into()),
    };
    let role = Role::parse(&user.role).ok();
    if !role.is_some_and(|r| roles.contains(&r)) {
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        return refuse(
            kind,
            ApiError::forbidden(&format!(
                "role '{}' may not use this route (allowed: {})",
                user.role,
                allowed.join(", ")
            )),
        );
    }
    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let header_ok = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| same_token(v, &csrf));
        if !header_ok {
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return refuse(kind, ApiError::new(StatusCode::FORBIDDEN, "X-CSRF-Token", "missing or wrong", "state-changing requests need the CSRF token returned by /api/login in the X-CSRF-Token header", "the session's CSRF token"));
            }
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, 1 << 20).await {
                Ok(b) => b,
                Err(_) => {
                    return refuse(
                        kind,
                        ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "body",
                            "",
                            "form too large",
                            "at most 1 MiB",
                        ),
                    )
                }
            };
            let form_ok =
                form_urlencoded_get(&bytes, "csrf").is_some_and(|v| same_token(&v, &csrf));
            if !form_ok {
                return refuse(
                    kind,
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        "missing or wrong",
                        "the form's CSRF token is missing or wrong: reload the page",
                        "the session's CSRF token",
                    ),
                );
            }
            req = Request::from_parts(parts, Body::from(bytes));
        }
    }
    req.extensions_mut().insert(Session {
        user,
        csrf,
        token_sha256: th,
    });
    next.run(req).await
}

/// One field of an `application/x-www-form-urlencoded` body.
pub fn form_urlencoded_get(body: &[u8], key: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(body);
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    let s = String::from_utf8_lossy(body);
    s.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Some((pct_decode(k)?, pct_decode(v)?))
        })
        .collect()
}

fn pct_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The router, built from [`ROUTES`]: each route gets the middleware for its roles.
pub fn router(state: AppState) -> Router {
    let mut app: Router<AppState> = Router::new();
    for spec in ROUTES {
        let mut mr = (spec.handler)();
        if let Access::Roles(roles) = spec.access {
            mr = mr.route_layer(from_fn_with_state((state.clone(), roles, spec.kind), authz));
        }
        app = app.route(spec.path, mr);
    }
    app.fallback(api::not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        "nosniff".parse().expect("static header"),
    );
    h.insert("x-frame-options", "DENY".parse().expect("static header"));
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts,
    // and the sign-in form checks the Origin
    h.insert(
        "referrer-policy",
        "same-origin".parse().expect("static header"),
    );
    h.insert(
        "content-security-policy",
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'".parse().expect("static header"),
    );
    h.insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("static header"),
    );
    res
}
