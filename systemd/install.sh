#!/usr/bin/env bash
# Install storegw on a Raspberry Pi OS / Debian box: a venv under PREFIX (/opt/storegw), models beside
# it, config in /etc/storegw, the systemd unit. Every Python package comes from the lock, checked
# against its sha256.
#
#   systemd/install.sh --bundle storegw-0.2.0-linux-aarch64-cp311.tar.gz   # offline: no index at all
#   systemd/install.sh [--extras rfid,ble,vision]                          # from this checkout, online
#
# Options: --prefix DIR (default /opt/storegw); --no-system installs only PREFIX (no user, no /etc,
# no unit: for a test or a second copy). Each install is a new venv under PREFIX/releases/; the
# PREFIX/venv link moves to it only once `storegw --version` runs from it, so a failed install
# leaves the running one alone, and `ln -sfn releases/OLD PREFIX/venv` rolls back. Three are kept.
set -euo pipefail
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
fail() { echo "install: $*" >&2; exit 1; }

bundle="" extras="" prefix=/opt/storegw system=1
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=${2:?--bundle needs a file}; shift 2 ;;
    --extras) extras=${2:?--extras needs a list such as rfid,ble}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --no-system) system=0; shift ;;
    -h|--help) usage ;;
    *) echo "install: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$bundle" ] && [ -n "$extras" ] && fail "--extras is for a checkout install; a bundle ships its own profile"
src="$(cd "$(dirname "$0")/.." && pwd)"
python=${STOREGW_PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$system" = 1 ]; then
  [ "$(id -u)" = 0 ] || fail "run as root (or use --no-system --prefix DIR)"
  "$python" -m venv --help >/dev/null 2>&1 || apt-get install -y python3-venv
fi
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
mkdir -p "$prefix/releases"
new="$prefix/releases/$(date -u +%Y%m%dT%H%M%SZ)-$$"

if [ -n "$bundle" ]; then
  [ -f "$bundle" ] || fail "no such bundle: $bundle"
  tar -xzf "$bundle" -C "$work"
  root=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'storegw-*' | head -n1)
  [ -n "$root" ] && [ -f "$root/BUNDLE.json" ] || fail "$bundle is not a storegw bundle (no BUNDLE.json)"
  (cd "$root" && sha256sum --quiet --strict -c SHA256SUMS) || fail "$bundle is damaged: a file does not match SHA256SUMS"
  read -r b_arch b_python b_version <<<"$("$python" -c 'import json,sys; b=json.load(open(sys.argv[1])); print(b["arch"], b["python"], b["version"])' "$root/BUNDLE.json")"
  [ "$b_arch" = "$(uname -m)" ] || fail "this bundle is for $b_arch, this machine is $(uname -m): use the $(uname -m) bundle"
  [ "$b_python" = "$pyver" ] || fail "this bundle is for CPython $b_python, $python is $pyver: build one with scripts/bundle.py --python $pyver"
  "$python" -m venv "$new"
  # --isolated: no pip.conf, no PIP_* variables; --no-index: nothing but the bundle's own wheels
  offline=("$new/bin/python" -m pip --isolated install -q --no-index --find-links "$root/wheels" --require-hashes --no-deps)
  "${offline[@]}" -r "$root/build-requirements.txt"
  "${offline[@]}" -r "$root/requirements.txt"
  payload="$root"
  echo "installed storegw $b_version from $(basename "$bundle") with no package index"
else
  [ -f "$src/requirements/base.txt" ] || fail "run from a storegw checkout, or pass --bundle FILE"
  "$python" -m venv "$new"
  pip=("$new/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps)
  "${pip[@]}" -r "$src/requirements/build.txt"
  "${pip[@]}" -r "$src/requirements/base.txt"
  # each extra's file is a slice of the one resolution in uv.lock, so together they agree
  for extra in ${extras//,/ }; do
    [ -f "$src/requirements/$extra.txt" ] || fail "unknown extra '$extra' (see requirements/)"
    "${pip[@]}" -r "$src/requirements/$extra.txt"
  done
  # built from `git archive` where there is git, so the installed code knows its commit
  if git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
    mkdir "$work/src" && git -C "$src" archive HEAD | tar -x -C "$work/src"
    [ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] || echo "install: uncommitted changes are not installed (HEAD is)" >&2
    build_from="$work/src"
  else
    build_from="$src"
  fi
  "$new/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation "$build_from"
  payload="$build_from"
fi

"$new/bin/storegw" --version >/dev/null || { rm -rf "$new"; fail "the new install does not run; the running one is untouched"; }
# a venv from before releases/ existed becomes a release itself, so it can be rolled back to
if [ -d "$prefix/venv" ] && [ ! -L "$prefix/venv" ]; then mv "$prefix/venv" "$prefix/releases/00000000-legacy"; fi
ln -sfn "$new" "$prefix/venv.tmp" && mv -T "$prefix/venv.tmp" "$prefix/venv"   # atomic switch
current=$(readlink -f "$prefix/venv")
ls -1d "$prefix"/releases/*/ 2>/dev/null | sed 's#/$##' | head -n -3 | while read -r old; do
  [ "$(readlink -f "$old")" = "$current" ] || rm -rf "$old"
done
rm -rf "$prefix/models" && cp -r "$payload/models" "$prefix/models"   # ONNX files + manifest (verified at start)
cp "$payload/README.md" "$prefix/README.md"
[ -f "$payload/CHANGELOG.md" ] && cp "$payload/CHANGELOG.md" "$prefix/CHANGELOG.md"
"$prefix/venv/bin/storegw" --version

[ "$system" = 1 ] || exit 0
id storegw >/dev/null 2>&1 || useradd --system --home-dir /var/lib/storegw --shell /usr/sbin/nologin storegw
for group in dialout video bluetooth; do getent group "$group" >/dev/null && usermod -aG "$group" storegw; done
install -d -m 0750 -o root -g storegw /etc/storegw
if [ ! -e /etc/storegw/storegw.toml ]; then
  install -m 0640 -o root -g storegw "$payload/config/store.example.toml" /etc/storegw/storegw.toml
  echo "Edit /etc/storegw/storegw.toml, then: storegw config check /etc/storegw/storegw.toml"
fi
install -m 0644 "$payload/systemd/storegw.service" /etc/systemd/system/storegw.service
install -m 0644 "$payload/systemd/storegw.tmpfiles.conf" /usr/lib/tmpfiles.d/storegw.conf
ln -sf "$prefix/venv/bin/storegw" /usr/local/bin/storegw
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "Then: systemctl enable --now storegw && storegw doctor --config /etc/storegw/storegw.toml"
  echo "After an upgrade: systemctl restart storegw (earlier releases are kept in $prefix/releases/)"
fi
