#!/usr/bin/env ccci-sh
# recipe-run.sh DOMAIN RECIPE [--] [TEST COMMAND...] — the entry point a
# recipe build calls: run-keyed state (ccci-runstate init), one full deploy
# cycle of RECIPE (a directory holding compose.yml, or a recipe name under
# $ABRA_DIR/recipes) at DOMAIN with its tests (ccci-deploy), then a leak
# report scoped to DOMAIN and this run (ccci-janitor --check --scope --run).
#
# The run directory is removed on exit. Exits with ccci-deploy's status
# when it failed (1, 3 when deploy-count != 1, 124, 143 ...), else with the
# report's (1 when anything of DOMAIN was left behind). CCCI_DRIVER picks ccci-deploy's --driver (abra or
# stack). Runs under ccci-sh and bash alike (tests/testdata/pipeline).
#
# The recipe under test: with CCCI_RECIPE_REPO (a git URL) set and RECIPE
# a name, the recipe is cloned first, plainly and into this run's own
# $ABRA_DIR/recipes/RECIPE (no lock: nothing else writes there), at
# CCCI_RECIPE_REF (a commit, branch, tag or ref such as refs/pull/7/head;
# default the repository's HEAD), shallow where the server allows it. A
# clone that fails (bad URL, unknown ref) exits 2 before anything is
# locked or deployed.
#
# Examples:
#   scripts/recipe-run.sh test-1234.ci.example.org ./ -- ./tests/smoke.sh
#   CCCI_RECIPE_REPO=https://git.coopcloud.tech/coop-cloud/gitea.git \
#   CCCI_RECIPE_REF=3f2a9c1 scripts/recipe-run.sh gitea-1234.ci.example.org gitea
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
# The run's directory goes on every way out (a signal too), unless
# another process still holds the run live (rm --force refuses then: the
# step's ccci-runstate hold --rm removes it at its end); one left by a
# SIGKILL is the janitor's.
trap 'ccci-runstate rm --force >/dev/null 2>&1' EXIT

# fetch_recipe NAME URL REF: clone URL at REF (HEAD if empty) into
# $ABRA_DIR/recipes/NAME. A shallow fetch of REF first; a server that
# refuses a commit id as a want gets a full fetch, then the commit. The
# fetches hold the run live (ccci-runstate hold): a slow clone is never
# taken for a dead run by a janitor.
fetch_recipe() {
	dest=$ABRA_DIR/recipes/$1
	if [ -e "$dest" ]; then
		echo "recipe-run.sh: $dest already exists" >&2
		return 1
	fi
	want=${3:-HEAD}
	err=$(ccci-runstate path recipe-fetch.err) || return 1
	echo "== recipe: $1 from $2 at $want =="
	git init -q "$dest" &&
		git -C "$dest" remote add origin "$2" || return 1
	if ccci-runstate hold -- git -C "$dest" fetch -q --depth 1 origin "$want" 2>"$err"; then
		git -C "$dest" -c advice.detachedHead=false checkout -q --detach FETCH_HEAD || return 1
	elif [ -n "$3" ] && ccci-runstate hold -- git -C "$dest" fetch -q origin 2>>"$err" &&
		rev=$(git -C "$dest" rev-parse -q --verify "$3^{commit}") &&
		git -C "$dest" -c advice.detachedHead=false checkout -q --detach "$rev" 2>>"$err"; then
		# rev-parse first: an unknown REF given to checkout makes git
		# complain of a "path argument", which hides the real cause.
		:
	else
		cat "$err" >&2
		return 1
	fi
	rm -f "$err"
	echo "== recipe: $1 at $(git -C "$dest" rev-parse HEAD) =="
}

if [ -n "${CCCI_RECIPE_REPO:-}" ]; then
	case $recipe in
	*/* | .*)
		echo "recipe-run.sh: with CCCI_RECIPE_REPO, RECIPE must be a recipe name, not the path $recipe" >&2
		exit 2
		;;
	esac
	case ${CCCI_RECIPE_REF:-} in
	-*)
		echo "recipe-run.sh: CCCI_RECIPE_REF $CCCI_RECIPE_REF: not a git ref" >&2
		exit 2
		;;
	esac
	# Never a prompt for credentials: a repository that needs them fails.
	export GIT_TERMINAL_PROMPT=0
	if ! fetch_recipe "$recipe" "$CCCI_RECIPE_REPO" "${CCCI_RECIPE_REF:-}"; then
		echo "recipe-run.sh: cannot fetch recipe $recipe from $CCCI_RECIPE_REPO at ${CCCI_RECIPE_REF:-HEAD}: nothing deployed" >&2
		exit 2
	fi
fi

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
# Held live: the report must not count this very run's directory, idle
# since ccci-deploy ended, as a dead run's.
# --run: other runs' dead directories and processes are the cron pass's
# to reap, never this build's failure.
ccci-runstate hold -- ccci-janitor --check --scope "^$re\$" --run "$CCCI_RUN_ID" || check=$?

[ "$status" -eq 0 ] || exit "$status"
exit "$check"
