//! `mgiv serve`, `mgiv user add`, `mgiv audit verify`, `mgiv export-db`, `mgiv backup`: thin
//! front ends of mgiv-server (feature `server`, on by default).

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};

fn db_arg(db: &Option<String>) -> String {
    db.clone()
        .unwrap_or_else(|| mgiv_server::db::DEFAULT_DB.to_string())
}

fn run<T>(
    f: impl std::future::Future<Output = Result<T, Box<dyn std::error::Error>>>,
) -> Result<T> {
    mgiv_server::block_on(f)?.map_err(|e| anyhow!("{e}"))
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mgiv serve                                   # http://127.0.0.1:8080, SQLite file mgiv.sqlite3 here
  mgiv serve --addr 127.0.0.1:8080 --db postgres://mgiv@localhost/mgiv
Make an account first: echo 'a-long-password' | mgiv user add ann --role pharmacist --team ward-a --password-stdin")]
pub struct ServeArgs {
    /// Address to listen on (a non-loopback address marks the session cookie Secure: put TLS in front)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Database: postgres://… URL, sqlite://… URL or a SQLite file path (default: mgiv.sqlite3 in the working directory)
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
}

pub fn serve(a: ServeArgs) -> Result<()> {
    let db = db_arg(&a.db);
    run(mgiv_server::serve(a.addr, &db, |addr| {
        eprintln!(
            "mgiv serve: listening on http://{addr} (database: {})",
            mgiv_server::db::redact_url(&db)
        );
    }))
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input (never an argument)
    Add {
        /// User name (letters, digits, . _ - @)
        name: String,
        /// clinician, pharmacist or admin
        #[arg(long)]
        role: String,
        /// The team whose patients the user sees
        #[arg(long, default_value = "ward")]
        team: String,
        /// Read the password (at least 10 characters) from standard input
        #[arg(long = "password-stdin")]
        password_stdin: bool,
        #[arg(long, value_name = "URL")]
        db: Option<String>,
    },
}

pub fn user(a: UserArgs) -> Result<()> {
    match a.command {
        UserCommand::Add {
            name,
            role,
            team,
            password_stdin,
            db,
        } => {
            if !password_stdin {
                bail!("give --password-stdin and the password on standard input (a password is never taken as an argument: it would show in the process list and the shell history)");
            }
            let mut pw = String::new();
            std::io::stdin()
                .read_to_string(&mut pw)
                .context("reading the password from standard input")?;
            let pw = pw
                .strip_suffix('\n')
                .map(|p| p.strip_suffix('\r').unwrap_or(p))
                .unwrap_or(&pw)
                .to_string();
            let u = run(mgiv_server::add_user(
                &db_arg(&db),
                &name,
                &role,
                &team,
                &pw,
            ))?;
            eprintln!(
                "user '{}' added: role {}, team {}",
                u.username, u.role, u.team
            );
            Ok(())
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: exit 0 when intact, 1 naming the first broken entry
    Verify {
        #[arg(long, value_name = "URL")]
        db: Option<String>,
    },
}

pub fn audit(a: AuditArgs) -> Result<()> {
    let AuditCommand::Verify { db } = a.command;
    let db = db_arg(&db);
    let c = run(async move { Ok(mgiv_server::Db::connect(&db).await?.verify_audit().await?) })?;
    match c.first_broken {
        None => {
            println!("audit chain intact: {} entries", c.entries);
            Ok(())
        }
        Some(b) => {
            println!("audit chain BROKEN at entry {}: {}", b.seq, b.why);
            std::io::stdout().flush().ok();
            std::process::exit(1);
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Write the JSON here (default: standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn export(a: ExportArgs) -> Result<()> {
    let db = db_arg(&a.db);
    let v = run(async move { Ok(mgiv_server::Db::connect(&db).await?.export().await?) })?;
    let text = serde_json::to_string_pretty(&v)? + "\n";
    match a.out {
        Some(p) => std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// A SQLite database (PostgreSQL: use pg_dump, or `mgiv export-db`)
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// The backup file to create (a consistent copy, made with VACUUM INTO while the server runs)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn backup(a: BackupArgs) -> Result<()> {
    if a.out.exists() {
        bail!(
            "invalid --out: {} exists (allowed: a new file)",
            a.out.display()
        );
    }
    let db = db_arg(&a.db);
    let out = a.out.display().to_string();
    run(async move {
        Ok(mgiv_server::Db::connect(&db)
            .await?
            .backup_sqlite(&out)
            .await?)
    })?;
    eprintln!("backup written to {}", a.out.display());
    Ok(())
}
