#!/usr/bin/env bash
# The project's test command (README "Test"; .ci/run calls exactly this).
# Installs what the tests need, then: format check, clippy, unit tests, the integration
# tests on both io drivers (io_uring and epoll), and every criterion bench once.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
# pip, only when botocore is missing and pip is too (Debian ships them apart).
python3 -c 'import botocore' 2>/dev/null || python3 -m pip --version >/dev/null 2>&1 \
  || need_apt+=(python3-pip)
if ((${#need_apt[@]})); then
  if command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "tests need: ${need_apt[*]}" >&2; exit 1
  fi
fi
# The official Lambda runtime interface client runs tests/lambda/*.py under the local function host.
python3 -c 'import awslambdaric' 2>/dev/null || python3 -m pip install --quiet awslambdaric
# boto3/botocore: the SigV4 tests compare our signatures with botocore's (tests/sigv4/).
python3 -c 'import botocore' 2>/dev/null || python3 -m pip install -q boto3 \
  || python3 -m pip install -q --break-system-packages boto3
# Optional: the differential test against Apache Velocity 1.7 (tests/velocity_diff.rs) runs
# when a JDK and Debian's velocity jars are present, and skips itself otherwise.
opt_apt=()
command -v javac >/dev/null || opt_apt+=(default-jdk-headless)
[[ -e /usr/share/java/velocity-1.7.jar ]] || opt_apt+=(velocity)
if ((${#opt_apt[@]})) && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && timeout 600 apt-get install -y -qq "${opt_apt[@]}"; } ||
    echo "could not install ${opt_apt[*]}: the Velocity differential test will skip" >&2
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The gateway must not pull in a tokio reactor (design rule: monoio only on the data plane).
if cargo tree -p tollgate -e normal --locked | grep -Eq '(^| )tokio v'; then
  echo "tokio is in the gateway's dependencies" >&2; exit 1
fi
cargo build --workspace --locked
cargo test --workspace --locked --lib --bins
# One test at a time per binary keeps the 2-core CI machine from timing out process starts.
cargo test --locked --test all -- --test-threads=2
TOLLGATE_TEST_DRIVER=legacy cargo test --locked --test all -- --test-threads=2
# Each criterion bench runs once as a test (hyper's habit): they must build and not panic.
cargo test --locked --benches
