//! command, shell, raw, script against the local host.

mod module_support;

use module_support::{Env, NASTY};
use serde_json::json;

#[tokio::test]
async fn command_runs_and_reports() {
    let env = Env::new();
    let o = env
        .run("command", json!({"_raw_params": "printf 'a\\nb\\n\\n'"}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["stdout"], "a\nb");
    assert_eq!(o.values["stdout_lines"], json!(["a", "b"]));
    assert_eq!(o.values["rc"], 0);
    assert_eq!(o.values["cmd"], json!(["printf", "a\\nb\\n\\n"]));
    assert_eq!(o.values["msg"], "");
    for k in ["start", "end", "delta", "stderr", "stderr_lines"] {
        assert!(o.values.contains_key(k), "{k}");
    }
    let o = env
        .run(
            "command",
            json!({"argv": ["sh", "-c", "echo oops >&2; exit 3"]}),
        )
        .await;
    assert!(o.failed);
    assert_eq!(o.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(o.values["rc"], 3);
    assert_eq!(o.values["stderr"], "oops");
}

#[tokio::test]
async fn command_does_not_use_a_shell() {
    let env = Env::new();
    let marker = env.path("marker");
    let o = env
        .run(
            "command",
            json!({"cmd": format!("echo hi ; touch {marker}")}),
        )
        .await;
    assert_eq!(o.values["stdout"], format!("hi ; touch {marker}"));
    assert!(!std::path::Path::new(&marker).exists());
    // Variables expand, command substitution does not.
    let o = env
        .run(
            "command",
            json!({"argv": ["echo", "$HOME", "$(id)", "$UNSET_XYZ"]}),
        )
        .await;
    let home = std::env::var("HOME").unwrap();
    assert_eq!(o.values["stdout"], format!("{home} $(id) $UNSET_XYZ"));
    let o = env
        .run(
            "command",
            json!({"argv": ["echo", "$HOME"], "expand_argument_vars": false}),
        )
        .await;
    assert_eq!(o.values["stdout"], "$HOME");
}

#[tokio::test]
async fn creates_removes_and_chdir() {
    let env = Env::new();
    let dir = env.path(NASTY);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(format!("{dir}/x y.txt"), "").unwrap();
    let o = env
        .run(
            "command",
            json!({"cmd": "pwd", "chdir": dir, "creates": "*.txt"}),
        )
        .await;
    assert!(!o.changed, "{o:?}");
    assert_eq!(
        o.msg.as_deref(),
        Some("Did not run command since '*.txt' exists")
    );
    let o = env
        .run(
            "command",
            json!({"cmd": "pwd", "chdir": dir, "removes": "x y.txt"}),
        )
        .await;
    assert!(o.changed);
    let real = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(o.values["stdout"], real.to_str().unwrap());
    let o = env
        .run(
            "command",
            json!({"cmd": "pwd", "removes": format!("{dir}/none*")}),
        )
        .await;
    assert!(!o.changed);
    assert!(o.msg.unwrap().ends_with("does not exist"));
    assert!(!std::path::Path::new("pwned").exists());
    // The test runs with the command, which sees nothing of it: no
    // positional parameter, no variable.
    let o = env
        .run(
            "shell",
            json!({"cmd": "echo \"$# ${f-unset} $*\"", "chdir": dir,
                   "creates": "none*", "removes": "*.txt"}),
        )
        .await;
    assert!(o.changed, "{o:?}");
    assert_eq!(o.values["stdout"], "0 unset ");
    let o = env
        .run(
            "command",
            json!({"cmd": "pwd", "chdir": env.path("missing")}),
        )
        .await;
    assert!(o.failed);
    assert!(o.msg.unwrap().starts_with("Unable to change directory"));
}

#[tokio::test]
async fn check_mode() {
    let env = Env::new();
    let marker = env.path("m");
    let o = env
        .check("command", json!({"argv": ["touch", marker]}))
        .await;
    assert!(o.skipped && !o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some("Command would have run if not in check mode")
    );
    let o = env
        .check(
            "command",
            json!({"argv": ["touch", marker], "creates": marker}),
        )
        .await;
    assert!(o.changed && !o.skipped);
    assert!(!std::path::Path::new(&marker).exists());
    let o = env
        .check("shell", json!({"cmd": format!("touch {marker}")}))
        .await;
    assert!(o.skipped);
    let o = env
        .check("raw", json!({"_raw_params": format!("touch {marker}")}))
        .await;
    assert!(o.skipped);
    assert!(!std::path::Path::new(&marker).exists());
}

#[tokio::test]
async fn stdin_and_strip() {
    let env = Env::new();
    let o = env
        .run("command", json!({"cmd": "cat", "stdin": "x"}))
        .await;
    assert_eq!(o.values["stdout"], "x");
    let o = env
        .run(
            "command",
            json!({"cmd": "cat", "stdin": "x", "strip_empty_ends": false}),
        )
        .await;
    assert_eq!(o.values["stdout"], "x\n");
    let o = env
        .run(
            "command",
            json!({"cmd": "cat", "stdin": "x", "stdin_add_newline": "no", "strip_empty_ends": false}),
        )
        .await;
    assert_eq!(o.values["stdout"], "x");
}

#[tokio::test]
async fn shell_and_raw() {
    let env = Env::new();
    let o = env
        .run(
            "shell",
            json!({"_raw_params": "echo a | tr a b; echo $((1+2))"}),
        )
        .await;
    assert_eq!(o.values["stdout"], "b\n3");
    assert_eq!(o.values["cmd"], "echo a | tr a b; echo $((1+2))");
    let o = env
        .run(
            "shell",
            json!({"cmd": "echo \"$0\"", "executable": "/bin/bash"}),
        )
        .await;
    assert_eq!(o.values["stdout"], "/bin/bash");
    let o = env
        .run("raw", json!({"_raw_params": "echo hi; exit 2"}))
        .await;
    assert!(o.failed && o.changed);
    assert_eq!(o.values["stdout"], "hi\n");
}

#[tokio::test]
async fn script_is_pushed_run_and_removed() {
    let env = Env::new();
    env.local_file(
        "files/my script.sh",
        "#!/bin/sh\necho \"args:$1:$2\"; echo \"$0\"\n",
    );
    let o = env
        .run(
            "script",
            json!({"_raw_params": "'my script.sh' 'one two' three"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    let out = o.values["stdout"].as_str().unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("args:one two:three"));
    let pushed = lines.next().unwrap();
    assert!(
        !std::path::Path::new(pushed).exists(),
        "{pushed} left behind"
    );
    let o = env
        .run("script", json!({"cmd": "'my script.sh'", "creates": "/"}))
        .await;
    assert!(o.skipped && !o.changed);
    let o = env.check("script", json!({"cmd": "'my script.sh'"})).await;
    assert!(o.skipped);
    let o = env.run("script", json!({"cmd": "missing.sh"})).await;
    assert!(o.failed);
}

#[tokio::test]
async fn bad_args_name_the_argument_and_module() {
    let env = Env::new();
    let o = env
        .run("command", json!({"cmd": "true", "chdri": "/"}))
        .await;
    assert!(o.failed);
    let msg = o.msg.unwrap();
    assert!(
        msg.starts_with("Unsupported parameters for (ansible.builtin.command) module: chdri."),
        "{msg}"
    );
    assert!(msg.contains("Did you mean 'chdir'"), "{msg}");
    let o = env.run("command", json!({})).await;
    assert_eq!(o.msg.as_deref(), Some("no command given"));
    let o = env
        .run("command", json!({"cmd": "true", "argv": ["true"]}))
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("only command or argv can be given, not both")
    );
    let o = env
        .run("shell", json!({"cmd": "true", "strip_empty_ends": "maybe"}))
        .await;
    assert!(o.msg.unwrap().contains("strip_empty_ends"));
}

#[tokio::test]
async fn awkward_words_reach_the_command_unchanged() {
    let env = Env::new();
    let o = env
        .run(
            "command",
            json!({"argv": ["printf", "%s|", NASTY, "", "*"]}),
        )
        .await;
    assert_eq!(o.values["stdout"], format!("{NASTY}||*|"));
    let o = env
        .run(
            "command",
            json!({"cmd": format!("printf %s '{}'", "a;b $(x) `y`")}),
        )
        .await;
    assert_eq!(o.values["stdout"], "a;b $(x) `y`");
    assert!(!std::path::Path::new("pwned").exists());
}

#[tokio::test]
async fn script_options() {
    let env = Env::new();
    env.local_file("files/s.py", "print('hi from python')\n");
    env.local_file("files/pwd.sh", "pwd\n");
    let dir = env.path(NASTY);
    std::fs::create_dir(&dir).unwrap();
    let o = env
        .run(
            "script",
            json!({"cmd": "pwd.sh", "chdir": dir, "executable": "/bin/sh"}),
        )
        .await;
    assert!(!o.failed, "{o:?}");
    let real = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(o.values["stdout"], format!("{}\n", real.display()));
    let o = env
        .run(
            "script",
            json!({"cmd": "pwd.sh", "removes": env.path("nothing")}),
        )
        .await;
    assert!(o.skipped);
    assert!(o
        .msg
        .unwrap()
        .contains("does not exist, matching removes option"));
    let o = env
        .run("script", json!({"cmd": "pwd.sh", "chdir": "relative"}))
        .await;
    assert!(o.failed && o.msg.unwrap().contains("absolute path"));
    if std::path::Path::new("/usr/bin/python3").exists() {
        let o = env
            .run(
                "script",
                json!({"cmd": "s.py", "executable": "/usr/bin/python3"}),
            )
            .await;
        assert_eq!(o.values["stdout"], "hi from python\n");
    }
}

#[tokio::test]
async fn missing_program_fails_as_ansible() {
    let env = Env::new();
    let o = env
        .run("command", json!({"cmd": "no_such_program_xyz arg"}))
        .await;
    assert!(o.failed);
    assert_eq!(o.values["rc"], 2);
    assert_eq!(
        o.msg.as_deref(),
        Some(
            "Error executing command: [Errno 2] No such file or directory: b'no_such_program_xyz'"
        )
    );
    // A program that exists but exits 2 is an ordinary failure.
    let o = env
        .run("command", json!({"argv": ["sh", "-c", "exit 2"]}))
        .await;
    assert_eq!(o.msg.as_deref(), Some("non-zero return code"));
}
