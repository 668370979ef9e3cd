# Shared by scripts/run and scripts/test: install what is missing on Debian/Ubuntu.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

need_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "Rust (cargo) is required: install it from https://rustup.rs and run again." >&2
        exit 1
    fi
    # rusqlite builds SQLite from source: a C compiler is needed.
    command -v cc >/dev/null 2>&1 || apt_install build-essential pkg-config
}

need_node() {
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
}

# The desktop UI: its npm packages (exactly as locked) and its build in ui/dist, which
# the Tauri app embeds at compile time, so it must exist before any cargo build of it.
need_ui() {
    need_node
    if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules ]; then
        echo "installing: ui npm packages"
        # `npm install --no-save` rather than `npm ci`: it takes the locked versions too,
        # and tolerates a lock file that lists no entries for other platforms' optional
        # packages (rollup's), which some registries and mirrors produce.
        npm --prefix ui install --no-save --no-audit --no-fund --loglevel=error
        touch ui/node_modules
    fi
    npm --prefix ui run --silent build >/dev/null
}

# Media tests: coturn (turnserver and turnutils_uclient, which prove the TURN credentials
# beckon-server mints work), and headless Chromium with its WebDriver for calls between
# two browsers. Installing coturn starts no service.
need_media() {
    apt_install coturn chromium chromium-driver
}

# apt_install, keeping the packages' services from starting (a policy-rc.d that says no,
# unless the machine has one already): tests and scripts start their own servers.
apt_install_no_start() {
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        made_policy=1
    fi
    apt_install "$@"
    if [ -n "$made_policy" ]; then as_root rm -f "$policy"; fi
}

# PostgreSQL's server binaries, for the server's tests on PostgreSQL: crates/testkit runs
# its own throwaway initdb and postgres, so the package must start no service of its own.
# Debian's maintainer scripts start the cluster they create unless policy-rc.d says no;
# any cluster running anyway is stopped.
need_postgres() {
    if command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
        || { command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; }; then
        return 0
    fi
    apt_install_no_start postgresql
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header 2>/dev/null | while read -r version name _port status _rest; do
            if [ "$status" = online ]; then as_root pg_ctlcluster "$version" "$name" stop; fi
        done
    fi
}

# nats-server, for cluster tests and scripts/cluster, which start their own. Debian's
# package enables a service on 127.0.0.1:4222 (scripts/cluster's default port) and starts
# it unless policy-rc.d says no: it is kept from starting, and stopped and disabled if it
# runs anyway.
need_nats() {
    if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
        return 0
    fi
    apt_install_no_start nats-server
    if [ -d /run/systemd/system ]; then
        as_root systemctl disable --now nats-server >/dev/null 2>&1 || true
    fi
}
