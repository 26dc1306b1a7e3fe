# vidgen's everyday commands. `just --list` shows them.

pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")

# Build, migrate and serve on 127.0.0.1:8000 (docs at /docs).
run:
    cargo run

# The whole test suite (SQLite).
test:
    cargo test

# The whole test suite against PostgreSQL (a throwaway database per test).
test-pg:
    TEST_DATABASE_URL={{pg_url}} cargo test

# Formatting check and clippy with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Apply pending migrations to DATABASE_URL and exit.
migrate:
    cargo run -- migrate

# Print the OpenAPI document.
openapi:
    cargo run --quiet -- openapi

# Everything CI runs (fmt, clippy, tests on SQLite and PostgreSQL, Schemathesis).
ci:
    bash .ci/run

# The multi-instance test bed: two release instances on one PostgreSQL, Redis and an
# S3-compatible server (moto), checked against the contract's Scale-out section.
test-cluster:
    bash tests/cluster/run.sh

# Fuzz one target for `seconds` (targets: `cd fuzz && cargo fuzz list`); new inputs are
# added to its corpus in fuzz/corpus/<target>, a failing one saved in fuzz/artifacts/.
fuzz target seconds="600":
    cd fuzz && RUSTC_BOOTSTRAP=1 nice -n 10 cargo fuzz run --sanitizer none {{target}} corpus/{{target}} -- -max_total_time={{seconds}} -rss_limit_mb=2048 -timeout=10

# Every fuzz target for a bounded time each (FUZZ_SECONDS, default 30), as CI runs them.
fuzz-all:
    bash fuzz/run.sh

# Load benchmarks of the release build (installs wrk; see bench/run.sh), then the
# render benchmark.
bench:
    bash bench/run.sh

# Analytics benchmark alone: the overview's latency with 1,000 and 100,000 videos.
bench-analytics:
    bash bench/analytics.sh

# Render benchmark: pipeline frames/s at 720p and 1080p against the raw encoder.
bench-render:
    cargo bench -p vidgen-infrastructure --bench render
