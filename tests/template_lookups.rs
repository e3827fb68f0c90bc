//! Lookups, file tests and errors, against real files in temporary
//! directories.

use std::fs;

use herd::template::{Templar, Vars};
use herd::value::Value;
use serde_json::json;

fn vars(j: Value) -> Vars {
    match j {
        Value::Object(m) => Vars::new(m),
        _ => Vars::default(),
    }
}

fn render(t: &str, v: &Vars) -> Value {
    Templar::new()
        .render_str(t, v)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn err(t: &str, v: &Vars) -> String {
    match Templar::new().render_str(t, v) {
        Ok(v) => panic!("{t} should fail, gave {v:?}"),
        Err(e) => e.message,
    }
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::create_dir_all(p.join("files")).unwrap();
        fs::create_dir_all(p.join("templates")).unwrap();
        fs::create_dir_all(p.join("roles/r/files")).unwrap();
        fs::write(p.join("files/hello.txt"), "  hello\n\n").unwrap();
        fs::write(p.join("top.txt"), "top\n").unwrap();
        fs::write(p.join("roles/r/files/hello.txt"), "from role\n").unwrap();
        fs::write(p.join("files/a.conf"), "a").unwrap();
        fs::write(p.join("files/b.conf"), "b").unwrap();
        fs::write(
            p.join("templates/t.j2"),
            "{% if true %}\nname={{ name }}\n{% endif %}\n",
        )
        .unwrap();
        Project { dir }
    }
    fn path(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }
    fn vars(&self) -> Vars {
        vars(json!({"playbook_dir": self.path(), "name": "web"}))
    }
}

#[test]
fn file_lookup_searches_and_strips() {
    let p = Project::new();
    let v = p.vars();
    assert_eq!(
        render("{{ lookup('file', 'hello.txt') }}", &v),
        json!("  hello")
    );
    assert_eq!(
        render("{{ lookup('file', 'hello.txt', lstrip=true) }}", &v),
        json!("hello")
    );
    assert_eq!(
        render("{{ lookup('file', 'hello.txt', rstrip=false) }}", &v),
        json!("  hello\n\n")
    );
    assert_eq!(
        render("{{ lookup('ansible.builtin.file', 'top.txt') }}", &v),
        json!("top")
    );
    assert_eq!(
        render("{{ lookup('file', 'top.txt', 'hello.txt') }}", &v),
        json!("top,  hello")
    );
    assert_eq!(render("{{ query('file', 'top.txt') }}", &v), json!(["top"]));
    // A role's files come first.
    let v = vars(json!({"playbook_dir": p.path(), "role_path": format!("{}/roles/r", p.path())}));
    assert_eq!(
        render("{{ lookup('file', 'hello.txt') }}", &v),
        json!("from role")
    );
    let e = err("{{ lookup('file', 'nope.txt') }}", &v);
    assert!(e.contains("The lookup plugin 'file' failed"), "{e}");
    assert!(e.contains("nope.txt"), "{e}");
}

#[test]
fn env_lookup() {
    let v = vars(json!({}));
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(render("{{ lookup('env', 'HOME') }}", &v), json!(home));
    assert_eq!(
        render("{{ lookup('env', 'HERD_SURELY_UNSET_VAR') }}", &v),
        json!("")
    );
    assert_eq!(
        render(
            "{{ lookup('env', 'HERD_SURELY_UNSET_VAR', default='d') }}",
            &v
        ),
        json!("d")
    );
}

#[test]
fn template_lookup_renders_with_task_vars() {
    let p = Project::new();
    assert_eq!(
        render("{{ lookup('template', 't.j2') }}", &p.vars()),
        json!("name=web\n")
    );
}

#[test]
fn pipe_and_lines_lookups() {
    let v = vars(json!({}));
    assert_eq!(
        render("{{ lookup('pipe', 'echo hi; echo there') }}", &v),
        json!("hi\nthere")
    );
    assert_eq!(
        render("{{ query('lines', 'printf \"a\\nb\\n\"') }}", &v),
        json!(["a", "b"])
    );
    let e = err("{{ lookup('pipe', 'exit 3') }}", &v);
    assert!(e.contains("'pipe'"), "{e}");
}

#[test]
fn vars_lookup() {
    let v = vars(json!({"a": "{{ b }}", "b": 5}));
    assert_eq!(render("{{ lookup('vars', 'a') }}", &v), json!(5));
    assert_eq!(
        render("{{ lookup('vars', 'zz', default='d') }}", &v),
        json!("d")
    );
    assert!(err("{{ lookup('vars', 'zz') }}", &v).contains("zz"));
}

