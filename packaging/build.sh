#!/usr/bin/env bash
# Build the Linux bundle (PyInstaller, one folder, windowed), a tarball and a .deb.
#   packaging/build.sh            -> packaging/dist/rehue/, rehue-VER-linux-x86_64.tar.gz, rehue_VER_amd64.deb
#   packaging/build.sh --bundle   -> packaging/dist/rehue/ only (what CI builds and smoke-tests on every run)
# The build venv gets the app from a wheel of this checkout (no torch) plus PyInstaller.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=${PYTHON:-python3}
ver=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' rehue/__init__.py)
venv=packaging/build/venv
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps . && "$venv/bin/python" -m pip install -q ".[cpu]" "pyinstaller>=6.5"
"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath packaging/dist --workpath packaging/build/work packaging/rehue.spec

[ "${1:-}" = --bundle ] && { echo "built packaging/dist/rehue/ ($(du -sh packaging/dist/rehue | cut -f1))"; exit 0; }

tar -C packaging/dist -czf "packaging/dist/rehue-$ver-linux-x86_64.tar.gz" rehue

deb=packaging/build/deb
rm -rf "$deb"
mkdir -p "$deb/DEBIAN" "$deb/opt" "$deb/usr/bin" "$deb/usr/share/applications" \
  "$deb/usr/share/icons/hicolor/256x256/apps" "$deb/usr/share/icons/hicolor/scalable/apps"
cp -a packaging/dist/rehue "$deb/opt/rehue"
ln -s /opt/rehue/rehue "$deb/usr/bin/rehue"
install -m 755 packaging/linux/rehue-batch "$deb/usr/bin/rehue-batch"
install -m 644 packaging/linux/rehue.desktop "$deb/usr/share/applications/rehue.desktop"
install -m 644 assets/rehue-256.png "$deb/usr/share/icons/hicolor/256x256/apps/rehue.png"
install -m 644 assets/rehue.svg "$deb/usr/share/icons/hicolor/scalable/apps/rehue.svg"
cat > "$deb/DEBIAN/control" <<CONTROL
Package: rehue
Version: $ver
Section: graphics
Priority: optional
Architecture: amd64
Maintainer: Rehue developers <dev@rehue.app>
Installed-Size: $(du -sk "$deb" | cut -f1)
Depends: libc6, libfontconfig1, libegl1, libgl1, libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, libxcb-randr0, libxcb-render-util0, libxcb-image0, libxcb-xkb1, libdbus-1-3
Description: Bring colour back to black-and-white photographs
 Rehue colorizes old photos on your own computer: drop a scan on the window to see it in colour
 beside the original, guide it with colour hints, or convert whole folders.
CONTROL
cat > "$deb/DEBIAN/postinst" <<'POST'
#!/bin/sh
set -e
command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -f /usr/share/icons/hicolor || true
exit 0
POST
cp "$deb/DEBIAN/postinst" "$deb/DEBIAN/postrm"
chmod 755 "$deb/DEBIAN/postinst" "$deb/DEBIAN/postrm"
# gzip: every dpkg reads it, and it takes seconds where the default xz took 9 minutes on 2 cores.
dpkg-deb -Zgzip --build --root-owner-group "$deb" "packaging/dist/rehue_${ver}_amd64.deb" >/dev/null
echo "built packaging/dist/rehue/ ($(du -sh packaging/dist/rehue | cut -f1)), $(ls packaging/dist/*.tar.gz packaging/dist/*.deb | tr '\n' ' ')"
