#!/usr/bin/env bash
# Runs herd's whole test suite. This is the one command for CI and developers.
#
# On a fresh Debian machine (as root, or as a user with sudo) it first installs
# what the tests need, each piece only when it is missing, so a second run goes
# straight to `cargo test`:
#   - Debian packages: openssh-server (the tests start their own sshd on a
#     loopback port), openssh-client, sudo, cron, python3-venv, and the
#     account and namespace tools the system-module tests use (passwd:
#     useradd/groupadd/chage; util-linux and mount: unshare, mount --bind,
#     and setsid for async jobs; bsdutils: script, which gives the vault
#     prompt tests a terminal; procps: pgrep, sysctl, ps;
#     init-system-helpers: service, update-rc.d), python3-apt (ansible's
#     package_facts, which herd's is compared with), and the archive tools
#     the unarchive tests use (tar, gzip, bzip2, xz-utils, unzip, zip, and
#     curl for its downloads, which get_url and uri also use), git, and
#     iproute2 (`ip`, which the network facts read);
#     python3-debian (ansible's deb822_repository needs it; herd does not)
#     and tzdata (its debconf questions, for the debconf tests); the apt
#     tests install Debian's `hello` from the mirror the update reaches;
#   - the unprivileged user `herdtest` (plain /bin/sh, passwordless sudo) that
#     the SSH tests log in as;
#   - a BusyBox userland (package busybox): its applets as symlinks in
#     /opt/herd-busybox/bin, a wrapper /opt/herd-busybox/shell that runs
#     BusyBox's sh with only that directory on PATH (the module tests'
#     BusyBox flavour), and the user `herdbb`, whose login shell is BusyBox's
#     sh (the SSH harness gives its sessions that PATH);
#   - ansible-core 2.19 in a Python venv (.venv/ansible, or $HERD_ANSIBLE_VENV),
#     the oracle of the conformance suite;
#   - the ansible.posix and community.general collections (the `json`
#     stdout callback whose output the conformance suite compares, and the
#     oracles of the posix and ini_file modules) in <venv>/collections, taken from
#     PyPI's `ansible` package (12.x pairs with ansible-core 2.19): the
#     wheel is downloaded once and only those two collections are kept.
# Then it runs `cargo test --workspace --all-targets --no-fail-fast` with
# HERD_ANSIBLE_BIN_DIR pointing at that venv (the tests look for the
# collections beside its bin/). Arguments, if any, replace
# `--all-targets` (e.g. `scripts/test.sh --test conformance`), except
# `--setup-only`, which installs what is missing and stops there (bench/run.sh
# uses it).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

packages=(openssh-server openssh-client sudo cron python3-venv passwd util-linux bsdutils mount procps
    init-system-helpers python3-apt python3-debian tzdata busybox tar gzip bzip2 xz-utils unzip
    zip curl git iproute2)
test_user=herdtest
busybox_user=herdbb
venv="${HERD_ANSIBLE_VENV:-$repo/.venv/ansible}"
ansible_spec='ansible-core>=2.19,<2.20'
collections_spec='ansible>=12,<13'
collections="$venv/collections"
python="${HERD_PYTHON:-python3}"

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

install_packages() {
    command -v dpkg-query >/dev/null 2>&1 || {
        say "not a Debian system: make sure these are installed: ${packages[*]}"
        return
    }
    local missing=() p
    for p in "${packages[@]}"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
}

