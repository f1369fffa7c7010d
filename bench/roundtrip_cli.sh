#!/usr/bin/env bash
# Every evaluation file up to 1 MB, and 100 KB of random bytes, through the CLI: as files and through pipes.
#   bench/roundtrip_cli.sh [LEVEL]        (default level 1, the fastest)
set -euo pipefail
cd "$(dirname "$0")/.."
level=${1:-1}
nn=".venv/bin/nncomp"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 100000 /dev/urandom > "$work/random.bin"
files=("$work/random.bin")
while IFS= read -r f; do files+=("$f"); done < <(find ../shared/corpus/eval -type f ! -name MANIFEST.tsv -size -1000001c | sort)
fail=0
for f in "${files[@]}"; do
    name=$(basename "$f")
    cp "$f" "$work/$name.in"
    "$nn" compress -q -l "$level" -o "$work/$name.nnc" "$work/$name.in"
    "$nn" decompress -q -o "$work/$name.out" "$work/$name.nnc"
    if cmp -s "$f" "$work/$name.out" && "$nn" compress -q -l "$level" - < "$f" | "$nn" decompress -q - | cmp -s - "$f"; then
        printf '%-14s %8d -> %8d bytes  ok (file and pipe)\n' "$name" "$(wc -c < "$f")" "$(wc -c < "$work/$name.nnc")"
    else
        printf '%-14s FAILED\n' "$name"; fail=1
    fi
    rm -f "$work/$name".*
done
exit $fail
