//! Play-level behaviour: strategies, serial, failures across hosts,
//! delegation, includes, meta, inventory changes, exit codes.

mod exec_support;

use exec_support::{run, run_with, LOCAL2};
use herd::report::{Event, Status};

const LOCAL4: &str = "[web]\nh1 ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\nh4 ansible_connection=local\n";

fn play_starts(r: &exec_support::Run) -> Vec<Vec<String>> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::PlayStart { hosts, .. } => Some(hosts.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn serial_batches_and_max_fail_percentage() {
    let pb = r#"
- hosts: web
  gather_facts: false
  serial: 2
  max_fail_percentage: 49
  tasks:
    - fail: msg=x
      when: inventory_hostname == 'h1'
    - debug: msg=ok
- hosts: web
  gather_facts: false
  tasks:
    - debug: msg=second-play
"#;
    let r = run_with(&[("playbook.yml", pb)], LOCAL4, |_| {});
    // 1 of 2 failed in the first batch: 50% > 49%, the playbook stops.
    assert_eq!(play_starts(&r), vec![vec!["h1", "h2"]]);
    assert!(r.msgs("h3").is_empty());
    assert!(!r.msgs("h2").contains(&"ok".to_string()));
    assert_eq!(r.result.exit_code, 2);
    // Without the limit every batch runs.
    let r = run_with(
        &[(
            "playbook.yml",
            &pb.replace("max_fail_percentage: 49", "max_fail_percentage: 50"),
        )],
        LOCAL4,
        |_| {},
    );
    assert_eq!(
        play_starts(&r)[..2],
        [
            vec!["h1".to_string(), "h2".to_string()],
            vec!["h3".to_string(), "h4".to_string()]
        ]
    );
    assert_eq!(r.msgs("h4"), vec!["ok", "second-play"]);
    // A failed host is left out of later plays.
    assert!(!play_starts(&r)[2].contains(&"h1".to_string()));
}

#[test]
fn any_errors_fatal_stops_every_host() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - fail: msg=x
      when: inventory_hostname == 'h1'
    - debug: msg=after
"#);
    assert_eq!(r.result.exit_code, 2);
    assert!(r.msgs("h2").is_empty());
}

#[test]
fn a_batch_where_every_host_failed_ends_the_playbook() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - fail: msg=x
- hosts: web
  gather_facts: false
  tasks:
    - debug: msg=second-play
"#);
    assert_eq!(r.result.exit_code, 2);
    assert_eq!(play_starts(&r).len(), 1);
}

#[test]
fn run_once_runs_on_the_first_host_and_shares_the_result() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - command: "echo {{ inventory_hostname }}"
      run_once: true
      register: once
    - debug: msg="{{ once.stdout }}"
"#);
    assert_eq!(r.results("h2")[0].0, "debug");
    assert_eq!(r.msgs("h1"), vec!["h1"]);
    assert_eq!(r.msgs("h2"), vec!["h1"]);
}

#[test]
fn delegate_to_localhost() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - command: "echo {{ inventory_hostname }}"
      delegate_to: localhost
      register: o
    - debug: msg="{{ o.stdout }}"
    - local_action: command echo local
      register: l
    - debug: msg="{{ l.stdout }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h2"), vec!["h2", "local"]);
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::HostResult { delegated_to: Some(d), .. } if d == "localhost")));
}

#[test]
fn free_strategy_runs_every_host_to_the_end() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  strategy: free
  tasks:
    - fail: msg=x
      when: inventory_hostname == 'h1'
    - debug: msg=one
    - debug: msg=two
"#);
    assert_eq!(r.result.exit_code, 2);
    assert_eq!(r.msgs("h2"), vec!["one", "two"]);
    assert!(r.msgs("h1").is_empty());
}

#[test]
fn include_tasks_and_include_role_at_run_time() {
    let files = [
        (
            "playbook.yml",
            r#"
- hosts: web
  gather_facts: false
  tasks:
    - include_tasks: "{{ inventory_hostname }}.yml"
    - include_tasks: inc.yml
      loop: [a, b]
      loop_control:
        loop_var: word
    - include_role:
        name: r
      vars:
        greeting: hi
"#,
        ),
        ("h1.yml", "- debug: msg=file-h1\n"),
        ("h2.yml", "- debug: msg=file-h2\n"),
        ("inc.yml", "- debug: msg=\"inc {{ word }}\"\n"),
        (
            "roles/r/tasks/main.yml",
            "- debug: msg=\"role {{ greeting }} {{ d }}\"\n  notify: rh\n  changed_when: true\n",
        ),
        ("roles/r/defaults/main.yml", "d: default\n"),
        (
            "roles/r/handlers/main.yml",
            "- name: rh\n  debug: msg=role-handler\n",
        ),
    ];
    let r = run_with(&files, LOCAL2, |_| {});
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(
        r.msgs("h1"),
        vec!["file-h1", "inc a", "inc b", "role-handler"]
    );
    assert_eq!(
        r.msgs("h2"),
        vec!["file-h2", "inc a", "inc b", "role-handler"]
    );
    let role_result = r
        .results("h1")
        .into_iter()
        .find(|x| x.0 == "r : debug" || x.0.starts_with("r :"));
    assert!(role_result.is_some(), "{:?}", r.titles());
    assert_eq!(role_result.unwrap().2["msg"], "role hi default");
}

