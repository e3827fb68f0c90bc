//! mount for real, inside a fresh mount namespace (`unshare -m`): tmpfs
//! mounts on scratch directories and a scratch fstab, so the machine's
//! own mounts and /etc/fstab are never touched. The same steps run under
//! `herd adhoc` and under ansible.posix.mount, each in its own namespace
//! and directory; the outputs, the fstab text, the mount table and the
//! directory listing must be the same after every step. Needs root.

mod common;

use std::process::Command;

/// Runs `steps` (each an `-a` string plus flags; D stands for the scratch
/// directory) through `tool` in a fresh mount namespace, after writing
/// `seed` as D/fstab. Prints each step's output, exit code and the
/// "Ignore the 'boot'" warning, then the fstab, the mounts under D (mount
/// point, type, source, options) and D's listing; D is put back in the
/// output and backup names are made stable.
fn run_in_namespace(tool: &str, steps: &[&str], seed: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    std::fs::write(dir.path().join("fstab"), seed).unwrap();
    let err = format!("{d}.err");
    let stable = "sed -e 's/fstab\\.[0-9]*\\.[0-9@:-]*~/fstab.BACKUP~/g'";
    let mut script = format!(
        "set -u\nshow() {{ echo '-- fstab:'; cat {d}/fstab; echo '-- mounts:'; \
         grep ' {d}' /proc/self/mountinfo | awk '{{print $5, $(NF-2), $(NF-1), $NF}}'; \
         echo '-- ls:'; ls {d} | {stable}; }}\n"
    );
    for s in steps {
        let s = s.replace('D', &d);
        script.push_str(&format!(
            "echo '== {}'; {tool} -i localhost, -c local all -m mount -a {s} >{err}.out 2>{err}; \
             echo \"rc=$?\"; {stable} {err}.out; grep -h \"^\\[WARNING\\]: Ignore\" {err}; show\n",
            s.replace('\'', "")
        ));
    }
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
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
    let _ = std::fs::remove_file(&err);
    let _ = std::fs::remove_file(format!("{err}.out"));
    assert!(
        out.status.success(),
        "unshare -m failed (needs root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace(&d, "D")
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
fn mount_steps_match_ansible() {
    let steps = [
        // Not there: check mode mounts nothing and writes no line.
        "'path=D/m1 src=tmpfs fstype=tmpfs fstab=D/fstab state=mounted' -C",
        // Mounted (directory made, line added), then nothing to do.
        "'path=D/m1 src=tmpfs fstype=tmpfs fstab=D/fstab state=mounted'",
        "'path=D/m1 src=tmpfs fstype=tmpfs fstab=D/fstab state=mounted'",
        // Drift: new options rewrite the line and remount.
        "'path=D/m1 src=tmpfs fstype=tmpfs fstab=D/fstab state=mounted opts=size=1m backup=yes'",
        "'path=D/m1 state=remounted fstab=D/fstab opts=size=2m'",
        "'path=D/m1 state=unmounted fstab=D/fstab' -C",
        "'path=D/m1 state=unmounted fstab=D/fstab'",
        "'path=D/m1 state=unmounted fstab=D/fstab'",
        // A line only; boot=no adds noauto; noauto with boot warns.
        "'path=\"D/with space\" src=tmpfs fstype=tmpfs fstab=D/fstab state=present boot=no'",
        "'path=\"D/with space\" src=tmpfs fstype=tmpfs fstab=D/fstab state=present opts=noauto'",
        "'path=\"D/with space\" src=tmpfs fstype=tmpfs fstab=D/fstab state=present opts=noauto'",
        "'path=D/old src=tmpfs fstype=tmpfs fstab=D/fstab state=present dump=1 passno=2'",
        "'path=D/old fstab=D/fstab state=absent_from_fstab'",
        "'path=D/secret src=tmpfs fstype=tmpfs fstab=D/fstab state=present opts=size=1m opts_no_log=yes'",
        "'path=D/secret fstab=D/fstab state=absent_from_fstab'",
        // Ephemeral: mounted without fstab; another source fails.
        "'path=D/m2 src=tmpfs fstype=tmpfs state=ephemeral opts=size=2m'",
        "'path=D/m2 src=tmpfs fstype=tmpfs state=ephemeral opts=size=3m'",
        "'path=D/m2 src=other fstype=tmpfs state=ephemeral'",
        // Absent: line removed, unmounted, directory removed.
        "'path=D/m1 src=tmpfs fstype=tmpfs fstab=D/fstab state=mounted'",
        "'path=D/m1 state=absent fstab=D/fstab' -C",
        "'path=D/m1 state=absent fstab=D/fstab'",
        "'path=D/m1 state=absent fstab=D/fstab'",
        // A failed mount puts fstab back and removes what it made.
        "'path=D/deep/m4 src=/nonexistent fstype=ext4 fstab=D/fstab state=mounted'",
        // Bad arguments (not an unknown one: Ansible names the module as
        // the task spelt it and lists the aliases last, herd does not).
        "'path=D/m5 state=mounted'",
        "'path=D/m5 src=tmpfs fstype=tmpfs'",
        "'path=D/m5 state=gone'",
        "'src=tmpfs state=unmounted'",
    ];
    // Comments, a short line and another mount point stay as they are.
    let seed = "# static file system information\n\
                proc /proc proc defaults 0 0\n\
                \n\
                tmpfs /short tmpfs rw\n";
    let (herd, ansible) = tools();
    let h = run_in_namespace(&herd, &steps, seed);
    let a = run_in_namespace(&ansible, &steps, seed);
    assert_eq!(h, a);
    // It did something: mounted, rewritten, backed up and warned.
    assert!(h.contains("D/m1 tmpfs tmpfs rw,size=1024k"), "{h}");
    assert!(h.contains("tmpfs D/m1 tmpfs size=1m 0 0\n"), "{h}");
    assert!(h.contains("fstab.BACKUP~"), "{h}");
    assert!(
        h.contains("tmpfs D/with\\040space tmpfs defaults,noauto 0 0\n"),
        "{h}"
    );
    assert!(
        h.contains("[WARNING]: Ignore the 'boot' due to 'opts' contains 'noauto'."),
        "{h}"
    );
    assert!(h.contains("Error mounting D/deep/m4"), "{h}");
}
