//! Storage: SQLite (WAL, the default) or PostgreSQL through one `sqlx::AnyPool`, one portable
//! migration set, append-only versioned records, optimistic concurrency on the patient version,
//! and the hash-chained audit log written in the same transaction as what it records.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

use crate::util::{hex, now_rfc3339, random_hex};

/// The migrations, in order (version, SQL). Portable: the same text runs on both backends.
pub const MIGRATIONS: [(i64, &str); 1] = [(1, include_str!("../migrations/0001_init.sql"))];

/// What the storage layer can refuse.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// someone else changed the patient (or the row) since the client read it
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid {field}: {value} (allowed: {allowed})")]
    Invalid {
        field: String,
        value: String,
        allowed: String,
    },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

pub fn invalid(field: &str, value: impl std::fmt::Display, allowed: &str) -> StoreError {
    StoreError::Invalid {
        field: field.into(),
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL from `--db`: `postgres://…`, `sqlite://…`, or a file path (SQLite).
pub fn normalize_url(db: &str) -> (String, Backend) {
    let d = db.trim();
    if d.starts_with("postgres://") || d.starts_with("postgresql://") {
        (d.to_string(), Backend::Postgres)
    } else if d.starts_with("sqlite:") {
        let u = if d.contains('?') {
            d.to_string()
        } else {
            format!("{d}?mode=rwc")
        };
        (u, Backend::Sqlite)
    } else {
        (format!("sqlite://{d}?mode=rwc"), Backend::Sqlite)
    }
}

/// The default database when `--db` is not given: a SQLite file in the working directory.
pub const DEFAULT_DB: &str = "mgiv.sqlite3";

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: String,
    pub team: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Patient {
    pub id: String,
    pub team: String,
    /// demographics, conditions, medications, indication (as entered)
    pub details: Value,
    /// the optimistic-concurrency version (send it back as `expected_version` / If-Match)
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: String,
    pub patient_id: String,
    pub patient_version: i64,
    /// order, level or recommendation
    pub kind: String,
    pub supersedes: Option<String>,
    /// the newer version that replaces this one, if any (computed on read)
    pub superseded_by: Option<String>,
    pub body: Value,
    pub created_by: String,
    pub created_at: String,
}

/// The storage handle.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// serialises this process's writers (SQLite has one writer anyway; on PostgreSQL the audit
    /// sequence's primary key and the version checks still guard writers in other processes)
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.code().as_deref() == Some("23505")
                || d.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let m = d.message();
            m.contains("database is locked") || m.contains("could not serialize")
        }
        _ => false,
    }
}

