//! Fact gathering compared with ansible-core's `setup` on this machine:
//! the same fact names, types and values (where they do not move between
//! two runs), the same `gather_subset` selection, the same `ansible_local`
//! from `*.fact` files (JSON, INI, executables, broken ones), the same
//! errors; and over real SSH, the same facts as seen by a playbook.

mod common;
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Map, Value};

/// Facts herd does not gather (they need Python or block-device probes on
/// the host); docs/compatibility.md lists them.
const NOT_GATHERED: &[&str] = &[
    "ansible_python",
    "ansible_python_version",
    "ansible_selinux_python_present",
    "ansible_devices",
    "ansible_device_links",
];

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The JSON result of an ad-hoc run (`host | SUCCESS => {...}`).
fn result_of(o: &Output) -> Map<String, Value> {
    let out = String::from_utf8_lossy(&o.stdout);
    let start = out
        .find("=> {")
        .unwrap_or_else(|| panic!("no result in: {}", text(o)));
    serde_json::from_str(&out[start + 3..]).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn facts_of(o: &Output) -> Map<String, Value> {
    match result_of(o).get("ansible_facts") {
        Some(Value::Object(m)) => m.clone(),
        _ => panic!("no facts in: {}", text(o)),
    }
}

fn herd_setup(args: &str) -> Output {
    common::herd_adhoc("setup", args, &[])
}

fn ansible_setup(args: &str) -> Output {
    common::ansible_adhoc("setup", args, &[])
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Keys of a dict, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[test]
fn setup_returns_the_facts_ansible_returns() {
    let h = facts_of(&herd_setup(""));
    let a = facts_of(&ansible_setup(""));
    let mut problems = Vec::new();
    for (k, av) in &a {
        if NOT_GATHERED.contains(&k.as_str()) {
            assert!(!h.contains_key(k), "{k} is documented as not gathered");
            continue;
        }
        let Some(hv) = h.get(k) else {
            problems.push(format!("missing {k}: {av}"));
            continue;
        };
        if kind(av) != kind(hv) {
            problems.push(format!("{k}: ansible {av} herd {hv}"));
            continue;
        }
        let same = match k.as_str() {
            // Values that move between two runs: same shape.
            "ansible_memfree_mb" | "ansible_uptime_seconds" | "ansible_swapfree_mb" => true,
            "ansible_loadavg" | "ansible_memory_mb" => keys(av) == keys(hv),
            "ansible_date_time" => {
                keys(av) == keys(hv)
                    && ["tz", "tz_dst", "tz_offset", "year"]
                        .iter()
                        .all(|f| av[f] == hv[f])
            }
            "ansible_env" => ["HOME", "PATH", "USER", "LOGNAME", "SHELL"]
                .iter()
                .all(|f| av.get(f) == hv.get(f)),
            "ansible_mounts" => {
                let strip = |v: &Value| -> Vec<Value> {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| {
                            let mut m = m.as_object().cloned().unwrap_or_default();
                            for moving in [
                                "size_available",
                                "block_available",
                                "block_used",
                                "inode_available",
                                "inode_used",
                            ] {
                                assert!(m.contains_key(moving) || !m.contains_key("size_total"));
                                m.remove(moving);
                            }
                            Value::Object(m)
                        })
                        .collect()
                };
                strip(av) == strip(hv)
            }
            // Ansible lists these in no fixed order.
            "ansible_interfaces"
            | "ansible_virtualization_tech_guest"
            | "ansible_virtualization_tech_host" => {
                let set = |v: &Value| -> BTreeSet<String> {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|x| x.as_str().unwrap_or("").to_string())
                        .collect()
                };
                set(av) == set(hv)
            }
            _ => av == hv,
        };
        if !same {
            problems.push(format!("{k}:\n  ansible {av}\n  herd    {hv}"));
        }
    }
    for k in h.keys() {
        if !a.contains_key(k) {
            problems.push(format!("herd only: {k}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The essentials are there whatever the machine.
    for k in [
        "ansible_hostname",
        "ansible_distribution",
        "ansible_os_family",
        "ansible_processor_vcpus",
        "ansible_memtotal_mb",
        "ansible_mounts",
        "ansible_default_ipv4",
        "ansible_date_time",
        "ansible_lo",
    ] {
        assert!(h.contains_key(k), "{k} missing");
    }
}

#[test]
fn gather_subset_selects_the_same_facts() {
    let names = |o: &Output| -> BTreeSet<String> {
        facts_of(o)
            .keys()
            .filter(|k| !NOT_GATHERED.contains(&k.as_str()))
            .cloned()
            .collect()
    };
    for subset in [
        "min",
        "!all",
        "!all,!min",
        "network",
        "!hardware",
        "hardware",
        "virtual",
        "!all,network",
        "!all,!min,default_ipv4,user_id",
        "facter,ohai",
        "all,!network,!virtual",
        "!all,!min,date_time,local",
    ] {
        let args = format!("gather_subset={subset}");
        let h = herd_setup(&args);
        let a = ansible_setup(&args);
        assert_eq!(names(&h), names(&a), "gather_subset={subset}");
        assert_eq!(
            facts_of(&h)["gather_subset"],
            facts_of(&a)["gather_subset"],
            "gather_subset={subset}"
        );
    }
}

#[test]
fn filter_and_gather_timeout() {
    let args = "filter=ansible_distribution* gather_timeout=5";
    let h = facts_of(&herd_setup(args));
    let a = facts_of(&ansible_setup(args));
    let hk: BTreeSet<&String> = h.keys().collect();
    let ak: BTreeSet<&String> = a.keys().collect();
    assert_eq!(hk, ak);
    assert_eq!(h["ansible_distribution"], a["ansible_distribution"]);
}

#[test]
fn bad_arguments_fail_with_ansibles_message() {
    for args in [
        "gather_subset=bogus",
        "gather_subset=all nosuch=1",
        "gather_timeout=soon",
    ] {
        let h = herd_setup(args);
        let a = ansible_setup(args);
        assert_eq!(h.status.code(), a.status.code(), "{args}: {}", text(&h));
        let (hr, ar) = (result_of(&h), result_of(&a));
        assert_eq!(hr["msg"], ar["msg"], "{args}");
        assert!(h.status.code() != Some(0));
    }
}

/// Writes the `*.fact` files every local-facts test uses into `dir`.
fn write_fact_files(dir: &Path) {
    let w = |name: &str, body: &str, exec: bool| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        if exec {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    };
    w(
        "json.fact",
        "{\"a\": 1, \"b\": [true, null], \"c\": {\"d\": 1.5}}\n",
        false,
    );
    w(
        "ini.fact",
        "# comment\n[General]\nName = web\npath: %(name)s/x\nlong = one\n  two\npct = 100%%\n[DEFAULT]\nshared = yes\n[Other]\nk=v\n",
        false,
    );
    w("bad.fact", "not json, not ini\n", false);
    w("nosection.fact", "key = value\n", false);
    w("interp.fact", "[s]\na = 5%\n", false);
    w(
        "exec.fact",
        "#!/bin/sh\nprintf '{\"ran\": \"%s\"}' \"$(id -un)\"\n",
        true,
    );
    w("fail.fact", "#!/bin/sh\necho boom >&2\nexit 3\n", true);
    w("execini.fact", "#!/bin/sh\nprintf '[x]\\ny = 1\\n'\n", true);
    w("my.fact.d.fact", "{\"odd\": \"name\"}", false);
    w("ignored.txt", "{\"not\": \"read\"}", false);
    std::os::unix::fs::symlink("/nonexistent/herd-fact", dir.join("broken.fact")).unwrap();
}

/// `[WARNING]: …` lines on stderr (herd adhoc prints them as ansible does).
fn warnings(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("[WARNING]: "))
        .map(|l| l.trim_end().to_string())
        .collect()
}

#[test]
fn local_facts_from_a_fact_path_match_ansible() {
    let dir = tempfile::tempdir().unwrap();
    write_fact_files(dir.path());
    let args = format!(
        "gather_subset=!all,!min,local fact_path={}",
        dir.path().display()
    );
    let h = herd_setup(&args);
    let a = ansible_setup(&args);
    let (hf, af) = (facts_of(&h), facts_of(&a));
    assert_eq!(hf["ansible_local"], af["ansible_local"]);
    assert_eq!(hf["ansible_local"]["ini"]["General"]["path"], "web/x");
    assert_eq!(hf["ansible_local"]["exec"]["ran"], "root");
    assert_eq!(warnings(&h), warnings(&a));
    assert_eq!(warnings(&h).len(), 5, "{}", text(&h));
    // A fact_path that does not exist gives an empty ansible_local.
    let args = "gather_subset=!all,!min,local fact_path=/nonexistent/herd";
    assert_eq!(
        facts_of(&herd_setup(args))["ansible_local"],
        Value::Object(Map::new())
    );
}

#[test]
fn local_facts_from_etc_ansible_facts_d() {
    let dir = Path::new("/etc/ansible/facts.d");
    let created: Vec<&Path> = [Path::new("/etc/ansible"), dir]
        .into_iter()
        .filter(|d| !d.exists())
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    let name = format!("herd_test_{}", std::process::id());
    let file = dir.join(format!("{name}.fact"));
    std::fs::write(&file, "[sec]\nk = v\n").unwrap();
    let h = herd_setup("gather_subset=!all,!min,local");
    let a = ansible_setup("gather_subset=!all,!min,local");
    let _ = std::fs::remove_file(&file);
    for d in created.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    let (hf, af) = (facts_of(&h), facts_of(&a));
    assert_eq!(hf["ansible_local"][&name], af["ansible_local"][&name]);
    assert_eq!(hf["ansible_local"][&name]["sec"]["k"], "v");
}

/// A playbook run by herd and by ansible-playbook over real SSH as the
/// test user: the facts a play sees (implicit gathering with the play's
/// `gather_subset`, `ansible_facts.*`, `ansible_local`, become) are the
/// same.
#[test]
fn facts_over_ssh_match_ansible_playbook() {
    support::require_environment();
    let sshd = support::Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let facts_d = dir.path().join("facts.d");
    std::fs::create_dir(&facts_d).unwrap();
    std::fs::write(facts_d.join("app.fact"), "{\"port\": 8080}").unwrap();
    // The test user reads the fact files.
    Command::new("chmod")
        .args(["-R", "a+rX", &dir.path().display().to_string()])
        .status()
        .unwrap();
    let inventory = format!(
        "target {} ansible_python_interpreter=/usr/bin/python3\n",
        sshd.inventory_vars()
    );
    common::write(dir.path(), "hosts", &inventory);
    let shown = "{{ [ansible_user_id, ansible_user_dir, ansible_facts.user_shell, \
        ansible_distribution, ansible_facts.os_family, ansible_hostname, ansible_fqdn, \
        ansible_architecture, ansible_default_ipv4.address | default('none'), \
        ansible_facts.ansible_local.app.port, ansible_local.app.port, \
        ansible_facts.processor_vcpus, ansible_memtotal_mb, ansible_mounts | map(attribute='mount') | list, \
        ansible_facts.keys() | select('match', 'virtualization') | sort, \
        ansible_date_time.tz, ansible_env.HOME, ansible_pkg_mgr, ansible_service_mgr] }}";
    let playbook = format!(
        "- hosts: all\n  gather_subset: ['!all', 'hardware', 'local']\n  fact_path: {fp}\n  tasks:\n    - debug: {{msg: \"{shown}\"}}\n    - debug: {{msg: \"{{{{ ansible_default_ipv4 is defined }}}} {{{{ 'local' in ansible_facts }}}}\"}}\n\
         - hosts: all\n  become: true\n  gather_subset: [min]\n  tasks:\n    - debug: {{msg: \"{{{{ [ansible_user_id, ansible_user_uid, ansible_facts.user_dir] }}}}\"}}\n    - setup: {{gather_subset: [network], filter: ['ansible_default_ipv4']}}\n    - debug: {{msg: \"{{{{ ansible_default_ipv4.keys() | sort }}}}\"}}\n",
        fp = facts_d.display()
    );
    common::write(dir.path(), "playbook.yml", &playbook);
    let herd = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .args(["playbook", "-i", "hosts", "playbook.yml"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let ansible = common::ansible_command("ansible-playbook")
        .current_dir(dir.path())
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .args(["-i", "hosts", "playbook.yml"])
        .output()
        .unwrap();
    // Each debug result: the lines from `ok: [target] => {` to `}`.
    let msgs = |o: &Output| -> Vec<String> {
        let mut out = Vec::new();
        let mut cur: Option<Vec<String>> = None;
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            if l == "ok: [target] => {" {
                cur = Some(Vec::new());
            } else if l == "}" {
                if let Some(c) = cur.take() {
                    out.push(c.join("\n"));
                }
            } else if let Some(c) = cur.as_mut() {
                c.push(l.trim().to_string());
            }
        }
        out
    };
    assert_eq!(herd.status.code(), Some(0), "{}", text(&herd));
    assert_eq!(ansible.status.code(), Some(0), "{}", text(&ansible));
    assert_eq!(
        msgs(&herd),
        msgs(&ansible),
        "herd:\n{}\nansible:\n{}",
        text(&herd),
        text(&ansible)
    );
    let m = msgs(&herd);
    assert_eq!(m.len(), 4, "{m:?}");
    assert!(
        m[0].contains(&format!("\"{}\",", support::USER)),
        "{}",
        m[0]
    );
    assert!(m[0].contains("8080"), "{}", m[0]);
    assert_eq!(m[1], "\"msg\": \"False False\"");
    assert_eq!(m[2], "\"msg\": [\n\"root\",\n0,\n\"/root\"\n]");
    assert!(m[3].contains("\"address\","), "{}", m[3]);
}

/// `herd adhoc -m setup` with extra environment.
fn herd_setup_env(args: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
    c.env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .stdin(std::process::Stdio::null())
        .args([
            "adhoc",
            "-i",
            "localhost,",
            "-c",
            "local",
            "all",
            "-m",
            "setup",
            "-a",
            args,
        ]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run herd")
}

#[test]
fn env_values_keep_newlines_and_backslashes() {
    let value = "a\\b\\\\c\nd\\ne = f";
    let h = facts_of(&herd_setup_env(
        "filter=ansible_env",
        &[("HERD_FACT_TEST", value)],
    ));
    let a = common::ansible_command("ansible")
        .env("HERD_FACT_TEST", value)
        .args([
            "-e",
            "ansible_python_interpreter=/usr/bin/python3",
            "-i",
            "localhost,",
        ])
        .args([
            "-c",
            "local",
            "all",
            "-m",
            "setup",
            "-a",
            "filter=ansible_env",
        ])
        .output()
        .unwrap();
    let a = facts_of(&a);
    assert_eq!(h["ansible_env"]["HERD_FACT_TEST"], value);
    assert_eq!(a["ansible_env"]["HERD_FACT_TEST"], value);
}

/// With only BusyBox's tools on the PATH (no getent, lsb_release, capsh,
/// findmnt, lsblk, getconf; BusyBox's own ip, stat, date, awk), gathering
/// still works and gives the same values for what BusyBox can tell.
#[test]
fn busybox_tools_give_the_same_facts() {
    let bb = tempfile::tempdir().unwrap();
    let list = Command::new("busybox")
        .arg("--list")
        .output()
        .expect("busybox is installed (scripts/test.sh installs it)");
    let busybox = Path::new("/bin/busybox")
        .canonicalize()
        .or_else(|_| Path::new("/usr/bin/busybox").canonicalize())
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        std::os::unix::fs::symlink(&busybox, bb.path().join(applet)).unwrap();
    }
    let path = bb.path().display().to_string();
    let b = herd_setup_env("", &[("PATH", &path)]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    let b = facts_of(&b);
    let full = facts_of(&herd_setup(""));
    for k in [
        "ansible_hostname",
        "ansible_nodename",
        "ansible_kernel",
        "ansible_architecture",
        "ansible_userspace_bits",
        "ansible_distribution",
        "ansible_distribution_version",
        "ansible_os_family",
        "ansible_user_id",
        "ansible_user_uid",
        "ansible_user_dir",
        "ansible_memtotal_mb",
        "ansible_processor_vcpus",
        "ansible_processor",
        "ansible_interfaces",
        "ansible_lo",
        "ansible_service_mgr",
        "ansible_selinux",
        "ansible_is_chroot",
        "ansible_virtualization_type",
    ] {
        assert_eq!(b.get(k), full.get(k), "{k}");
    }
    assert_eq!(
        b["ansible_default_ipv4"].get("address"),
        full["ansible_default_ipv4"].get("address")
    );
    assert_eq!(
        keys(&b["ansible_date_time"]),
        keys(&full["ansible_date_time"])
    );
    let mounts = |f: &Map<String, Value>| -> Vec<(Value, Value, Value)> {
        f["ansible_mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["mount"].clone(),
                    m["device"].clone(),
                    m["size_total"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(mounts(&b), mounts(&full));
    // BusyBox has no capsh: Ansible's placeholder.
    assert_eq!(b["ansible_system_capabilities"], "N/A");
}

/// The `"msg": …` lines of a playbook run.
fn msg_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("\"msg\""))
        .map(|l| l.trim().to_string())
        .collect()
}

/// `inject_facts_as_vars = false` leaves facts only under `ansible_facts`
/// (and `ansible_local`), in templates and `hostvars`; a `gather_facts`
/// task takes `parallel` and setup's arguments.
#[test]
fn inject_facts_as_vars_and_gather_facts_task() {
    let dir = tempfile::tempdir().unwrap();
    let facts_d = dir.path().join("facts.d");
    std::fs::create_dir(&facts_d).unwrap();
    std::fs::write(facts_d.join("app.fact"), "[main]\nport = 8080\n").unwrap();
    let playbook = format!(
        "- hosts: all\n  gather_subset: [min]\n  fact_path: {}\n  tasks:\n    - debug: {{msg: \"{{{{ ansible_os_family | default('none') }}}} {{{{ ansible_facts.os_family }}}} {{{{ ansible_local.app.main.port }}}} {{{{ hostvars[inventory_hostname].ansible_os_family | default('none') }}}}\"}}\n\
         - hosts: all\n  gather_facts: false\n  tasks:\n    - gather_facts: {{parallel: true, gather_subset: [network]}}\n    - debug: {{msg: \"{{{{ ansible_facts.default_ipv4.keys() | sort }}}} {{{{ ansible_facts.gather_subset }}}}\"}}\n",
        facts_d.display()
    );
    common::write(dir.path(), "playbook.yml", &playbook);
    for inject in ["True", "False"] {
        let h = Command::new(env!("CARGO_BIN_EXE_herd"))
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_CONFIG")
            .env("ANSIBLE_INJECT_FACT_VARS", inject)
            .args([
                "playbook",
                "-i",
                "localhost,",
                "-c",
                "local",
                "playbook.yml",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let a = common::ansible_command("ansible-playbook")
            .current_dir(dir.path())
            .env("ANSIBLE_INJECT_FACT_VARS", inject)
            .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
            .args(["-i", "localhost,", "-c", "local", "playbook.yml"])
            .output()
            .unwrap();
        assert_eq!(msg_lines(&h), msg_lines(&a), "{}\n{}", text(&h), text(&a));
        let first = &msg_lines(&h)[0];
        let expect_none = inject == "False";
        assert_eq!(first.contains("none"), expect_none, "{first}");
    }
}

/// A mount whose statfs never answers (a dead NFS server) costs at most
/// `gather_timeout` seconds: a `stat` that hangs stands in for it.
#[test]
fn a_hanging_mount_probe_stops_at_gather_timeout() {
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("stat");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$1\" in -f) exec sleep 30 ;; esac\nexec /usr/bin/stat \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let start = std::time::Instant::now();
    let o = herd_setup_env(
        "gather_subset=!all,!min,hardware gather_timeout=1",
        &[("PATH", &path)],
    );
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let f = facts_of(&o);
    let m = &f["ansible_mounts"][0];
    assert_eq!(m["note"], "Could not get extra information due to timeout");
    let warnings = warnings(&o);
    assert!(
        warnings[0].starts_with("Timeout exceeded when getting mount info for "),
        "{warnings:?}"
    );
}

/// The internal `_ansible_facts_gathered` mark is under `ansible_facts`
/// only; `module_setup` and `gather_subset` are variables, as in Ansible.
#[test]
fn internal_fact_marks_are_not_variables() {
    let dir = tempfile::tempdir().unwrap();
    common::write(
        dir.path(),
        "playbook.yml",
        "- hosts: all\n  gather_subset: ['!all', '!min']\n  tasks:\n    - debug: {msg: \"{{ _ansible_facts_gathered | default('undef') }} {{ ansible_facts._ansible_facts_gathered | default('undef') }} {{ module_setup | default('undef') }} {{ gather_subset | default('undef') }}\"}\n",
    );
    let h = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .args([
            "playbook",
            "-i",
            "localhost,",
            "-c",
            "local",
            "playbook.yml",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let a = common::ansible_command("ansible-playbook")
        .current_dir(dir.path())
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .args(["-i", "localhost,", "-c", "local", "playbook.yml"])
        .output()
        .unwrap();
    assert_eq!(msg_lines(&h), msg_lines(&a), "{}", text(&h));
    assert_eq!(
        msg_lines(&h),
        ["\"msg\": \"undef True True ['!all', '!min']\""]
    );
}
