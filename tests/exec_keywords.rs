//! The executor, keyword by keyword, on the local connection.

mod exec_support;

use exec_support::{run, run_with, LOCAL2};
use herd::report::{Event, Status};
use serde_json::json;

#[test]
fn debug_set_fact_assert_and_stats() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  vars:
    x: 1
  tasks:
    - set_fact:
        y: "{{ x + 1 }}"
    - assert:
        that:
          - y == 2
          - inventory_hostname in groups['web']
        success_msg: fine
    - debug:
        msg: "y is {{ y }}"
    - debug:
        var: y
    - debug:
        var: rc
      vars:
        rc: 1
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["fine", "y is 2"]);
    // A shown variable named rc does not fail debug, as in Ansible.
    let last = r.results("h2").pop().unwrap();
    assert_eq!(last.2["rc"], json!(1));
    let y = r.results("h2").into_iter().rev().nth(1).unwrap();
    assert_eq!(y.2["y"], json!(2));
    let s = r.stats("h1");
    assert_eq!((s.ok, s.changed, s.failed), (5, 0, 0));
}

#[test]
fn failing_assert_and_fail_give_exit_code_2() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - assert:
        that: inventory_hostname == 'h1'
        fail_msg: "not h1"
    - debug: msg=after
"#);
    assert_eq!(r.result.exit_code, 2);
    let h2 = r.results("h2");
    assert_eq!(h2[0].1, Status::Failed);
    assert_eq!(h2[0].2["msg"], json!("not h1"));
    // A failed host leaves the play.
    assert_eq!(h2.len(), 1);
    assert_eq!(r.msgs("h1"), vec!["All assertions passed", "after"]);
    assert_eq!(r.stats("h2").failed, 1);
}

#[test]
fn when_per_item_and_registered_loop_results() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - command: "echo {{ item }}"
      loop: [1, 2, 3]
      when: item != 2
      register: out
    - debug:
        msg: "{{ out.results | map(attribute='stdout', default='-') | list }} {{ out.results[1].skipped }} {{ out.results[0].ansible_loop_var }}"
"#);
    assert_eq!(r.result.exit_code, 0);
    assert_eq!(r.msgs("h1"), vec!["['1', '-', '3'] True item"]);
    let items: Vec<_> = r
        .results("h1")
        .into_iter()
        .filter(|x| x.3.is_some())
        .map(|x| (x.1, x.3.unwrap()))
        .collect();
    assert_eq!(
        items,
        vec![
            (Status::Changed, "1".to_string()),
            (Status::Skipped, "2".to_string()),
            (Status::Changed, "3".to_string())
        ]
    );
}

#[test]
fn with_lookups_and_loop_control() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - set_fact:
        acc: "{{ (acc | default([])) + [item] }}"
      with_items:
        - [a, b]
        - c
    - set_fact:
        d: "{{ (d | default([])) + [item.key ~ '=' ~ item.value] }}"
      with_dict: {x: 1, y: 2}
    - set_fact:
        s: "{{ (s | default([])) + [item] }}"
      with_sequence: start=1 end=3
    - set_fact:
        t: "{{ (t | default([])) + [item.0 ~ item.1] }}"
      with_together: [[a, b], [1, 2]]
    - set_fact:
        n: "{{ (n | default([])) + [item[0] ~ item[1]] }}"
      with_nested: [[a, b], [1, 2]]
    - set_fact:
        e: "{{ (e | default([])) + [i ~ ':' ~ idx ~ ':' ~ ansible_loop.first ~ ':' ~ ansible_loop.revindex] }}"
      loop: [p, q]
      loop_control:
        loop_var: i
        index_var: idx
        extended: true
        label: "L{{ i }}"
    - debug:
        msg: "{{ acc }} {{ d }} {{ s }} {{ t }} {{ n }} {{ e }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(
        r.msgs("h1"),
        vec!["['a', 'b', 'c'] ['x=1', 'y=2'] ['1', '2', '3'] ['a1', 'b2'] ['a1', 'a2', 'b1', 'b2'] ['p:0:True:2', 'q:1:False:1']"]
    );
    let labels: Vec<_> = r
        .results("h1")
        .into_iter()
        .filter_map(|x| x.3)
        .filter(|l| l.starts_with('L'))
        .collect();
    assert_eq!(labels, vec!["Lp", "Lq"]);
}

