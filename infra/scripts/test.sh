#!/usr/bin/env bash
# The one command that runs Linkage's whole test suite, on a fresh Debian machine too:
#
#   infra/scripts/test.sh [PYTEST ARGS...]
#
# It bootstraps .venv, installs Debian's chromium for the browser tests when missing (as root),
# starts the real services (infra/services.sh), runs ruff, ruff format --check, mypy and
# pytest -W error, and stops the services it started when it exits (keep them running with
# LINKAGE_KEEP_SERVICES=1). Exits non-zero when any step fails; every step runs regardless,
# so one run shows all the problems.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$REPO_ROOT"

step() { printf '\n==> %s\n' "$*" >&2; }
die() {
    printf 'test.sh: %s\n' "$*" >&2
    exit 1
}

apt_install() { # apt_install REASON PACKAGE...
    local reason=$1 log
    shift
    export DEBIAN_FRONTEND=noninteractive
    log="$(mktemp "${TMPDIR:-/tmp}/linkage-apt.XXXXXX")"
    if [[ -z ${LINKAGE_APT_UPDATED:-} ]]; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$log" 2>&1 || {
            tail -n 20 "$log" >&2
            die "apt-get update failed (needed because $reason)"
        }
        export LINKAGE_APT_UPDATED=1
    fi
    printf 'test.sh: %s; installing %s with apt-get\n' "$reason" "$*" >&2
    apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends \
        "$@" >>"$log" 2>&1 || {
        tail -n 20 "$log" >&2
        die "apt-get install $* failed"
    }
    rm -f "$log"
}

step "bootstrap .venv"
bash infra/scripts/bootstrap.sh

# Browser tests drive Debian's chromium through Playwright (executable_path=/usr/bin/chromium);
# a browser is never downloaded with `playwright install`.
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        apt_install "/usr/bin/chromium is missing (browser tests)" chromium
    else
        printf 'test.sh: WARNING: /usr/bin/chromium is missing, so the browser tests will fail; install it with: sudo apt-get install -y chromium\n' >&2
    fi
fi
# Screenshots of the console show Chinese only with CJK fonts (the tests pass without them).
if [[ ! -d /usr/share/fonts/opentype/noto ]] && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    (apt_install "CJK fonts are missing (console screenshots)" fonts-noto-cjk) ||
        printf "test.sh: could not install fonts-noto-cjk; screenshots will show boxes for Chinese\n" >&2
fi

step "start services"
# The lease tells other runs sharing .services that we use them; --ephemeral marks the services
# this run starts, so the last run to finish stops them.
release_services() {
    bash infra/services.sh release "$$" || printf 'test.sh: could not stop the services; see infra/services.sh status\n' >&2
}
if [[ ${LINKAGE_KEEP_SERVICES:-0} == 1 ]]; then
    bash infra/services.sh start --lease "$$"
else
    trap release_services EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    bash infra/services.sh start --lease "$$" --ephemeral
fi
service_env="$(bash infra/services.sh env)"
eval "$service_env"
printf '%s\n' "$service_env" >&2

failed=()
run() { # run NAME COMMAND...
    local name=$1
    shift
    step "$name"
    if ! "$@"; then
        failed+=("$name")
    fi
}
run "ruff check" .venv/bin/ruff check .
run "ruff format --check" .venv/bin/ruff format --check .
run "mypy" .venv/bin/mypy
run "pytest" .venv/bin/python -m pytest -W error "$@"

if [[ ${#failed[@]} -gt 0 ]]; then
    printf '\ntest.sh: FAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\ntest.sh: all checks passed\n' >&2
