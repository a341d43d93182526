#!/usr/bin/env ccci-sh
# recipe-run.sh DOMAIN RECIPE [--] [TEST COMMAND...] — the entry point a
# recipe build calls: run-keyed state (ccci-runstate init), one full deploy
# cycle of RECIPE (a directory holding compose.yml, or a recipe name under
# $ABRA_DIR/recipes) at DOMAIN with its tests (ccci-deploy), then a leak
# report scoped to DOMAIN (ccci-janitor --check --scope).
#
# The run directory is removed on exit. Exits with ccci-deploy's status
# when it failed (1, 3 when deploy-count != 1, 124, 143 ...), else with the
# report's (1 when anything of DOMAIN was left behind). CCCI_DRIVER picks ccci-deploy's --driver (abra or
# stack). Runs under ccci-sh and bash alike (tests/testdata/pipeline).
#
# Example:
#   scripts/recipe-run.sh test-1234.ci.example.org ./ -- ./tests/smoke.sh
set -u

if [ "$#" -lt 2 ]; then
	echo "usage: recipe-run.sh DOMAIN RECIPE [--] [TEST COMMAND...]" >&2
	exit 2
fi
domain=$1
recipe=$2
shift 2
[ "${1:-}" != "--" ] || shift

state=$(ccci-runstate init) || exit $?
eval "$state"
# The run's directory goes on every way out (a signal too); one left by a
# SIGKILL is the janitor's.
trap 'ccci-runstate rm --force >/dev/null 2>&1' EXIT

# No nested expansion inside ${X:+...}: mvdan.cc/sh (ccci-sh) expands the
# alternative word even when X is unset, which fails under set -u.
driver=${CCCI_DRIVER:-stack}
status=0
if [ "$#" -gt 0 ]; then
	ccci-deploy --driver "$driver" --recipe "$recipe" "$domain" -- "$@" || status=$?
else
	ccci-deploy --driver "$driver" --recipe "$recipe" "$domain" || status=$?
fi

echo "== report: run $CCCI_RUN_ID, $domain =="
re=$(printf '%s' "$domain" | sed 's/[.]/\\./g')
check=0
ccci-janitor --check --scope "^$re\$" || check=$?

[ "$status" -eq 0 ] || exit "$status"
exit "$check"
