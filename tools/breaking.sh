#!/usr/bin/env bash
# buf breaking: compare proto/ with the contracts of the last landed commit (HEAD~1 on main,
# or BREAKING_AGAINST=<ref>). Both sides are built into images with the same googleapis deps.
set -euo pipefail
cd "$(dirname "$0")/.."
against="${BREAKING_AGAINST:-HEAD~1}"
if ! git rev-parse --verify -q "$against^{commit}" >/dev/null || \
   [ -z "$(git ls-tree -d "$against" proto 2>/dev/null)" ]; then
  echo "buf breaking: no earlier contracts at $against; nothing to compare"
  exit 0
fi
.venv/bin/python tools/proto_deps.py
work=build/breaking && rm -rf "$work" && mkdir -p "$work/against"
git archive "$against" proto buf.yaml | tar -x -C "$work/against"
mkdir -p "$work/against/build" && cp -r build/proto-deps "$work/against/build/"
.venv/bin/buf build "$work/against" -o "$work/against.binpb"
.venv/bin/buf build -o "$work/current.binpb"
.venv/bin/buf breaking "$work/current.binpb" --against "$work/against.binpb"
echo "buf breaking: no breaking change against $against"
