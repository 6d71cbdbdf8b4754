#!/usr/bin/env bash
# Installs the greetwatch edge node on Raspberry Pi OS (Bookworm or Trixie).
#
#   sudo edge/deploy/install-pi.sh                   # install or update; enables nothing
#   sudo edge/deploy/install-pi.sh --enable door-1   # also enable and start greetwatch-node@door-1
#
# Run it from a checkout of the repository. It copies the checkout to /opt/greetwatch (or
# uses it in place when run from there), runs `npm ci`, `npm run build` (the node runs the
# compiled JS in dist/) and `npm prune --omit=dev`, creates the `greetwatch`
# user (groups gpio and dialout), /etc/greetwatch and /var/lib/greetwatch, and installs the
# systemd unit. It uses the network only through apt-get and npm. Running it again updates
# the installation and restarts the node instances that are running.
#
# A node needs only its bootstrap file, /etc/greetwatch/<node>.bootstrap.yaml, made on the hub
# with `greetwatch config node-bootstrap <store.yaml> <node>`; the store file stays on the hub.
set -euo pipefail

readonly APP_DIR=/opt/greetwatch
readonly CONF_DIR=/etc/greetwatch
# the store file of the old node model (nodes read it themselves); only warned about now
readonly OLD_STORE_FILE=/etc/greetwatch/store.yaml
readonly STATE_DIR=/var/lib/greetwatch
readonly UNIT_FILE=greetwatch-node@.service
readonly UNIT_DIR=/etc/systemd/system
readonly SVC_USER=greetwatch
readonly NODE_MIN_MAJOR=20
readonly ID_RE='^[a-z0-9][a-z0-9-]{0,31}$'

log() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'install-pi.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<'EOF'
usage: sudo edge/deploy/install-pi.sh [--enable <node>]...
  --enable <node>   after installing, enable and start greetwatch-node@<node>
                    (needs /etc/greetwatch/<node>.bootstrap.yaml for that node, root:greetwatch
                    0640 or greetwatch 0600; may be repeated)
  -h, --help        this text
EOF
}

ENABLE=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --enable)
      [[ $# -ge 2 ]] || die "--enable needs a node id"
      ENABLE+=("$2")
      shift 2
      ;;
    --enable=*)
      ENABLE+=("${1#--enable=}")
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
done

[[ ${EUID} -eq 0 ]] || die "run as root: sudo $0 $*"

SRC_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)"
readonly SRC_DIR
for f in package.json package-lock.json bin/greetwatch.mjs "edge/deploy/${UNIT_FILE}"; do
  [[ -f "${SRC_DIR}/${f}" ]] || die "${SRC_DIR} is not a greetwatch checkout (no ${f})"
done

# --- bootstrap files -------------------------------------------------------------------

bootstrap_file() { printf '%s/%s.bootstrap.yaml' "${CONF_DIR}" "$1"; }

# The file exists, is a regular file, and only root and the service can read it: root:greetwatch
# 0640 (the service reads it through its group), or greetwatch 0600.
check_bootstrap_mode() {
  local node="$1" file mode owner group
  file="$(bootstrap_file "${node}")"
  if [[ ! -f "${file}" ]]; then
    die "--enable ${node}: no ${file}. Make it on the hub:
  greetwatch config node-bootstrap store.yaml ${node}
then copy ${node}.bootstrap.yaml to this Pi and install it:
  sudo install -o root -g ${SVC_USER} -m 0640 ${node}.bootstrap.yaml ${file}
(edge/deploy/README.md, \"On the hub\")"
  fi
  read -r mode owner group < <(stat -c '%a %U %G' -- "${file}")
  case "${mode}" in
    640) [[ "${owner}" == root && "${group}" == "${SVC_USER}" ]] && return 0 ;;
    600) [[ "${owner}" == "${SVC_USER}" ]] && return 0 ;;
    *) ;;
  esac
  die "--enable ${node}: ${file} is ${owner}:${group} with mode 0${mode}; it must be root:${SVC_USER} 0640 (or ${SVC_USER} 0600):
  sudo chown root:${SVC_USER} ${file} && sudo chmod 0640 ${file}"
}

