#!/usr/bin/env bash
# `just test-cluster`: the multi-instance test bed. Two release server instances share one
# PostgreSQL database, one Redis (rate limits and cache invalidation) and one
# S3-compatible store (moto's server from PyPI, on loopback); no proxy is in front, the
# checks talk to both (tests/cluster/check.py). Exits non-zero on any violated property
# and prints what it saw.
#
#   CLUSTER_SKIP_BUILD=1   reuse target/release/vidgen (CI has just built it)
#   CLUSTER_BINARY         another binary to run (implies CLUSTER_SKIP_BUILD=1)
#   CLUSTER_PG_URL         server to create the database on (default: TEST_DATABASE_URL's
#                          server, else postgres://postgres@127.0.0.1:5432)
#   CLUSTER_REDIS_URL      Redis to use; its database 7 is flushed (default
#                          redis://127.0.0.1:6379/7)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

pg_default="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_SERVER="${CLUSTER_PG_URL:-${pg_default%/*}}"
DB_NAME=vidgen_cluster
REDIS_URL="${CLUSTER_REDIS_URL:-redis://127.0.0.1:6379/7}"
PORT_A=18890
PORT_B=18891
PORT_S3=18892
BUCKET=vidgen-cluster
# A key as production needs it (placeholders and predictable keys are refused there).
SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"

BINARY="$(realpath -m "${CLUSTER_BINARY:-target/release/vidgen}")"
if [ -z "${CLUSTER_BINARY:-}" ] && [ "${CLUSTER_SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked --bin vidgen -p vidgen-server
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing moto[server] (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "moto[server]==5.2.5" 2>&1 |
    grep -v "Running pip as the 'root' user" || true
fi
python3 -c 'import requests' 2>/dev/null || python3 -m pip install --quiet requests

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB_NAME" 2>/dev/null || true
  if [ "${CLUSTER_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The shared services, fresh.
psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"
redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
moto_server -H 127.0.0.1 -p "$PORT_S3" >"$work/moto.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT_S3/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS -X PUT "http://127.0.0.1:$PORT_S3/$BUCKET" >/dev/null

start_instance() { # name port
  local name="$1" port="$2" dir="$work/$1"
  mkdir -p "$dir"
  (cd "$dir" && exec env APP_ENV=production SECRET_KEY="$SECRET" HOST=127.0.0.1 PORT="$port" \
    PUBLIC_BASE_URL="http://127.0.0.1:$port" MAIL_BACKEND=log MAIL_LOG_IN_PRODUCTION=true METRICS_PUBLIC=true \
    WORKERS=2 JOB_WORKERS=1 JOB_LEASE_SECONDS=3 JOB_RETRY_BASE_MS=100 SHUTDOWN_TIMEOUT_SECONDS=2 \
    LOG_FORMAT=json LOG_LEVEL=info DATABASE_URL="$PG_SERVER/$DB_NAME" \
    REDIS_URL="$REDIS_URL" RATE_LIMIT_BACKEND=redis RATE_LIMIT_REQUESTS=600 LOGIN_RATE_LIMIT=1000 \
    MAX_ACTIVE_JOBS_PER_USER=100 PASSWORD_HASH_MEMORY_KIB=64 PASSWORD_HASH_ITERATIONS=1 \
    STORAGE_BACKEND=s3 S3_BUCKET="$BUCKET" S3_ENDPOINT="http://127.0.0.1:$PORT_S3" S3_REGION=us-east-1 \
    S3_ACCESS_KEY_ID=cluster S3_SECRET_ACCESS_KEY=cluster S3_FORCE_PATH_STYLE=true \
    MEDIA_ROOT="$dir/media" ADMIN_EMAIL=admin@cluster.test ADMIN_PASSWORD=Adm1nPassword \
    "$BINARY") >>"$dir/server.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  echo "$pid" >"$dir/pid"
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "instance $name did not start:" >&2; tail -n 40 "$dir/server.log" >&2; return 1
}
# A first (it migrates and creates the admin), then B.
start_instance a "$PORT_A"
start_instance b "$PORT_B"

status=0
CLUSTER_A="http://127.0.0.1:$PORT_A" CLUSTER_B="http://127.0.0.1:$PORT_B" \
  CLUSTER_A_LOG="$work/a/server.log" CLUSTER_B_LOG="$work/b/server.log" \
  CLUSTER_A_PID="$(cat "$work/a/pid")" CLUSTER_B_PID="$(cat "$work/b/pid")" \
  CLUSTER_DATABASE_URL="$PG_SERVER/$DB_NAME" CLUSTER_FIXTURE="$root/tests/fixtures/sample.webm" \
  CLUSTER_ADMIN=admin@cluster.test CLUSTER_ADMIN_PASSWORD=Adm1nPassword \
  python3 tests/cluster/check.py || status=$?
# vidgen's own error lines (a 500, a panic) on either instance fail the run too.
for name in a b; do
  if grep '"level":"ERROR"' "$work/$name/server.log" | grep -q '"target":"vidgen'; then
    echo "instance $name logged errors:" >&2
    grep '"level":"ERROR"' "$work/$name/server.log" | grep '"target":"vidgen' | head -20 >&2
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  for name in a b; do
    echo "--- the end of instance $name's log" >&2
    tail -n 25 "$work/$name/server.log" >&2
  done
fi
exit "$status"
