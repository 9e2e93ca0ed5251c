#!/usr/bin/env bash
# page_ab.sh — first-token A/B of several checkouts of the page, alternating
# so that each sees the same machine: R rounds, each running
# `node bench/page_first_token.mjs 1` in every checkout in turn (each with its
# own dist/ and node_modules). Prints one line per run:
#   CHECKOUT link warm fromKey cold      (ms; see bench/page_first_token.mjs)
#
#   bench/page_ab.sh R DIR [DIR...]
set -u
[ $# -ge 2 ] || { echo "usage: bench/page_ab.sh ROUNDS DIR [DIR...]" >&2; exit 2; }
R=$1; shift
for _ in $(seq 1 "$R"); do
  for d in "$@"; do
    out=$(cd "$d" && timeout 200 node bench/page_first_token.mjs 1 2>&1 | tail -1)
    echo "$(basename "$d") $(echo "$out" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log(j.link[0],j.warm[0],j.warmFromKey[0],j.cold[0])}catch{console.log("failed: "+s.slice(-200).replace(/\n/g," "))}})')"
  done
done
