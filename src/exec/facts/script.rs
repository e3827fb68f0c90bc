//! The gathering script: POSIX `sh` fragments, one per collector, each
//! printing a `@@herd:NAME` line before its raw output. Every probe
//! tolerates a missing tool (errors go to /dev/null).

use herd_modules::api::shell_quote;

use super::FactRequest;

/// The script that gathers what `req` asks for. Each collector's output
/// starts with a `@@herd:NAME` line.
pub(crate) fn script(req: &FactRequest) -> String {
    let c = &req.collectors;
    let mut s = String::from("exec 2>/dev/null </dev/null\n");
    let has = |n: &str| c.contains(n);
    if has("platform") {
        s.push_str(PLATFORM);
    }
    if has("distribution") {
        s.push_str(DISTRIBUTION);
    }
    if has("user") {
        s.push_str(USER);
    }
    if has("env") {
        s.push_str(ENV);
    }
    if has("date_time") {
        s.push_str(DATE_TIME);
    }
    if has("pkg_mgr") {
        s.push_str(PKG_MGR);
    }
    if has("service_mgr") || has("systemd") {
        s.push_str(SERVICE_MGR);
    }
    if has("lsb") {
        s.push_str(LSB);
    }
    if has("local") {
        let fp = match req.fact_path.strip_prefix("~/") {
            Some(rest) => format!("\"$HOME\"/{}", shell_quote(rest)),
            None => shell_quote(&req.fact_path),
        };
        s.push_str(&LOCAL.replace("@FACT_PATH@", &fp));
    }
    if has("hardware") {
        // A mount that does not answer (a dead NFS server) costs at most
        // gather_timeout seconds, as in Ansible.
        s.push_str(&HARDWARE.replace("@TIMEOUT@", &req.timeout.max(1).to_string()));
    }
    if has("network") {
        s.push_str(NETWORK);
    }
    if has("virtual") {
        s.push_str(VIRTUAL);
    }
    for (name, probe) in SMALL {
        if has(name) {
            s.push_str(&format!("echo '@@herd:{name}'\n{probe}\n"));
        }
    }
    s
}

const PLATFORM: &str = r#"echo '@@herd:platform'
for o in -s -r -v -m -n; do v=$(uname $o); echo "$v"; done
v=$(getconf LONG_BIT); echo "$v"
n=$(uname -n); a=$(getent ahosts "$n" | awk 'NR==1{print $1}')
if [ -n "$a" ]; then v=$(getent hosts "$a" | awk 'NR==1'); echo "$v"
elif ! command -v getent >/dev/null; then v=$(hostname -f); echo "- $v"
else echo; fi
v=$(cat /var/lib/dbus/machine-id || cat /etc/machine-id); echo "$v"
"#;

const DISTRIBUTION: &str = r#"echo '@@herd:distribution'
echo '==os-release'; cat /etc/os-release || cat /usr/lib/os-release
echo '==debian_version'; cat /etc/debian_version
echo '==alpine-release'; cat /etc/alpine-release
echo '==redhat-release'; cat /etc/redhat-release
"#;

const USER: &str = r#"echo '@@herd:user'
u=${LOGNAME:-${USER:-${LNAME:-${USERNAME:-$(id -un)}}}}; echo "$u"
v=$(getent passwd "$u" || awk -F: -v u="$u" '$1==u' /etc/passwd || grep "^$u:" /etc/passwd); echo "$v" | head -n 1
for o in -ru -u -rg -g; do v=$(id $o); echo "$v"; done
"#;

/// The environment, one `NAME=value` a line, newlines in values written
/// as `\x01` (awk's ENVIRON is POSIX; `env -0` is not; some awks mangle
/// backslashes in `gsub`, so none are used).
const ENV: &str = r#"echo '@@herd:env'
awk 'BEGIN{for(k in ENVIRON){v=ENVIRON[k];gsub(/\n/,"\001",v);print k "=" v}}' || env
"#;

