#!/usr/bin/env python3
"""Runs one workload under herd and its peers against a loopback sshd and
prints one table: wall seconds of the first and the unchanged run (median
of --runs), controller CPU seconds and peak RSS of the tool's own process
tree, and herd's speed-up over each tool measured in the same invocation.

Started by bench/run.sh, which installs what it needs; see
docs/benchmarks.md. Runs as root: it starts its own sshd and logs in as
the unprivileged test user (plain /bin/sh) that scripts/test.sh creates.

Every tool works on its own fresh directories (one per host) for each
repetition; after the second run the script checks that every tool
reporting changes reported none, and that every tool left the same files
(paths, types, modes, contents) as herd.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
USER = "herdtest"
TEMPLATE_TEXT = "Welcome to {name}\nmanaged by the benchmark\n"

# ---------------------------------------------------------------- workloads
#
# A workload is a list of abstract steps; each tool's files are generated
# from it, so all tools do the same operations. Paths are relative to the
# host's directory. Every step is one task invocation, except "stat_assert"
# (two: stat, then assert) and "dir_loop" (one per item).


def workload_files():
    """The 12-invocation workload of every size."""
    return [
        ("dir", "a"),
        ("dir", "a/b"),
        ("copy", "a/hello.txt", "hello from the benchmark\n"),
        ("template", "a/motd"),
        ("line", "a/settings.conf", "key=value"),
        ("creates", "a/created"),
        ("stat_assert", "a/hello.txt"),
        ("shell", "a/hello.txt"),
        ("dir_loop", ["a/x", "a/y", "a/z"]),
    ]


def workload_many():
    """200 small task invocations (20 × 10)."""
    steps = []
    for i in range(20):
        d = f"d{i:02d}"
        steps += [
            ("dir", d),
            ("copy", f"{d}/copied", f"copy {i}\n"),
            ("template", f"{d}/motd"),
            ("line", f"{d}/settings.conf", f"key{i}=value"),
            ("creates", f"{d}/created"),
            ("stat_assert", f"{d}/copied"),
            ("shell", f"{d}/copied"),
            ("dir", f"{d}/x"),
            ("dir", f"{d}/y"),
        ]
    return steps


def invocations(steps):
    n = 0
    for s in steps:
        n += {"stat_assert": 2, "dir_loop": len(s[1]) if s[0] == "dir_loop" else 0}.get(s[0], 1)
    return n


def q(s):
    return json.dumps(s)  # a YAML double-quoted scalar is a JSON string


def playbook(steps):
    """The Ansible playbook (herd and ansible-playbook run the same file)."""
    out = ["- hosts: all", "  gather_facts: false", "  vars:",
           "    d: \"{{ bench_root }}/{{ inventory_hostname }}\"", "  tasks:"]
    for n, s in enumerate(steps):
        kind = s[0]
        if kind == "dir":
            out += [f"    - file: path=\"{{{{ d }}}}/{s[1]}\" state=directory"]
        elif kind == "copy":
            out += ["    - copy:", f"        content: {q(s[2])}",
                    f"        dest: \"{{{{ d }}}}/{s[1]}\""]
        elif kind == "template":
            out += [f"    - template: src=motd.j2 dest=\"{{{{ d }}}}/{s[1]}\""]
        elif kind == "line":
            out += [f"    - lineinfile: path=\"{{{{ d }}}}/{s[1]}\" line={s[2]} create=yes"]
        elif kind == "creates":
            out += [f"    - command: touch \"{{{{ d }}}}/{s[1]}\"",
                    "      args:", f"        creates: \"{{{{ d }}}}/{s[1]}\""]
        elif kind == "stat_assert":
            out += [f"    - stat: path=\"{{{{ d }}}}/{s[1]}\"", f"      register: st{n}",
                    "    - assert:", f"        that: st{n}.stat.exists and st{n}.stat.size > 0",
                    "        quiet: true"]
        elif kind == "shell":
            out += [f"    - shell: cat \"{{{{ d }}}}/{s[1]}\" | wc -l", "      changed_when: false"]
        elif kind == "dir_loop":
            out += ["    - file: path=\"{{ d }}/{{ item }}\" state=directory",
                    f"      loop: {json.dumps(s[1])}"]
    return "\n".join(out) + "\n"


def pyinfra_deploy(steps):
    """pyinfra's deploy.py doing the same operations."""
    out = [
        "from io import StringIO",
        "from pyinfra import host",
        "from pyinfra.facts.files import File",
        "from pyinfra.facts.server import Command",
        "from pyinfra.operations import files, python",
        "",
        "d = host.data.bench_root + '/' + host.name",
        "",
        "def check_exists(path):",
        "    info = host.get_fact(File, path=path)",
        "    assert info and info['size'] > 0, path",
        "",
        "def count_lines(path):",
        "    host.get_fact(Command, command='cat ' + path + ' | wc -l')",
        "",
    ]
    for s in steps:
        kind = s[0]
        p = f"d + {q('/' + s[1])}" if kind != "dir_loop" else None
        if kind == "dir":
            out.append(f"files.directory(path={p})")
        elif kind == "copy":
            out.append(f"files.put(src=StringIO({q(s[2])}), dest={p})")
        elif kind == "template":
            out.append(f"files.template(src='motd.pyinfra.j2', dest={p})")
        elif kind == "line":
            out.append(f"files.line(path={p}, line={q(s[2])})")
        elif kind == "creates":
            out.append(f"files.file(path={p}, present=True)")
        elif kind == "stat_assert":
            out.append(f"python.call(function=check_exists, path={p})")
        elif kind == "shell":
            out.append(f"python.call(function=count_lines, path={p})")
        elif kind == "dir_loop":
            for item in s[1]:
                out.append(f"files.directory(path=d + {q('/' + item)})")
    return "\n".join(out) + "\n"


