//! The file, command and text module tests a second time, with a BusyBox
//! userland: the same test bodies (included from their own files), but
//! every command the modules run goes through BusyBox's sh with only its
//! applets on PATH (see `module_support::busybox`). The SSH side (a user
//! whose login shell and PATH are BusyBox's) is in tests/ssh_busybox.rs.

// Each included test file declares its own `mod module_support;`, as it
// does when it is its own test binary: the copies are meant.
#![allow(clippy::duplicate_mod)]

#[path = "module_blockinfile.rs"]
mod blockinfile;
#[path = "module_command.rs"]
mod command;
#[path = "module_copy.rs"]
mod copy;
#[path = "module_file.rs"]
mod file;
#[path = "module_find.rs"]
mod find;
#[path = "module_ini_file.rs"]
mod ini_file;
#[path = "module_lineinfile.rs"]
mod lineinfile;
#[path = "module_replace.rs"]
mod replace;
#[path = "module_slurp.rs"]
mod slurp;
#[path = "module_stat.rs"]
mod stat;
#[path = "module_template.rs"]
mod template;
#[path = "module_unarchive/local.rs"]
mod unarchive;

mod module_support;

/// The flavour is on: a command sees BusyBox's applets and nothing else.
#[tokio::test]
async fn commands_run_with_busybox_only() {
    let env = module_support::Env::new();
    let out = env
        .run(
            "shell",
            serde_json::json!({"_raw_params": "echo \"$PATH\"; stat --help 2>&1 | head -n 1; command -v python3 || echo none"}),
        )
        .await;
    assert!(!out.failed, "{out:?}");
    let stdout = out.values["stdout"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("{}/bin", module_support::BUSYBOX_DIR));
    assert!(lines[1].starts_with("BusyBox v"), "{stdout}");
    assert_eq!(lines[2], "none", "{stdout}");
}
