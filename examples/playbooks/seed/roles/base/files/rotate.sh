#!/bin/sh
# Keeps the seed log short.
set -eu
log="${1:?usage: rotate.sh LOG}"
[ -f "$log" ] || exit 0
tail -n 1000 "$log" > "$log.new" && mv "$log.new" "$log"
