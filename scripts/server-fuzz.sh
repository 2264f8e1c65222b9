#!/usr/bin/env bash
# API fuzzing of `mgiv serve` against its OpenAPI document with schemathesis (PyPI), signed in as
# a pharmacist (and once as an admin), on loopback, bounded by --max-examples per operation.
# Passes when no request gets a 5xx (check not_a_server_error). CI runs it from
# scripts/server-checks.sh with 10 examples per operation; the 100-example run is the figure in
# BENCHMARKS.md. Usage: scripts/server-fuzz.sh [MAX_EXAMPLES=100]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100}"
venv="${ST_VENV:-${TMPDIR:-/tmp}/mgiv-schemathesis-venv}"
if [ ! -x "$venv/bin/st" ]; then
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5'; }; then
    echo "API fuzzing NOT run: schemathesis 4.32.5 could not be installed from PyPI into $venv" >&2
    exit 0
  fi
fi
cargo build -q -p mgiv-cli
bin="$PWD/target/debug/mgiv"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
db="$dir/fuzz.sqlite3"
echo 'fuzz-password-0001' | "$bin" user add fuzz --role pharmacist --team ward-a --password-stdin --db "$db"
echo 'fuzz-password-0002' | "$bin" user add fuzzadm --role admin --team ward-a --password-stdin --db "$db"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
"$bin" serve --addr "127.0.0.1:$port" --db "$db" 2>"$dir/server.log" &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
login() { curl -fs -c "$dir/$1.jar" -H 'content-type: application/json' -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$base/api/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])'; }
csrf="$(login fuzz fuzz-password-0001)"
cookie="$(awk '$6=="mgiv_session"{print $7}' "$dir/fuzz.jar")"
# one patient with an order and levels, so that some generated ids and bodies reach deep code
h=(-H "cookie: mgiv_session=$cookie" -H "x-csrf-token: $csrf" -H 'content-type: application/json')
pidj="$(curl -fs "${h[@]}" -d '{"name":"Fuzz","weight_kg":70,"pre_eclampsia":true,"indication":"pre-eclampsia"}' "$base/api/patients")"
p="$(echo "$pidj" | python3 -c 'import json,sys; print(json.load(sys.stdin)["patient"]["id"])')"
curl -fs "${h[@]}" -d '{"regimen":"4 g over 20 min, then 1 g/h for 24 h","protocol":"zuspan"}' "$base/api/patients/$p/orders" >/dev/null
curl -fs "${h[@]}" -d '{"value":1.8,"unit":"mmol/L","time":4}' "$base/api/patients/$p/levels" >/dev/null
echo "== schemathesis $("$venv/bin/st" --version | awk '{print $3}') on $base/api/openapi.json, $n examples per operation, as a pharmacist"
set +e
"$venv/bin/st" run "$base/api/openapi.json" --checks not_a_server_error --max-examples "$n" \
  --workers 2 --request-timeout 30 --generation-deterministic \
  -H "Cookie: mgiv_session=$cookie" -H "X-CSRF-Token: $csrf" --exclude-path /api/logout
rc1=$?
csrf2="$(login fuzzadm fuzz-password-0002)"
cookie2="$(awk '$6=="mgiv_session"{print $7}' "$dir/fuzzadm.jar")"
echo "== as an admin"
"$venv/bin/st" run "$base/api/openapi.json" --checks not_a_server_error --max-examples "$n" \
  --workers 2 --request-timeout 30 --generation-deterministic \
  -H "Cookie: mgiv_session=$cookie2" -H "X-CSRF-Token: $csrf2" --exclude-path /api/logout
rc2=$?
set -e
if [ $rc1 = 0 ] && [ $rc2 = 0 ]; then echo "fuzz: 2 passed, 0 failed"; else echo "fuzz: $(( (rc1==0) + (rc2==0) )) passed, $(( (rc1!=0) + (rc2!=0) )) failed"; exit 1; fi
