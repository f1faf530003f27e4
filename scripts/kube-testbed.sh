#!/usr/bin/env bash
# Builds, once, the Kubernetes control plane the Kubernetes driver's tests run against:
# kube-apiserver, kube-controller-manager and kubectl from Debian bookworm's `kubernetes`
# source package (1.20.2), offline from its vendored sources, plus Debian's etcd.
# The binaries are cached outside the work tree; a second run with the cache present does nothing.
#
#   scripts/kube-testbed.sh          # build if missing, print the cache directory
#
# BACKSTOP_KUBE_BIN overrides the cache directory.
set -euo pipefail

VERSION="1.20.5+really1.20.2-1.1+deb12u1"
CACHE="${BACKSTOP_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/backstop/kube-1.20.2}"
WANT=(kube-apiserver kube-controller-manager kubectl)

have_all() {
  for b in "${WANT[@]}"; do [ -x "$CACHE/$b" ] || return 1; done
  command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || return 1
  command -v openssl >/dev/null 2>&1 || return 1
}

if have_all; then
  echo "$CACHE"
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Source packages come from the same archive as the binary ones.
SRC_LIST=/etc/apt/sources.list.d/backstop-kube-src.sources
if [ ! -f "$SRC_LIST" ]; then
  as_root tee "$SRC_LIST" >/dev/null <<'LIST'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
LIST
fi
as_root apt-get update -qq
as_root apt-get install -y -qq golang-go golang-github-modern-go-reflect2-dev etcd-server openssl dpkg-dev rsync make >/dev/null

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
apt-get source -qq "kubernetes=$VERSION" >/dev/null
SRC="$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -1)"
cd "$SRC"

# The vendored reflect2 1.0.1 crashes the apiserver's JSON encoding under Go >= 1.18; Debian's 1.0.2 does not.
rm -rf vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2

# Run from `cargo test`, the environment carries cargo's OUT_DIR (a package with a build script)
# and make's flags; Kubernetes' Makefile reads OUT_DIR as its own output folder.
unset OUT_DIR MAKEFLAGS MFLAGS MAKELEVEL CARGO_MAKEFLAGS
export GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on GOCACHE="$WORK/gocache" KUBE_GIT_VERSION="v1.20.2"
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kubectl" >"$WORK/build.log" 2>&1 || {
  tail -40 "$WORK/build.log" >&2
  exit 1
}

mkdir -p "$CACHE"
for b in "${WANT[@]}"; do
  install -m 0755 "_output/bin/$b" "$CACHE/$b.tmp"
  mv "$CACHE/$b.tmp" "$CACHE/$b"
done
echo "$CACHE"
