#!/usr/bin/env bash
# Fetch OpenCV's sample clip vtest.avi (PETS 2009 S2.L1, view 001: 795 frames, 768x576) from Debian's
# opencv-doc package into bench/data/, for bench_footfall_accuracy.py --annotated. Evaluation data:
# bench/data/ is git-ignored and the clip is never committed; only our own annotations are.
set -euo pipefail
cd "$(dirname "$0")"
want=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
mkdir -p data
if [ -f data/vtest.avi ] && echo "$want  data/vtest.avi" | sha256sum -c --quiet; then
    echo "bench/data/vtest.avi already there"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q opencv-doc 2>/dev/null && dpkg -x opencv-doc_*.deb x)
cp "$work/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" data/vtest.avi
echo "$want  data/vtest.avi" | sha256sum -c --quiet
echo "bench/data/vtest.avi: $(ls "$work"/opencv-doc_*.deb | xargs -n1 basename)"
