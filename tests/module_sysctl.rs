//! sysctl for real, on `net.*` keys inside a fresh network namespace
//! (`unshare -n`), whose values start at the kernel's defaults and vanish
//! with it, so the machine's own settings are never touched. The same
//! steps run under `herd adhoc` and under ansible.posix.sysctl, each in its
//! own namespace with its own scratch sysctl file; the outputs, the file
//! and the running values must be the same after every step. Needs root.

mod common;

use std::process::Command;

/// The keys whose running values are printed after each step (all of
/// them belong to the network namespace).
const KEYS: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.core.somaxconn",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_default_ttl",
];

/// Runs `steps` (each an `-a` string plus flags, with FILE standing for
/// the scratch sysctl file) through `tool` inside a fresh network
/// namespace; prints each step's output and exit code, the file and the
/// running values. FILE in the output is put back.
fn run_in_namespace(tool: &str, steps: &[&str], seed: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sysctl.conf");
    std::fs::write(&file, seed).unwrap();
    let file = file.to_str().unwrap().to_string();
    let mut script = String::from("set -u\n");
    let show = KEYS
        .iter()
        .map(|k| format!("echo \"{k}=$(sysctl -n {k})\"; "))
        .collect::<String>();
    for s in steps {
        let s = s.replace("FILE", &file);
        script.push_str(&format!(
            "echo '== {}'; {tool} -i localhost, -c local all -m sysctl -a {s}; echo \"rc=$?\"; \
             if [ -f {file} ]; then echo '-- file:'; cat {file}; else echo '-- no file'; fi; {show}\n",
            s.replace('\'', "")
        ));
    }
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .env("NO_COLOR", "1")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
        .env(
            "ANSIBLE_COLLECTIONS_PATH",
            common::ansible_collections_path(),
        )
        .env_remove("ANSIBLE_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        out.status.success(),
        "unshare -n failed (needs root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace(&file, "FILE")
}

fn tools() -> (String, String) {
    let herd = format!("{} adhoc", env!("CARGO_BIN_EXE_herd"));
    let ansible = format!(
        "{} -e ansible_python_interpreter={}",
        common::ansible_bin_dir().join("ansible").display(),
        common::ansible_bin_dir().join("python").display()
    );
    (herd, ansible)
}

#[test]
fn sysctl_steps_match_ansible() {
    let steps = [
        // Absent from a missing file: check mode and diff touch nothing.
        "'name=net.ipv4.ip_forward value=1 sysctl_file=FILE' -C -D",
        // Added, then the same again.
        "'name=net.ipv4.ip_forward value=1 sysctl_file=FILE'",
        "'name=net.ipv4.ip_forward value=1 sysctl_file=FILE'",
        // Drift in the file, written without reload.
        "'name=net.ipv4.ip_forward value=0 sysctl_file=FILE reload=no'",
        // The file agrees but the kernel does not: reloaded.
        "'key=net.ipv4.ip_forward val=0 sysctl_file=FILE' -C",
        "'key=net.ipv4.ip_forward val=0 sysctl_file=FILE'",
        // Booleans become 1/0; several words compare word by word.
        "'name=net.ipv4.ip_forward value=yes sysctl_file=FILE'",
        "'name=net.ipv4.ip_local_port_range value=\"2000 60000\" sysctl_file=FILE reload=no sysctl_set=yes'",
        "'name=net.ipv4.ip_local_port_range value=\"2000   60000\" sysctl_file=FILE reload=no sysctl_set=yes'",
        "'name=net.ipv4.ip_default_ttl value=77 sysctl_file=FILE sysctl_set=yes reload=no' -C",
        "'name=net.ipv4.ip_default_ttl value=77 sysctl_file=FILE sysctl_set=yes reload=no'",
        // Removed, then removed again.
        "'name=net.ipv4.ip_forward state=absent sysctl_file=FILE' -C",
        "'name=net.ipv4.ip_forward state=absent sysctl_file=FILE'",
        "'name=net.ipv4.ip_forward state=absent sysctl_file=FILE'",
        // An unknown key fails the reload, unless errors are ignored.
        "'name=net.nope value=1 sysctl_file=FILE'",
        "'name=net.nope value=1 sysctl_file=FILE ignoreerrors=yes'",
        "'name=net.nope value=2 sysctl_file=FILE ignoreerrors=yes'",
        "'name=net.nope state=absent sysctl_file=FILE'",
        "'name=net.nope2 value=1 sysctl_file=FILE sysctl_set=yes reload=no'",
        // Bad arguments (not a bad boolean: Ansible lists the valid ones
        // in a different order on each run).
        "'nam=x value=1'",
        "'name=x state=present sysctl_file=FILE'",
        "'name=x state=present foo=1'",
        "'name=\"\" value=1'",
        "'name=x value=\"\"'",
        "'name=x value=1 state=gone'",
    ];
    // A file with comments, odd spacing and a duplicate key, rewritten as
    // Ansible rewrites it once a value changes.
    let seed = "# kernel settings\n net.core.somaxconn = 1024 \n\n; old\nnet.core.somaxconn=2048\n";
    let (herd, ansible) = tools();
    let h = run_in_namespace(&herd, &steps, seed);
    let a = run_in_namespace(&ansible, &steps, seed);
    assert_eq!(h, a);
    // It did something: values were written, set and removed.
    assert!(h.contains("net.ipv4.ip_default_ttl=77"), "{h}");
    assert!(
        h.contains("net.ipv4.ip_local_port_range=2000\t60000"),
        "{h}"
    );
    assert!(
        h.contains("-- file:\n# kernel settings\nnet.core.somaxconn=1024\n\n; old\nnet.ipv4.ip_forward=0\n"),
        "{h}"
    );
    assert!(
        h.contains("Failed to reload sysctl: net.core.somaxconn = 1024\n"),
        "{h}"
    );
}

#[test]
fn check_mode_leaves_file_and_kernel_alone() {
    let steps = ["'name=net.ipv4.ip_default_ttl value=99 sysctl_file=FILE sysctl_set=yes' -C"];
    let (herd, _) = tools();
    let h = run_in_namespace(&herd, &steps, "net.ipv4.ip_default_ttl=64\n");
    assert!(h.contains("CHANGED"), "{h}");
    // The file, then the running value: both as they were.
    assert!(
        h.contains("-- file:\nnet.ipv4.ip_default_ttl=64\nnet.ipv4.ip_forward=0\n"),
        "{h}"
    );
    assert!(h.ends_with("net.ipv4.ip_default_ttl=64\n"), "{h}");
}
