//! A full playbook over real SSH as the BusyBox user (login shell
//! BusyBox's sh, PATH holding BusyBox applets only, no Python, no sudo):
//! every file, command and text module changes things on the first run,
//! nothing on the second, and the results on disk are the expected ones.

mod common;
mod support;

use std::path::Path;
use std::process::Command;

use support::Sshd;

const PLAYBOOK: &str = r#"- hosts: bb
  gather_facts: false
  tasks:
    - name: The commands see BusyBox's tools
      ansible.builtin.shell: stat --help 2>&1 | head -n 1; command -v python3 || echo no-python
      register: tools
      changed_when: false
    - ansible.builtin.assert:
        that:
          - tools.stdout_lines[0] is match('BusyBox v')
          - tools.stdout_lines[1] == 'no-python'
    - name: Directory
      ansible.builtin.file:
        path: "{{ root }}/app"
        state: directory
        mode: "0750"
    - name: Touched file
      ansible.builtin.file:
        path: "{{ root }}/app/touched"
        state: touch
        mode: "0600"
        modification_time: preserve
        access_time: preserve
    - name: Link
      ansible.builtin.file:
        src: "{{ root }}/app/touched"
        dest: "{{ root }}/app/link"
        state: link
    - name: Copy content
      ansible.builtin.copy:
        dest: "{{ root }}/app/app.conf"
        content: "port=8080\nname=busybox\n"
        mode: "0640"
    - name: Copy a controller file
      ansible.builtin.copy:
        src: files/data.txt
        dest: "{{ root }}/app/data.txt"
    - name: Copy on the host
      ansible.builtin.copy:
        src: "{{ root }}/app/data.txt"
        dest: "{{ root }}/app/data-copy.txt"
        remote_src: true
    - name: Template
      ansible.builtin.template:
        src: motd.j2
        dest: "{{ root }}/app/motd"
    - name: Line
      ansible.builtin.lineinfile:
        path: "{{ root }}/app/edited.conf"
        regexp: '^port='
        line: port=9090
        create: true
    - name: Block
      ansible.builtin.blockinfile:
        path: "{{ root }}/app/edited.conf"
        block: |
          a=1
          b=2
    - name: File kept once there
      ansible.builtin.copy:
        dest: "{{ root }}/app/replaced.conf"
        content: "name=busybox\n"
        force: false
    - name: Replace
      ansible.builtin.replace:
        path: "{{ root }}/app/replaced.conf"
        regexp: 'name=busybox'
        replace: 'name=bb'
    - name: Ini
      community.general.ini_file:
        path: "{{ root }}/app/app.ini"
        section: main
        option: level
        value: "3"
    - name: Fragment directory
      ansible.builtin.file:
        path: "{{ root }}/frags"
        state: directory
    - name: Fragments
      ansible.builtin.copy:
        dest: "{{ root }}/frags/{{ item }}"
        content: "fragment {{ item }}\n"
      loop: [a, b]
    - name: Assemble
      ansible.builtin.assemble:
        src: "{{ root }}/frags"
        dest: "{{ root }}/app/assembled"
    - name: Stat
      ansible.builtin.stat:
        path: "{{ root }}/app/app.conf"
      register: st
    - ansible.builtin.assert:
        that:
          - st.stat.exists and st.stat.isreg
          - st.stat.mode == '0640'
          - st.stat.pw_name == 'herdbb'
          - st.stat.checksum | length == 40
    - name: Find
      ansible.builtin.find:
        paths: "{{ root }}/app"
        patterns: "*.txt"
      register: found
    - ansible.builtin.assert:
        that:
          - found.matched == 2
    - name: Slurp
      ansible.builtin.slurp:
        src: "{{ root }}/app/motd"
      register: motd
    - ansible.builtin.assert:
        that:
          - (motd.content | b64decode) == 'hello bb\n'
    - name: Fetch
      ansible.builtin.fetch:
        src: "{{ root }}/app/app.conf"
        dest: fetched/
        flat: true
    - name: Temporary file
      ansible.builtin.tempfile:
        path: "{{ root }}"
        suffix: .tmp
      register: tmp
      changed_when: false
    - name: Temporary file removed
      ansible.builtin.file:
        path: "{{ tmp.path }}"
        state: absent
      changed_when: false
    - name: Unarchive with BusyBox tar
      ansible.builtin.unarchive:
        src: files/bundle.tgz
        dest: "{{ root }}/app"
        list_files: true
      register: unpacked
    - ansible.builtin.assert:
        that:
          - unpacked.handler == 'TgzArchive'
          - "'./bundle/readme.txt' in unpacked.files"
    - name: Command with creates
      ansible.builtin.command: touch {{ root }}/app/marker
      args:
        creates: "{{ root }}/app/marker"
    - name: Shell with removes
      ansible.builtin.shell: echo ran >> {{ root }}/app/shell.log; rm -f {{ root }}/trigger
      args:
        removes: "{{ root }}/trigger"
    - name: Raw
      ansible.builtin.raw: printf '%s' "$0" | tail -c 2
      register: raw
      changed_when: false
    - name: Script
      ansible.builtin.script: files/hello.sh {{ root }}/app/script.out
      args:
        creates: "{{ root }}/app/script.out"
