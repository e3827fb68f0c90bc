//! template against the local host, rendered with herd's template engine.

mod module_support;

use std::path::Path;

use module_support::{mode_of, Env, NASTY};
use serde_json::json;

fn env_with_vars() -> Env {
    let mut env = Env::new();
    env.controller.vars = json!({"name": "world", "items": [1, 2]})
        .as_object()
        .unwrap()
        .clone();
    env
}

#[tokio::test]
async fn renders_and_is_idempotent() {
    let env = env_with_vars();
    env.local_file(
        "templates/app.conf.j2",
        "hello {{ name }}\n{% for i in items %}\nitem {{ i }}\n{% endfor %}\n",
    );
    let dest = env.path(NASTY);
    let args = json!({"src": "app.conf.j2", "dest": dest, "mode": "0600"});
    let o = env.check("template", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(!Path::new(&dest).exists());
    assert_eq!(o.diff[0].after, "hello world\nitem 1\nitem 2\n");
    let o = env.run("template", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        "hello world\nitem 1\nitem 2\n"
    );
    assert_eq!(mode_of(&dest), 0o600);
    assert_eq!(o.values["state"], "file");
    let o = env.run("template", args.clone()).await;
    assert!(!o.changed, "{o:?}");
    std::fs::write(&dest, "drift\n").unwrap();
    let o = env.run_with("template", args, false, true).await;
    assert!(o.changed);
    assert_eq!(o.diff[0].before, "drift\n");
    assert!(o.diff[0]
        .after_header
        .as_deref()
        .unwrap()
        .ends_with("app.conf.j2"));
}

#[tokio::test]
async fn options_and_directory_dest() {
    let env = env_with_vars();
    env.local_file(
        "templates/t.j2",
        "  {% if true %}\n[[ name ]]\n  {% endif %}\n",
    );
    let d = env.path("out");
    std::fs::create_dir(&d).unwrap();
    let o = env
        .run(
            "template",
            json!({"src": "t.j2", "dest": d, "lstrip_blocks": true,
                   "variable_start_string": "[[", "variable_end_string": "]]",
                   "newline_sequence": "\r\n"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(format!("{d}/t.j2")).unwrap(),
        "world\r\n"
    );
}

#[tokio::test]
async fn errors() {
    let env = env_with_vars();
    env.local_file("templates/bad.j2", "{{ missing_var }}\n");
    let dest = env.path("x");
    let o = env
        .run("template", json!({"src": "bad.j2", "dest": dest}))
        .await;
    assert!(o.failed && o.msg.unwrap().contains("missing_var"));
    assert!(!Path::new(&dest).exists());
    let o = env
        .run("template", json!({"src": "nope.j2", "dest": dest}))
        .await;
    assert!(o.failed && o.msg.unwrap().contains("nope.j2"));
    let o = env.run("template", json!({"src": "bad.j2"})).await;
    assert!(o.msg.unwrap().contains("missing required arguments: dest"));
    let o = env
        .run(
            "template",
            json!({"src": "bad.j2", "dest": dest, "trim_block": true}),
        )
        .await;
    assert!(o.msg.unwrap().contains("Did you mean 'trim_blocks'"));
}

#[tokio::test]
async fn newline_sequence_spellings() {
    let env = env_with_vars();
    env.local_file("templates/n.j2", "a\nb\n");
    let dest = env.path("n");
    // As YAML's '\r\n' (backslashes kept) and as the characters.
    for spelling in ["\\r\\n", "\r\n"] {
        let _ = std::fs::remove_file(&dest);
        let o = env
            .run(
                "template",
                json!({"src": "n.j2", "dest": dest, "newline_sequence": spelling}),
            )
            .await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "a\r\nb\r\n");
    }
    let o = env
        .run(
            "template",
            json!({"src": "n.j2", "dest": dest, "newline_sequence": "x"}),
        )
        .await;
    assert!(o.failed && o.msg.unwrap().contains("newline_sequence"));
}