#[test]
fn loop_over_a_non_list_fails_the_host() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - debug: msg={{ item }}
      loop: "{{ 'text' }}"
"#);
    assert_eq!(r.result.exit_code, 2);
    let msg = r.results("h1")[0].2["msg"].as_str().unwrap().to_string();
    assert!(msg.contains("Invalid data passed to 'loop'"), "{msg}");
}

#[test]
fn undefined_variable_names_it_and_the_place() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - debug:
        msg: "{{ nosuchvar }}"
"#);
    assert_eq!(r.result.exit_code, 2);
    let msg = r.results("h1")[0].2["msg"].as_str().unwrap().to_string();
    // ansible-core 2.19's words; the place is in the printed error.
    assert_eq!(
        msg,
        "Task failed: Finalization of task args for 'ansible.builtin.debug' failed: \
         Error while resolving value for 'msg': 'nosuchvar' is undefined"
    );
}

#[test]
fn changed_when_failed_when_ignore_errors() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - command: echo hi
      register: r
      changed_when: false
    - command: "false"
      register: f
      failed_when: f.rc != 1
    - command: echo x
      register: g
      failed_when: "'x' in g.stdout"
      ignore_errors: true
    - debug: msg="{{ r.changed }} {{ f.failed }} {{ g.failed }} {{ g.failed_when_result }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["False False True True"]);
    let s = r.stats("h1");
    // An ignored failure that changed something counts the change, as
    // ansible-playbook does.
    assert_eq!((s.ok, s.changed, s.ignored, s.failed), (4, 2, 1, 0));
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::HostResult { ignored: true, .. })));
}

#[test]
fn until_retries_counts_attempts() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - shell: "echo x >> {{ dir }}/count; wc -l < {{ dir }}/count"
      register: c
      until: c.stdout | int >= 3
      retries: 5
      delay: 0
    - debug: msg="{{ c.attempts }}"
    - command: "false"
      register: never
      until: never.rc == 0
      retries: 1
      delay: 0
      ignore_errors: true
    - debug: msg="{{ never.attempts }} {{ never.failed }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    // Out of retries, ansible-core registers one attempt fewer than it
    // made (2 here); run conformance case 03 checks it against ansible.
    assert_eq!(r.msgs("h1"), vec!["3", "1 True"]);
    let retries = r
        .events
        .iter()
        .filter(|e| matches!(e, Event::Retrying { .. }))
        .count();
    assert_eq!(retries, 3);
}

#[test]
fn handlers_listen_flush_order_and_once() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - command: echo a
      notify: second
    - command: echo b
      notify: [first, topic]
    - command: echo c
      notify: first
    - meta: flush_handlers
    - debug: msg=after-flush
    - command: echo d
      changed_when: false
      notify: first
  handlers:
    - name: first
      debug: msg=first
    - name: second
      debug: msg=second
    - name: listener
      debug: msg=listener
      listen: topic
"#);
    assert_eq!(r.result.exit_code, 0);
    // Definition order, once each, at the flush; an unchanged task notifies
    // nothing.
    assert_eq!(
        r.msgs("h1"),
        vec!["first", "second", "listener", "after-flush"]
    );
}

#[test]
fn handlers_do_not_run_on_failed_hosts_unless_forced() {
    let pb = r#"
- hosts: h1
  gather_facts: false
  tasks:
    - command: echo a
      notify: h
    - fail: msg=stop
  handlers:
    - name: h
      debug: msg=handler
"#;
    let r = run(pb);
    assert!(!r.msgs("h1").contains(&"handler".to_string()));
    let r = run_with(&[("playbook.yml", pb)], LOCAL2, |o| o.force_handlers = true);
    assert!(r.msgs("h1").contains(&"handler".to_string()));
    assert_eq!(r.result.exit_code, 2);
}