#[test]
fn fileglob_lookup() {
    let p = Project::new();
    let v = p.vars();
    let got = render("{{ query('fileglob', '*.conf') }}", &v);
    let want = json!([
        format!("{}/files/a.conf", p.path()),
        format!("{}/files/b.conf", p.path())
    ]);
    assert_eq!(got, want);
    let abs = render(
        &format!("{{{{ lookup('fileglob', '{}/files/a.*') }}}}", p.path()),
        &v,
    );
    assert_eq!(abs, json!(format!("{}/files/a.conf", p.path())));
    assert_eq!(render("{{ query('fileglob', '*.none') }}", &v), json!([]));
}

#[test]
fn first_found_lookup() {
    let p = Project::new();
    let v = p.vars();
    let got = render(
        "{{ lookup('first_found', ['missing.txt', 'hello.txt']) }}",
        &v,
    );
    assert_eq!(got, json!(format!("{}/files/hello.txt", p.path())));
    let got = render(
        &format!(
            "{{{{ lookup('first_found', files=['x', 'b.conf'], paths=['{}/files']) }}}}",
            p.path()
        ),
        &v,
    );
    assert_eq!(got, json!(format!("{}/files/b.conf", p.path())));
    assert_eq!(
        render("{{ query('first_found', ['nope'], skip=true) }}", &v),
        json!([])
    );
    let e = err("{{ lookup('first_found', ['nope']) }}", &v);
    assert!(e.contains("No file was found"), "{e}");
}

#[test]
fn list_shaped_lookups() {
    let v = vars(json!({"d": {"a": 1, "b": 2}}));
    assert_eq!(
        render("{{ query('items', [1, [2]], 3) }}", &v),
        json!([1, [2], 3])
    );
    assert_eq!(
        render("{{ query('list', [1, 2], 3) }}", &v),
        json!([[1, 2], 3])
    );
    assert_eq!(
        render("{{ query('dict', d) }}", &v),
        json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    );
    assert_eq!(
        render("{{ query('indexed_items', ['a', 'b']) }}", &v),
        json!([[0, "a"], [1, "b"]])
    );
    assert_eq!(
        render("{{ lookup('items', ['a', 'b']) }}", &v),
        json!("a,b")
    );
    assert_eq!(
        render("{{ lookup('items', ['a', 'b'], wantlist=True) }}", &v),
        json!(["a", "b"])
    );
}

#[test]
fn sequence_lookup() {
    let v = vars(json!({}));
    assert_eq!(
        render("{{ query('sequence', 'start=1 end=3') }}", &v),
        json!(["1", "2", "3"])
    );
    assert_eq!(
        render(
            "{{ query('sequence', 'start=0 count=3 stride=2 format=host%02d') }}",
            &v
        ),
        json!(["host00", "host02", "host04"])
    );
    assert_eq!(
        render("{{ query('sequence', '4-6') }}", &v),
        json!(["4", "5", "6"])
    );
    assert_eq!(
        render("{{ query('sequence', start=1, end=2) }}", &v),
        json!(["1", "2"])
    );
    assert_eq!(
        render("{{ lookup('sequence', 'end=2') }}", &v),
        json!("1,2")
    );
}

#[test]
fn password_lookup_stores_and_reuses() {
    let p = Project::new();
    let v = p.vars();
    let a = render(
        "{{ lookup('password', 'creds/db length=12 chars=digits') }}",
        &v,
    );
    let a = a.as_str().unwrap().to_string();
    assert_eq!(a.len(), 12);
    assert!(a.chars().all(|c| c.is_ascii_digit()), "{a}");
    let stored = fs::read_to_string(p.dir.path().join("creds/db")).unwrap();
    assert_eq!(stored, format!("{a}\n"));
    let b = render(
        "{{ lookup('password', 'creds/db length=12 chars=digits') }}",
        &v,
    );
    assert_eq!(b, json!(a));
    let n = render("{{ lookup('password', '/dev/null') }}", &v);
    assert_eq!(n.as_str().unwrap().len(), 20);
    let punct = render(
        "{{ lookup('password', '/dev/null', length=30, chars=['punctuation']) }}",
        &v,
    );
    assert!(punct
        .as_str()
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_punctuation()));
    let seeded1 = render("{{ lookup('password', '/dev/null', seed='x') }}", &v);
    let seeded2 = render("{{ lookup('password', '/dev/null', seed='x') }}", &v);
    assert_eq!(seeded1, seeded2);
}