# Prints the store id, broker URL and login name of node $1's bootstrap file (never the
# password); fails, saying why, unless the file is a bootstrap for that node. Needs the yaml
# module of ${APP_DIR}.
bootstrap_names() {
  # shellcheck disable=SC2016 # ${...} below is JavaScript, not shell
  (cd "${APP_DIR}" && node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { parse } from "yaml";
    const [file, node] = process.argv.slice(1);
    let b;
    try {
      b = parse(readFileSync(file, "utf8"));
    } catch (err) {
      console.error(`${file}: not YAML (${err.message})`);
      process.exit(1);
    }
    const missing = ["store", "node", "mqttUrl", "username", "password"].filter((k) => typeof b?.[k] !== "string" || b[k] === "");
    if (missing.length > 0) {
      console.error(`${file}: not a node bootstrap file (missing: ${missing.join(", ")})`);
      process.exit(1);
    }
    if (b.node !== node) {
      console.error(`${file}: this is the bootstrap of node ${b.node}, not ${node}`);
      process.exit(1);
    }
    if (!/^mqtts?:\/\//.test(b.mqttUrl)) {
      console.error(`${file}: mqttUrl ${b.mqttUrl} is not an mqtt:// or mqtts:// URL`);
      process.exit(1);
    }
    console.log(`store ${b.store}, broker ${b.mqttUrl.replace(/\/\/[^/@]*@/, "//")}, login ${b.username}`);
  ' "$(bootstrap_file "$1")" "$1")
}

for node in "${ENABLE[@]}"; do
  [[ "${node}" =~ ${ID_RE} ]] || die "--enable ${node}: not a node id (lowercase letters, digits, '-')"
done

if [[ -r /etc/os-release ]]; then
  # shellcheck source=/dev/null
  codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
  case "${codename}" in
    bookworm | trixie) ;;
    *) warn "made for Raspberry Pi OS Bookworm or Trixie; this is '${codename:-unknown}'" ;;
  esac
fi

# --- packages ---------------------------------------------------------------------------