impl Db {
    /// Connect (creating a SQLite file if needed) and apply the migrations.
    pub async fn connect(db: &str) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = normalize_url(db);
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers do not block the writer; FULL: a commit is on disk when
                        // it is acknowledged; busy_timeout: writers wait rather than fail
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute("PRAGMA synchronous=FULL").await?;
                        conn.execute("PRAGMA busy_timeout=10000").await?;
                        conn.execute("PRAGMA foreign_keys=ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let db = Db {
            pool,
            backend,
            write_lock: Default::default(),
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let _g = self.write_lock.lock().await;
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            .await?;
        for (version, sql) in MIGRATIONS {
            let done: Option<i64> =
                sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.get::<i64, _>(0));
            if done.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            for stmt in split_sql(sql) {
                tx.execute(stmt.as_str()).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_rfc3339())
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1)")
                .bind(GENESIS)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Run `f` in a write transaction, retrying a few times when another writer won a race that
    /// the caller did not ask to detect (the audit sequence, a busy SQLite file).
    async fn write<T, F>(&self, mut f: F) -> Result<T, StoreError>
    where
        F: for<'t> FnMut(
            &'t mut Transaction<'static, Any>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 't>,
        >,
    {
        let _g = self.write_lock.lock().await;
        let mut tries = 0;
        loop {
            tries += 1;
            let mut tx = self.pool.begin().await?;
            match f(&mut tx).await {
                Ok(v) => match tx.commit().await {
                    Ok(()) => return Ok(v),
                    Err(e) if tries < 5 && (is_busy(&e) || is_unique_violation(&e)) => continue,
                    Err(e) => return Err(e.into()),
                },
                Err(StoreError::Db(e)) if tries < 5 && is_busy(&e) => {
                    let _ = tx.rollback().await;
                    continue;
                }
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
        }
    }

    // ---------------------------------------------------------------- users and sessions

    pub async fn create_user(
        &self,
        username: &str,
        role: &str,
        team: &str,
        password_hash: &str,
        actor: &str,
    ) -> Result<User, StoreError> {
        let u = User {
            id: random_hex(16),
            username: username.to_string(),
            role: role.to_string(),
            team: team.to_string(),
        };
        let (u2, ph, actor) = (u.clone(), password_hash.to_string(), actor.to_string());
        let r = self
            .write(move |tx| {
                let (u, ph, actor) = (u2.clone(), ph.clone(), actor.clone());
                Box::pin(async move {
                    sqlx::query("INSERT INTO users (id, username, role, team, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(&u.id).bind(&u.username).bind(&u.role).bind(&u.team).bind(&ph).bind(now_rfc3339())
                        .execute(&mut **tx).await?;
                    append_audit(tx, &actor, "user.add", None, None, json!({"username": u.username, "role": u.role, "team": u.team})).await?;
                    Ok(())
                })
            })
            .await;
        match r {
            Err(StoreError::Db(e)) if is_unique_violation(&e) => Err(StoreError::Conflict(
                format!("a user named '{username}' already exists"),
            )),
            Err(e) => Err(e),
            Ok(()) => Ok(u),
        }
    }

    /// (user, argon2 hash) by name.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, username, role, team, password_hash FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (user_of(&r), r.get::<String, _>("password_hash"))))
    }

    /// Record a sign-in (audited) and create its session; the token is stored only as its hash.
    pub async fn create_session(
        &self,
        user: &User,
        token_sha256: &str,
        csrf: &str,
        ttl_s: i64,
    ) -> Result<(), StoreError> {
        let (user, token, csrf) = (user.clone(), token_sha256.to_string(), csrf.to_string());
        self.write(move |tx| {
            let (user, token, csrf) = (user.clone(), token.clone(), csrf.clone());
            Box::pin(async move {
                sqlx::query("INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_unix_s) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&token).bind(&user.id).bind(&csrf).bind(now_rfc3339()).bind(crate::util::unix_s() + ttl_s)
                    .execute(&mut **tx).await?;
                append_audit(tx, &user.username, "sign-in", None, None, json!({"role": user.role, "team": user.team})).await?;
                Ok(())
            })
        })
        .await
    }

    /// The session's user and CSRF token, if the session exists and has not expired.
    pub async fn session(&self, token_sha256: &str) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query("SELECT u.id, u.username, u.role, u.team, s.csrf_token, s.expires_unix_s FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| {
            (r.get::<i64, _>("expires_unix_s") > crate::util::unix_s())
                .then(|| (user_of(&r), r.get::<String, _>("csrf_token")))
        }))
    }

    pub async fn delete_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- patients and records

    pub async fn create_patient(
        &self,
        team: &str,
        details: Value,
        actor: &str,
    ) -> Result<Patient, StoreError> {
        let p = Patient {
            id: random_hex(8),
            team: team.to_string(),
            details,
            version: 1,
            created_by: actor.to_string(),
            created_at: now_rfc3339(),
        };
        let p2 = p.clone();
        self.write(move |tx| {
            let p = p2.clone();
            Box::pin(async move {
                sqlx::query("INSERT INTO patients (id, team, details, version, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&p.id).bind(&p.team).bind(p.details.to_string()).bind(p.version).bind(&p.created_by).bind(&p.created_at)
                    .execute(&mut **tx).await?;
                append_audit(tx, &p.created_by, "patient.admit", Some(&p.id), None, p.details.clone()).await?;
                Ok(())
            })
        })
        .await?;
        Ok(p)
    }

    pub async fn list_patients(&self, team: &str) -> Result<Vec<Patient>, StoreError> {
        let rows = sqlx::query("SELECT id, team, details, version, created_by, created_at FROM patients WHERE team = $1 ORDER BY created_at, id")
            .bind(team)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(patient_of).collect()
    }

    /// A patient of this team (another team's patient is "not found", not "forbidden", so ids
    /// of other teams' patients are not revealed).
    pub async fn patient(&self, id: &str, team: &str) -> Result<Patient, StoreError> {
        let row = sqlx::query("SELECT id, team, details, version, created_by, created_at FROM patients WHERE id = $1 AND team = $2")
            .bind(id)
            .bind(team)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => patient_of(&r),
            None => Err(StoreError::NotFound(format!("patient '{id}'"))),
        }
    }

    /// Every record of a patient, oldest first, with `superseded_by` filled in.
    pub async fn records(&self, patient_id: &str) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query("SELECT id, patient_id, patient_version, kind, supersedes, body, created_by, created_at FROM records WHERE patient_id = $1 ORDER BY patient_version")
            .bind(patient_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<Record> = rows.iter().map(record_of).collect::<Result<_, _>>()?;
        let by: BTreeMap<String, String> = out
            .iter()
            .filter_map(|r| r.supersedes.clone().map(|s| (s, r.id.clone())))
            .collect();
        for r in &mut out {
            r.superseded_by = by.get(&r.id).cloned();
        }
        Ok(out)
    }

    /// Append a record (a new order, level or recommendation, or a new version of one).
    ///
    /// * `expected_version`: when given, the patient must still be at this version (409 else).
    /// * `supersedes`: the record this one replaces; it must be of this patient and kind and
    ///   must not already be superseded (409 else).
    ///
    /// The patient's version goes up by one and an audit entry `audit_action` is written, all in
    /// one transaction. Nothing is written when anything fails.
    #[allow(clippy::too_many_arguments)]
    pub async fn append_record(
        &self,
        patient: &Patient,
        kind: &str,
        body: Value,
        supersedes: Option<String>,
        expected_version: Option<i64>,
        actor: &str,
        audit_action: &str,
        audit_detail: Value,
    ) -> Result<Record, StoreError> {
        let (pid, kind, actor, action) = (
            patient.id.clone(),
            kind.to_string(),
            actor.to_string(),
            audit_action.to_string(),
        );
        let id = random_hex(8);
        let r = self
            .write(move |tx| {
                let (pid, kind, actor, action, id, body, sup, detail) = (
                    pid.clone(),
                    kind.clone(),
                    actor.clone(),
                    action.clone(),
                    id.clone(),
                    body.clone(),
                    supersedes.clone(),
                    audit_detail.clone(),
                );
                Box::pin(async move {
                    let cur: i64 = sqlx::query("SELECT version FROM patients WHERE id = $1")
                        .bind(&pid)
                        .fetch_optional(&mut **tx)
                        .await?
                        .map(|r| r.get::<i64, _>(0))
                        .ok_or_else(|| StoreError::NotFound(format!("patient '{pid}'")))?;
                    if let Some(ev) = expected_version {
                        if ev != cur {
                            return Err(StoreError::Conflict(format!(
                                "patient '{pid}' is at version {cur}, not {ev}: someone else changed it; reload and try again"
                            )));
                        }
                    }
                    if let Some(s) = &sup {
                        let row = sqlx::query("SELECT kind FROM records WHERE id = $1 AND patient_id = $2")
                            .bind(s)
                            .bind(&pid)
                            .fetch_optional(&mut **tx)
                            .await?;
                        match row.map(|r| r.get::<String, _>(0)) {
                            None => return Err(invalid("supersedes", s, "the id of a record of this patient")),
                            Some(k) if k != kind => {
                                return Err(invalid("supersedes", s, &format!("the id of a {kind} (that record is a {k})")))
                            }
                            _ => {}
                        }
                        let newer: Option<String> = sqlx::query("SELECT id FROM records WHERE supersedes = $1")
                            .bind(s)
                            .fetch_optional(&mut **tx)
                            .await?
                            .map(|r| r.get::<String, _>(0));
                        if let Some(n) = newer {
                            return Err(StoreError::Conflict(format!(
                                "{kind} '{s}' was already replaced by '{n}': reload and correct the current version"
                            )));
                        }
                    }
                    let next = cur + 1;
                    let updated = sqlx::query("UPDATE patients SET version = $1 WHERE id = $2 AND version = $3")
                        .bind(next)
                        .bind(&pid)
                        .bind(cur)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                    if updated != 1 {
                        return Err(StoreError::Conflict(format!("patient '{pid}' changed during the write; reload and try again")));
                    }
                    let at = now_rfc3339();
                    sqlx::query("INSERT INTO records (id, patient_id, patient_version, kind, supersedes, body, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(&id).bind(&pid).bind(next).bind(&kind).bind(sup.clone()).bind(body.to_string()).bind(&actor).bind(&at)
                        .execute(&mut **tx).await?;
                    let mut d = detail;
                    if let Some(o) = d.as_object_mut() {
                        o.insert("supersedes".into(), json!(sup));
                        o.insert("patient_version".into(), json!(next));
                    }
                    append_audit(tx, &actor, &action, Some(&pid), Some(&id), d).await?;
                    Ok(Record {
                        id,
                        patient_id: pid,
                        patient_version: next,
                        kind,
                        supersedes: sup,
                        superseded_by: None,
                        body,
                        created_by: actor,
                        created_at: at,
                    })
                })
            })
            .await;
        match r {
            Err(StoreError::Db(e)) if is_unique_violation(&e) => Err(StoreError::Conflict(
                "another version was written at the same time; reload and try again".into(),
            )),
            other => other,
        }
    }

    // ---------------------------------------------------------------- audit, export

    /// Check the whole audit chain.
    pub async fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let rows = sqlx::query("SELECT seq, at, actor, action, patient_id, record_id, detail, prev_hash, hash FROM audit ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)));
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1i64;
        for r in &rows {
            let e = AuditEntry {
                seq: r.get("seq"),
                at: r.get("at"),
                actor: r.get("actor"),
                action: r.get("action"),
                patient_id: r.get("patient_id"),
                record_id: r.get("record_id"),
                detail: r.get("detail"),
            };
            let prev_hash: String = r.get("prev_hash");
            let hash: String = r.get("hash");
            let broken = |why: String| AuditCheck {
                entries: rows.len() as i64,
                first_broken: Some(BrokenEntry { seq: e.seq, why }),
            };
            if e.seq != expected_seq {
                return Ok(AuditCheck {
                    entries: rows.len() as i64,
                    first_broken: Some(BrokenEntry {
                        seq: expected_seq,
                        why: format!("entry {expected_seq} is missing (next entry found is {}): a row was deleted", e.seq),
                    }),
                });
            }
            if prev_hash != prev {
                return Ok(broken(format!(
                    "its prev_hash {prev_hash} is not the hash of entry {} ({prev})",
                    e.seq - 1
                )));
            }
            let h = entry_hash(&prev, &e);
            if h != hash {
                return Ok(broken(format!("its content does not match its hash (stored {hash}, computed {h}): the row was edited")));
            }
            prev = hash;
            expected_seq += 1;
        }
        let last = expected_seq - 1;
        match head {
            Some((s, h)) if s == last && h == prev => Ok(AuditCheck {
                entries: rows.len() as i64,
                first_broken: None,
            }),
            Some((s, _)) if s > last => Ok(AuditCheck {
                entries: rows.len() as i64,
                first_broken: Some(BrokenEntry {
                    seq: last + 1,
                    why: format!("the chain head says {s} entries but only {last} remain: the last entries were deleted"),
                }),
            }),
            _ => Ok(AuditCheck {
                entries: rows.len() as i64,
                first_broken: Some(BrokenEntry {
                    seq: last,
                    why: "the chain head does not match the last entry".into(),
                }),
            }),
        }
    }

    /// Every table as JSON (users without their password hashes; sessions left out).
    pub async fn export(&self) -> Result<Value, StoreError> {
        let users: Vec<Value> =
            sqlx::query("SELECT id, username, role, team FROM users ORDER BY username")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| serde_json::to_value(user_of(r)).unwrap_or_default())
                .collect();
        let mut patients = Vec::new();
        for team in sqlx::query("SELECT DISTINCT team FROM patients ORDER BY team")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get::<String, _>(0))
        {
            for p in self.list_patients(&team).await? {
                let recs = self.records(&p.id).await?;
                patients.push(json!({"patient": p, "records": recs}));
            }
        }
        let audit: Vec<Value> = sqlx::query("SELECT seq, at, actor, action, patient_id, record_id, detail, prev_hash, hash FROM audit ORDER BY seq")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                json!({"seq": r.get::<i64, _>("seq"), "at": r.get::<String, _>("at"), "actor": r.get::<String, _>("actor"),
                       "action": r.get::<String, _>("action"), "patient_id": r.get::<Option<String>, _>("patient_id"),
                       "record_id": r.get::<Option<String>, _>("record_id"), "detail": r.get::<String, _>("detail"),
                       "prev_hash": r.get::<String, _>("prev_hash"), "hash": r.get::<String, _>("hash")})
            })
            .collect();
        Ok(
            json!({"mgiv_version": env!("CARGO_PKG_VERSION"), "schema_version": MIGRATIONS.len(), "exported_at": now_rfc3339(),
                  "users": users, "patients": patients, "audit": audit}),
        )
    }

    /// A consistent copy of a SQLite database into `path` (`VACUUM INTO`).
    pub async fn backup_sqlite(&self, path: &str) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(invalid(
                "--db",
                "a PostgreSQL URL",
                "a SQLite database (back up PostgreSQL with pg_dump, or use `mgiv export-db`)",
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry as hashed.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub patient_id: Option<String>,
    pub record_id: Option<String>,
    /// canonical JSON text
    pub detail: String,
}

/// sha256(previous hash ‖ canonical JSON of the entry), hex. The JSON object's keys are sorted
/// (a BTreeMap), so the text is canonical.
pub fn entry_hash(prev: &str, e: &AuditEntry) -> String {
    let mut m: BTreeMap<&str, Value> = BTreeMap::new();
    m.insert("seq", json!(e.seq));
    m.insert("at", json!(e.at));
    m.insert("actor", json!(e.actor));
    m.insert("action", json!(e.action));
    m.insert("patient_id", json!(e.patient_id));
    m.insert("record_id", json!(e.record_id));
    m.insert("detail", json!(e.detail));
    let canon = serde_json::to_string(&m).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(canon.as_bytes());
    hex(&h.finalize())
}

/// Canonical JSON of a value: objects with sorted keys at every depth.
pub fn canonical_json(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let m: BTreeMap<String, Value> =
                    o.iter().map(|(k, v)| (k.clone(), sort(v))).collect();
                serde_json::to_value(m).unwrap_or_default()
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            x => x.clone(),
        }
    }
    serde_json::to_string(&sort(v)).unwrap_or_default()
}

