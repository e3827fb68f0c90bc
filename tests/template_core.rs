//! The template environment: native values, Python printing, lazy
//! variables, undefined errors, omit.

use std::sync::Arc;

use herd::template::{omit_token, HostVarsSource, Templar, TemplateFileOptions, Vars};
use herd::value::{Map, Value};
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

fn text(t: &str) -> String {
    match render(t, &vars(json!({}))) {
        Value::String(s) => s,
        other => panic!("{t} gave {other:?}"),
    }
}

fn err(t: &str, v: &Vars) -> String {
    match Templar::new().render_str(t, v) {
        Ok(v) => panic!("{t} should fail, gave {v:?}"),
        Err(e) => e.message,
    }
}

#[test]
fn plain_strings_pass_through() {
    assert_eq!(render("hello", &vars(json!({}))), json!("hello"));
}

#[test]
fn single_expression_is_native() {
    let v = vars(json!({"l": [1, 2], "d": {"a": true}, "n": 3}));
    assert_eq!(render("{{ l }}", &v), json!([1, 2]));
    assert_eq!(render("{{ d }}\n", &v), json!({"a": true}));
    // Checked with ansible-core 2.19: text around the expression makes a
    // string, and trailing newlines are kept there.
    assert_eq!(render("  {{ n }}  ", &v), json!("  3  "));
    assert_eq!(render("x{{ n }}\n", &v), json!("x3\n"));
    assert_eq!(render("{{ n }}\n\n", &v), json!("3\n\n"));
    assert_eq!(render("{{ n + 1 }}", &v), json!(4));
    assert_eq!(render("{{ n > 1 }}", &v), json!(true));
    assert_eq!(render("{{ none }}", &v), json!(null));
    assert_eq!(render("{{- l | length -}}", &v), json!(2));
}

#[test]
fn one_printed_value_is_native_whatever_the_statements_around_it() {
    let v = vars(json!({}));
    // Each as ansible-core 2.19 renders it (`debug: msg=...`): a template
    // whose only output is one `{{ }}` value is that value; no output is
    // None; more than one output is text.
    assert_eq!(render("{% set x = 5 %}{{ x }}", &v), json!(5));
    assert_eq!(render("{% set x = 5 %}\n{{ x }}\n", &v), json!(5));
    assert_eq!(
        render("{% if true %}{{ [1,2] }}{% endif %}", &v),
        json!([1, 2])
    );
    assert_eq!(
        render("{% for i in [1] %}{{ i }}{% endfor %}", &v),
        json!(1)
    );
    assert_eq!(
        render("{% for i in [1, 2] %}{{ i }}{% endfor %}", &v),
        json!("12")
    );
    assert_eq!(render("{{ 1 }}{{ 2 }}", &v), json!("12"));
    assert_eq!(render("{% set x = '[1]' %}{{ x }}", &v), json!("[1]"));
    assert_eq!(render("{% if false %}x{% endif %}", &v), json!(null));
    assert_eq!(
        render(
            "{% set n = namespace(t=0) %}{% for i in [1, 2] %}{% set n.t = n.t + i %}{% endfor %}{{ n.t }}",
            &v
        ),
        json!(3)
    );
}

#[test]
fn text_prints_like_python() {
    let v = vars(json!({"l": ["a", "b"], "d": {"k": 1}, "t": true, "f": 1.0}));
    assert_eq!(render("x {{ l }}", &v), json!("x ['a', 'b']"));
    assert_eq!(render("{{ d }}!", &v), json!("{'k': 1}!"));
    assert_eq!(render("{{ t }} {{ f }}", &v), json!("True 1.0"));
    assert_eq!(render("[{{ [none, true] }}]", &v), json!("[[None, True]]"));
    // ansible-core 2.19 prints a bare None as nothing inside text.
    assert_eq!(render("x{{ none }}y", &v), json!("xy"));
}

