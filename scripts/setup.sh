#!/usr/bin/env bash
# Installs the Debian packages riskwatch needs when they are missing: quiet and
# idempotent. `setup.sh` covers building and the demo; `setup.sh --test` adds
# what the test suite needs (kcat, Java and Maven for the Kafka broker and the
# schema registry, ...).
set -euo pipefail

build_pkgs=(cmake make gcc pkg-config librdkafka-dev libavro-dev libhiredis-dev
            libcurl4-openssl-dev libmicrohttpd-dev redis-server)
test_pkgs=(libcmocka-dev kcat python3 python3-avro openjdk-17-jre-headless maven
           python3-confluent-kafka python3-redis time
           valgrind clang libclang-rt-dev prometheus prometheus-alertmanager curl)

pkgs=("${build_pkgs[@]}")
case "${1:-}" in
  --test) pkgs+=("${test_pkgs[@]}") ;;
  "") ;;
  *) echo "usage: setup.sh [--test]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  # A tool already on PATH from elsewhere counts (e.g. a JDK not from Debian).
  case "$p" in
    openjdk-17-jre-headless) command -v java >/dev/null 2>&1 && continue ;;
    maven) command -v mvn >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null ||
    missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
