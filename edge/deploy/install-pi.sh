#!/usr/bin/env bash
# Installs the greetwatch edge node on Raspberry Pi OS (Bookworm or Trixie).
#
#   sudo edge/deploy/install-pi.sh                   # install or update; enables nothing
#   sudo edge/deploy/install-pi.sh --enable door-1   # also enable and start greetwatch-node@door-1
#
# Run it from a checkout of the repository. It copies the checkout to /opt/greetwatch (or
# uses it in place when run from there), runs `npm ci --omit=dev`, creates the `greetwatch`
# user (groups gpio and dialout), /etc/greetwatch and /var/lib/greetwatch, and installs the
# systemd unit. It uses the network only through apt-get and npm. Running it again updates
# the installation and restarts the node instances that are running.
set -euo pipefail

readonly APP_DIR=/opt/greetwatch
readonly CONF_DIR=/etc/greetwatch
readonly CONF_FILE=/etc/greetwatch/store.yaml
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
                    (needs /etc/greetwatch/store.yaml with that node; may be repeated)
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

if ((${#ENABLE[@]} > 0)); then
  for node in "${ENABLE[@]}"; do
    [[ "${node}" =~ ${ID_RE} ]] || die "--enable ${node}: not a node id (lowercase letters, digits, '-')"
  done
  [[ -f "${CONF_FILE}" ]] || die "--enable needs ${CONF_FILE}; copy the store file there first"
fi

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
if [[ -f "${CONF_FILE}" ]]; then
  chown root:"${SVC_USER}" "${CONF_FILE}"
  chmod 0640 "${CONF_FILE}"
fi

# --- application ------------------------------------------------------------------------

if [[ "${SRC_DIR}" == "${APP_DIR}" ]]; then
  log "using ${APP_DIR} in place"
  (cd "${APP_DIR}" && npm ci --omit=dev --no-audit --no-fund)
else
  # Build the new copy beside the old one and swap them, so a running node is down only
  # for its restart, not for the whole npm ci.
  stage="${APP_DIR}.new"
  log "copying ${SRC_DIR} to ${APP_DIR}"
  rm -rf -- "${stage}"
  mkdir -p -- "${stage}"
  tar -C "${SRC_DIR}" --exclude=node_modules --exclude=.git --exclude=.data -cf - . |
    tar -C "${stage}" --no-same-owner -xf -
  (cd "${stage}" && npm ci --omit=dev --no-audit --no-fund)
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
  # an update: restart the instances that are running (enables nothing)
  systemctl try-restart 'greetwatch-node@*.service' || warn "could not restart the running nodes; see systemctl status 'greetwatch-node@*'"
else
  warn "systemd is not running here; the unit is installed but not loaded"
fi

# --- store file -------------------------------------------------------------------------

validate() {
  (cd "${APP_DIR}" && node_modules/.bin/tsx firmware-config/cli.ts "${CONF_FILE}")
}

# Prints the node ids of the store file, one per line (the file is valid when this runs).
node_ids() {
  (cd "${APP_DIR}" && node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { parse } from "yaml";
    const cfg = parse(readFileSync(process.argv[1], "utf8")) ?? {};
    for (const n of cfg.nodes ?? []) if (n && typeof n.id === "string") console.log(n.id);
  ' "${CONF_FILE}")
}

if [[ -f "${CONF_FILE}" ]]; then
  log "checking ${CONF_FILE}"
  if ! validate; then
    ((${#ENABLE[@]} == 0)) || die "${CONF_FILE} is not valid (see above); nothing enabled"
    warn "${CONF_FILE} is not valid (see above); fix it before starting a node"
  fi
fi

if ((${#ENABLE[@]} > 0)); then
  ((have_systemd == 1)) || die "systemd is not running; cannot enable nodes"
  ids="$(node_ids)"
  for node in "${ENABLE[@]}"; do
    if ! grep -qx -- "${node}" <<<"${ids}"; then
      die "node ${node} is not in ${CONF_FILE} (nodes: $(tr '\n' ' ' <<<"${ids}"))"
    fi
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
  1. Copy the store file (the same file as on the hub):
       sudo install -o root -g ${SVC_USER} -m 0640 store.yaml ${CONF_FILE}
  2. Check it:
       sudo npm --prefix ${APP_DIR} run validate-config -- ${CONF_FILE}
  3. Set the pull resistors in /boot/firmware/config.txt (edge/deploy/WIRING.md), then reboot.
  4. Start this Pi's node, and start it at every boot:
       sudo systemctl enable --now greetwatch-node@<node>
  5. Watch it:
       systemctl status greetwatch-node@<node>
       journalctl -u greetwatch-node@<node> -f
EOF
fi