def one_line(text):
    """A shell word for `printf %b` that holds text on one line."""
    return shlex.quote(text.replace("\\", "\\\\").replace("\n", "\\n"))


def shell_commands(steps):
    """One shell command per task invocation, `{host}` standing for the
    host's name (the OpenSSH floor and the minimal program run these)."""
    out = []
    for s in steps:
        kind = s[0]
        p = None if kind == "dir_loop" else shlex.quote(s[1])
        if kind == "dir":
            out.append(f"mkdir -p {p}")
        elif kind == "copy":
            out.append(f"printf %b {one_line(s[2])} > {p}")
        elif kind == "template":
            out.append(f"printf %b {one_line(TEMPLATE_TEXT.format(name='{host}'))} > {p}")
        elif kind == "line":
            line = shlex.quote(s[2])
            out.append(f"grep -qxF {line} {p} 2>/dev/null || printf '%s\\n' {line} >> {p}")
        elif kind == "creates":
            out.append(f"[ -e {p} ] || touch {p}")
        elif kind == "stat_assert":
            out += [f"test -s {p}", "true"]
        elif kind == "shell":
            out.append(f"cat {p} | wc -l")
        elif kind == "dir_loop":
            out += [f"mkdir -p {shlex.quote(i)}" for i in s[1]]
    # Each command runs in the host's directory.
    return [f"cd ROOT/{{host}} && {c}" for c in out]


DEPS_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  vars:
    d: "{{ bench_root }}/{{ inventory_hostname }}"
  tasks:
    - file: path="{{ d }}" state=directory
    - shell: echo "token-{{ inventory_hostname }}"
      register: token
      changed_when: false
    - copy:
        content: "{{ token.stdout }}\\n"
        dest: "{{ d }}/token"
      notify: mark handled
    - copy:
        content: "first host\\n"
        dest: "{{ d }}/first"
      when: token.stdout is search(ansible_play_hosts_all[0] ~ '$')
    - copy:
        content: "{{ hostvars[ansible_play_hosts_all[0]].token.stdout }}\\n"
        dest: "{{ d }}/leader"
    - block:
        - command: test "{{ inventory_hostname }}" != "{{ ansible_play_hosts_all[1] }}"
          changed_when: false
      rescue:
        - copy:
            content: "rescued\\n"
            dest: "{{ d }}/rescued"
  handlers:
    - name: mark handled
      file: path="{{ d }}/handled" state=directory