#[test]
fn lazy_variables_render_when_read() {
    let v = vars(json!({
        "a": "{{ b }}-x",
        "b": "{{ c | upper }}",
        "c": "val",
        "l": "{{ [1, 2] }}",
        "nested": {"inner": "{{ c }}"}
    }));
    assert_eq!(render("{{ a }}", &v), json!("VAL-x"));
    assert_eq!(render("{{ l | length }}", &v), json!(2));
    assert_eq!(render("{{ nested.inner }}", &v), json!("val"));
}

#[test]
fn recursion_is_reported() {
    let v = vars(json!({"a": "{{ b }}", "b": "{{ a }}"}));
    let e = err("{{ a }}", &v);
    assert!(e.contains("recursive loop detected in template"), "{e}");
}

#[test]
fn undefined_names_the_variable() {
    let v = vars(json!({"d": {"a": 1}}));
    assert_eq!(err("{{ foo }}", &v), "'foo' is undefined");
    assert_eq!(err("x {{ foo }}", &v), "'foo' is undefined");
    assert_eq!(
        err("{{ d.bar }}", &v),
        "object of type 'dict' has no attribute 'bar'"
    );
    assert_eq!(err("{{ foo | upper }}", &v), "'foo' is undefined");
    let e = Templar::new().render_str("{{ foo }}", &v).unwrap_err();
    assert_eq!(e.exit_code, 2);
}

#[test]
fn default_handles_chained_undefined() {
    let v = vars(json!({"d": {"a": 1}}));
    assert_eq!(render("{{ a.b.c | default('x') }}", &v), json!("x"));
    assert_eq!(render("{{ d.x.y | default(5) }}", &v), json!(5));
    assert_eq!(render("{{ a.b is defined }}", &v), json!(false));
    assert_eq!(render("{{ d.a is defined }}", &v), json!(true));
    assert_eq!(render("{{ foo is undefined }}", &v), json!(true));
    assert_eq!(render("{{ '' | default('e', true) }}", &v), json!("e"));
    assert_eq!(render("{{ d | d('e') }}", &v), json!({"a": 1}));
    // A variable whose template is undefined is itself undefined.
    let v = vars(json!({"x": "{{ missing }}"}));
    assert_eq!(render("{{ x | default('dflt') }}", &v), json!("dflt"));
    assert_eq!(err("{{ x }}", &v), "'missing' is undefined");
}

#[test]
fn omit_is_a_placeholder() {
    let v = vars(json!({}));
    assert_eq!(render("{{ omit }}", &v), json!(omit_token()));
    assert_eq!(render("{{ foo | default(omit) }}", &v), json!(omit_token()));
    assert!(omit_token().starts_with("__omit_place_holder__"));
}

#[test]
fn render_value_recurses_and_keeps_unsafe() {
    let v = vars(json!({"x": 1, "k": "key"}));
    let input = json!({"a": ["{{ x }}", "t{{ x }}"], "{{ k }}": {"__ansible_unsafe": "{{ x }}"}});
    let out = Templar::new().render_value(&input, &v).unwrap();
    assert_eq!(out, json!({"a": [1, "t1"], "key": "{{ x }}"}));
}

#[test]
fn expressions_and_conditions() {
    let t = Templar::new();
    let v = vars(json!({"n": 3, "s": "yes", "r": {"rc": 0}}));
    assert_eq!(t.eval_expr("n * 2", &v).unwrap(), json!(6));
    assert!(t.eval_condition("n == 3", &v).unwrap());
    assert!(!t.eval_condition("n is not defined", &v).unwrap());
    assert!(t.eval_condition("{{ n > 1 }}", &v).unwrap());
    let e = t.eval_condition("s", &v).unwrap_err();
    assert!(
        e.message.contains("must have a boolean result"),
        "{}",
        e.message
    );
    assert!(e.message.contains("'str'"), "{}", e.message);
    let e = t.eval_condition("missing == 1", &v).unwrap_err();
    assert_eq!(e.message, "'missing' is undefined");
    assert!(t
        .eval_conditions(&[json!(true), json!("n > 2")], &v)
        .unwrap());
    assert!(!t
        .eval_conditions(&[json!("n > 2"), json!(false)], &v)
        .unwrap());
    assert!(t.eval_condition("s | bool", &v).unwrap());
}

