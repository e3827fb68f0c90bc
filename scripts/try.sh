#!/usr/bin/env bash
# Builds herd and shows it at work on the example in examples/playbooks/webservers:
# checks the playbook, lists its hosts, tasks and tags, and shows the inventory.
# Nothing connects to any host.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
example="$repo/examples/playbooks/webservers"

# A debug build: from scratch it takes a fraction of a release build's time
# on a small machine (dependencies are still optimized, see [profile.dev] in
# Cargo.toml), checking and listing take milliseconds either way, and
# scripts/test.sh reuses the same artifacts. bench/ builds with --release.
cargo build --quiet --manifest-path "$repo/Cargo.toml" --bin herd
herd="$repo/target/debug/herd"

cd "$example"
run() {
    printf '\n$ herd %s\n' "$*"
    "$herd" "$@"
}
run playbook -i inventory.ini site.yml --syntax-check
run playbook -i inventory.ini site.yml --list-hosts
run playbook -i inventory.ini site.yml --list-tasks
run playbook -i inventory.ini site.yml --list-tags
run inventory -i inventory.ini --graph

# Then a real run: the local example changes files under /tmp/herd-example.
cd "$repo/examples/playbooks/local"
run playbook -i inventory.ini site.yml
printf '\nThe examples are in examples/playbooks/; try your own playbooks the same way.\n'
