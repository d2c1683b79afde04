# Sourced by scripts/demo and scripts/test: installs what the project needs on a
# Debian 12 machine (as root) and activates the project's virtualenv.
# Everything heavy is cached outside the repository under $SWITCHBOARD_CACHE.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SWITCHBOARD_CACHE=${SWITCHBOARD_CACHE:-/var/cache/switchboard}
export SWITCHBOARD_SANDBOX_ROOT=${SWITCHBOARD_SANDBOX_ROOT:-$SWITCHBOARD_CACHE/sandbox-root}
APT_PACKAGES=(debootstrap systemd-container sip-tester chromium python3 python3-venv gcc libc6-dev iproute2 procps ca-certificates nginx-light openssl espeak-ng)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    echo "Run this as root: it installs Debian packages and chroots the sandbox Asterisk." >&2
    exit 1
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# One virtualenv per dependency set and checkout, kept in the cache so a fresh clone at
# the same place reuses it. Per checkout: the project is installed editable, and two
# checkouts sharing one environment would take each other's code (the sandbox's classic
# AGI script runs whichever checkout installed itself last).
mkdir -p "$SWITCHBOARD_CACHE"
deps_hash=$( (cat "$REPO/pyproject.toml"; echo "$REPO") | sha256sum | cut -c1-12)
VENV=${SWITCHBOARD_VENV:-$SWITCHBOARD_CACHE/venv-$deps_hash}
if [ ! -x "$VENV/bin/switchboard" ] || [ ! -f "$VENV/.complete" ]; then
    say "Creating the virtualenv $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/pip" install -q --disable-pip-version-check -e "$REPO[test]"
    touch "$VENV/.complete"
fi
# Point the (cached) environment at this checkout.
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$REPO" >/dev/null 2>&1
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV=$VENV
cd "$REPO"