#[test]
fn a_missing_include_file_fails_the_host() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - include_tasks: nowhere.yml
    - debug: msg=after
"#);
    assert_eq!(r.result.exit_code, 2);
    assert!(r.msgs("h1").is_empty());
    assert_eq!(r.results("h1")[0].1, Status::Failed);
}

#[test]
fn meta_end_host_and_end_play() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - meta: end_host
      when: inventory_hostname == 'h1'
    - debug: msg=still
    - meta: end_play
    - debug: msg=never
- hosts: web
  gather_facts: false
  tasks:
    - debug: msg=next-play
"#);
    assert_eq!(r.result.exit_code, 0);
    assert_eq!(r.msgs("h1"), vec!["next-play"]);
    assert_eq!(r.msgs("h2"), vec!["still", "next-play"]);
}

#[test]
fn add_host_and_group_by() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - add_host:
        name: newhost
        groups: added
        ansible_connection: local
        color: blue
    - group_by:
        key: "kind_{{ inventory_hostname }}"
- hosts: added
  gather_facts: false
  tasks:
    - debug: msg="{{ inventory_hostname }} {{ color }} {{ groups['kind_h1'] }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("newhost"), vec!["newhost blue ['h1']"]);
}

#[test]
fn set_fact_and_register_are_visible_in_hostvars() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - set_fact:
        mine: "{{ inventory_hostname }}-fact"
- hosts: h1
  gather_facts: false
  tasks:
    - debug: msg="{{ hostvars['h2'].mine }}"
"#);
    assert_eq!(r.msgs("h1"), vec!["h2-fact"]);
}

#[test]
fn exit_code_4_for_an_unreachable_host_wins_over_failed() {
    let inv = "[web]\nh1 ansible_connection=local\nbad ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1\n";
    let pb = r#"
- hosts: web
  gather_facts: false
  tasks:
    - command: "{{ 'false' if inventory_hostname == 'h1' else 'true' }}"
    - debug: msg=x
"#;
    let r = run_with(&[("playbook.yml", pb)], inv, |_| {});
    assert_eq!(r.result.exit_code, 4, "{:?}", r.events);
    assert_eq!(r.stats("bad").unreachable, 1);
    assert_eq!(r.stats("h1").failed, 1);
    assert_eq!(r.results("bad")[0].1, Status::Unreachable);
}

#[test]
fn ignore_unreachable_keeps_going() {
    let inv = "[web]\nbad ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1\n";
    let pb = r#"
- hosts: web
  gather_facts: false
  tasks:
    - command: "true"
      ignore_unreachable: true
    - debug: msg=next
"#;
    let r = run_with(&[("playbook.yml", pb)], inv, |_| {});
    assert_eq!(r.msgs("bad"), vec!["next"]);
}

#[test]
fn include_vars_and_pause() {
    let files = [
        (
            "playbook.yml",
            r#"
- hosts: h1
  gather_facts: false
  tasks:
    - include_vars: vars/extra.yml
    - include_vars:
        file: vars/extra.yml
        name: ns
    - pause:
        seconds: 0
    - debug: msg="{{ color }} {{ ns.color }}"
"#,
        ),
        ("vars/extra.yml", "color: red\n"),
    ];
    let r = run_with(&files, LOCAL2, |_| {});
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["red red"]);
}

#[test]
fn start_at_task() {
    let pb = r#"
- hosts: h1
  gather_facts: false
  tasks:
    - debug: msg=one
    - name: second
      debug: msg=two
    - debug: msg=three
"#;
    let r = run_with(&[("playbook.yml", pb)], LOCAL2, |o| {
        o.start_at_task = Some("second".into())
    });
    assert_eq!(r.msgs("h1"), vec!["two", "three"]);
}

