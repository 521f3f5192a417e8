#!/usr/bin/env bash
# Installs the Debian packages Witness needs, only those missing. As root it uses apt;
# otherwise it names what is missing and carries on (the tests that need it will say so).
set -euo pipefail

packages=(
  python3 python3-venv python3-dev   # the runtime and its virtual environment
  gettext                            # msgfmt: compiles the zh-hans catalogue
  chromium                           # browser tests (playwright drives Debian's Chromium)
  fonts-noto-cjk                     # Chinese glyphs in the browser and in PDFs
  ffmpeg                             # ffprobe reads media facts on ingest; ffmpeg makes test media
  espeak-ng                          # synthetic Mandarin speech for the demo recordings
  poppler-utils                      # pdffonts/pdftotext: tests check PDFs embed their fonts
  xorriso                            # disc images and burning with read-back (witness preserve)
  genisoimage                        # isoinfo: reads a disc image back independently of xorriso
  # a throwaway Ceph cluster with an S3 endpoint (RGW) for the S3 storage tests
  # (scripts/ceph-rgw.sh): monitor, OSD, RGW, the ceph/radosgw-admin tools, uuidgen, curl
  ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system packages (install them as root): ${missing[*]}" >&2
fi
