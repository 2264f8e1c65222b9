//! Helpers shared by the CLI integration tests.
#![allow(dead_code)] // each test binary uses a subset

use assert_cmd::Command;

/// The `mgiv` binary built by this test run.
pub fn mgiv() -> Command {
    Command::cargo_bin("mgiv").unwrap()
}

/// Run `mgiv` with `args`, require success, and parse stdout as JSON.
pub fn json(args: &[&str]) -> serde_json::Value {
    let out = mgiv().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