"""

WORKLOADS = {
    "files": ("12 task invocations per host", workload_files),
    "many": ("200 task invocations per host", workload_many),
    "deps": ("dependencies: when on a registered value, hostvars, handler, rescue", None),
}

# ---------------------------------------------------------------- tools

ALL_TOOLS = ["herd", "minimal", "openssh", "pyinfra", "ansible+mitogen",
             "ansible+pipelining", "ansible"]
REPORTS_CHANGES = {"herd", "pyinfra", "ansible+mitogen", "ansible+pipelining", "ansible"}


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="herd-bench-"))
        os.chmod(self.work, 0o755)
        self.venv = Path(args.venv)
        self.herd = Path(args.herd)
        self.floor = Path(args.minimal)
        self.sshd = None
        self.results = []

    # ------------------------------------------------------------ sshd
    def start_sshd(self):
        d = self.work / "sshd"
        d.mkdir()
        os.chmod(d, 0o755)
        for name, kind in (("host_ed25519", "ed25519"), ("id_ed25519", "ed25519")):
            subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(d / name)],
                           check=True)
        shutil.copy(d / "id_ed25519.pub", d / "authorized_keys")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # MaxStartups and MaxSessions are raised above OpenSSH's defaults
        # (10:30:100 and 10) so that 1,000 simultaneous logins are not
        # refused; every tool meets the same sshd.
        (d / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n"
            f"PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n"
            f"StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            f"KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            f"AllowUsers {USER}\nMaxStartups 2000:30:4000\nMaxSessions 64\n"
            f"LogLevel ERROR\nPrintMotd no\nUseDNS no\nSubsystem sftp internal-sftp\n")
        host_pub = (d / "host_ed25519.pub").read_text().split()
        (d / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        self.key = d / "id_ed25519"
        self.known_hosts = d / "known_hosts"
        Path("/run/sshd").mkdir(exist_ok=True)
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                                     stderr=open(d / "sshd.log", "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("bench: sshd did not start; see " + str(d / "sshd.log"))

    def stop(self):
        if self.sshd:
            self.sshd.terminate()
            self.sshd.wait()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # ------------------------------------------------------------ inputs
    def hosts(self, n):
        return [f"h{i:04d}" for i in range(1, n + 1)]

    def write_inputs(self, wl, n):
        """Writes the inventory, playbook, deploy and command files for a
        workload and a size into a fresh directory; returns it."""
        d = self.work / f"{wl}-{n}"
        if d.exists():
            return d
        d.mkdir()
        names = self.hosts(n)
        ssh_args = f"-o UserKnownHostsFile={self.known_hosts}"
        (d / "inventory.ini").write_text(
            "[bench]\n" + "".join(f"{h}\n" for h in names) + "\n[bench:vars]\n"
            f"ansible_host=127.0.0.1\nansible_port={self.port}\nansible_user={USER}\n"
            f"ansible_ssh_private_key_file={self.key}\n"
            f"ansible_ssh_common_args='{ssh_args}'\n"
            "ansible_python_interpreter=/usr/bin/python3\n")
        (d / "motd.j2").write_text(TEMPLATE_TEXT.format(name="{{ inventory_hostname }}"))
        (d / "motd.pyinfra.j2").write_text(TEMPLATE_TEXT.format(name="{{ host.name }}"))
        if wl == "deps":
            (d / "site.yml").write_text(DEPS_PLAYBOOK)
        else:
            steps = WORKLOADS[wl][1]()
            (d / "site.yml").write_text(playbook(steps))
            (d / "deploy.py").write_text(pyinfra_deploy(steps))
            (d / "commands.sh").write_text("\n".join(shell_commands(steps)) + "\n")
        (d / "inventory.py").write_text(
            "hosts = [\n" + "".join(
                f"    ({h!r}, {{'ssh_hostname': '127.0.0.1', 'ssh_port': {self.port}, "
                f"'ssh_user': {USER!r}, 'ssh_key': {str(self.key)!r}, "
                f"'ssh_known_hosts_file': {str(self.known_hosts)!r}}}),\n" for h in names)
            + "]\n")
        return d

    def ansible_cfg(self, d, tool, n, run_dir):
        cfg = ["[defaults]", f"forks = {n}", "host_key_checking = True",
               "interpreter_python = /usr/bin/python3", "retry_files_enabled = False",
               "deprecation_warnings = False", f"local_tmp = {run_dir}/ansible-local"]
        if tool == "ansible+mitogen":
            site = next((self.venv / "lib").glob("python3*/site-packages/ansible_mitogen"))
            cfg += [f"strategy_plugins = {site}/plugins/strategy", "strategy = mitogen_linear"]
        cfg += ["[ssh_connection]", f"pipelining = {tool == 'ansible+pipelining'}",
                f"control_path_dir = {run_dir}/cp"]
        if tool == "herd":
            # The bench's sshd takes 2,000 handshakes at once (MaxStartups
            # above); herd is told so, as the minimal program is
            # (--max-handshakes 64). herd's default, 8, suits an sshd with
            # OpenSSH's default MaxStartups of 10.
            cfg.append("herd_max_handshakes = 64")
        path = run_dir / "ansible.cfg"
        path.write_text("\n".join(cfg) + "\n")
        return path

    # ------------------------------------------------------------ running
    def fresh_root(self, tool, wl, n, rep):
        root = self.work / "targets" / f"{wl}-{n}-{rep}" / tool.replace("+", "-")
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        for h in self.hosts(n):
            (root / h).mkdir()
        subprocess.run(["chown", "-R", f"{USER}:{USER}", str(root)], check=True)
        return root

    def command(self, tool, wl, n, d, root, run_dir):
        env = dict(os.environ)
        env.pop("ANSIBLE_CONFIG", None)
        if tool == "herd" or tool.startswith("ansible"):
            env["ANSIBLE_CONFIG"] = str(self.ansible_cfg(d, tool, n, run_dir))
            exe = [str(self.herd), "playbook"] if tool == "herd" else \
                [str(self.venv / "bin/ansible-playbook")]
            return exe + ["-i", str(d / "inventory.ini"), str(d / "site.yml"),
                          "-e", f"bench_root={root}"], env
        if tool == "pyinfra":
            return [str(self.venv / "bin/pyinfra"), "-y", "--parallel", str(n),
                    "--data", f"bench_root={root}", str(d / "inventory.py"),
                    str(d / "deploy.py")], env
        cmds = (d / "commands.sh").read_text().replace("ROOT", str(root))
        cfile = run_dir / "commands.sh"
        cfile.write_text(cmds)
        if tool == "minimal":
            return [str(self.floor), "--port", str(self.port), "--user", USER,
                    "--key", str(self.key), "--hosts", str(n), "--commands", str(cfile),
                    "--max-handshakes", "64"], env
        # OpenSSH floor: per host, one master connection, then one `ssh`
        # exec per task invocation through it; hosts in parallel.
        script = run_dir / "openssh.sh"
        script.write_text(OPENSSH_FLOOR)
        return ["bash", str(script), str(n), str(self.port), USER, str(self.key),
                str(self.known_hosts), str(cfile), str(run_dir / "cp")], env

    def run_tool(self, tool, wl, n, d, root, run_no, rep):
        run_dir = self.work / "runs" / f"{wl}-{n}-{rep}-{tool.replace('+', '-')}-{run_no}"
        run_dir.mkdir(parents=True)
        (run_dir / "cp").mkdir()
        argv, env = self.command(tool, wl, n, d, root, run_dir)
        out = open(run_dir / "output", "wb")
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=str(d), start_new_session=True)
        sampler = TreeRss(proc.pid)
        sampler.start()
        timed_out = False
        try:
            _, status, usage = wait4_timeout(proc, self.args.timeout)
        except TimeoutError:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        sampler.stop()
        out.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        # ssh ControlMaster processes outlive their tool: end them.
        subprocess.run(["pkill", "-f", str(run_dir / "cp")], stderr=subprocess.DEVNULL)
        text = (run_dir / "output").read_text(errors="replace")
        return {
            "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": max(sampler.peak, usage.ru_maxrss * 1024), "rc": proc.returncode,
            "timed_out": timed_out, "output": run_dir / "output", "text": text,
        }

    def changes(self, tool, text):
        """(changed, failed) totals from a tool's output, or None."""
        if tool == "herd" or tool.startswith("ansible"):
            rows = re.findall(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                              text, re.M)
            if not rows:
                return None
            return sum(int(r[0]) for r in rows), sum(int(r[1]) + int(r[2]) for r in rows)
        if tool == "pyinfra":
            # The "--> Results:" table: one row per operation, then the
            # columns Hosts, Success (executed: a change), Error, No Change.
            # python.call (the stat/assert and shell steps) always executes
            # and changes nothing, so it is not counted as a change.
            if "--> Results:" not in text:
                return None
            cell = r"(\d+|-)"
            changed = failed = 0
            for m in re.finditer(rf"^ {{4}}(\S+) .*?\s{cell}\s+{cell}\s+{cell}\s+{cell}\s*$",
                                 text.split("--> Results:", 1)[1], re.M):
                num = [0 if c == "-" else int(c) for c in m.groups()[1:]]
                if m.group(1) == "Grand":
                    continue
                if m.group(1) != "python.call":
                    changed += num[1]
                failed += num[2]
            return changed, failed
        return None


