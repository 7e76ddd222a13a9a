#!/usr/bin/env bash
# Runs the test suite on Deno, Bun and Node 24 and fails if any run fails.
#
#   scripts/test.sh              # all three
#   scripts/test.sh bun node     # only these
#
# Bun and Node 24 come from the npm registry when they are not installed
# (`npx -y bun`, `npx -y node@24`). Each runtime runs every
# tests/**/*_test.ts file and examples/testing.ts.
set -uo pipefail
cd "$(dirname "$0")/.."

run_deno() {
  deno test -A tests/ examples/testing.ts
}

run_bun() {
  local bun=(bun)
  command -v bun >/dev/null 2>&1 || bun=(npx -y bun@1)
  # Bun's default 5 s per test is too short for the 64 MiB backpressure run.
  "${bun[@]}" test --timeout 120000 ./tests/ ./examples/testing.ts
}

run_node() {
  local node=(node)
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 24 ] || node=(npx -y node@24)
  # Node 24 strips types by itself; it expands the quoted glob.
  "${node[@]}" --test 'tests/**/*_test.ts' examples/testing.ts
}

runtimes=("$@")
[ ${#runtimes[@]} -gt 0 ] || runtimes=(deno bun node)
failed=()
for runtime in "${runtimes[@]}"; do
  case "$runtime" in
    deno | bun | node) ;;
    *) echo "Unknown runtime: \"$runtime\" (use deno, bun or node)" >&2; exit 2 ;;
  esac
  echo "=== tests on $runtime"
  "run_$runtime" || failed+=("$runtime")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "=== FAILED on: ${failed[*]}" >&2
  exit 1
fi
echo "=== passed on: ${runtimes[*]}"
