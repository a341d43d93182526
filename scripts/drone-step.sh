#!/usr/bin/env ccci-sh
# drone-step.sh CMD [ARG...] — the Drone step wrapper.
#
# Runs CMD in a session of its own (setsid), so that the whole tree it
# starts is one process group; forwards TERM, INT and HUP to that group;
# on every way out (EXIT) makes sure the group is gone (TERM, a grace of
# DRONE_STEP_GRACE seconds, default 10, then KILL); exits with CMD's status,
# 128+N after a forwarded signal N (143 for TERM). CMD gets
# CCCI_PARENT_PID, this shell's pid (the ppid race, docs/pipeline.md).
#
# Runs under ccci-sh and under bash alike (tests/testdata/sh/drone_step.txtar).
#
# Example (.drone.yml; `exec`, so that the step process the runner
# signals is this script, and the hold keeps the run live to its end):
#   commands:
#     - exec scripts/drone-step.sh ccci-runstate hold --rm -- scripts/recipe-run.sh "$DOMAIN" . -- ./tests/run.sh
set -u

if [ "$#" -eq 0 ]; then
	echo "usage: drone-step.sh CMD [ARG...]" >&2
	exit 2
fi

child=
interrupted=

forward() {
	interrupted=$1
	# Before setsid has made the group, the child alone is there.
	[ -n "$child" ] && { kill -s "$1" -- "-$child" 2>/dev/null || kill -s "$1" "$child" 2>/dev/null; }
	return 0
}

# reap ends whatever is left of the group, the leader's grandchildren too.
reap() {
	[ -n "$child" ] || return 0
	kill -0 -- "-$child" 2>/dev/null || return 0
	kill -s TERM -- "-$child" 2>/dev/null
	tries=$(( ${DRONE_STEP_GRACE:-10} * 10 ))
	while [ "$tries" -gt 0 ] && kill -0 -- "-$child" 2>/dev/null; do
		sleep 0.1
		tries=$((tries - 1))
	done
	kill -s KILL -- "-$child" 2>/dev/null
	return 0
}

trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
trap reap EXIT

# The child's parent is this shell: its pid, which we know for sure while
# we run, lets a ccci child tell that we died before it armed its
# parent-death signal (internal/lifetime; a child's getppid() would
# already name the reaper). setsid(1) and exec keep the pid; ccci removes
# the variable from its own environment, so nothing further inherits it.
export CCCI_PARENT_PID=$$

# bash starts a background simple command with INT and QUIT ignored (no
# job control), and the command would inherit that, so a forwarded INT
# would never reach it. A background subshell that execs it gets the
# default actions (the trap - says so explicitly). ccci-sh ignores neither.
if [ -n "${BASH_VERSION:-}" ]; then
	(trap - INT QUIT; exec setsid "$@") &
else
	setsid "$@" &
fi
child=$!
# A signal that came before $child was known is forwarded now.
[ -z "$interrupted" ] || forward "$interrupted"

# A trapped signal makes wait return early (status > 128) while the group
# winds down: wait again until the leader itself has ended.
while :; do
	interrupted=
	wait "$child"
	status=$?
	if [ -n "$interrupted" ] && kill -0 "$child" 2>/dev/null; then
		continue
	fi
	break
done
exit "$status"
