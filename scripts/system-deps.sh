#!/usr/bin/env bash
# OS packages the tests need. As root it installs them; otherwise it says what is missing.
# Each surface adds its packages to PACKAGES (binary name:package name).
set -euo pipefail
PACKAGES=(
  "mariadbd:mariadb-server"
  "chromium:chromium"
  "npm:npm"
)
missing=()
for entry in "${PACKAGES[@]}"; do
  bin="${entry%%:*}"; pkg="${entry##*:}"
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then missing+=("$pkg"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing OS packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}   (tests that need them will be skipped)" >&2
fi
