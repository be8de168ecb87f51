#!/usr/bin/env bash
# Measures the server's memory while a large file goes up and comes back, and the time of
# listing a big folder.
#
#   bench/run.sh [size-in-MiB (default 1024)] [entries (default 10000)]
#
# Builds the server (debug; set PROFILE=release for an optimized build), starts it on a free
# port with a fresh data folder, and reports the peak resident memory (VmHWM) of the server
# process after each phase. The big folder's files are put on disk before the start, so the
# start-up reconciliation indexes them; the listing is then one indexed query.
set -euo pipefail

SIZE_MIB=${1:-1024}
ENTRIES=${2:-10000}
PROFILE=${PROFILE:-debug}
cd "$(dirname "$0")/.."

if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
BIN=target/$PROFILE/cloudsync

WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
DATA=$WORK/data
mkdir -p "$DATA/roots/1/big"
for i in $(seq 1 "$ENTRIES"); do : > "$DATA/roots/1/big/file-$i.txt"; done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
CLOUDSYNC_ADMIN_PASSWORD=bench-password CLOUDSYNC_BCRYPT_COST=4 RUST_LOG=warn \
    "$BIN" --listen "127.0.0.1:$PORT" --data-dir "$DATA" > "$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do curl -s "$URL/1/policies" > /dev/null && break; sleep 0.1; done

peak() { awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$PID/status"; }
now() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$PID/status"; }
echo "server started, ${ENTRIES} files indexed at start: peak RSS $(peak)"

TOKEN=$(curl -s -X POST -d username=admin -d password=bench-password "$URL/1/auth/" | jq -r .session_token)
BIG=$WORK/big.bin
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$BIG"

START=$(date +%s.%N)
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -T "$BIG" \
    "$URL/1/files_put/1/big.bin" > "$WORK/code"
END=$(date +%s.%N)
echo "upload of ${SIZE_MIB} MiB: HTTP $(cat "$WORK/code"), $(echo "$END - $START" | bc) s, peak RSS $(peak)"

START=$(date +%s.%N)
curl -s -H "Authorization: Bearer $TOKEN" "$URL/1/files/1/big.bin" | cmp - "$BIG" \
    && SAME=identical || SAME=DIFFERENT
END=$(date +%s.%N)
echo "download: ${SAME}, $(echo "$END - $START" | bc) s, peak RSS $(peak)"

LISTING=$(curl -s -o "$WORK/listing.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    "$URL/1/metadata/1/big?file_limit=$ENTRIES")
echo "listing ${ENTRIES} entries: $(jq '.contents | length' "$WORK/listing.json") returned in ${LISTING} s, peak RSS $(peak), now $(now)"