#[test]
fn syntax_errors_say_so() {
    let e = err("{{ foo( }}", &vars(json!({})));
    assert!(e.starts_with("Syntax error in template"), "{e}");
    assert!(e.contains("{{ foo( }}"), "{e}");
    let e = err("a ${#arr[@]} b", &vars(json!({})));
    assert!(e.starts_with("Syntax error in template"), "{e}");
}

struct Hosts;
impl HostVarsSource for Hosts {
    fn host_names(&self) -> Vec<String> {
        vec!["web1".into(), "web2".into()]
    }
    fn host_vars(&self, host: &str) -> Option<Map<String, Value>> {
        let mut m = Map::new();
        m.insert("name".into(), json!(host));
        m.insert("greeting".into(), json!("hi {{ name }}"));
        Some(m)
    }
}

#[test]
fn hostvars_are_lazy_per_host() {
    let mut v = vars(json!({"name": "me"}));
    v.hostvars = Some(Arc::new(Hosts));
    assert_eq!(
        render("{{ hostvars['web1']['greeting'] }}", &v),
        json!("hi web1")
    );
    assert_eq!(render("{{ hostvars.web2.greeting }}", &v), json!("hi web2"));
    assert_eq!(render("{{ hostvars | list }}", &v), json!(["web1", "web2"]));
    assert_eq!(render("{{ vars['name'] }}", &v), json!("me"));
}

#[test]
fn template_files() {
    let t = Templar::new();
    let v = vars(json!({"items": ["a", "b"]}));
    let src = "{% for i in items %}\n- {{ i }}\n{% endfor %}\nend\n";
    let out = t
        .render_template_file(src, &v, &TemplateFileOptions::default())
        .unwrap();
    assert_eq!(out, "- a\n- b\nend\n");
    let opts = TemplateFileOptions {
        lstrip_blocks: true,
        newline_sequence: "\r\n".into(),
        ..Default::default()
    };
    let out = t
        .render_template_file("  {% if true %}\nx\n  {% endif %}\n", &v, &opts)
        .unwrap();
    assert_eq!(out, "x\r\n");
    let opts = TemplateFileOptions {
        variable_start_string: "[[".into(),
        variable_end_string: "]]".into(),
        ..Default::default()
    };
    let out = t
        .render_template_file("[[ items[0] ]] {{ x }}\n", &v, &opts)
        .unwrap();
    assert_eq!(out, "a {{ x }}\n");
}

#[test]
fn python_methods_work() {
    assert_eq!(text("{{ 'a,b'.split(',') | join('-') }}"), "a-b");
    assert_eq!(text("{{ 'abc'.startswith('a') }}!"), "True!");
    assert_eq!(text("{{ ' x '.strip() }}"), "x");
}

#[test]
fn native_types_match_ansible() {
    // Each case checked with ansible-core 2.19 (`type_debug` and `debug`).
    let v = vars(json!({
        "five": "{{ 5 }}",
        "s1": "{{ '1' }}",
        "cat": "{{ 1 }}{{ 2 }}",
        "lst": "{{ [1, 2] }}",
        "x": 3,
        "nested": {"a": "{{ x }}", "b": ["{{ x + 1 }}"]}
    }));
    assert_eq!(render("{{ five | type_debug }}", &v), json!("int"));
    assert_eq!(render("{{ s1 | type_debug }}", &v), json!("str"));
    assert_eq!(
        render("{{ cat | type_debug }} {{ cat }}", &v),
        json!("str 12")
    );
    assert_eq!(render("{{ lst | type_debug }}", &v), json!("list"));
    assert_eq!(render("{{ nested }}", &v), json!({"a": 3, "b": [4]}));
    assert_eq!(render("{{ nested.b[0] | type_debug }}", &v), json!("int"));
    assert_eq!(render("{{ '1' + '2' }}", &v), json!("12"));
    assert_eq!(render("{{ ('a', 'b') }}", &v), json!(["a", "b"]));
    assert_eq!(render("{{ [1, 2] + [3] }}", &v), json!([1, 2, 3]));
    assert_eq!(render("{{ 'a' if x > 2 else 'b' }}", &v), json!("a"));
    assert_eq!(render("{{ 1 }}{{ 2 }}", &v), json!("12"));
}