#[test]
fn file_tests_look_at_the_controller() {
    let p = Project::new();
    let v = vars(json!({"d": p.path()}));
    let link = p.dir.path().join("lnk");
    std::os::unix::fs::symlink(p.dir.path().join("top.txt"), &link).unwrap();
    assert_eq!(render("{{ (d ~ '/top.txt') is file }}", &v), json!(true));
    assert_eq!(render("{{ (d ~ '/files') is directory }}", &v), json!(true));
    assert_eq!(render("{{ (d ~ '/lnk') is link }}", &v), json!(true));
    assert_eq!(render("{{ (d ~ '/nope') is exists }}", &v), json!(false));
    assert_eq!(render("{{ d is abs }}", &v), json!(true));
}

#[test]
fn filter_errors_and_special_messages() {
    let v = vars(json!({}));
    assert_eq!(
        err("{{ zzz | mandatory }}", &v),
        "The filter plugin 'ansible.builtin.mandatory' failed: Mandatory variable 'zzz' not defined."
    );
    assert_eq!(
        err("{{ zzz | mandatory('set zzz') }}", &v),
        "The filter plugin 'ansible.builtin.mandatory' failed: set zzz"
    );
    assert_eq!(
        err("{{ 5 | dict2items }}", &v),
        "The filter plugin 'ansible.builtin.dict2items' failed: dict2items requires a dictionary, got int"
    );
    assert_eq!(err("{{ [1] | bogus }}", &v), "No filter named 'bogus'.");
    assert!(err("{{ lookup('nosuch', 'x') }}", &v).contains("nosuch"));
}

#[test]
fn password_hash_is_crypt() {
    let v = vars(json!({}));
    let h = render(
        "{{ 'secret' | password_hash('sha512', 'mysalt', rounds=5000) }}",
        &v,
    );
    // Checked against glibc crypt(3).
    assert_eq!(
        h,
        json!("$6$rounds=5000$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1")
    );
    let h = render(
        "{{ 'secret' | password_hash('sha256', 'mysalt', rounds=5000) }}",
        &v,
    );
    assert_eq!(
        h,
        json!("$5$rounds=5000$mysalt$I2SNajjJ3Gc5gIR/tkrLOGngF8wqv59buJCqxh.o9s8")
    );
    let h2 = render("{{ 'secret' | password_hash('sha512', 'mysalt') }}", &v);
    assert!(h2.as_str().unwrap().starts_with("$6$rounds=656000$mysalt$"));
    let h3 = render("{{ 'secret' | password_hash('sha512') }}", &v);
    assert!(h3.as_str().unwrap().starts_with("$6$rounds=656000$"));
}

#[test]
fn random_and_shuffle_with_seed_are_stable() {
    let v = vars(json!({}));
    let a = render("{{ 100 | random(seed='h1') }}", &v);
    assert_eq!(a, render("{{ 100 | random(seed='h1') }}", &v));
    assert!(a.as_i64().unwrap() < 100);
    let s = render("{{ [1,2,3,4,5] | shuffle(seed='x') }}", &v);
    assert_eq!(s, render("{{ [1,2,3,4,5] | shuffle(seed='x') }}", &v));
    let mut sorted: Vec<i64> = s
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    sorted.sort();
    assert_eq!(sorted, vec![1, 2, 3, 4, 5]);
    let pick = render("{{ ['a', 'b'] | random }}", &v);
    assert!(pick == json!("a") || pick == json!("b"));
    assert_eq!(render("{{ 10 | random(start=5, step=5) }}", &v), json!(5));
}

#[test]
fn shell_quote_is_posix() {
    use herd::template::shell_quote;
    assert_eq!(shell_quote("abc"), "abc");
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
    assert_eq!(shell_quote("$(rm -rf /);\n"), "'$(rm -rf /);\n'");
}

#[test]
fn includes_follow_the_search_path() {
    use herd::template::TemplateFileOptions;
    let p = Project::new();
    fs::write(p.dir.path().join("templates/part.j2"), "part {{ name }}\n").unwrap();
    fs::write(
        p.dir.path().join("templates/main.j2"),
        "{% include 'part.j2' %}end\n",
    )
    .unwrap();
    let opts = TemplateFileOptions {
        search_path: vec![format!("{}/templates", p.path())],
        ..Default::default()
    };
    let out = Templar::new()
        .render_template_file("{% include 'part.j2' %}end\n", &p.vars(), &opts)
        .unwrap();
    // An included template loses its trailing newline, as in ansible-core.
    assert_eq!(out, "part webend\n");
    assert_eq!(
        render("{{ lookup('template', 'main.j2') }}", &p.vars()),
        json!("part webend\n")
    );
}

