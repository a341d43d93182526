#!/usr/bin/env ccci-sh
# demo.sh — what `make demo` runs, with bin/ on PATH: two CI runs of the
# same domain started together serialize on the per-domain lock; the second
# prints "in flight — waiting" and then "acquired". Each run has its own
# run id. Lock and run dirs are temporary unless CCCI_LOCK_DIR/CCCI_RUNS_DIR
# are set. Runs under ccci-sh and bash alike.
#
# Example:
#   PATH="$PWD/bin:$PATH" scripts/demo.sh
set -eu

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CCCI_LOCK_DIR="${CCCI_LOCK_DIR:-$tmp/lock}"
export CCCI_RUNS_DIR="${CCCI_RUNS_DIR:-$tmp/runs}"
mkdir -p "$CCCI_LOCK_DIR" "$CCCI_RUNS_DIR"
domain=${DEMO_DOMAIN:-demo.ci.example.org}
hold=${DEMO_HOLD:-2}

# run ID: one CI run holding the domain's lock for $hold seconds, its
# output prefixed with its run id.
run() {
	CCCI_RUN_ID=$1 ccci-lock "$domain" -- sh -c \
		'echo "run $1: deploying (holding the lock ${2}s)"; touch "$3"; sleep "$2"; echo "run $1: done"' \
		_ "$1" "$hold" "$tmp/$1.holding" 2>&1 |
		while IFS= read -r line; do printf '[run %s] %s\n' "$1" "$line"; done
}

echo "== two runs of $domain, started together =="
run demo-1 &
# Start the second once the first holds the lock, so it visibly waits.
i=0
while [ ! -e "$tmp/demo-1.holding" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
run demo-2 &
wait

# LATER: two real ccci-deploy runs (--driver stack) ending in a zero-leak
# report, replacing run() above:
#   ccci-deploy --recipe "$recipe" "$domain" -- true   (twice, in parallel)
#   ccci-janitor --check && echo "zero leaks"
echo "== both runs done, one after the other =="
