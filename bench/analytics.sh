#!/usr/bin/env bash
# The analytics step of `just bench` (bench/run.sh calls it; it also runs alone):
# GET /api/v1/analytics/overview with an admin token, with 1,000 and then 100,000 videos
# owned by 10,000 users, all seeded directly in the database by one INSERT ... SELECT
# each (a recursive CTE on SQLite, generate_series on PostgreSQL). Reports p50 and p99
# latency and the server's resident memory before and after each load (target: p50 under
# 50 ms at 100,000 videos on both databases; memory flat in the number of videos).
#
# SQLite always; PostgreSQL too when one answers at BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432, which must be allowed to create a database).
# BENCH_SKIP_BUILD=1 reuses the release binary (run.sh has just built it); BENCH_BINARY
# names another one (default target/release/vidgen).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${BENCH_DURATION:-10s}"
# One client by default: the latency of one dashboard request, not the queue behind the
# one server core (BENCH_ANALYTICS_CONNECTIONS for more).
CONNECTIONS="${BENCH_ANALYTICS_CONNECTIONS:-1}"
PORT=18782
# A key as production needs it (placeholders and predictable keys are refused there).
SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
PG_URL="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
PG_DB=vidgen_bench_analytics
BINARY="$(realpath -m "${BENCH_BINARY:-target/release/vidgen}")"

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)"
  apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked --bin vidgen -p vidgen-server
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  cp "$work/server.log" "${TMPDIR:-/tmp}/vidgen-bench-analytics-server.log" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_server() { # database url
  (cd "$work" && exec env APP_ENV=production SECRET_KEY="$SECRET" PORT="$PORT" WORKERS=1 \
     PUBLIC_BASE_URL="http://127.0.0.1:$PORT" MAIL_LOG_IN_PRODUCTION=true METRICS_PUBLIC=true \
     SHUTDOWN_TIMEOUT_SECONDS=2 LOG_LEVEL=warn DATABASE_URL="$1" JOB_WORKERS=0 \
     ADMIN_EMAIL=admin@bench.test ADMIN_PASSWORD=Adm1nPassword \
     RATE_LIMIT_REQUESTS=1000000 LOGIN_RATE_LIMIT=1000000 \
     taskset -c 1 "$BINARY") >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1
}
stop_server() {
  kill "$server_pid"
  for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || { server_pid=""; return 0; }; sleep 0.1; done
  echo "server did not stop" >&2; exit 1
}
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status"; }

