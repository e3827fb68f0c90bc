//! `k=v` argument text split exactly as Ansible's `parse_kv` splits it.
//!
//! `fixtures/playbook/parse_kv_ansible.json` holds `[text, free_form,
//! result]` triples produced by ansible-core 2.19's own `parse_kv` (a null
//! result: Ansible raises an error).

use herd::playbook::parse_kv;
use serde_json::Value;

#[test]
fn parse_kv_matches_ansible() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/playbook/parse_kv_ansible.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    let cases: Vec<(String, bool, Value)> = serde_json::from_str(&text).expect("json");
    let mut failures = Vec::new();
    for (input, free_form, expected) in cases {
        let got = match parse_kv(&input, free_form) {
            Ok(m) => Value::Object(m),
            Err(_) => Value::Null,
        };
        if got != expected {
            failures.push(format!(
                "{input:?} ({free_form}): got {got}, Ansible {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
