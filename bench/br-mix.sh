#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - bytes an event stream saves with brotli on a realistic event mix.
# Copyright (c) 2026 Parley developers
#
# Usage: bench/br-mix.sh BASE_URL [MESSAGES]
#
# Against a running parleyd: registers six users, makes a group of all six and a few direct
# chats, and has the observer hold two event streams at once, one asking for br (bytes counted
# as they come off the wire, undecoded) and one not. Then it drives a mix: MESSAGES texts
# (default 300) of 1 to 40 words, some with emoji and accents, to the group and to direct chats,
# each followed by typing and by delivered and read receipts from the recipients (which bring
# message.status and receipt events). Prints one line:
#   RESULT scenario=br events=N identity_bytes=N br_bytes=N saved_pct=N.N
# and checks the br stream decodes (with node's zlib) to the same events as the plain one.
set -euo pipefail
B=${1:?usage: br-mix.sh BASE_URL [MESSAGES]}
N=${2:-300}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

req() { # METHOD PATH TOKEN [JSON]
  local args=(-sS -X "$1" "$B$2" -H "Authorization: Bearer $3")
  [[ $# -ge 4 ]] && args+=(-H 'Content-Type: application/json' -d "$4")
  curl "${args[@]}"
}
num() { grep -o "\"$1\" *: *[0-9]*" | head -n1 | grep -o '[0-9]*$'; }

tag=$RANDOM$RANDOM
users=(obs ann ben cat dan eve)
declare -A tok id
for u in "${users[@]}"; do
  name=br${u}_$tag
  curl -sS -o /dev/null "$B/v1/users" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"correct horse battery\"}"
  out=$(curl -sS "$B/v1/sessions" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"correct horse battery\"}")
  tok[$u]=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' <<<"$out")
  id[$u]=$(sed -n 's/.*"user" *: *{ *"id" *: *\([0-9]*\).*/\1/p' <<<"$out")
  [[ -n ${tok[$u]} && -n ${id[$u]} ]] || { echo "login failed: $out" >&2; exit 1; }
done
members=$(printf '%s,' "${id[ann]}" "${id[ben]}" "${id[cat]}" "${id[dan]}" "${id[eve]}")
group=$(req POST /v1/conversations "${tok[obs]}" \
  "{\"kind\":\"group\",\"title\":\"Weekend plans\",\"members\":[${members%,}]}" | num id)
declare -A direct
for u in ann ben cat; do
  direct[$u]=$(req POST /v1/conversations "${tok[$u]}" \
    "{\"kind\":\"direct\",\"user\":${id[obs]}}" | num id)
done

# The observer's two streams; -o counts body bytes only, as the client receives them.
curl -sSN -H "Authorization: Bearer ${tok[obs]}" -H 'Accept-Encoding: br' -D "$tmp/br.h" \
  -o "$tmp/br.bin" "$B/v1/events" &
curl -sSN -H "Authorization: Bearer ${tok[obs]}" -o "$tmp/plain.txt" "$B/v1/events" &
for ((i = 0; i < 100; i++)); do
  [[ -s $tmp/br.bin && -s $tmp/plain.txt ]] && break
  sleep 0.05
done
grep -qi '^content-encoding: br' "$tmp/br.h" || { echo "the br stream is not compressed" >&2; exit 1; }

words=(the a to and of you for is on in it that we are at be this with have can see do not was
  just what so me my get will go up if all one out about how no like know time when your there
  now here good new day week lunch dinner tonight tomorrow later meeting train home work back
  call photo sounds great thanks sure ok okay maybe yes coffee beer park beach movie game party
  birthday flight hotel weather rain sunny cold late early soon love haha lol omg really nice
  café déjà vu naïve 🎉 👍 😂 ❤️ 🙏 price ticket station 10 15 7:30 Friday Saturday Sunday)
sentence() {
  local n=$((1 + RANDOM % 40)) s= w
  for ((w = 0; w < n; w++)); do s+="${words[RANDOM % ${#words[@]}]} "; done
  printf '%s' "${s% }"
}
senders=(ann ben cat dan eve)
for ((m = 1; m <= N; m++)); do
  s=${senders[RANDOM % 5]}
  conv=$group
  if ((RANDOM % 3 == 0)) && [[ -n ${direct[$s]:-} ]]; then conv=${direct[$s]}; fi
  req POST "/v1/conversations/$conv/typing" "${tok[$s]}" '{}' >/dev/null || true
  text=$(sentence)
  out=$(req POST "/v1/conversations/$conv/messages" "${tok[$s]}" \
    "{\"client_msg_id\":\"mix-$m\",\"kind\":\"text\",\"text\":\"$text\"}")
  seq=$(num seq <<<"$out")
  [[ -n $seq ]] || { echo "send failed: $out" >&2; exit 1; }
  req POST "/v1/conversations/$conv/receipts" "${tok[obs]}" \
    "{\"type\":\"read\",\"up_to_seq\":$seq}" >/dev/null
  if ((RANDOM % 2 == 0)); then
    r=${senders[RANDOM % 5]}
    [[ $r != "$s" && $conv == "$group" ]] &&
      req POST "/v1/conversations/$conv/receipts" "${tok[$r]}" \
        "{\"type\":\"delivered\",\"up_to_seq\":$seq}" >/dev/null
  fi
done
sleep 1
kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true

plain=$(stat -c %s "$tmp/plain.txt")
br=$(stat -c %s "$tmp/br.bin")
# Decode what arrived (a stream cut off mid-way: decode what is complete) and compare events.
node -e '
const fs = require("fs"), zlib = require("zlib");
const raw = fs.readFileSync(process.argv[1]);
let out;
try { out = zlib.brotliDecompressSync(raw, {finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH}); }
catch (e) { console.error("br stream does not decode: " + e.message); process.exit(1); }
const ev = (s) => s.split("\n").filter((l) => l.startsWith("event: ") && l !== "event: ready").length;
const a = ev(out.toString()), b = ev(fs.readFileSync(process.argv[2], "utf8"));
if (a !== b) { console.error(`br stream has ${a} events, plain stream ${b}`); process.exit(1); }
console.log(b);
' "$tmp/br.bin" "$tmp/plain.txt" >"$tmp/events" || exit 1
awk -v e="$(cat "$tmp/events")" -v p="$plain" -v b="$br" 'BEGIN {
  printf "RESULT scenario=br events=%d identity_bytes=%d br_bytes=%d saved_pct=%.1f\n",
    e, p, b, 100 * (p - b) / p }'