#[test]
fn block_rescue_always() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - block:
        - name: may fail
          command: "{{ 'false' if inventory_hostname == 'h1' else 'true' }}"
        - debug: msg=not-after-failure
      rescue:
        - debug: msg="rescued {{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}"
      always:
        - debug: msg=always
    - debug: msg=end
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["rescued may fail rc=1", "always", "end"]);
    assert_eq!(r.msgs("h2"), vec!["not-after-failure", "always", "end"]);
    let s = r.stats("h1");
    assert_eq!((s.failed, s.rescued), (0, 1));
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::Rescued { host } if host == "h1")));
}

#[test]
fn always_runs_and_the_host_stays_failed_without_rescue() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - block:
        - fail: msg=x
      always:
        - debug: msg=always
    - debug: msg=never
"#);
    assert_eq!(r.result.exit_code, 2);
    assert_eq!(r.msgs("h1"), vec!["always"]);
}

#[test]
fn tags_select_tasks() {
    let pb = r#"
- hosts: h1
  gather_facts: false
  tasks:
    - debug: msg=a
      tags: [a]
    - debug: msg=b
      tags: [b]
    - debug: msg=always
      tags: [always]
    - debug: msg=never
      tags: [never]
    - block:
        - debug: msg=inherited
      tags: [a]
"#;
    let r = run_with(&[("playbook.yml", pb)], LOCAL2, |o| {
        o.tags = herd::tags::TagSelection::new(&["a".into()], &[]);
    });
    assert_eq!(r.msgs("h1"), vec!["a", "always", "inherited"]);
    let r = run(pb);
    assert_eq!(r.msgs("h1"), vec!["a", "b", "always", "inherited"]);
}

#[test]
fn check_mode_skips_commands() {
    let pb = r#"
- hosts: h1
  gather_facts: false
  tasks:
    - command: "touch {{ dir }}/a"
    - command: "touch {{ dir }}/b"
      check_mode: false
    - debug: msg="{{ ansible_check_mode }}"
"#;
    let r = run_with(&[("playbook.yml", pb)], LOCAL2, |o| o.check = true);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert!(!r.path("a").exists());
    assert!(r.path("b").exists());
    assert_eq!(r.results("h1")[0].1, Status::Skipped);
    assert!(matches!(
        r.events
            .iter()
            .find(|e| matches!(e, Event::TaskStart { .. })),
        Some(Event::TaskStart {
            check_mode: true,
            ..
        })
    ));
    assert_eq!(r.msgs("h1"), vec!["true"]);
}

#[test]
fn no_log_censors_results() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - command: echo secret
      no_log: true
      register: s
    - debug: msg="{{ s.stdout }}"
"#);
    let first = &r.results("h1")[0];
    assert_eq!(
        serde_json::Value::Object(first.2.clone()),
        json!({"changed": true, "censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"})
    );
    // The registered value itself is not censored.
    assert_eq!(r.msgs("h1"), vec!["secret"]);
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::HostResult { no_log: true, .. })));
}

#[test]
fn environment_and_task_vars() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  environment:
    A: play
  tasks:
    - shell: 'echo "$A $B"'
      environment:
        B: "{{ b }}"
      vars:
        b: task
      register: o
    - debug: msg="{{ o.stdout }}"
"#);
    assert_eq!(r.msgs("h1"), vec!["play task"]);
}

#[test]
fn omit_drops_arguments() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - debug:
        msg: "x"
        verbosity: "{{ omit }}"
"#);
    assert_eq!(r.msgs("h1"), vec!["x"]);
}

