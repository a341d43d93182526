#!/usr/bin/env ccci-sh
# recipe-run.sh DOMAIN RECIPE [TEST COMMAND...] — the entry point a recipe
# build calls: run-keyed state, one full deploy cycle of RECIPE (a directory
# holding compose.yml, or a recipe name under $ABRA_DIR/recipes) at DOMAIN
# with its tests, then a leak report for that domain.
#
# Exits with ccci-deploy's status when it failed (3: deploy-count != 1),
# else with the report's (1 when anything was left behind).
# CCCI_DRIVER picks ccci-deploy's --driver (abra or stack).
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

set -- --recipe "$recipe" ${CCCI_DRIVER:+--driver "$CCCI_DRIVER"} "$domain" ${1+-- "$@"}
status=0
ccci-deploy "$@" || status=$?

echo "== report: run ${CCCI_RUN_ID:-?}, $domain =="
re=$(printf '%s' "$domain" | sed 's/[.]/\\./g')
check=0
ccci-janitor --check --match "^$re\$" || check=$?

[ "$status" -ne 0 ] && exit "$status"
exit "$check"
