#!/usr/bin/env bash
# Make sure the Debian packages threshold needs are installed.
# Usage: scripts/deps.sh [build|check|demo|bench]
# As root, missing packages are installed with apt-get; otherwise the exact
# apt-get line is printed and the script fails.
set -euo pipefail
what=${1:-build}
pkgs=(gcc make pkg-config libssl-dev libjansson-dev)
case "$what" in
  check) pkgs+=(libcmocka-dev python3-pytest golang-go golang-github-hashicorp-yamux-dev clang libclang-rt-14-dev clang-format curl openssl haproxy) ;;
  demo)  pkgs+=(curl openssl python3) ;;
  bench) pkgs+=(iperf3 haproxy openssh-server openssh-client curl openssl) ;;
  build) ;;
  *) echo "deps.sh: unknown target '$what' (build, check, demo, bench)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "threshold needs these Debian packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $line" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
