#!/usr/bin/env bash
# clang-format every C++ source of ours; with --check, fail (listing the files) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard '*.h' '*.cc')
[[ ${#files[@]} -eq 0 ]] && exit 0
if [[ ${1:-} == --check ]]; then
  if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/vsw-format.$$; then
    grep -oE '^[^:]+:[0-9]+:[0-9]+: error' /tmp/vsw-format.$$ | cut -d: -f1 | sort -u |
      sed 's/^/not clang-formatted: /' >&2
    rm -f /tmp/vsw-format.$$
    echo "run: make format" >&2
    exit 1
  fi
  rm -f /tmp/vsw-format.$$
else
  clang-format -i "${files[@]}"
fi