#[test]
fn unknown_module_fails_the_task() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - ansible.builtin.iptables:
        chain: INPUT
        policy: ACCEPT
"#);
    assert_eq!(r.result.exit_code, 2);
    let msg = r.results("h1")[0].2["msg"].as_str().unwrap().to_string();
    assert!(msg.contains("is not available in herd yet"), "{msg}");
}

#[test]
fn gathered_facts_are_variables() {
    let r = run(r#"
- hosts: h1
  tasks:
    - debug: msg="{{ ansible_facts.system }} {{ ansible_system }} {{ ansible_hostname | length > 0 }} {{ ansible_user_id == ansible_env.USER | default(ansible_user_id) }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.titles()[0], "Gathering Facts");
    assert_eq!(r.msgs("h1"), vec!["Linux Linux True True"]);
}

#[test]
fn timeout_throttle_and_debug_verbosity() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - command: sleep 5
      timeout: 1
      ignore_errors: true
      register: t
    - shell: "echo {{ inventory_hostname }} >> {{ dir }}/order"
      throttle: 1
    - debug:
        msg: hidden
        verbosity: 2
    - debug: msg="{{ t.msg }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(
        r.msgs("h1"),
        vec!["Task failed: Timed out after 1 second(s)."]
    );
    let skipped = r
        .results("h1")
        .into_iter()
        .filter(|x| x.1 == Status::Skipped)
        .count();
    assert_eq!(skipped, 1);
    let order = std::fs::read_to_string(r.path("order")).unwrap();
    assert_eq!(order.lines().count(), 2);
}

#[test]
fn include_results_count_as_ok() {
    let r = exec_support::run_with(
        &[
            (
                "playbook.yml",
                "- hosts: h1\n  gather_facts: false\n  tasks:\n    - include_tasks: inc.yml\n    - include_tasks: inc.yml\n      when: false\n",
            ),
            ("inc.yml", "- debug: msg=inc\n"),
        ],
        exec_support::LOCAL2,
        |_| {},
    );
    let s = r.stats("h1");
    // As ansible-playbook: the include is ok, the skipped one skipped.
    assert_eq!((s.ok, s.skipped), (2, 1));
    assert!(r.events.iter().any(|e| matches!(
        e,
        Event::Included { file, hosts, .. } if file.ends_with("inc.yml") && hosts == &["h1".to_string()]
    )));
}

#[test]
fn fileglob_and_subelements_loops() {
    let r = exec_support::run_with(
        &[
            (
                "playbook.yml",
                r#"
- hosts: h1
  gather_facts: false
  vars:
    users:
      - name: a
        keys: [k1, k2]
      - name: b
        keys: [k3]
  tasks:
    - set_fact:
        globbed: "{{ (globbed | default([])) + [item | basename] }}"
      with_fileglob: "{{ dir }}/files/*.txt"
    - set_fact:
        pairs: "{{ (pairs | default([])) + [item.0.name ~ item.1] }}"
      with_subelements:
        - "{{ users }}"
        - keys
    - debug: msg="{{ globbed | sort }} {{ pairs }}"
"#,
            ),
            ("files/one.txt", "1"),
            ("files/two.txt", "2"),
            ("files/skip.md", "x"),
        ],
        exec_support::LOCAL2,
        |_| {},
    );
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(
        r.msgs("h1"),
        vec!["['one.txt', 'two.txt'] ['ak1', 'ak2', 'bk3']"]
    );
}

#[test]
fn break_when_and_no_log_labels() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - command: "echo {{ item }}"
      loop: [1, 2, 3, 4]
      register: out
      loop_control:
        break_when:
          - out.stdout == '2'
    - debug: msg="{{ out.results | length }}"
    - debug: msg="{{ item }}"
      loop: [secret]
      no_log: true
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["2"]);
    let labels: Vec<_> = r.results("h1").into_iter().filter_map(|x| x.3).collect();
    assert_eq!(labels, vec!["1", "2", "(censored due to no_log)"]);
}
