#!/usr/bin/env bash
# System packages the full test suite needs on Debian 12: Virtuoso (what WikiPathways runs),
# Jena (second Turtle and SHACL checker), rapper, Chromium (HTML report test).
# Idempotent; safe on a machine that has them already. Needs root (CI runs as root).
set -euo pipefail
pkgs=(virtuoso-opensource libapache-jena-java default-jre-headless raptor2-utils curl chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && { echo "install-system: all present"; exit 0; }
export DEBIAN_FRONTEND=noninteractive
created_policy=0
# The virtuoso package would start a system instance on all interfaces; forbid service starts.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-system: installed ${missing[*]}"
