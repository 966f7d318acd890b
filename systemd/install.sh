#!/usr/bin/env bash
# Install storegw on a Raspberry Pi OS / Debian box: venv under /opt/storegw, config in /etc/storegw.
# Usage (as root, from a checkout):  systemd/install.sh [EXTRAS]   e.g. systemd/install.sh rfid,ble
set -euo pipefail
extras="${1:-rfid,ble}"
src="$(cd "$(dirname "$0")/.." && pwd)"
apt-get install -y python3-venv
id storegw >/dev/null 2>&1 || useradd --system --home-dir /var/lib/storegw --shell /usr/sbin/nologin storegw
for group in dialout video bluetooth; do getent group "$group" >/dev/null && usermod -aG "$group" storegw; done
mkdir -p /opt/storegw
python3 -m venv /opt/storegw/venv
/opt/storegw/venv/bin/pip install --upgrade pip
/opt/storegw/venv/bin/pip install "$src[$extras]"
cp "$src/README.md" /opt/storegw/README.md
rm -rf /opt/storegw/models && cp -r "$src/models" /opt/storegw/models   # ONNX files + manifest (verified at start)
install -d -m 0750 -o root -g storegw /etc/storegw
if [ ! -e /etc/storegw/storegw.toml ]; then
  install -m 0640 -o root -g storegw "$src/config/store.example.toml" /etc/storegw/storegw.toml
  echo "Edit /etc/storegw/storegw.toml, then: storegw config check /etc/storegw/storegw.toml"
fi
install -m 0644 "$src/systemd/storegw.service" /etc/systemd/system/storegw.service
install -m 0644 "$src/systemd/storegw.tmpfiles.conf" /usr/lib/tmpfiles.d/storegw.conf
ln -sf /opt/storegw/venv/bin/storegw /usr/local/bin/storegw
systemctl daemon-reload
echo "Then: systemctl enable --now storegw && storegw doctor --config /etc/storegw/storegw.toml"
