#!/usr/bin/env ccci-sh
# demo.sh — what `make demo` runs, with bin/ on PATH, after .ci/testbed up:
# two CI runs of one domain, started together, each a real deploy to the
# swarm through the recipe entry point (scripts/recipe-run.sh: run-keyed
# state, ccci-deploy, leak report). The second prints "in flight (run
# demo-1 ...) — waiting", then "acquired" once the first's teardown is
# complete; each counts deploy-count = 1; the end is a zero-leak report.
# Exits 0 only if all of that holds.
#
# Environment: DEMO_DOMAIN (default demo-<pid>.ci.example.org), DEMO_RECIPE
# (default tests/testdata/recipes/ccci-test-app), DEMO_HOLD (seconds the
# first run's test holds the app, default 2). Lock, run and abra dirs are
# temporary unless CCCI_LOCK_DIR, CCCI_RUNS_DIR, ABRA_DIR are set.
# Runs under ccci-sh and bash alike (tests/testdata/sh/demo.txtar).
#
# Example:
#   make demo
#   PATH="$PWD/bin:$PATH" DEMO_HOLD=5 scripts/demo.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CCCI_LOCK_DIR="${CCCI_LOCK_DIR:-$tmp/lock}"
export CCCI_RUNS_DIR="${CCCI_RUNS_DIR:-$tmp/runs}"
export ABRA_DIR="${ABRA_DIR:-$tmp/abra}"
mkdir -p "$CCCI_LOCK_DIR" "$CCCI_RUNS_DIR" "$ABRA_DIR"
domain=${DEMO_DOMAIN:-demo-$$.ci.example.org}
recipe=${DEMO_RECIPE:-$here/../tests/testdata/recipes/ccci-test-app}
hold=${DEMO_HOLD:-2}

# run ID: one CI run of $domain through the recipe entry point, its test
# holding the app for $hold seconds; its output prefixed with its id and
# kept in $tmp/ID.log, its exit status in $tmp/ID.rc.
run() {
	{
		CCCI_RUN_ID=$1 "$here/recipe-run.sh" "$domain" "$recipe" -- \
			sh -c 'echo "testing $DOMAIN (holding it ${1}s)"; sleep "$1"' _ "$hold" 2>&1
		echo $? >"$tmp/$1.rc"
	} | while IFS= read -r line; do
		printf '[%s] %s\n' "$1" "$line"
		printf '%s\n' "$line" >>"$tmp/$1.log"
	done
}

fail() {
	echo "demo: FAILED: $*" >&2
	exit 1
}

echo "== two runs of $domain, started together =="
run demo-1 &
# The second starts as soon as the first holds the app lock, so that it
# visibly waits (bounded: 30s, or until the first has ended).
i=0
while ccci-lock --probe "$domain" >/dev/null 2>&1 && [ ! -e "$tmp/demo-1.rc" ]; do
	i=$((i + 1))
	[ "$i" -le 300 ] || fail "run demo-1 never took the app lock"
	sleep 0.1
done
run demo-2 &
wait

echo "== checks =="
for id in demo-1 demo-2; do
	rc=$(cat "$tmp/$id.rc" 2>/dev/null || echo none)
	[ "$rc" = 0 ] || fail "run $id exited $rc"
	grep -q '^deploy-count = 1$' "$tmp/$id.log" || fail "run $id: no 'deploy-count = 1'"
	echo "run $id: exit 0, deploy-count = 1"
done
sed -n '/in flight (run demo-1,/,$p' "$tmp/demo-2.log" | grep -q "app lock: $domain acquired" ||
	fail "run demo-2 did not wait for demo-1, then acquire"
echo "run demo-2: waited for demo-1, then acquired"

echo "== zero-leak report: $domain =="
re=$(printf '%s' "$domain" | sed 's/[.]/\\./g')
ccci-janitor --check --scope "^$re\$" || fail "leaks left behind"
echo "== demo OK =="