apt_updated=0
apt_install() {
  if [[ ${apt_updated} -eq 0 ]]; then
    log "apt-get update"
    apt-get update
    apt_updated=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

node_major() {
  if command -v node >/dev/null 2>&1; then
    node -p 'process.versions.node.split(".")[0]' 2>/dev/null || printf '0'
  else
    printf '0'
  fi
}

if [[ "$(node_major)" -lt ${NODE_MIN_MAJOR} ]]; then
  apt_install nodejs npm
fi
major="$(node_major)"
if [[ "${major}" -lt ${NODE_MIN_MAJOR} ]]; then
  die "Node.js ${NODE_MIN_MAJOR} or later is needed; the packages give ${major}.
Raspberry Pi OS Bookworm ships Node.js 18. Use Raspberry Pi OS Trixie (Node.js 20), or install
Node.js ${NODE_MIN_MAJOR}+ from another apt source you trust, then run this again."
fi
command -v npm >/dev/null 2>&1 || apt_install npm
log "node $(node --version), npm $(npm --version)"

# chrony keeps the clock right (the hub corrects offsets, but flags large ones); a C++
# toolchain builds the one native module without a prebuilt binary (epoll, used for GPIO).
missing=()
for pkg in chrony build-essential python3; do
  installed "${pkg}" || missing+=("${pkg}")
done
if ((${#missing[@]} > 0)); then
  apt_install "${missing[@]}"
fi

# --- user and directories ---------------------------------------------------------------

for group in gpio dialout; do
  if ! getent group "${group}" >/dev/null; then
    warn "group ${group} does not exist (not Raspberry Pi OS?); creating it, but udev must give it the devices"
    groupadd --system "${group}"
  fi
done
if ! id -u "${SVC_USER}" >/dev/null 2>&1; then
  log "creating system user ${SVC_USER}"
  useradd --system --user-group --home-dir "${STATE_DIR}" --no-create-home \
    --shell /usr/sbin/nologin "${SVC_USER}"
fi
usermod --append --groups gpio,dialout "${SVC_USER}"

install -d -o root -g "${SVC_USER}" -m 0750 "${CONF_DIR}"
install -d -o "${SVC_USER}" -g "${SVC_USER}" -m 0750 "${STATE_DIR}"

# before the long part: a node to enable must have its bootstrap file, readable by the service
for node in "${ENABLE[@]}"; do
  check_bootstrap_mode "${node}"
done

# --- application ------------------------------------------------------------------------

# The unit runs dist/ (GREETWATCH_RUN=dist): plain node, no TypeScript loader or esbuild
# process on the Pi. Building needs typescript, a devDependency: install everything, build,
# then drop the devDependencies again.
install_app() {
  (cd "$1" && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund)
}

if [[ "${SRC_DIR}" == "${APP_DIR}" ]]; then
  log "using ${APP_DIR} in place"
  install_app "${APP_DIR}"
else
  # Build the new copy beside the old one and swap them, so a running node is down only
  # for its restart, not for the whole npm ci and build.
  stage="${APP_DIR}.new"
  log "copying ${SRC_DIR} to ${APP_DIR}"
  rm -rf -- "${stage}"
  mkdir -p -- "${stage}"
  # dist/ too: the copy builds its own from the sources it has
  tar -C "${SRC_DIR}" --exclude=node_modules --exclude=.git --exclude=.data --exclude=./dist -cf - . |
    tar -C "${stage}" --no-same-owner -xf -
  install_app "${stage}"
  chown -R root:root "${stage}"
  chmod -R u+rwX,go+rX,go-w "${stage}"
  if [[ -e "${APP_DIR}" ]]; then
    rm -rf -- "${APP_DIR}.old"
    mv -- "${APP_DIR}" "${APP_DIR}.old"
  fi
  mv -- "${stage}" "${APP_DIR}"
  rm -rf -- "${APP_DIR}.old"
fi

# --- systemd unit -----------------------------------------------------------------------

install -o root -g root -m 0644 "${APP_DIR}/edge/deploy/${UNIT_FILE}" "${UNIT_DIR}/${UNIT_FILE}"
log "installed ${UNIT_DIR}/${UNIT_FILE}"
have_systemd=0
if [[ -d /run/systemd/system ]]; then
  have_systemd=1
  systemctl daemon-reload
  # an update: restart the instances that are running (enables nothing). An instance without
  # a bootstrap file (installed when nodes read the store file) would not start again, so it
  # keeps running the version it started with.
  no_bootstrap=" "
  while read -r unit _; do
    node="${unit#greetwatch-node@}"
    node="${node%.service}"
    if [[ -f "$(bootstrap_file "${node}")" ]]; then
      systemctl restart "${unit}" || warn "could not restart ${unit}; see systemctl status ${unit}"
    else
      no_bootstrap+="${node} "
      warn "${unit} not restarted: it needs $(bootstrap_file "${node}") now (edge/deploy/README.md, \"Update\"); until then it runs the version it started with"
    fi
  done < <(systemctl list-units --type=service --state=running --no-legend --plain 'greetwatch-node@*.service')
  for link in "${UNIT_DIR}"/*.wants/greetwatch-node@*.service; do
    [[ -e "${link}" || -L "${link}" ]] || continue
    node="${link##*/greetwatch-node@}"
    node="${node%.service}"
    [[ -f "$(bootstrap_file "${node}")" || "${no_bootstrap}" == *" ${node} "* ]] ||
      warn "greetwatch-node@${node} is enabled but $(bootstrap_file "${node}") is missing: it will not start at the next boot"
  done
else
  warn "systemd is not running here; the unit is installed but not loaded"
fi

# --- nodes ------------------------------------------------------------------------------

if [[ -f "${OLD_STORE_FILE}" ]]; then
  warn "nodes no longer read ${OLD_STORE_FILE} (each reads its bootstrap file). It holds the store's login hashes and tokens: unless this machine is also the hub, remove it once this Pi's nodes have their bootstrap files (sudo rm ${OLD_STORE_FILE})"
fi

if ((${#ENABLE[@]} > 0)); then
  ((have_systemd == 1)) || die "systemd is not running; cannot enable nodes"
  for node in "${ENABLE[@]}"; do
    names="$(bootstrap_names "${node}")" || die "--enable ${node}: $(bootstrap_file "${node}") is not usable (see above); nothing enabled"
    log "$(bootstrap_file "${node}"): ${names}"
  done
  for node in "${ENABLE[@]}"; do
    log "systemctl enable --now greetwatch-node@${node}"
    systemctl enable --now "greetwatch-node@${node}"
  done
fi

# --- next steps -------------------------------------------------------------------------

cat <<EOF

greetwatch is installed in ${APP_DIR} ($(node --version)).
EOF
if ((${#ENABLE[@]} > 0)); then
  cat <<EOF
Started: ${ENABLE[*]}. Follow a node's log with:
  journalctl -u greetwatch-node@${ENABLE[0]} -f
EOF
else
  cat <<EOF
Next steps:
  1. On the hub, make the node's bootstrap file (its login; the store file gets the hash),
     then reload the hub so it knows the login:
       greetwatch config node-bootstrap store.yaml <node>
       sudo systemctl reload <hub unit>        # or: kill -HUP <hub pid>
  2. Copy <node>.bootstrap.yaml to this Pi and install it:
       sudo install -o root -g ${SVC_USER} -m 0640 <node>.bootstrap.yaml ${CONF_DIR}/<node>.bootstrap.yaml
  3. Set the pull resistors in /boot/firmware/config.txt (edge/deploy/WIRING.md), then reboot.
  4. Check the file, start this Pi's node, and start it at every boot:
       sudo $0 --enable <node>
  5. Watch it:
       systemctl status greetwatch-node@<node>
       journalctl -u greetwatch-node@<node> -f
EOF
fi
