#!/bin/sh
# Regenerate fuzz/corpus: every golden and bad vector as raw bytes, plus CRC-valid sessions from sbp_seed_gen.
# Usage: fuzz/make_corpus.sh [BUILD_DIR]   (BUILD_DIR holds sbp_seed_gen; default firmware-bridge/build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
corpus=$here/corpus
[ -x "$build/sbp_seed_gen" ] || { echo "build sbp_seed_gen first (cmake --build $build)" >&2; exit 1; }
rm -f "$corpus"/*.bin
mkdir -p "$corpus"
python3 - "$root/vectors" "$corpus" <<'PY'
import pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
n = 0
for hex_file in sorted(src.glob("*.hex")) + sorted(src.glob("bad/*.hex")):
    prefix = "bad-" if hex_file.parent.name == "bad" else "vec-"
    (dst / (prefix + hex_file.stem + ".bin")).write_bytes(bytes.fromhex(hex_file.read_text().strip()))
    n += 1
print("wrote %d vector seeds" % n)
PY
"$build/sbp_seed_gen" "$corpus" 48