#[test]
fn default_elsewhere_does_not_hide_other_undefined() {
    let v = vars(json!({}));
    assert_eq!(
        err("{{ a.b | default('x') }} {{ typo | upper }}", &v),
        "'typo' is undefined"
    );
    assert_eq!(
        err("{{ a.b | default('x') }} {{ typo }}", &v),
        "'typo' is undefined"
    );
    assert_eq!(
        err("{{ a.b | default('x') }} {{ typo | length }}", &v),
        "'typo' is undefined"
    );
    assert_eq!(
        err(
            "{{ a.b | default('x') }} {{ typo | map('upper') | list }}",
            &v
        ),
        "'typo' is undefined"
    );
}

#[test]
fn fully_qualified_filter_names() {
    let v = vars(json!({"d": {"a": 1}}));
    assert_eq!(
        render("{{ d | ansible.builtin.to_json }}", &v),
        json!("{\"a\": 1}")
    );
    assert_eq!(
        render("{{ 'x' is ansible.builtin.match('x') }}", &v),
        json!(true)
    );
}

#[test]
fn containers_render_elements_lazily() {
    let v = vars(json!({
        "x": 2,
        "app": {"name": "web", "url": "{{ app_host }}/path", "port": "{{ x * 40 }}"},
        "l": ["{{ x }}", "{{ nope }}"],
        "loop": {"a": "{{ loop.b }}", "b": "{{ loop.a }}"}
    }));
    assert_eq!(render("{{ app.name }}", &v), json!("web"));
    assert_eq!(render("{{ app.port }}", &v), json!(80));
    assert_eq!(render("{{ app['port'] + 1 }}", &v), json!(81));
    assert_eq!(render("{{ l[0] }}", &v), json!(2));
    assert_eq!(render("{{ l | length }}", &v), json!(2));
    assert_eq!(render("{{ app.url | default('none') }}", &v), json!("none"));
    assert_eq!(err("{{ app.url }}", &v), "'app_host' is undefined");
    assert_eq!(err("{{ app }}", &v), "'app_host' is undefined");
    assert_eq!(err("{{ l }}", &v), "'nope' is undefined");
    assert!(err("{{ loop.a }}", &v).contains("recursive loop detected"));
    let ok = vars(json!({"x": 1, "d": {"k": ["{{ x }}", {"z": "{{ x + 1 }}"}]}}));
    assert_eq!(render("{{ d }}", &ok), json!({"k": [1, {"z": 2}]}));
    assert_eq!(
        render("{{ d | to_json }}", &ok),
        json!("{\"k\": [1, {\"z\": 2}]}")
    );
    assert_eq!(render("{{ d.k[-1].z }}", &ok), json!(2));
    assert_eq!(
        render("{{ d.k[1].items() | list }}", &ok),
        json!([["z", 2]])
    );
    assert_eq!(render("x{{ d }}", &ok), json!("x{'k': [1, {'z': 2}]}"));
    assert_eq!(render("{{ d.k == [1, {'z': 2}] }}", &ok), json!(true));
}

#[test]
fn dates() {
    let v = vars(json!({}));
    let year = render("{{ now(fmt='%Y') }}", &v);
    assert_eq!(year.as_str().unwrap().len(), 4);
    assert_eq!(render("{{ now().year > 2000 }}", &v), json!(true));
    assert_eq!(
        render("{{ now(utc=true).strftime('%Y') }}", &v)
            .as_str()
            .unwrap()
            .len(),
        4
    );
    let shown = render("x{{ now() }}", &v);
    assert_eq!(shown.as_str().unwrap().len(), 27, "{shown}");
    assert_eq!(
        render(
            "{{ '%Y-%m-%d %H:%M' | strftime(86400 + 3600, utc=true) }}",
            &v
        ),
        json!("1970-01-02 01:00")
    );
}