OPENSSH_FLOOR = r'''#!/usr/bin/env bash
# The OpenSSH floor: per host a ControlMaster connection, then one `ssh`
# exec per task invocation through it. Hosts run in parallel.
set -u
n=$1 port=$2 user=$3 key=$4 kh=$5 cmds=$6 cp=$7
opts=(-p "$port" -l "$user" -i "$key" -o "UserKnownHostsFile=$kh" -o BatchMode=yes
      -o StrictHostKeyChecking=yes)
host() {
    local h=$1 sock="$cp/$1" line
    ssh "${opts[@]}" -o ControlMaster=yes -o "ControlPath=$sock" -N 127.0.0.1 &
    local master=$!
    while [ ! -S "$sock" ]; do
        kill -0 "$master" 2>/dev/null || { echo "$h: master failed"; return 1; }
        sleep 0.01
    done
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        ssh -n "${opts[@]}" -o "ControlPath=$sock" 127.0.0.1 "${line//\{host\}/$h}" >/dev/null ||
            { echo "$h: failed: $line"; kill "$master"; return 1; }
    done < "$cmds"
    ssh "${opts[@]}" -o "ControlPath=$sock" -O exit 127.0.0.1 2>/dev/null
    wait "$master" 2>/dev/null
    return 0
}
pids=()
for i in $(seq 1 "$n"); do
    host "$(printf 'h%04d' "$i")" & pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
'''


