#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL cluster: initdb in a temp dir, start it on a free
# loopback port, export MGIV_TEST_PG_URL, run "$@", stop the cluster and remove it.
# Usage: scripts/with-postgres.sh cargo test -p mgiv-server
# As root (CI), the cluster runs as the `postgres` user (initdb refuses root); if the PostgreSQL
# binaries are missing and we are root, they are installed from the Debian packages.
set -euo pipefail
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
PGBIN="${PGBIN:-$(find_bin)}"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install postgresql (PostgreSQL tests)" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PGBIN="$(find_bin)"
  else
    echo "with-postgres.sh: no PostgreSQL binaries under /usr/lib/postgresql and not root to install them" >&2
    exit 1
  fi
fi
DIR="$(mktemp -d "${TMPDIR:-/tmp}/mgiv-pg.XXXXXX")"
# a free port: ask the kernel
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$DIR"
  as_pg=(runuser -u postgres --)
fi
cleanup() { (cd "$DIR" && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1) || true; rm -rf "$DIR"; }
trap cleanup EXIT
# (run from $DIR: the postgres user may not be able to enter the caller's directory)
(cd "$DIR" && "${as_pg[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null)
(cd "$DIR" && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >/dev/null)
export MGIV_TEST_PG_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
echo "== PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (MGIV_TEST_PG_URL set)" >&2
"$@"
