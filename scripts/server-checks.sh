#!/usr/bin/env bash
# The web service's system checks (CI runs them from scripts/test.sh):
#  1. storage/API/auth/audit tests and the CLI's server tests on PostgreSQL (a throw-away cluster;
#     `cargo test --workspace` already ran them on SQLite);
#  2. crash safety: kill -9 during a burst of writes, on SQLite and PostgreSQL;
#  3. the browser test: Debian's headless Chromium driven by playwright-core (npm, lock file in
#     crates/mgiv-server/e2e), screenshots to E2E_OUT (default: a temp dir; docs/img/server holds
#     the committed ones: E2E_OUT=docs/img/server scripts/server-checks.sh).
#  4. API fuzzing with schemathesis (PyPI) against /api/openapi.json, 10 examples per operation
#     (MGIV_FUZZ_EXAMPLES), no 5xx.
# Node/npm and Chromium come from the Debian packages (installed here when root and missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "== apt-get install ${need[*]} (web service checks)"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
cargo build -q -p mgiv-cli
export MGIV_BIN="$PWD/target/debug/mgiv"
echo "== web service: PostgreSQL storage tests, crash safety (SQLite and PostgreSQL)"
./scripts/with-postgres.sh bash -c '
  set -e
  cargo test -q -p mgiv-server
  cargo test -q -p mgiv-cli --test server_cli
  node crates/mgiv-server/e2e/crash.mjs sqlite
  node crates/mgiv-server/e2e/crash.mjs postgres'
echo "== web service: end-to-end in headless Chromium"
(cd crates/mgiv-server/e2e && npm ci --no-audit --no-fund --silent)
E2E_OUT="${E2E_OUT:-$(mktemp -d)}" node crates/mgiv-server/e2e/e2e.mjs
echo "== web service: API fuzzing against the OpenAPI document (schemathesis, no 5xx)"
./scripts/server-fuzz.sh "${MGIV_FUZZ_EXAMPLES:-10}"