"#;

fn busybox_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, support::BUSYBOX_USER])
            .output()
            .expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id: run scripts/test.sh to create the BusyBox user")
    };
    (id("-u"), id("-g"))
}

fn herd(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .arg("playbook")
        .args(args)
        .output()
        .expect("run herd");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn recap(text: &str) -> String {
    text.lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_playbook_runs_on_a_busybox_userland() {
    let sshd = Sshd::start();
    let vars = sshd.busybox_inventory_vars();
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("host");
    std::fs::create_dir_all(&root).expect("mkdir");
    let (uid, gid) = busybox_ids();
    std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("chown");
    // The BusyBox user must reach its directory.
    support::chmod_755(work.path());
    let ctl = work.path().join("ctl");
    common::write(&ctl, "site.yml", PLAYBOOK);
    common::write(&ctl, "files/data.txt", "data\n");
    common::write(
        &ctl,
        "files/hello.sh",
        "#!/bin/sh\nprintf 'hello %s\\n' \"$(basename \"$0\")\" > \"$1\"\n",
    );
    common::write(&ctl, "templates/motd.j2", "hello {{ who }}\n");
    common::write(&ctl, "bundle/bundle/readme.txt", "read me\n");
    let tar = Command::new("tar")
        .args(["-czf", "files/bundle.tgz", "-C", "bundle", "./bundle"])
        .current_dir(&ctl)
        .status()
        .expect("tar");
    assert!(tar.success());
    common::write(
        &ctl,
        "inventory",
        &format!(
            "[bb]\nbusybox {vars} root={} who=bb \
             ansible_shell_executable={}/sh\n",
            root.display(),
            support::BUSYBOX_BIN
        ),
    );
    std::fs::write(root.join("trigger"), "").expect("trigger");

    let (code, first) = herd(&ctl, &["-i", "inventory", "site.yml"]);
    assert_eq!(code, Some(0), "{first}");
    assert_eq!(
        recap(&first),
        "busybox : ok=32 changed=20 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
        "{first}"
    );
    let app = root.join("app");
    let read = |name: &str| std::fs::read_to_string(app.join(name)).expect(name);
    assert_eq!(read("app.conf"), "port=8080\nname=busybox\n");
    assert_eq!(
        read("edited.conf"),
        "port=9090\n# BEGIN ANSIBLE MANAGED BLOCK\na=1\nb=2\n# END ANSIBLE MANAGED BLOCK\n"
    );
    assert_eq!(read("replaced.conf"), "name=bb\n");
    assert_eq!(read("data-copy.txt"), "data\n");
    assert_eq!(read("motd"), "hello bb\n");
    assert_eq!(read("assembled"), "fragment a\nfragment b\n");
    // A new file starts with an empty line, as ansible's ini_file writes it.
    assert_eq!(read("app.ini"), "\n[main]\nlevel = 3\n");
    assert_eq!(read("shell.log"), "ran\n");
    assert_eq!(read("script.out"), "hello hello.sh\n");
    assert_eq!(read("bundle/readme.txt"), "read me\n");
    assert_eq!(
        std::fs::read_to_string(ctl.join("fetched/app.conf")).expect("fetched"),
        read("app.conf")
    );
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(app.join("app.conf")).expect("stat");
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o640, uid));
    assert_eq!(
        std::fs::read_link(app.join("link")).expect("link"),
        app.join("touched")
    );
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&root)
        .expect("read root")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");

    let (code, second) = herd(&ctl, &["-i", "inventory", "site.yml"]);
    assert_eq!(code, Some(0), "{second}");
    assert_eq!(
        recap(&second),
        "busybox : ok=31 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        "{second}"
    );
}
