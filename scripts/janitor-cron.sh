#!/usr/bin/env ccci-sh
# janitor-cron.sh [JANITOR OPTION...] — one ccci-janitor pass as cron
# (scripts/janitor.cron) or the systemd timer (scripts/ccci-janitor.service)
# runs it: the pass's metrics go to a Prometheus textfile for
# node_exporter, its report to stdout between two lines stamped with the
# time (UTC), so an appended log or the journal shows when each pass ran
# and how it ended. Exits with ccci-janitor's status: 0 done, also when
# another janitor is still running (it says so on stderr), 1 something
# could not be reaped, 2 usage.
#
# Environment: CCCI_METRICS, the textfile (default
# /var/lib/node_exporter/textfile/ccci.prom; set but empty: no metrics);
# and ccci-janitor's own (CCCI_LOCK_DIR, CCCI_RUNS_DIR, ABRA_DIR, ...).
# Runs under ccci-sh and bash alike (tests/testdata/pipeline/janitor_cron).
#
# Examples:
#   janitor-cron.sh
#   CCCI_METRICS= janitor-cron.sh --stale 3h
set -u

metrics=${CCCI_METRICS-/var/lib/node_exporter/textfile/ccci.prom}
if [ -n "$metrics" ]; then
	set -- --metrics "$metrics" "$@"
fi

echo "== janitor pass $(date -u +%Y-%m-%dT%H:%M:%SZ) =="
status=0
ccci-janitor "$@" || status=$?
echo "== janitor pass ended $(date -u +%Y-%m-%dT%H:%M:%SZ): status $status =="
exit "$status"