#[test]
fn loop_lookups() {
    let v = vars(
        json!({"users": [{"n": "a", "keys": [1, 2]}, {"n": "b", "keys": []}], "app_x": 1, "app_y": 2}),
    );
    assert_eq!(
        render("{{ query('nested', ['a', 'b'], [1, 2]) }}", &v),
        json!([["a", 1], ["a", 2], ["b", 1], ["b", 2]])
    );
    assert_eq!(
        render("{{ query('together', [1, 2], ['a']) }}", &v),
        json!([[1, "a"], [2, null]])
    );
    assert_eq!(
        render("{{ query('flattened', [1, [2, [3]]], 4) }}", &v),
        json!([1, 2, 3, 4])
    );
    assert_eq!(
        render(
            "{{ query('subelements', users, 'keys') | map('last') | list }}",
            &v
        ),
        json!([1, 2])
    );
    let one = render("{{ lookup('random_choice', 'x', 'y') }}", &v);
    assert!(one == json!("x") || one == json!("y"));
    assert_eq!(
        render("{{ query('varnames', '^app_') }}", &v),
        json!(["app_x", "app_y"])
    );
}

#[test]
fn ini_and_csvfile_lookups() {
    let p = Project::new();
    fs::write(
        p.dir.path().join("files/app.ini"),
        "[global]\nuser = root\n\n[db]\nUser=dbuser\npass: secret\nport_a=1\nport_b=2\n",
    )
    .unwrap();
    fs::write(
        p.dir.path().join("files/app.properties"),
        "a.b=c\n# comment\nx=y\n",
    )
    .unwrap();
    fs::write(p.dir.path().join("files/el.csv"), "Li,3,6.94\nH,1,1.008\n").unwrap();
    let v = p.vars();
    assert_eq!(
        render("{{ lookup('ini', 'user file=app.ini') }}", &v),
        json!("root")
    );
    assert_eq!(
        render("{{ lookup('ini', 'user section=db file=app.ini') }}", &v),
        json!("dbuser")
    );
    assert_eq!(
        render(
            "{{ lookup('ini', 'pass', section='db', file='app.ini') }}",
            &v
        ),
        json!("secret")
    );
    assert_eq!(
        render(
            "{{ lookup('ini', 'nope section=db file=app.ini default=d') }}",
            &v
        ),
        json!("d")
    );
    assert_eq!(
        render(
            "{{ query('ini', 'port_.* section=db file=app.ini re=true') }}",
            &v
        ),
        json!(["1", "2"])
    );
    assert_eq!(
        render(
            "{{ lookup('ini', 'a.b type=properties file=app.properties') }}",
            &v
        ),
        json!("c")
    );
    assert_eq!(
        render("{{ lookup('csvfile', 'Li file=el.csv delimiter=,') }}", &v),
        json!("3")
    );
    assert_eq!(
        render(
            "{{ lookup('csvfile', 'H file=el.csv delimiter=, col=2') }}",
            &v
        ),
        json!("1.008")
    );
    assert_eq!(
        render(
            "{{ lookup('csvfile', 'X file=el.csv delimiter=, default=none') }}",
            &v
        ),
        json!("none")
    );
}

#[test]
fn inventory_hostnames_lookup() {
    let v = vars(
        json!({"groups": {"all": ["w1", "w2", "d1"], "web": ["w1", "w2"], "db": ["d1"], "ungrouped": []}}),
    );
    assert_eq!(
        render("{{ query('inventory_hostnames', 'all') }}", &v),
        json!(["w1", "w2", "d1"])
    );
    assert_eq!(
        render("{{ query('inventory_hostnames', 'web:db') }}", &v),
        json!(["w1", "w2", "d1"])
    );
    assert_eq!(
        render("{{ query('inventory_hostnames', 'all:!web') }}", &v),
        json!(["d1"])
    );
    assert_eq!(
        render("{{ query('inventory_hostnames', 'all:&web') }}", &v),
        json!(["w1", "w2"])
    );
    assert_eq!(
        render("{{ query('inventory_hostnames', 'w*') }}", &v),
        json!(["w1", "w2"])
    );
}
