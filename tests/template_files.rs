//! Whole template files rendered as Ansible's `template` module renders
//! them; each expected text was produced by ansible-core 2.19 from the
//! same template and variables.

use herd::template::{Templar, TemplateFileOptions, Vars};
use serde_json::json;

fn render(src: &str, vars: serde_json::Value) -> String {
    let vars = Vars::new(vars.as_object().cloned().unwrap_or_default());
    Templar::new()
        .render_template_file(src, &vars, &TemplateFileOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn loops_macros_whitespace_and_printing() {
    let vars = json!({
        "ansible_managed": "Ansible managed",
        "d": {"b": [1, 2], "a": "é x", "c": {"x": 1}, "e": "yes", "f": null, "g": "a: b",
              "h": 1.5, "i": true, "j": "", "k": "123", "l": [], "m": {}}
    });
    assert_eq!(render(TEMPLATE_1, vars), EXPECTED_1);
}

#[test]
fn jinja_builtin_filters_and_tests() {
    let vars = json!({"users": [
        {"name": "ann", "grp": "a", "n": 1},
        {"name": "bob", "grp": "b", "n": 5},
        {"name": "cid", "grp": "a", "n": 3}
    ]});
    assert_eq!(render(TEMPLATE_2, vars), EXPECTED_2);
}

#[test]
fn jinja2_override_line() {
    // As ansible-core 2.19 renders it: the override line is dropped,
    // lstrip_blocks is on and trim_blocks off.
    let src = "#jinja2: lstrip_blocks: True, trim_blocks: False\n  {% if true %}\nx\n  {% endif %}\nend\n";
    assert_eq!(render(src, json!({})), "\nx\n\nend\n");
    let src = "#jinja2: variable_start_string: '[%', variable_end_string: '%]'\n[% a %] {{ a }}\n";
    assert_eq!(render(src, json!({"a": 1})), "1 {{ a }}\n");
    let bad = Templar::new().render_template_file(
        "#jinja2: nope: 1\nx",
        &Vars::default(),
        &TemplateFileOptions::default(),
    );
    assert!(bad
        .unwrap_err()
        .message
        .contains("Invalid '#jinja2:' override key 'nope'"));
}

const TEMPLATE_1: &str = r####"# {{ ansible_managed | default('managed') }}
{% set greeting = 'hello' %}
{% macro row(k, v) -%}
{{ k }} = {{ v }}
{%- endmacro %}
[main]
{% for k, v in d.items() %}
{{ row(k, v) }}
{% endfor %}
{% if d.b is defined and d.b | length > 1 %}
  b has {{ d.b | length }} items
{% else %}
  b small
{% endif %}
    {%- for i in range(3) %}
item{{ i }}{% if not loop.last %},{% endif %}
    {%- endfor %}

{{ greeting | upper }}  {# trailing comment #}
{% raw %}{{ not rendered }}{% endraw %}
list: {{ d.b }}
dict: {{ d.c }}
none: [{{ none }}] true: {{ true }}
{% for x in [] %}never{% else %}empty loop{% endfor %}
{{ "%-5s|" | format("ab") }}
{{ d | dictsort | first }}
{{ ns.value if ns is defined else 'no ns' }}
{% set ns = namespace(value=1) %}{% for i in [1,2] %}{% set ns.value = ns.value + i %}{% endfor %}{{ ns.value }}
{{ d.a ~ '-' ~ d.h }}
{{ [1,2,3] | map('string') | join(',') }}
end
"####;

const EXPECTED_1: &str = r####"# Ansible managed
[main]
b = [1, 2]
a = é x
c = {'x': 1}
e = yes
f = 
g = a: b
h = 1.5
i = True
j = 
k = 123
l = []
m = {}
  b has 2 items
item0,item1,item2
HELLO  {{ not rendered }}list: [1, 2]
dict: {'x': 1}
none: [] true: True
empty loopab   |
['a', 'é x']
no ns
4
é x-1.5
1,2,3
end
"####;

const TEMPLATE_2: &str = r####"{% for g in users | groupby('grp') %}
[{{ g.grouper }}]
{% for u in g.list %}
  {{ loop.index }}/{{ loop.length }} {{ u.name }}{{ loop.cycle(' odd', ' even') }}
{% endfor %}
{% endfor %}
{{ "a long sentence that should be truncated somewhere" | truncate(20) }}
{{ ("word " * 20) | wordwrap(30) }}
{{ "<b>bold</b> text" | striptags }}
{{ 123456789 | filesizeformat }}
{{ {'class': 'x', 'id': 'y'} | xmlattr }}
{%- if true +%}
  kept
{%- endif %}
{{ users | selectattr('grp', 'eq', 'a') | map(attribute='name') | list }}
{{ users | sum(attribute='n') }}
{{ users | map(attribute='n') | max }}
{{ (users | first).name | title }}
{{ "x" if users else "y" }}
{{ users | length is divisibleby 3 }}
{{ 'abc' is lower }} {{ 5 is odd }} {{ 4 is even }} {{ none is sameas none }}
"####;

const EXPECTED_2: &str = r####"[a]
  1/2 ann odd
  2/2 cid even
[b]
  1/1 bob odd
a long sentence...
word word word word word word
word word word word word word
word word word word word word
word word
bold text
123.5 MB
 class="x" id="y"
  kept['ann', 'cid']
9
5
Ann
x
True
True True True True
"####;
