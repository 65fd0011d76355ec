#!/bin/sh
# The krkn-hog image's contract (krkn-lib sets these variables): one stress-ng run of HOG_TYPE.
set -e
w=${WORKERS:-1}
t=${DURATION:-60}s
case "${HOG_TYPE:-cpu}" in
  cpu) exec stress-ng --cpu "$w" --cpu-load "${LOAD_PERCENTAGE:-80}" --cpu-method "${CPU_METHOD:-all}" --timeout "$t" ;;
  memory) exec stress-ng --vm "$w" --vm-bytes "${VM_BYTES:-10%}" --vm-keep --timeout "$t" ;;
  io) mkdir -p "${STRESS_PATH:-/tmp}"
      exec stress-ng --hdd "$w" --hdd-bytes "${HDD_BYTES:-1g}" --hdd-write-size "${HDD_WRITE_SIZE:-4k}" \
        --temp-path "${STRESS_PATH:-/tmp}" --timeout "$t" ;;
  *) echo "krkn-hog: unknown HOG_TYPE ${HOG_TYPE}" >&2; exit 2 ;;
esac
