//! `mgiv user add`, `mgiv audit verify`, `mgiv export-db`, `mgiv backup` (feature `server`), on
//! SQLite and, when MGIV_TEST_PG_URL is set, PostgreSQL.
#![cfg(feature = "server")]

mod common;
use common::mgiv;

fn add_user(db: &str, name: &str, role: &str, pw: &str) -> std::process::Output {
    mgiv()
        .args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--team",
            "ward-a",
            "--password-stdin",
            "--db",
            db,
        ])
        .write_stdin(format!("{pw}\n"))
        .output()
        .unwrap()
}

fn sql_url(db: &str) -> String {
    if db.starts_with("postgres") {
        db.to_string()
    } else {
        format!("sqlite://{db}")
    }
}

fn sql(url: &str, q: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap();
        sqlx::query(q).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

/// A fresh database per backend: a SQLite file, and a new PostgreSQL database when available.
fn dbs(tag: &str) -> Vec<String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("mgiv-server-cli-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut v = vec![dir.join(format!("{tag}.sqlite3")).display().to_string()];
    match std::env::var("MGIV_TEST_PG_URL") {
        Ok(base) if !base.is_empty() => {
            let name = format!("mgiv_cli_{tag}_{}", stamp % 1_000_000_007);
            sql(&base, &format!("CREATE DATABASE {name}"));
            let slash = base.rfind('/').unwrap();
            v.push(format!("{}/{name}", &base[..slash]));
        }
        _ => eprintln!(
            "SKIPPED PostgreSQL: MGIV_TEST_PG_URL is not set (scripts/with-postgres.sh sets it)"
        ),
    }
    v
}

#[test]
fn audit_verify_exits_0_when_intact_and_names_the_first_broken_entry() {
    for tamper in ["update", "delete"] {
        for db in dbs(tamper) {
            // three audited events: two user additions and one more
            for (n, r) in [
                ("ann", "clinician"),
                ("pat", "pharmacist"),
                ("adm", "admin"),
            ] {
                let o = add_user(&db, n, r, "a-long-password-1");
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
            let ok = mgiv()
                .args(["audit", "verify", "--db", &db])
                .output()
                .unwrap();
            assert_eq!(
                ok.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&ok.stderr)
            );
            assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 3 entries"));
            let q = if tamper == "update" {
                "UPDATE audit SET actor = 'someone-else' WHERE seq = 2"
            } else {
                "DELETE FROM audit WHERE seq = 2"
            };
            sql(&sql_url(&db), q);
            let bad = mgiv()
                .args(["audit", "verify", "--db", &db])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&bad.stdout);
            assert_eq!(bad.status.code(), Some(1), "{db} {tamper}: {text}");
            assert!(text.contains("BROKEN at entry 2"), "{db} {tamper}: {text}");
        }
    }
}

#[test]
fn user_add_refuses_bad_input_and_never_prints_the_password() {
    let db = &dbs("users")[0];
    let o = add_user(db, "ann", "nurse", "a-long-password-1");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("clinician, pharmacist or admin"));
    let o = add_user(db, "ann", "clinician", "short");
    assert_eq!(o.status.code(), Some(2));
    let o = add_user(db, "ann", "clinician", "a-long-password-1");
    assert!(o.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!all.contains("a-long-password-1"), "{all}");
    // the same name twice is refused
    assert_eq!(
        add_user(db, "ann", "clinician", "a-long-password-2")
            .status
            .code(),
        Some(2)
    );
    // no --password-stdin: refused, the password is never an argument
    let o = mgiv()
        .args(["user", "add", "bob", "--role", "admin", "--db", db])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // export has the user without any hash; backup makes a usable copy
    let ex = mgiv().args(["export-db", "--db", db]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&ex.stdout).unwrap();
    assert_eq!(v["users"][0]["username"], "ann");
    assert!(!String::from_utf8_lossy(&ex.stdout).contains("argon2"));
    let copy = format!("{db}.backup");
    assert!(mgiv()
        .args(["backup", "--db", db, "--out", &copy])
        .output()
        .unwrap()
        .status
        .success());
    let ok = mgiv()
        .args(["audit", "verify", "--db", &copy])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 1 entries"));
}
