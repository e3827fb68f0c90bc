//! `meta` tasks with `when`, as ansible-core's linear strategy runs them:
//! a header per host, `skipping` (not counted) where the condition is
//! false, `flush_handlers` only for the hosts whose condition holds, and
//! the play-wide actions decided by the first host.

mod exec_support;

use exec_support::run_with;
use herd::report::Event;

const TWO: &str = "[web]\nh1 ansible_connection=local\nh2 ansible_connection=local\n";

fn meta_skips(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MetaSkipped { host, result } => Some((
                host.clone(),
                result
                    .get("skip_reason")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn flush_handlers_honours_when_per_host() {
    let r = run_with(
        &[(
            "playbook.yml",
            "- hosts: web\n  gather_facts: false\n  tasks:\n\
             \x20   - command: 'true'\n      changed_when: true\n      notify: h\n\
             \x20   - meta: flush_handlers\n      when: inventory_hostname == 'h1'\n\
             \x20   - debug: msg=after\n  handlers:\n\
             \x20   - name: h\n      debug: msg=handled\n",
        )],
        TWO,
        |_| {},
    );
    assert_eq!(r.result.exit_code, 0, "{:?}", r.error);
    // h1's handler ran at the flush, before `after`; h2's at the end.
    assert_eq!(r.msgs("h1"), vec!["handled", "after"]);
    assert_eq!(r.msgs("h2"), vec!["after", "handled"]);
    assert_eq!(
        meta_skips(&r.events),
        vec![(
            "h2".to_string(),
            "flush_handlers conditional evaluated to False, not running handlers for h2"
                .to_string()
        )]
    );
    // A header per host.
    let headers = r.titles().iter().filter(|t| *t == "meta").count();
    assert_eq!(headers, 2);
    // Not counted in the recap.
    assert_eq!(r.stats("h2").skipped, 0);
}

#[test]
fn end_play_is_decided_by_the_first_host() {
    let pb = |cond: &str| {
        format!(
            "- hosts: web\n  gather_facts: false\n  tasks:\n\
             \x20   - meta: end_play\n      when: {cond}\n\
             \x20   - debug: msg=still\n"
        )
    };
    // False on h1: the play goes on for both, though it holds on h2.
    let r = run_with(
        &[("playbook.yml", &pb("inventory_hostname == 'h2'"))],
        TWO,
        |_| {},
    );
    assert_eq!(r.msgs("h1"), vec!["still"]);
    assert_eq!(r.msgs("h2"), vec!["still"]);
    assert_eq!(
        meta_skips(&r.events),
        vec![(
            "h1".to_string(),
            "end_play conditional evaluated to False, continuing play".to_string()
        )]
    );
    // True on h1: the play ends for both.
    let r = run_with(
        &[("playbook.yml", &pb("inventory_hostname == 'h1'"))],
        TWO,
        |_| {},
    );
    assert!(r.msgs("h1").is_empty());
    assert!(r.msgs("h2").is_empty());
    assert!(meta_skips(&r.events).is_empty());
}