def wait4_timeout(proc, timeout):
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return pid, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.005)


class TreeRss(threading.Thread):
    """Samples the summed RSS of a process and all its descendants."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while not self.done.wait(0.1):
            children, rss = {}, {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid = int(entry)
                children.setdefault(int(fields[1]), []).append(pid)
                rss[pid] = int(fields[21]) * page
            total, todo = 0, [self.pid]
            while todo:
                p = todo.pop()
                total += rss.get(p, 0)
                todo += children.get(p, [])
            self.peak = max(self.peak, total)

    def stop(self):
        self.done.set()
        self.join()


def tree_snapshot(root):
    """Relative path → (type, mode, content) of everything under root."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            kind = "dir" if p.is_dir() else "file"
            content = p.read_bytes() if kind == "file" else None
            snap[str(p.relative_to(root))] = (kind, oct(st.st_mode & 0o7777), content)
    return snap


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=list(WORKLOADS), default="files")
    ap.add_argument("--sizes", default="10,50", help="comma-separated host counts")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS))
    ap.add_argument("--runs", type=int, default=3, help="repetitions (the median is shown)")
    ap.add_argument("--slow-runs", type=int, default=None,
                    help="repetitions for a tool whose first run took over 30 s")
    ap.add_argument("--peers-up-to", type=int, default=50,
                    help="above this many hosts a peer runs only if its run at the largest "
                         "smaller size, scaled by the host ratio, fits --timeout")
    ap.add_argument("--peers-max", type=int, default=200,
                    help="above this many hosts only herd and the minimal program run")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--venv", default=str(REPO / ".venv/bench"))
    ap.add_argument("--herd", default=str(REPO / "target/release/herd"))
    ap.add_argument("--minimal", default=str(REPO / "target/release/examples/ssh_floor"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--serve", action="store_true",
                    help="only start the sshd and write the inputs of each size, print "
                         "where they are, and wait (Ctrl-C ends it): for profiling by hand")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it starts sshd and logs in as the test user)")
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if t not in ALL_TOOLS:
            sys.exit(f"bench: unknown tool {t!r}; choose from {', '.join(ALL_TOOLS)}")
    if args.workload == "deps":
        tools = [t for t in tools if t in ("herd", "ansible", "ansible+mitogen",
                                           "ansible+pipelining")]
    sizes = [int(s) for s in args.sizes.split(",")]
    b = Bench(args)
    b.start_sshd()
    if args.serve:
        serve(b, args, sizes)
        return
    problems, rows = [], []
    try:
        last_wall = {}
        for n in sizes:
            d = b.write_inputs(args.workload, n)
            reference = None
            herd_med = {}
            for tool in tools:
                if tool not in ("herd", "minimal") and n > args.peers_up_to:
                    prev = last_wall.get(tool)
                    if n > args.peers_max or prev is None or \
                            prev[1] * n / prev[0] > args.timeout:
                        rows.append((tool, n, None, "not run at this size"))
                        continue
                reps = args.runs
                samples = []
                rep = 0

                def stopped(run_no, r, before=""):
                    """Whether run `run_no` (its result `r`) ends this tool
                    at this size: slower than --timeout is a lower bound,
                    not a failure; any other failure is a problem."""
                    if r["timed_out"]:
                        bound = ""
                        if herd_med:
                            bound = (f"; herd > {args.timeout / herd_med[f'run{run_no}']:.0f}×"
                                     " faster")
                        rows.append((tool, n, None, f"{before}run {run_no} did not finish "
                                     f"within {args.timeout:.0f} s{bound}"))
                        last_wall[tool] = (n, float("inf"))
                        return True
                    if r["rc"] != 0:
                        problems.append(f"{tool} {n} hosts run {run_no}: exit {r['rc']} "
                                        f"(see {r['output']})")
                        return True
                    return False

                while rep < reps:
                    root = b.fresh_root(tool, args.workload, n, rep)
                    r1 = b.run_tool(tool, args.workload, n, d, root, 1, rep)
                    if stopped(1, r1):
                        samples = None
                        break
                    r2 = b.run_tool(tool, args.workload, n, d, root, 2, rep)
                    if stopped(2, r2, f"run 1 {r1['wall']:.2f} s; "):
                        samples = None
                        break
                    if tool in REPORTS_CHANGES:
                        c = b.changes(tool, r2["text"])
                        if c is None:
                            problems.append(f"{tool} {n} hosts: no recap in {r2['output']}")
                        elif c != (0, 0):
                            problems.append(f"{tool} {n} hosts: second run reported "
                                            f"changed={c[0]} failed+unreachable={c[1]} "
                                            f"(see {r2['output']})")
                    if rep == 0:
                        snap = tree_snapshot(root)
                        if tool == "herd":
                            reference = snap
                        elif reference is not None and snap != reference:
                            diff = sorted(k for k in set(snap) | set(reference)
                                          if snap.get(k) != reference.get(k))
                            problems.append(f"{tool} {n} hosts: files differ from herd's: "
                                            + ", ".join(diff[:5]) + f" ({len(diff)} paths)")
                        if args.slow_runs is not None and r1["wall"] > 30:
                            reps = min(reps, args.slow_runs)
                    samples.append((r1, r2))
                    rep += 1
                if samples is None:
                    if not rows or rows[-1][:2] != (tool, n):
                        rows.append((tool, n, None, "failed"))
                    continue
                med = {
                    "run1": median([s[0]["wall"] for s in samples]),
                    "run2": median([s[1]["wall"] for s in samples]),
                    "cpu1": median([s[0]["cpu"] for s in samples]),
                    "cpu2": median([s[1]["cpu"] for s in samples]),
                    "rss": max(max(s[0]["rss"], s[1]["rss"]) for s in samples),
                    "reps": len(samples),
                }
                last_wall[tool] = (n, med["run1"])
                if tool == "herd":
                    herd_med = med
                rows.append((tool, n, med, herd_med))
                print(f"bench: {args.workload} {n} hosts {tool}: "
                      f"{med['run1']:.2f} s / {med['run2']:.2f} s", file=sys.stderr)
    finally:
        b.stop()
    print_table(args, rows)
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"tool": t, "hosts": n, **(m or {}), "note": x if m is None else None}
            for t, n, m, x in rows], indent=1))
    if problems:
        print("\nProblems:", *problems, sep="\n  ")
        sys.exit(1)