#[test]
fn templar_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Templar>();
    assert_send_sync::<Vars>();
    let t = Templar::new();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                let v = vars(json!({"i": i, "s": "{{ i * 2 }}"}));
                for _ in 0..200 {
                    assert_eq!(t.render_str("{{ s + 1 }}", &v).unwrap(), json!(i * 2 + 1));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn template_file_options_keep_undefined_rules() {
    let t = Templar::new();
    let v = vars(json!({}));
    let opts = TemplateFileOptions {
        trim_blocks: false,
        lstrip_blocks: true,
        ..Default::default()
    };
    let out = t
        .render_template_file("{{ a.b | default('x') }}\n", &v, &opts)
        .unwrap();
    assert_eq!(out, "x\n");
    let e = t
        .render_template_file("{{ a.b | default('x') }}{{ typo }}\n", &v, &opts)
        .unwrap_err();
    assert_eq!(e.message, "'typo' is undefined");
}

#[test]
fn more_python_methods() {
    for (t, want) in [
        ("{{ '{}-{}'.format('a', 1) }}", json!("a-1")),
        ("{{ 'a b'.split() }}", json!(["a", "b"])),
        ("{{ 'abc'.replace('b', 'x') }}", json!("axc")),
        ("{{ 'Abc'.lower() }}", json!("abc")),
        ("{{ 'abc'.endswith('c') }}", json!(true)),
        ("{{ ','.join(['a', 'b']) }}", json!("a,b")),
        ("{{ {'a': 1}.get('a') }}", json!(1)),
        ("{{ {'a': 1}.get('b', 2) }}", json!(2)),
        ("{{ {'a': 1}.keys() | list }}", json!(["a"])),
        ("{{ {'a': 1}.values() | list }}", json!([1])),
        ("{{ [1, 2, 1].count(1) }}", json!(2)),
        ("{{ [1, 2].index(2) }}", json!(1)),
        ("{{ 'abc'.find('c') }}", json!(2)),
        ("{{ ' x '.rstrip() }}", json!(" x")),
        ("{{ 'a'.isdigit() }}", json!(false)),
        ("{{ 'ab'.upper() }}", json!("AB")),
    ] {
        assert_eq!(render(t, &vars(json!({}))), want, "{t}");
    }
}

#[test]
fn undef_global() {
    let v = vars(json!({}));
    assert_eq!(render("{{ undef() | default('d') }}", &v), json!("d"));
    assert_eq!(render("{{ undef('why') is undefined }}", &v), json!(true));
}

#[test]
fn subscript_errors_name_the_key() {
    // Messages as ansible-core 2.19 words them.
    let v = vars(json!({"l": [1], "d": {"a": {"b": 1}}}));
    assert_eq!(
        err("{{ l[5] }}", &v),
        "object of type 'list' has no attribute 5"
    );
    assert_eq!(
        err("{{ d['x'] }}", &v),
        "object of type 'dict' has no attribute 'x'"
    );
    assert_eq!(
        err("x {{ d.a['c'] }}", &v),
        "object of type 'dict' has no attribute 'c'"
    );
}

#[test]
fn templated_keys_in_variables() {
    let v = vars(json!({"k": "name", "d": {"{{ k }}": 1, "plain": 2}}));
    assert_eq!(render("{{ d.name }}", &v), json!(1));
    assert_eq!(render("{{ d.plain }}", &v), json!(2));
    assert_eq!(render("{{ d | list }}", &v), json!(["name", "plain"]));
    assert_eq!(render("{{ d }}", &v), json!({"name": 1, "plain": 2}));
}

#[test]
fn vault_values_are_a_clear_error_when_read() {
    let mut m = Map::new();
    m.insert(
        "secret".into(),
        json!({"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n3130\n"}),
    );
    m.insert("plain".into(), json!("ok"));
    let v = Vars::new(m);
    let t = Templar::new();
    // Unread vaulted values do no harm.
    assert_eq!(t.render_str("{{ plain }}", &v).unwrap(), json!("ok"));
    let e = t.render_str("x {{ secret }}", &v).unwrap_err();
    assert!(
        e.message.contains("no vault secrets found"),
        "{}",
        e.message
    );
    assert!(e.message.contains("'secret'"), "{}", e.message);
}
