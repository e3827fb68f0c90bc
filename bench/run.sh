#!/usr/bin/env bash
# herd side by side with ansible-playbook (defaults, pipelining, Mitogen),
# pyinfra, an OpenSSH ControlMaster floor and a minimal persistent-shell
# program, on a loopback sshd. See docs/benchmarks.md.
#
#   bench/run.sh            the three workloads at their sizes (about 50
#                           minutes on 2 cores, most of it in ansible-playbook)
#   bench/run.sh --quick    the 12-task workload on 10 hosts, one repetition
#   bench/run.sh ARGS...    ARGS go to bench/compare.py (see its --help),
#                           e.g. --workload many --tools herd,pyinfra
#
# As root on Debian: it installs what is missing (openssh-server and the
# test user through scripts/test.sh --setup-only; ansible-core 2.19,
# mitogen and pyinfra from PyPI into .venv/bench), builds herd and the
# minimal program (bench/ssh_floor.rs) with --release, then runs
# bench/compare.py, which prints the tables. Results as JSON go to
# target/bench/ as well.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
say() { printf 'bench: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "run as root (it starts sshd and logs in as the test user)"; exit 1; }

scripts/test.sh --setup-only

venv="${HERD_BENCH_VENV:-$repo/.venv/bench}"
peers=('ansible-core>=2.19,<2.20' 'mitogen>=0.3.25,<0.4' 'pyinfra>=3,<4')
if ! "$venv/bin/python" -c 'import ansible_mitogen, pyinfra, ansible.release as r, sys; sys.exit(not r.__version__.startswith("2.19."))' 2>/dev/null; then
    say "installing ${peers[*]} into $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${peers[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
cargo build --quiet --release --bin herd --example ssh_floor

out="$repo/target/bench"
mkdir -p "$out"
compare() { python3 bench/compare.py --venv "$venv" "$@"; }

if [ "${1:-}" = --quick ]; then
    compare --workload files --sizes 10 --runs 1 --json "$out/quick.json"
elif [ $# -gt 0 ]; then
    compare "$@"
else
    status=0
    # A run slower than 30 s is repeated once only (--slow-runs 1); above 50
    # hosts a peer runs only if it is expected to finish within --timeout
    # (5 minutes), and above 200 hosts only herd and the minimal program run.
    # The tables say so in their "reps" column and notes.
    compare --workload files --sizes 10,50,200,1000 --slow-runs 1 --json "$out/files.json" || status=1
    # ansible-playbook needs minutes for 200 tasks: past 3 minutes its row
    # is a lower bound.
    compare --workload many --sizes 10 --slow-runs 1 --timeout 180 --json "$out/many.json" || status=1
    compare --workload deps --sizes 10,50 --slow-runs 1 --json "$out/deps.json" || status=1
    exit $status
fi