def serve(b, args, sizes):
    try:
        for n in sizes:
            d = b.write_inputs(args.workload, n)
            root = b.fresh_root("by-hand", args.workload, n, 0)
            cfg = b.ansible_cfg(d, "herd", n, d)
            print(f"{n} hosts: cd {d} && ANSIBLE_CONFIG={cfg} {b.herd} playbook "
                  f"-i inventory.ini site.yml -e bench_root={root}", flush=True)
        print("sshd on port", b.port, "; Ctrl-C ends it", flush=True)
        b.sshd.wait()
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


def print_table(args, rows):
    what = WORKLOADS[args.workload][0]
    print(f"\nworkload {args.workload} ({what}); wall and CPU seconds are medians")
    print(f"{'tool':<20} {'hosts':>5} {'run 1 s':>8} {'run 2 s':>8} {'CPU 1 s':>8} "
          f"{'CPU 2 s':>8} {'peak RSS':>9} {'reps':>4}  herd speed-up (run 1 / run 2)")
    for tool, n, med, extra in rows:
        if med is None:
            print(f"{tool:<20} {n:>5}  {extra}")
            continue
        herd = extra
        speed = ""
        if tool != "herd" and herd:
            speed = f"{med['run1'] / herd['run1']:.1f}× / {med['run2'] / herd['run2']:.1f}×"
        print(f"{tool:<20} {n:>5} {med['run1']:>8.2f} {med['run2']:>8.2f} {med['cpu1']:>8.2f} "
              f"{med['cpu2']:>8.2f} {med['rss'] / 2**20:>7.0f} MB {med['reps']:>4}  {speed}")


if __name__ == "__main__":
    main()
