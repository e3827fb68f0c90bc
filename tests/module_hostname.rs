//! hostname for real, inside a UTS and mount namespace (`unshare -um`)
//! with a scratch file bound over /etc/hostname, so the machine's own name
//! and file are never touched. The same steps run under `herd adhoc` and
//! under ansible's hostname module, each in its own namespace; the outputs,
//! the file and the running name must be the same. Needs root.

mod common;

use std::process::Command;

/// Runs `steps` (each an `-a` string plus flags) through `tool` inside a
/// fresh namespace whose name and /etc/hostname start as `orig`; prints
/// each step's output, then the file and the running name.
fn run_in_namespace(tool: &str, steps: &[&str]) -> String {
    let mut script = String::from(
        "set -u; f=$(mktemp); printf 'orig\\n' > \"$f\"; mount --bind \"$f\" /etc/hostname || exit 99; hostname orig;\n",
    );
    for s in steps {
        script.push_str(&format!(
            "echo '== {s}'; {tool} -i localhost, -c local all -m hostname -a {s}; echo \"rc=$?\"; echo \"file=$(cat /etc/hostname) name=$(hostname)\";\n"
        ));
    }
    let out = Command::new("unshare")
        .args(["-um", "sh", "-c", &script])
        .env("NO_COLOR", "1")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
        .env_remove("ANSIBLE_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("unshare (util-linux) runs");
    assert_ne!(
        out.status.code(),
        Some(99),
        "could not bind over /etc/hostname (needs root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn hostname_steps_match_ansible() {
    let steps = [
        "'name=web01.example.org' -C",
        "'name=web01.example.org'",
        "'name=web01.example.org'",
        "'name=web02 use=alpine'",
        "'name=web02 use=alpine'",
        "'nme=x'",
    ];
    let herd = format!("{} adhoc", env!("CARGO_BIN_EXE_herd"));
    let ansible = format!(
        "{} -e ansible_python_interpreter={}",
        common::ansible_bin_dir().join("ansible").display(),
        common::ansible_bin_dir().join("python").display()
    );
    let h = run_in_namespace(&herd, &steps);
    let a = run_in_namespace(&ansible, &steps);
    assert_eq!(h, a);
    // It did something: the file and the running name changed (Ansible's
    // alpine way runs `hostname -F` before it writes the new name).
    assert!(h.contains("file=web02 name=web01.example.org"), "{h}");
    assert!(h.contains("file=web01.example.org name=orig"), "{h}");
}
