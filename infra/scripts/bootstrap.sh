#!/usr/bin/env bash
# Make (or refresh) the project's virtual environment, .venv, from requirements.lock.
#
#   infra/scripts/bootstrap.sh
#
# Quiet and fast (a hash check) when nothing changed; on a fresh Debian machine it creates
# .venv with python3 >= 3.11 (installing python3/python3-venv with apt when run as root),
# installs uv into it from PyPI, syncs the locked dependencies and installs Linkage itself in
# editable mode. Environment: LINKAGE_PYTHON picks the interpreter (default: python3).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
VENV="$REPO_ROOT/.venv"
STAMP="$VENV/.linkage-bootstrap"
LOCK_FILE="$REPO_ROOT/requirements.lock"
PYTHON="${LINKAGE_PYTHON:-python3}"
MIN_PYTHON="3.11"

die() {
    printf 'bootstrap: %s\n' "$*" >&2
    exit 1
}

cd "$REPO_ROOT"
[[ -f $LOCK_FILE ]] || die "$LOCK_FILE is missing; run this script from a complete Linkage checkout"

# Everything that, when changed, calls for a new sync: the lock, the project metadata, this script.
wanted_stamp() {
    cat "$LOCK_FILE" pyproject.toml "$REPO_ROOT/infra/scripts/bootstrap.sh" | sha256sum | cut -d' ' -f1
}

venv_ok() {
    [[ -x $VENV/bin/python ]] &&
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

# Fast path: the venv works and was synced from exactly these inputs.
if venv_ok && [[ -f $STAMP && "$(<"$STAMP")" == "$(wanted_stamp)" ]]; then
    exit 0
fi

# Output of the slow steps goes to a log that is shown only when something fails.
LOG="$(mktemp "${TMPDIR:-/tmp}/linkage-bootstrap.XXXXXX")"
trap 'rm -f "$LOG"' EXIT

fail_with_log() {
    printf 'bootstrap: %s\n' "$1" >&2
    if [[ -s $LOG ]]; then
        printf -- '--- last lines of output ---\n' >&2
        tail -n 25 "$LOG" >&2
    fi
    exit 1
}

apt_install() { # apt_install REASON PACKAGE...
    local reason=$1
    shift
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        die "$reason; install it with: sudo apt-get install -y $* (or your system's equivalent), then re-run"
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z ${LINKAGE_APT_UPDATED:-} ]]; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$LOG" 2>&1 ||
            fail_with_log "apt-get update failed (needed because $reason)"
        export LINKAGE_APT_UPDATED=1
    fi
    printf 'bootstrap: %s; installing %s with apt-get\n' "$reason" "$*" >&2
    apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends \
        "$@" >>"$LOG" 2>&1 || fail_with_log "apt-get install $* failed"
}

# Serialise concurrent bootstraps of the same checkout (e.g. test.sh and run.sh at once).
LOCK_PATH="${TMPDIR:-/tmp}/linkage-bootstrap-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1).lock"
exec 8>"$LOCK_PATH"
flock -w 900 8 || die "another bootstrap of $REPO_ROOT has held $LOCK_PATH for 15 minutes; is it stuck?"
# Someone else may have finished the work while we waited.
if venv_ok && [[ -f $STAMP && "$(<"$STAMP")" == "$(wanted_stamp)" ]]; then
    exit 0
fi

# 1. An interpreter that is recent enough.
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    if [[ $PYTHON == python3 ]]; then
        apt_install "python3 is not installed" python3 python3-venv
    else
        die "LINKAGE_PYTHON=$PYTHON is not an executable; point it at Python >= $MIN_PYTHON"
    fi
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    found="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || echo unknown)"
    die "Linkage needs Python >= $MIN_PYTHON but $(command -v "$PYTHON") is $found; install Python $MIN_PYTHON+ (Debian 12: apt-get install python3) or set LINKAGE_PYTHON=/path/to/python3.11"
fi

# 2. The virtual environment (recreated when its interpreter is broken or too old).
if [[ -e $VENV ]] && ! venv_ok; then
    printf 'bootstrap: %s does not work (interpreter missing or too old); recreating it\n' "$VENV" >&2
    rm -rf "$VENV"
fi
if [[ ! -e $VENV ]]; then
    if ! "$PYTHON" -m venv "$VENV" >>"$LOG" 2>&1; then
        rm -rf "$VENV"
        if grep -qiE 'ensurepip|python3(\.[0-9]+)?-venv' "$LOG"; then
            # Debian splits venv/ensurepip into python3-venv (and python3.X-venv).
            pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
            venv_pkgs=(python3-venv)
            if [[ $(command -v "$PYTHON") == /usr/bin/* ]]; then
                venv_pkgs+=("python$pyver-venv")
            fi
            apt_install "'$PYTHON -m venv' needs Debian's venv support" "${venv_pkgs[@]}"
            "$PYTHON" -m venv "$VENV" >>"$LOG" 2>&1 || {
                rm -rf "$VENV"
                fail_with_log "'$PYTHON -m venv $VENV' failed even after installing ${venv_pkgs[*]}"
            }
        else
            fail_with_log "'$PYTHON -m venv $VENV' failed"
        fi
    fi
fi

# 3. uv, from PyPI, inside the venv.
if [[ ! -x $VENV/bin/uv ]]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv>=0.4" >>"$LOG" 2>&1 ||
        fail_with_log "could not install uv into $VENV with pip (is PyPI reachable?)"
fi

# 4. Exactly the locked dependencies, then Linkage itself (editable, no dependency resolution).
"$VENV/bin/uv" pip sync --quiet --python "$VENV/bin/python" "$LOCK_FILE" >>"$LOG" 2>&1 ||
    fail_with_log "uv pip sync $LOCK_FILE failed"
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --no-deps -e "$REPO_ROOT" >>"$LOG" 2>&1 ||
    fail_with_log "uv pip install -e $REPO_ROOT failed"

wanted_stamp >"$STAMP"
