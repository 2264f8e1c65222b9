//! Test helpers: a fresh database on each backend (SQLite always; PostgreSQL when
//! MGIV_TEST_PG_URL is set, else a clear SKIPPED line), and requests through the router.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mgiv_server::{AppState, Db};
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct Backend {
    pub name: &'static str,
    pub url: String,
}

fn tmpdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "mgiv-server-test-{}-{}",
        std::process::id(),
        mgiv_server::util::random_hex(6)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fresh empty database on every backend available.
pub async fn backends() -> Vec<Backend> {
    let mut v = vec![Backend {
        name: "sqlite",
        url: tmpdir().join("t.sqlite3").display().to_string(),
    }];
    match std::env::var("MGIV_TEST_PG_URL") {
        Ok(base) if !base.is_empty() => v.push(Backend { name: "postgres", url: fresh_pg_db(&base).await }),
        _ => eprintln!("SKIPPED PostgreSQL: MGIV_TEST_PG_URL is not set (scripts/with-postgres.sh sets it; CI runs it)"),
    }
    v
}

/// CREATE DATABASE with a random name on the server of `base`, and its URL.
pub async fn fresh_pg_db(base: &str) -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let name = format!("mgiv_t_{}", mgiv_server::util::random_hex(6));
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await
        .expect("connect to MGIV_TEST_PG_URL");
    pool.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    pool.close().await;
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_string(), format!("?{q}")),
        None => (base.to_string(), String::new()),
    };
    let slash = head.rfind('/').unwrap();
    // postgres://user@host:port/db → replace db (or append one)
    let head = if head[..slash].ends_with('/') {
        format!("{head}/{name}")
    } else {
        format!("{}/{name}", &head[..slash])
    };
    format!("{head}{query}")
}

pub struct T {
    pub db: Db,
    pub app: axum::Router,
    pub backend: &'static str,
}

impl T {
    pub async fn new(b: &Backend) -> T {
        let db = Db::connect(&b.url).await.expect("connect");
        let app = mgiv_server::app(AppState::new(db.clone(), false));
        T {
            db,
            app,
            backend: b.name,
        }
    }

    pub async fn user(&self, name: &str, role: &str, team: &str) {
        let h = mgiv_server::auth::hash_password("a-long-password-1").unwrap();
        self.db
            .create_user(name, role, team, &h, "test")
            .await
            .unwrap();
    }

    pub async fn req(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        who: Option<&Who>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut r = Request::builder().method(method).uri(path);
        if let Some(w) = who {
            r = r
                .header("cookie", format!("mgiv_session={}", w.token))
                .header("x-csrf-token", &w.csrf);
        }
        let req = match body {
            Some(b) => r
                .header("content-type", "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => r.body(Body::empty()).unwrap(),
        };
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"text": String::from_utf8_lossy(&bytes)}));
        (status, v, headers)
    }

    pub async fn login(&self, name: &str) -> Who {
        let (s, v, h) = self
            .req(
                "POST",
                "/api/login",
                Some(json!({"username": name, "password": "a-long-password-1"})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let cookie = h.get("set-cookie").unwrap().to_str().unwrap().to_string();
        let token = cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        Who {
            token,
            csrf: v["csrf_token"].as_str().unwrap().to_string(),
            cookie,
        }
    }

    /// A pre-eclampsia patient (70 kg, creatinine 0.8 mg/dL) admitted by `w`.
    pub async fn admit(&self, w: &Who) -> String {
        let (s, v, _) = self.req("POST", "/api/patients", Some(json!({"name": "Test Patient", "mrn": "MRN1", "weight_kg": 70.0, "age_y": 30.0, "sex": "f",
            "creatinine_mg_dl": 0.8, "pregnant": true, "pre_eclampsia": true, "indication": "pre-eclampsia"})), Some(w)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["patient"]["id"].as_str().unwrap().to_string()
    }

    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
            .get::<i64, _>(0)
    }
}

#[derive(Clone)]
pub struct Who {
    pub token: String,
    pub csrf: String,
    pub cookie: String,
}

pub const ZUSPAN: &str = "4 g over 20 min, then 1 g/h for 24 h";

impl T {
    pub async fn req_if_match(
        &self,
        method: &str,
        path: &str,
        body: Value,
        who: &Who,
        version: i64,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", format!("mgiv_session={}", who.token))
            .header("x-csrf-token", &who.csrf)
            .header("if-match", format!("\"{version}\""))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        )
    }
}