admin_token() {
  curl -fsS -X POST "http://127.0.0.1:$PORT/api/v1/users/login" -H 'content-type: application/json' \
    -d '{"username":"admin@bench.test","password":"Adm1nPassword"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# The seed statements, one per table and backend. Users: `seed1`..`seed10000`, created
# over the last 40 days, a mix of statuses and roles. Videos: owners spread over the
# seeded users, every status and source, created over the last 40 days; `$from`..`$to`
# number them so a second call adds more.
sqlite_users() {
  cat <<SQL
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 10000)
INSERT INTO users (username, username_normalized, name, email, password_hash, role, status,
                   token_version, created_at, updated_at)
SELECT 'seed' || n, 'seed' || n, 'Seed ' || n, 'seed' || n || '@bench.test', 'x',
       CASE WHEN n % 50 = 0 THEN 'moderator' ELSE 'user' END,
       CASE n % 10 WHEN 0 THEN 'inactive' WHEN 1 THEN 'suspended' WHEN 2 THEN 'pending_verification' ELSE 'active' END,
       0, t, t
FROM (SELECT n, strftime('%Y-%m-%dT%H:%M:%S', 'now', printf('-%d seconds', (n * 7919) % 3456000)) || '.000000+00:00' AS t FROM seq);
SQL
}
sqlite_videos() { # from to
  cat <<SQL
WITH RECURSIVE seq(n) AS (SELECT $1 UNION ALL SELECT n + 1 FROM seq WHERE n < $2)
INSERT INTO videos (owner_id, title, source, status, progress, duration, width, height, file_size,
                    content_type, created_at, updated_at)
SELECT (SELECT MIN(id) FROM users WHERE username LIKE 'seed%') + n % 10000, 'Video ' || n,
       CASE WHEN n % 3 = 0 THEN 'upload' ELSE 'generated' END,
       CASE n % 10 WHEN 7 THEN 'failed' WHEN 8 THEN 'pending' WHEN 9 THEN 'processing' ELSE 'completed' END,
       CASE WHEN n % 10 < 7 THEN 100 ELSE 0 END,
       CASE WHEN n % 10 < 7 THEN 1 + n % 60 END, 1280, 720,
       CASE WHEN n % 10 < 7 THEN 100000 + n END, 'video/mp4', t, t
FROM (SELECT n, strftime('%Y-%m-%dT%H:%M:%S', 'now', printf('-%d seconds', (n * 104729) % 3456000)) || '.000000+00:00' AS t FROM seq);
SQL
}
pg_users() {
  cat <<SQL
INSERT INTO users (username, username_normalized, name, email, password_hash, role, status,
                   token_version, created_at, updated_at)
SELECT 'seed' || n, 'seed' || n, 'Seed ' || n, 'seed' || n || '@bench.test', 'x',
       CASE WHEN n % 50 = 0 THEN 'moderator' ELSE 'user' END,
       CASE n % 10 WHEN 0 THEN 'inactive' WHEN 1 THEN 'suspended' WHEN 2 THEN 'pending_verification' ELSE 'active' END,
       0, t, t
FROM (SELECT n, now() - make_interval(secs => (n * 7919) % 3456000) AS t
      FROM generate_series(1, 10000) AS n) AS s;
SQL
}
pg_videos() { # from to
  cat <<SQL
INSERT INTO videos (owner_id, title, source, status, progress, duration, width, height, file_size,
                    content_type, created_at, updated_at)
SELECT (SELECT MIN(id) FROM users WHERE username LIKE 'seed%') + n % 10000, 'Video ' || n,
       CASE WHEN n % 3 = 0 THEN 'upload' ELSE 'generated' END,
       CASE n % 10 WHEN 7 THEN 'failed' WHEN 8 THEN 'pending' WHEN 9 THEN 'processing' ELSE 'completed' END,
       CASE WHEN n % 10 < 7 THEN 100 ELSE 0 END,
       CASE WHEN n % 10 < 7 THEN 1 + n % 60 END, 1280, 720,
       CASE WHEN n % 10 < 7 THEN 100000 + n END, 'video/mp4', t, t
FROM (SELECT n, now() - make_interval(secs => (n::bigint * 104729) % 3456000) AS t
      FROM generate_series($1, $2) AS n) AS s;
-- As autovacuum leaves a table at rest: statistics, and the visibility map that lets the
-- overview's index-only scans skip the heap (without it the run measured whether
-- autovacuum had come by yet: 29 ms one run, 56 ms the next).
VACUUM (ANALYZE) users;
VACUUM (ANALYZE) videos;
SQL
}

results="$work/results.txt"
measure() { # label
  local token out p50 p99 before after
  token="$(admin_token)"
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/analytics/overview"
  before="$(rss_mib)"
  out="$(taskset -c 0 wrk --latency -t 1 -c "$CONNECTIONS" -d "$DURATION" -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$PORT/api/v1/analytics/overview")"
  after="$(rss_mib)"
  if grep -q -E "Non-2xx|Socket errors" <<<"$out"; then
    echo "$out" | grep -E "Non-2xx|Socket errors" | sed "s/^/  $1: /" >&2
  fi
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  printf '%-52s %9s %9s %11s %11s\n' "$1" "$p50" "$p99" "$before MiB" "$after MiB" | tee -a "$results"
}

printf '%-52s %9s %9s %11s %11s\n' "GET /api/v1/analytics/overview (admin)" "p50" "p99" "RSS before" "RSS after" | tee "$results"

echo "SQLite: seeding 10,000 users and 1,000 videos" >&2
db="$work/analytics.db"
start_server "sqlite://$db?mode=rwc"
{ sqlite_users; sqlite_videos 1 1000; } | sqlite3 -cmd '.timeout 10000' "$db"
measure "SQLite, 10,000 users, 1,000 videos"
seed_start=$(date +%s.%N)
sqlite_videos 1001 100000 | sqlite3 -cmd '.timeout 10000' "$db"
echo "SQLite: 99,000 more videos seeded in $(python3 -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))' "$seed_start" "$(date +%s.%N)") s" >&2
measure "SQLite, 10,000 users, 100,000 videos"
stop_server

if psql "$PG_URL/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  echo "PostgreSQL: seeding 10,000 users and 1,000 videos" >&2
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
  start_server "$PG_URL/$PG_DB"
  { pg_users; pg_videos 1 1000; } | psql "$PG_URL/$PG_DB" -q -v ON_ERROR_STOP=1 >/dev/null
  measure "PostgreSQL, 10,000 users, 1,000 videos"
  pg_videos 1001 100000 | psql "$PG_URL/$PG_DB" -q -v ON_ERROR_STOP=1 >/dev/null
  measure "PostgreSQL, 10,000 users, 100,000 videos"
  stop_server
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
else
  echo "no PostgreSQL at $PG_URL: the PostgreSQL analytics scenarios are skipped" | tee -a "$results"
fi