check_ssh_tools() {
    [ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing (package openssh-server)"
    local tmp
    tmp="$(mktemp -d)"
    ssh-keygen -q -t ed25519 -N '' -f "$tmp/key" >/dev/null ||
        { rm -rf "$tmp"; die "ssh-keygen does not work"; }
    rm -rf "$tmp"
    # sshd refuses to start as root without its privilege-separation directory,
    # which only the (not running) service would create.
    [ -d /run/sshd ] || as_root install -d -m 0755 /run/sshd
}

create_test_user() {
    if ! id "$test_user" >/dev/null 2>&1; then
        say "creating user $test_user"
        as_root useradd --create-home --shell /bin/sh "$test_user"
        # '*' instead of useradd's locked '!': no password login, but sshd
        # still accepts keys (it refuses locked accounts).
        as_root usermod -p '*' "$test_user"
    fi
    local sudoers="/etc/sudoers.d/$test_user"
    local rule="$test_user ALL=(ALL:ALL) NOPASSWD: ALL"
    if ! as_root test -f "$sudoers" || [ "$(as_root cat "$sudoers")" != "$rule" ]; then
        say "granting $test_user passwordless sudo"
        local tmp
        tmp="$(mktemp)"
        printf '%s\n' "$rule" >"$tmp"
        as_root visudo -cq -f "$tmp" || { rm -f "$tmp"; die "sudoers rule rejected by visudo"; }
        as_root install -m 0440 -o root -g root "$tmp" "$sudoers"
        rm -f "$tmp"
        as_root visudo -cq || die "visudo -c fails after adding $sudoers"
    fi
}

# The BusyBox userland: applet symlinks, the PATH-restricting wrapper
# and the BusyBox test user. Rebuilt when the wrapper is missing.
create_busybox_userland() {
    local dir=/opt/herd-busybox bb
    bb="$(command -v busybox)" || die "busybox is missing (package busybox)"
    if [ ! -x "$dir/shell" ] || [ ! -e "$dir/bin/sh" ]; then
        say "installing BusyBox applets into $dir/bin"
        as_root rm -rf "$dir"
        as_root install -d -m 0755 "$dir/bin"
        # --install where the build has it, else one link per listed applet.
        if ! as_root "$bb" --install -s "$dir/bin" 2>/dev/null; then
            local applet
            for applet in $("$bb" --list); do
                as_root ln -sf "$bb" "$dir/bin/$applet"
            done
        fi
        # `--install` links to the binary's own path; make sure sh is there.
        [ -e "$dir/bin/sh" ] || as_root ln -s "$bb" "$dir/bin/sh"
        local tmp
        tmp="$(mktemp)"
        printf '%s\n' "#!$dir/bin/sh" "PATH=$dir/bin" 'export PATH' "exec $dir/bin/sh \"\$@\"" >"$tmp"
        as_root install -m 0755 "$tmp" "$dir/shell"
        rm -f "$tmp"
    fi
    if ! id "$busybox_user" >/dev/null 2>&1; then
        say "creating user $busybox_user (BusyBox sh)"
        as_root useradd --create-home --shell "$dir/bin/sh" "$busybox_user"
        as_root usermod -p '*' "$busybox_user"
    fi
}

install_ansible() {
    if [ -x "$venv/bin/python" ] &&
        "$venv/bin/python" -c 'import sys, ansible.release as r; sys.exit(not r.__version__.startswith("2.19."))' 2>/dev/null &&
        [ -x "$venv/bin/ansible-playbook" ]; then
        return
    fi
    say "installing $ansible_spec into $venv"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$ansible_spec"
}

# ansible.posix and community.general from the `ansible` wheel, extracted
# into $collections/ansible_collections/{ansible/posix,community/general}:
# the json stdout callback the conformance suite reads, and the oracles of
# authorized_key, sysctl, mount (ansible.posix) and ini_file
# (community.general). Extracted into a scratch directory and renamed into
# place, so an interrupted run leaves nothing that looks installed.
install_collections() {
    local posix="$collections/ansible_collections/ansible/posix"
    local general="$collections/ansible_collections/community/general"
    [ -f "$posix/plugins/callback/json.py" ] &&
        [ -f "$general/plugins/modules/ini_file.py" ] && return
    say "installing the ansible.posix and community.general collections into $collections (from $collections_spec)"
    local tmp
    tmp="$(mktemp -d)"
    "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
        --only-binary=:all: -d "$tmp/wheel" "$collections_spec" ||
        { rm -rf "$tmp"; die "could not download $collections_spec from PyPI"; }
    "$venv/bin/python" - "$tmp/wheel" "$tmp/out" <<'PY' ||
import pathlib, sys, zipfile
wheels = sorted(pathlib.Path(sys.argv[1]).glob("ansible-*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one ansible wheel, found {[w.name for w in wheels]}")
prefixes = ("ansible_collections/ansible/posix/", "ansible_collections/community/general/")
with zipfile.ZipFile(wheels[0]) as z:
    names = [n for n in z.namelist() if n.startswith(prefixes)]
    for must in ("ansible/posix/plugins/callback/json.py",
                 "community/general/plugins/modules/ini_file.py"):
        if not any(n.endswith(must) for n in names):
            sys.exit(f"{wheels[0].name} has no {must}")
    z.extractall(sys.argv[2], names)
PY
        { rm -rf "$tmp"; die "could not extract the collections from the ansible wheel"; }
    mkdir -p "$(dirname "$posix")" "$(dirname "$general")"
    rm -rf "$posix" "$general"
    mv "$tmp/out/ansible_collections/ansible/posix" "$posix"
    mv "$tmp/out/ansible_collections/community/general" "$general"
    rm -rf "$tmp"
}

install_packages
check_ssh_tools
create_test_user
create_busybox_userland
install_ansible
install_collections
[ "${1:-}" = --setup-only ] && exit 0

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs)"

export HERD_ANSIBLE_BIN_DIR="$venv/bin"
version="$("$venv/bin/ansible-playbook" --version)"
say "ansible: ${version%%$'\n'*}"
# --no-fail-fast: a failing test binary does not stop the others from running,
# so one run reports every failure (the exit code is still non-zero).
[ $# -eq 0 ] && set -- --all-targets
exec cargo test --workspace --no-fail-fast "$@"
