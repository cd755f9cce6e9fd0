#!/usr/bin/env bash
# Instructions the bridge core spends per forwarded packet, from callgrind (repeatable on a
# busy machine). Runs benches/forward_cost.rs for 8 s and 2 s of virtual time, counts only
# inside `Sfu`'s entry points (the str0m participants of the harness are not counted), and
# divides the difference by the difference in forwarded packets: connection setup cancels.
#
#   bridge/benches/instructions.sh                      # BWE on (the default)
#   BRIDGE_BWE=false bridge/benches/instructions.sh     # without send-side BWE and pacing
#   BRIDGE_BENCH_MEETING=20 bridge/benches/instructions.sh   # one 20-person meeting
#   BRIDGE_BENCH_MEETING=30 BRIDGE_BENCH_TILES=9 bridge/benches/instructions.sh   # tile view, last-N 9
#   BRIDGE_BENCH_FOLLOW=1 ...                     # senders follow SenderSourceConstraints
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(cargo bench -p bridge --bench forward_cost --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="forward_cost" and m.get("executable"): print(m["executable"])')
out=$(mktemp -d)
for secs in 8 2; do
  valgrind --tool=callgrind --toggle-collect='bridge::sfu::Sfu::*' \
    --callgrind-out-file="$out/cg$secs.out" "$bin" "$secs" >"$out/run$secs.txt" 2>"$out/valgrind$secs.txt" &
done
wait
python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def measure(secs):
    # With --toggle-collect, callgrind counts only inside Sfu's methods: its total is the
    # bridge core's cost (Sfu::new's certificate is the same in both runs and cancels).
    log = open(f"{out}/valgrind{secs}.txt").read()
    total = int(re.search(r"Collected : (\d+)", log).group(1))
    run = open(f"{out}/run{secs}.txt").read()
    return total, int(re.search(r"rtp_forwarded=(\d+)", run).group(1))
(i8, f8), (i2, f2) = measure(8), measure(2)
print(f"forwarded: {f2} (2 s), {f8} (8 s)")
print(f"instructions per forwarded packet: {(i8 - i2) / (f8 - f2):.0f} ({i8 - i2} / {f8 - f2})")
PY
rm -rf "$out"
