#!/usr/bin/env bash
# Compress and decompress a file with nncomp, verify it, and compare sizes with gzip and xz.
set -euo pipefail
file=${1:-samples/sample.txt}
bin=${VENV:-.venv}/bin/nncomp
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$file" "$work/"
name=$(basename "$file")
"$bin" compress "$work/$name"
mv "$work/$name" "$work/$name.orig"
"$bin" decompress "$work/$name.nnc"
cmp "$work/$name" "$work/$name.orig" && echo "round trip: identical"
"$bin" info "$work/$name.nnc"
printf '%-10s %8s bytes\n' original "$(wc -c <"$file")"
printf '%-10s %8s bytes\n' nncomp "$(wc -c <"$work/$name.nnc")"
command -v gzip >/dev/null && printf '%-10s %8s bytes\n' "gzip -9" "$(gzip -9 -c "$file" | wc -c)"
command -v xz >/dev/null && printf '%-10s %8s bytes\n' "xz -9e" "$(xz -9e -c "$file" | wc -c)"