const DATE_TIME: &str = r#"echo '@@herd:date_time'
date '+%Y|%m|%A|%w|%W|%d|%H|%M|%S|%s|%Z|%z|%N'
for t in 1704110400 1719835200; do v=$(date -d "@$t" '+%Z|%z' || date -r "$t" '+%Z|%z'); echo "$v"; done
"#;

const PKG_MGR: &str = r#"echo '@@herd:pkg_mgr'
for p in apt-get dnf5 dnf yum zypper apk pacman emerge xbps-install swupd opkg urpmi installp pkgin pkg pkg_add brew port; do
  if command -v "$p" >/dev/null; then echo "$p"; break; fi
done
"#;

const SERVICE_MGR: &str = r#"echo '@@herd:service_mgr'
v=$(cat /proc/1/comm); echo "$v"
uname -s
[ -d /run/systemd/system ] && echo systemd
initctl version 2>/dev/null | grep -q upstart && echo upstart
[ -e /sbin/openrc ] && echo openrc
[ -d /etc/init.d ] && echo sysvinit
[ -d /etc/dinit.d ] && echo dinit
[ -d /run/systemd/system ] && systemctl --version | sed 's/^/systemctl /'
"#;

const LSB: &str = r#"echo '@@herd:lsb'
command -v lsb_release >/dev/null && lsb_release -a
echo '==file'; cat /etc/lsb-release
"#;

/// `*.fact` files: each is framed so its content comes back exactly.
const LOCAL: &str = r#"echo '@@herd:local'
fp=@FACT_PATH@
if [ -e "$fp" ]; then
  for f in "$fp"/*.fact; do
    if [ ! -e "$f" ]; then [ -L "$f" ] && printf '@@herd:stat %s\n' "$f"; continue; fi
    printf '@@herd:fact %s\n' "$f"
    if [ -n "$(find "$f" -prune -perm -u+x)" ]; then
      e=$(mktemp || echo "/tmp/.herd-fact.$$")
      "$f" 2>"$e"; rc=$?
      printf '\n@@herd:rc %s\n' "$rc"; cat "$e"; rm -f "$e"
    else
      cat "$f"; printf '\n@@herd:rc file\n'
    fi
    printf '\n@@herd:endfact\n'
  done
fi
"#;

const HARDWARE: &str = r#"echo '@@herd:hardware'
echo '==cpuinfo'; cat /proc/cpuinfo
echo '==nproc'; nproc || getconf _NPROCESSORS_ONLN || sysctl -n hw.ncpu
echo '==meminfo'; cat /proc/meminfo
echo '==physmem'; [ -r /proc/meminfo ] || sysctl -n hw.physmem
echo '==uptime'; cat /proc/uptime
echo '==dmi'
(cd /sys/devices/virtual/dmi/id && grep -s '' bios_date bios_vendor bios_version board_asset_tag board_name board_serial board_vendor board_version chassis_asset_tag chassis_serial chassis_vendor chassis_version product_name product_serial product_uuid product_version sys_vendor chassis_type)
echo '==mtab'
m=/etc/mtab; [ -e $m ] || m=/proc/mounts
cat $m
echo '==statvfs'
to=; command -v timeout >/dev/null && to="timeout @TIMEOUT@"
while read -r dev mnt fs rest; do
  case "$dev" in /*|\\*|*:/*) ;; *) continue ;; esac
  [ "$fs" = none ] && continue
  p=$(printf '%s' "$mnt" | sed 's/\\040/ /g; s/\\011/	/g; s/\\134/\\/g')
  v=$($to stat -f -c '%S %s %b %f %a %c %d' -- "$p")
  if [ $? = 124 ]; then echo "$mnt @timeout"; else echo "$mnt $v"; fi
done <$m
echo '==findmnt'; findmnt -lnur
echo '==lsblk'; lsblk --list --noheadings --paths --output NAME,UUID --exclude 2
echo '==lvm'
if command -v vgs >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo root; o='--noheadings --nosuffix --units g --separator ,'
    echo '==vgs'; vgs $o
    echo '==lvs'; command -v lvs >/dev/null && lvs $o
    echo '==pvs'; command -v pvs >/dev/null && pvs $o
  fi
fi
"#;

const NETWORK: &str = r#"echo '@@herd:network'
if command -v ip >/dev/null; then
  echo '==route4'; ip -4 route get 8.8.8.8 | head -n 1
  echo '==route6'; ip -6 route get 2404:6800:400a:800::1012 | head -n 1
  for p in /sys/class/net/*; do
    [ -d "$p" ] || continue
    d=${p##*/}
    echo "==if $d"
    (cd "$p" && grep -s '' address mtu operstate type flags speed)
    [ -d "$p/bridge" ] && echo 'bridge=1'
    [ -d "$p/bonding" ] && echo 'bonding=1'
    [ -e "$p/device" ] && { v=$(readlink "$p/device"); echo "pciid=${v##*/}"; }
    [ -e "$p/device/driver/module" ] && { v=$(readlink -f "$p/device/driver/module"); echo "module=${v##*/}"; }
    echo "==primary $d"; ip addr show primary dev "$d" || ip addr show dev "$d"
    echo "==secondary $d"; ip addr show secondary dev "$d"
  done
  echo '==local'; ip -4 route show table local; ip -6 route show table local
