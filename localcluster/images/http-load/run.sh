#!/bin/sh
# The krkn-http-load image's contract (krkn-lib sets these variables): one Vegeta attack on the
# base64-encoded JSON targets, then its text report and its JSON report (one line, which krkn
# reads from the pod's log).
set -e
[ -n "$TARGETS_JSON_BASE64" ] || { echo "\$TARGETS_JSON_BASE64 env var missing: base64-encoded Vegeta JSON targets must be set"; exit 1; }
[ -n "$DURATION" ] || { echo "\$DURATION env var missing: attack duration must be set (e.g., 30s)"; exit 1; }
flags="-format=json -rate=${RATE:-50/1s} -duration=$DURATION -workers=${WORKERS:-10} -max-workers=${MAX_WORKERS:-100}"
flags="$flags -connections=${CONNECTIONS:-100} -timeout=${TIMEOUT:-10s}"
[ "${KEEPALIVE:-true}" = true ] && flags="$flags -keepalive=true"
[ "${HTTP2:-true}" = true ] && flags="$flags -http2=true"
[ "${INSECURE:-false}" = true ] && flags="$flags -insecure"
echo "=== Krkn HTTP Load Scenario ==="
{ echo "$TARGETS_JSON_BASE64" | base64 -d; echo; } > /tmp/targets.json  # Vegeta reads whole lines
echo "Running: vegeta attack $flags"
# shellcheck disable=SC2086
vegeta attack $flags -targets=/tmp/targets.json -output=/tmp/results.bin
echo "=== Attack Results ==="
vegeta report -type=text /tmp/results.bin
echo "=== JSON Report ==="
vegeta report -type=json /tmp/results.bin
echo
echo "Attack completed successfully"
