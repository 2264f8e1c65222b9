-- mgiv-server schema, version 1. Portable SQL: the same text runs on SQLite and PostgreSQL.
-- Orders, levels and recommendations live in `records` and are never updated: a correction is a
-- new row whose `supersedes` names the row it replaces (UNIQUE: a row is superseded at most once,
-- so two concurrent corrections of the same row cannot both land).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    team TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_unix_s BIGINT NOT NULL
);
CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    details TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE records (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    patient_version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    supersedes TEXT UNIQUE REFERENCES records(id),
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (patient_id, patient_version)
);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    patient_id TEXT,
    record_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX records_patient ON records(patient_id, kind);