else
  echo '==no-ip'
fi
"#;

const VIRTUAL: &str = r#"echo '@@herd:virtual'
[ -e /.dockerenv ] && echo 'guest docker'
[ -e /run/.containerenv ] && echo 'guest podman'
grep -qa 'container=lxc' /proc/1/environ && echo 'guest lxc'
grep -qa 'container=systemd-nspawn' /proc/1/environ && echo 'guest systemd-nspawn'
grep -q docker /proc/1/cgroup && echo 'guest docker'
grep -q '/lxc/' /proc/1/cgroup && echo 'guest lxc'
[ -e /proc/vz ] && [ ! -e /proc/bc ] && echo 'guest openvz'
[ -e /proc/xen ] && echo 'xen'
(cd /sys/devices/virtual/dmi/id && grep -s '' product_name sys_vendor bios_vendor)
[ -e /dev/kvm ] && echo 'host kvm'
"#;

/// Collectors that read one file or run one command.
const SMALL: &[(&str, &str)] = &[
    (
        "apparmor",
        "[ -e /sys/kernel/security/apparmor ] && echo enabled || echo disabled",
    ),
    (
        "caps",
        "if command -v capsh >/dev/null; then capsh --print; echo \"@rc $?\"; fi",
    ),
    ("cmdline", "cat /proc/cmdline"),
    ("dns", "cat /etc/resolv.conf"),
    ("fips", "cat /proc/sys/crypto/fips_enabled"),
    (
        "selinux",
        "if [ -e /sys/fs/selinux/enforce ]; then echo enabled; cat /sys/fs/selinux/enforce; echo; cat /sys/fs/selinux/policyvers; echo; grep -E '^SELINUX(TYPE)?=' /etc/selinux/config; fi",
    ),
    (
        "ssh_pub_keys",
        "for d in /etc/ssh /etc/openssh /etc; do f=; for a in dsa rsa ecdsa ed25519; do if [ -r \"$d/ssh_host_${a}_key.pub\" ]; then v=$(cat \"$d/ssh_host_${a}_key.pub\"); echo \"$a $v\"; f=1; fi; done; [ -n \"$f\" ] && break; done",
    ),
    (
        "chroot",
        "echo \"${debian_chroot+set}\"; stat -c '%d %i' / /proc/1/root/. ; echo '==fs'; stat -f -c %T /",
    ),
    (
        "loadavg",
        "cat /proc/loadavg || sysctl -n vm.loadavg",
    ),
    ("iscsi", "grep '^InitiatorName=' /etc/iscsi/initiatorname.iscsi"),
    ("nvme", "cat /etc/nvme/hostnqn"),
    ("fibre_channel_wwn", "cat /sys/class/fc_host/*/port_name"),
];
