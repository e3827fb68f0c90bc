//! `--syntax-check`, `--list-hosts`, `--list-tasks` and `--list-tags`,
//! printed exactly as ansible-playbook prints them so scripts that read
//! the listing keep working.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::diag::Result;
use crate::playbook::{Play, Playbook, RoleInclude, Task, TaskItem};
use crate::tags::TagSelection;
use crate::value::{py_repr, Value};
use crate::vars::{self, PlayScope};

use super::playbook::Session;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// `--syntax-check`: only the playbook line, no plays.
    pub syntax_only: bool,
    pub hosts: bool,
    pub tasks: bool,
    pub tags: bool,
    pub selection: TagSelection,
    pub limit: Option<String>,
    pub check_mode: bool,
    pub diff_mode: bool,
    pub verbosity: u8,
}

/// The listing of one playbook.
pub fn render(
    session: &Session,
    name: &str,
    playbook: &Playbook,
    opts: &ListOptions,
) -> Result<String> {
    let mut out = format!("\nplaybook: {name}\n");
    if opts.syntax_only {
        return Ok(out);
    }
    for (idx, play) in playbook.plays.iter().enumerate() {
        render_play(session, idx + 1, play, opts, &mut out)?;
    }
    Ok(out)
}

fn render_play(
    session: &Session,
    number: usize,
    play: &Play,
    opts: &ListOptions,
    out: &mut String,
) -> Result<()> {
    let scope = PlayScope {
        play,
        inventory: &session.inventory,
        extra_vars: &session.extra_vars,
        templar: &session.templar,
        limit: opts.limit.as_deref(),
        check_mode: opts.check_mode,
        diff_mode: opts.diff_mode,
        verbosity: opts.verbosity,
        tags: &opts.selection,
    };
    let play_vars = vars::play_vars(&scope)?;
    let patterns = &play_vars.patterns;
    let name = &play_vars.name;
    let _ = write!(
        out,
        "\n  play #{number} ({}): {name}\tTAGS: [{}]",
        patterns.join(","),
        play.tags.join(",")
    );
    if opts.hosts {
        let pattern_repr = py_repr(&Value::Array(
            patterns.iter().map(|p| Value::String(p.clone())).collect(),
        ));
        let _ = write!(
            out,
            "\n    pattern: {pattern_repr}\n    hosts ({}):",
            play_vars.hosts.len()
        );
        for h in &play_vars.hosts {
            let _ = write!(out, "\n      {h}");
        }
    }
    out.push('\n');
    if !(opts.tasks || opts.tags) {
        return Ok(());
    }
    let mut lister = TaskLister {
        selection: &opts.selection,
        show_tasks: opts.tasks,
        play_tags: play.tags.iter().cloned().collect(),
        all_tags: BTreeSet::new(),
        text: String::new(),
    };
    if opts.tasks {
        lister.text.push_str("    tasks:\n");
    }
    let inherited: Vec<String> = play.tags.clone();
    lister.items(&play.pre_tasks, &inherited);
    for role in &play.roles {
        lister.role(role, &inherited);
    }
    lister.items(&play.tasks, &inherited);
    lister.items(&play.post_tasks, &inherited);
    if opts.tags {
        let mut all: BTreeSet<String> = lister.play_tags.clone();
        all.extend(lister.all_tags.iter().cloned());
        let joined: Vec<&str> = all.iter().map(String::as_str).collect();
        let _ = writeln!(lister.text, "      TASK TAGS: [{}]", joined.join(", "));
    }
    out.push_str(&lister.text);
    Ok(())
}

/// Walks a play's tasks in run order, keeping the ones the tag selection
/// runs.
struct TaskLister<'a> {
    selection: &'a TagSelection,
    show_tasks: bool,
    play_tags: BTreeSet<String>,
    all_tags: BTreeSet<String>,
    text: String,
}

impl TaskLister<'_> {
    fn role(&mut self, role: &RoleInclude, inherited: &[String]) {
        let mut tags = inherited.to_vec();
        tags.extend(role.tags.iter().cloned());
        for dep in &role.dependencies {
            self.role(dep, &tags);
        }
        // A repeated role is listed again (it runs once, but
        // ansible-playbook lists it at each place).
        self.items(&role.tasks, &tags);
    }

    /// Only the `block:` part of blocks is listed, as ansible-playbook
    /// does; `rescue:` and `always:` are not.
    fn items(&mut self, items: &[TaskItem], inherited: &[String]) {
        for item in items {
            match item {
                TaskItem::Block(b) => {
                    let mut tags = inherited.to_vec();
                    tags.extend(b.tags.iter().cloned());
                    self.items(&b.block, &tags);
                }
                TaskItem::Task(t) => self.task(t, inherited),
            }
        }
    }

    fn task(&mut self, task: &Task, inherited: &[String]) {
        let mut tags: Vec<String> = inherited.to_vec();
        tags.extend(task.tags.iter().cloned());
        if !self.selection.should_run(&tags) {
            return;
        }
        let own: BTreeSet<String> = tags.into_iter().collect();
        self.all_tags.extend(own.iter().cloned());
        if self.show_tasks {
            let mut cur = self.play_tags.clone();
            cur.extend(own);
            let cur: Vec<&str> = cur.iter().map(String::as_str).collect();
            let _ = writeln!(
                self.text,
                "      {}\tTAGS: [{}]",
                task_title(task),
                cur.join(", ")
            );
        }
    }
}

/// A task's title in listings: `role : name`, the name, or the action as
/// written.
pub fn task_title(task: &Task) -> String {
    match (&task.name, &task.role) {
        (Some(name), Some(role)) => format!("{} : {name}", role.name),
        (Some(name), None) => name.clone(),
        (None, _) => action_written(task).to_string(),
    }
}

/// The action as the task wrote it (`debug`, `ansible.builtin.debug`).
fn action_written(task: &Task) -> &str {
    &task.action_written
}
