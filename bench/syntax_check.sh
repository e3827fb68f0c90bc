#!/usr/bin/env bash
# Times `herd playbook --syntax-check` against `ansible-playbook --syntax-check`
# on the same generated tree (50 roles x 20 tasks, bench/gen_tree.py).
# Target: herd under 50 ms.
#
#   bench/syntax_check.sh [RUNS]     (default 10 runs each; the median is shown)
#
# Uses hyperfine when installed (apt-get install hyperfine), else a small loop.
# ansible comes from $HERD_ANSIBLE_BIN_DIR, else .venv/ansible/bin (which
# scripts/test.sh installs); without it only herd is timed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-10}"
ansible_bin="${HERD_ANSIBLE_BIN_DIR:-$repo/.venv/ansible/bin}"

tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
python3 "$repo/bench/gen_tree.py" "$tree"

# Release build: this measures what users run, not a debug build.
cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --bin herd
herd="$repo/target/release/herd"

herd_cmd=("$herd" playbook -i inventory.ini site.yml --syntax-check)
ansible_cmd=("$ansible_bin/ansible-playbook" -i inventory.ini site.yml --syntax-check)
have_ansible=false
[ -x "$ansible_bin/ansible-playbook" ] && have_ansible=true

cd "$tree"
# Both must accept the tree before their times mean anything.
"${herd_cmd[@]}" >/dev/null || { echo "herd rejects the tree" >&2; exit 1; }
if $have_ansible; then
    ANSIBLE_NOCOLOR=1 "${ansible_cmd[@]}" >/dev/null
fi

# Median wall time in milliseconds of RUNS runs of the command.
median_ms() {
    local times=() i start end
    for ((i = 0; i < runs; i++)); do
        # $EPOCHREALTIME (bash 5) costs no process, unlike date(1).
        start=${EPOCHREALTIME/./}
        "$@" >/dev/null 2>&1
        end=${EPOCHREALTIME/./}
        times+=($((end - start)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {
        m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000 }'
}

echo "tree: $(find roles -name main.yml -path '*/tasks/*' | wc -l) roles, $(grep -c '^- name:' roles/*/tasks/main.yml | awk -F: '{s+=$2} END {print s}') tasks"
if command -v hyperfine >/dev/null 2>&1; then
    # -N: no intermediate shell, so a few-millisecond command is timed fairly.
    cmds=("$(printf '%q ' "${herd_cmd[@]}")")
    $have_ansible && cmds+=("env ANSIBLE_NOCOLOR=1 $(printf '%q ' "${ansible_cmd[@]}")")
    hyperfine -N --warmup 1 --runs "$runs" --style basic \
        --export-json "$tree/results.json" "${cmds[@]}"
    python3 - "$tree/results.json" <<'PY'
import json, sys
names = ["herd playbook --syntax-check:   ", "ansible-playbook --syntax-check:"]
for name, r in zip(names, json.load(open(sys.argv[1]))["results"]):
    print(f"{name} {r['median'] * 1000:.1f} ms (median of {len(r['times'])})")
PY
else
    "${herd_cmd[@]}" >/dev/null # warm the page cache
    echo "herd playbook --syntax-check:    $(median_ms "${herd_cmd[@]}") ms (median of $runs)"
    if $have_ansible; then
        echo "ansible-playbook --syntax-check: $(ANSIBLE_NOCOLOR=1 median_ms "${ansible_cmd[@]}") ms (median of $runs)"
    fi
fi
$have_ansible || echo "ansible-playbook not found in $ansible_bin: run scripts/test.sh to install it"
