#!/usr/bin/env bash
# Times `herd playbook` on many local hosts (ansible_connection=local), 20
# `debug` tasks each, for 100, 300 and 1000 hosts, to show that the cost of
# a task grows linearly with the hosts (the time per host and task should
# stay flat across the rows).
#
#   bench/many_hosts.sh [PROFILE]    (dev or release; default dev)
#
# The unit test exec::tests::per_task_work_is_linear_in_hosts checks the same
# property by counting, without timing anything.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${1:-dev}"
cargo build --quiet --manifest-path "$repo/Cargo.toml" --bin herd --profile "$profile"
dir_name="$profile"
[ "$profile" = dev ] && dir_name=debug
herd="$repo/target/$dir_name/herd"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tasks=20
{
    printf -- '- hosts: all\n  gather_facts: false\n  tasks:\n'
    for i in $(seq 1 "$tasks"); do
        printf '    - debug: msg="t%s {{ inventory_hostname }}"\n' "$i"
    done
} >"$work/pb.yml"

printf '%8s %10s %18s\n' hosts seconds 'ms per host-task'
for n in 100 300 1000; do
    {
        echo '[all]'
        for i in $(seq 1 "$n"); do echo "h$i ansible_connection=local"; done
    } >"$work/inv"
    start=$(date +%s.%N)
    "$herd" playbook -i "$work/inv" "$work/pb.yml" >/dev/null
    end=$(date +%s.%N)
    python3 -c "import sys; s=$end-$start; print('%8d %10.2f %18.3f' % ($n, s, s*1000/($n*$tasks)))"
done
