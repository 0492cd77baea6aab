#!/usr/bin/env bash
# Run Linkage's embedded all-in-one server (demo on by default) from a checkout:
#
#   infra/scripts/run.sh [linkage run OPTIONS...]     e.g. --no-demo
#
# It makes or refreshes .venv first (fast when nothing changed).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$REPO_ROOT"
bash infra/scripts/bootstrap.sh
exec "$REPO_ROOT/.venv/bin/linkage" run "$@"