async fn append_audit(
    tx: &mut Transaction<'static, Any>,
    actor: &str,
    action: &str,
    patient_id: Option<&str>,
    record_id: Option<&str>,
    detail: Value,
) -> Result<i64, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let (last, prev): (i64, String) = (head.get(0), head.get(1));
    let e = AuditEntry {
        seq: last + 1,
        at: now_rfc3339(),
        actor: actor.to_string(),
        action: action.to_string(),
        patient_id: patient_id.map(str::to_string),
        record_id: record_id.map(str::to_string),
        detail: canonical_json(&detail),
    };
    let hash = entry_hash(&prev, &e);
    sqlx::query("INSERT INTO audit (seq, at, actor, action, patient_id, record_id, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(e.seq).bind(&e.at).bind(&e.actor).bind(&e.action).bind(e.patient_id.clone()).bind(e.record_id.clone()).bind(&e.detail).bind(&prev).bind(&hash)
        .execute(&mut **tx).await?;
    let n = sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
        .bind(e.seq)
        .bind(&hash)
        .bind(last)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict(
            "the audit chain moved during the write; try again".into(),
        ));
    }
    Ok(e.seq)
}

#[derive(Debug, Clone, Serialize)]
pub struct BrokenEntry {
    pub seq: i64,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditCheck {
    pub entries: i64,
    pub first_broken: Option<BrokenEntry>,
}

fn user_of(r: &AnyRow) -> User {
    User {
        id: r.get("id"),
        username: r.get("username"),
        role: r.get("role"),
        team: r.get("team"),
    }
}

fn patient_of(r: &AnyRow) -> Result<Patient, StoreError> {
    let details: String = r.get("details");
    Ok(Patient {
        id: r.get("id"),
        team: r.get("team"),
        details: serde_json::from_str(&details).map_err(|e| invalid("details", e, "JSON"))?,
        version: r.get("version"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
    })
}

fn record_of(r: &AnyRow) -> Result<Record, StoreError> {
    let body: String = r.get("body");
    Ok(Record {
        id: r.get("id"),
        patient_id: r.get("patient_id"),
        patient_version: r.get("patient_version"),
        kind: r.get("kind"),
        supersedes: r.get("supersedes"),
        superseded_by: None,
        body: serde_json::from_str(&body).map_err(|e| invalid("body", e, "JSON"))?,
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
    })
}

/// The SQL text split into statements (`--` comments dropped; no `;` inside literals here).
fn split_sql(sql: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A database URL with any password replaced by `***` (for messages; secrets never in logs).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised_and_redacted() {
        assert_eq!(normalize_url("postgres://u:p@h/db").1, Backend::Postgres);
        assert_eq!(
            normalize_url("x.sqlite3"),
            ("sqlite://x.sqlite3?mode=rwc".to_string(), Backend::Sqlite)
        );
        assert_eq!(
            redact_url("postgres://mgiv:s3cret@db:5432/mgiv"),
            "postgres://mgiv:***@db:5432/mgiv"
        );
        assert_eq!(
            redact_url("postgres://mgiv@db/mgiv"),
            "postgres://mgiv@db/mgiv"
        );
        assert_eq!(redact_url("mgiv.sqlite3"), "mgiv.sqlite3");
    }

    #[test]
    fn audit_hash_is_sha256_of_prev_and_canonical_json() {
        let e = AuditEntry {
            seq: 1,
            at: "2026-01-01T00:00:00.000Z".into(),
            actor: "a".into(),
            action: "x".into(),
            patient_id: None,
            record_id: None,
            detail: "{}".into(),
        };
        // independent: sha256 over the exact canonical text
        let canon = r#"{"action":"x","actor":"a","at":"2026-01-01T00:00:00.000Z","detail":"{}","patient_id":null,"record_id":null,"seq":1}"#;
        let mut h = Sha256::new();
        h.update(GENESIS.as_bytes());
        h.update(canon.as_bytes());
        assert_eq!(entry_hash(GENESIS, &e), hex(&h.finalize()));
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": 2, "c": 3}})),
            r#"{"a":{"c":3,"d":2},"b":1}"#
        );
    }
}