#[test]
fn roles_run_dependencies_first_with_params() {
    let files = [
        (
            "playbook.yml",
            r#"
- hosts: h1
  gather_facts: false
  pre_tasks:
    - debug: msg=pre
  roles:
    - role: app
      app_port: 80
  tasks:
    - debug: msg=task
  post_tasks:
    - debug: msg=post
"#,
        ),
        ("roles/base/tasks/main.yml", "- debug: msg=base\n"),
        ("roles/app/meta/main.yml", "dependencies: [base]\n"),
        (
            "roles/app/tasks/main.yml",
            "- debug: msg=\"app {{ app_port }}\"\n",
        ),
    ];
    let r = run_with(&files, LOCAL2, |_| {});
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["pre", "base", "app 80", "task", "post"]);
}

#[test]
fn groups_change_within_the_play_and_outer_rescue_sees_inner_failure() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - group_by:
        key: made
    - debug: msg="{{ groups['made'] }}"
    - block:
        - block:
            - name: inner
              fail: msg=deep
          always:
            - debug: msg=inner-always
      rescue:
        - debug: msg="outer {{ ansible_failed_task.name }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(
        r.msgs("h1"),
        vec!["[\"h1\"]", "inner-always", "outer inner"]
    );
}

#[test]
fn delegate_facts_and_cacheable_facts() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - set_fact:
        where: here
      delegate_to: h2
      delegate_facts: true
    - set_fact:
        kept: yes
        cacheable: true
    - debug: msg="{{ hostvars['h2'].where }} {{ where | default('none') }} {{ ansible_facts.kept }}"
    - meta: clear_facts
    - debug: msg="{{ ansible_facts.kept | default('cleared') }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["here none True", "cleared"]);
}

#[test]
fn delegate_to_the_loop_item_and_facts_in_hostvars() {
    let r = run(r#"
- hosts: web
  gather_facts: false
  tasks:
    - set_fact:
        seen_by: "{{ inventory_hostname }}"
      delegate_to: "{{ item }}"
      delegate_facts: true
      loop: "{{ groups['web'] }}"
      when: inventory_hostname == 'h1'
    - setup:
      when: inventory_hostname == 'h2'
- hosts: h1
  gather_facts: false
  tasks:
    - debug: msg="{{ hostvars['h2'].seen_by }} {{ hostvars['h2'].ansible_facts.system }}"
"#);
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["h1 Linux"]);
    let delegated: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                delegated_to: Some(d),
                item: Some(_),
                host,
                ..
            } if host == "h1" => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(delegated, vec!["h1", "h2"]);
}

#[test]
fn handlers_flush_after_pre_tasks_after_roles_and_tasks_and_after_post_tasks() {
    let files = [
        (
            "playbook.yml",
            r#"
- hosts: h1
  gather_facts: false
  pre_tasks:
    - command: echo pre
      notify: h
  roles: [r]
  tasks:
    - debug: msg=task
  post_tasks:
    - command: echo post
      notify: h
  handlers:
    - name: h
      debug: msg=handler
"#,
        ),
        ("roles/r/tasks/main.yml", "- command: echo r\n  notify: h\n"),
    ];
    let r = run_with(&files, LOCAL2, |_| {});
    assert_eq!(r.result.exit_code, 0, "{:?}", r.events);
    assert_eq!(r.msgs("h1"), vec!["handler", "task", "handler", "handler"]);
}

#[test]
fn a_failed_include_is_not_ignored_and_an_unknown_handler_ends_the_run() {
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - include_tasks: missing.yml
      ignore_errors: true
    - debug: msg=after
"#);
    assert_eq!(r.result.exit_code, 2);
    assert!(r.msgs("h1").is_empty());
    assert_eq!(r.results("h1")[0].2["include"], "missing.yml");
    let r = run(r#"
- hosts: h1
  gather_facts: false
  tasks:
    - command: echo
      notify: nosuch
    - debug: msg=after
"#);
    assert_eq!(r.result.exit_code, 1);
    assert!(r
        .error
        .clone()
        .unwrap()
        .contains("The requested handler 'nosuch' was not found"));
    assert!(r.msgs("h1").is_empty());
}

#[test]
fn play_hosts_leave_out_failed_hosts() {
    let r = run_with(
        &[(
            "playbook.yml",
            r#"
- hosts: web
  gather_facts: false
  serial: 2
  tasks:
    - fail: msg=x
      when: inventory_hostname == 'h1'
    - debug: msg="{{ ansible_play_hosts }} {{ ansible_play_batch }} {{ ansible_play_hosts_all | length }}"
"#,
        )],
        LOCAL4,
        |_| {},
    );
    assert_eq!(r.msgs("h2"), vec!["['h2', 'h3', 'h4'] ['h2'] 4"]);
}
