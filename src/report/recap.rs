//! The `PLAY RECAP` counters, with Ansible's counting rules.

use std::collections::{BTreeMap, HashSet};

use super::human::{paint, Color};
use super::{Event, HostStats, Sink, Status};

/// The counters of every host that ran a task, fed by the events.
///
/// Ansible's rules: one count per task and host (a loop's items are not
/// counted, its summarising result is); an ignored failure counts as `ok`
/// and `ignored`, not `failed` (and `changed` when it changed); a failure
/// handled by `rescue:` counts as `rescued`, not `failed`; an unreachable
/// host with `ignore_unreachable` counts as `ok` and `ignored`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recap {
    /// Sorted by name, as Ansible prints them.
    hosts: BTreeMap<String, HostStats>,
    /// Hosts whose `Rescued` came before the failure it rescues.
    pending_rescue: HashSet<String>,
}

impl Recap {
    pub fn new() -> Recap {
        Recap::default()
    }

    /// The counters of `host`, if it ran anything.
    pub fn stats(&self, host: &str) -> Option<HostStats> {
        self.hosts.get(host).copied()
    }

    /// Every host that ran anything, sorted by name.
    pub fn hosts(&self) -> impl Iterator<Item = (&str, &HostStats)> {
        self.hosts.iter().map(|(h, s)| (h.as_str(), s))
    }

    /// ansible-playbook's exit status: 0, 2 when a host failed, 4 when a
    /// host was unreachable (which wins).
    pub fn exit_code(&self) -> i32 {
        if self.hosts.values().any(|s| s.unreachable > 0) {
            4
        } else if self.hosts.values().any(|s| s.failed > 0) {
            2
        } else {
            0
        }
    }

    /// Counts one event.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::HostResult {
                host,
                status,
                result,
                item: None,
                ignored,
                ..
            } => {
                let changed =
                    *status == Status::Changed || result.get("changed") == Some(&true.into());
                let s = self.hosts.entry(host.clone()).or_default();
                match status {
                    Status::Ok | Status::Changed => {
                        s.ok += 1;
                        s.changed += u32::from(changed);
                    }
                    Status::Skipped => s.skipped += 1,
                    Status::Failed if *ignored => {
                        s.ok += 1;
                        s.ignored += 1;
                        s.changed += u32::from(changed);
                    }
                    Status::Failed => {
                        if self.pending_rescue.remove(host) {
                            s.rescued += 1;
                        } else {
                            s.failed += 1;
                        }
                    }
                    Status::Unreachable if *ignored => {
                        s.ok += 1;
                        s.ignored += 1;
                    }
                    Status::Unreachable => s.unreachable += 1,
                }
            }
            Event::Included { hosts, .. } => {
                for h in hosts {
                    self.hosts.entry(h.clone()).or_default().ok += 1;
                }
            }
            Event::Rescued { host } => {
                // The failure was counted when it came; it is a rescue now.
                let s = self.hosts.entry(host.clone()).or_default();
                if s.failed > 0 {
                    s.failed -= 1;
                    s.rescued += 1;
                } else {
                    self.pending_rescue.insert(host.clone());
                }
            }
            _ => {}
        }
    }

    /// The `PLAY RECAP` lines (without the banner), as the default
    /// callback writes them on screen (`color`) or in the log file.
    pub fn lines(&self, color: bool) -> String {
        let mut out = String::new();
        for (host, s) in &self.hosts {
            let host_color = if s.failed > 0 || s.unreachable > 0 {
                Color::Error
            } else if s.changed > 0 {
                Color::Changed
            } else {
                Color::Ok
            };
            let name = if color {
                // Ansible pads the coloured name to 37 characters, escape
                // codes included: 26 visible columns, as without colour.
                format!("{:<37}", paint(host, host_color, true))
            } else {
                format!("{host:<26}")
            };
            let field = |lead: &str, n: u32, c: Color| -> String {
                let text = format!("{lead}={n:<4}");
                if n != 0 && color {
                    paint(&text, c, true)
                } else {
                    text
                }
            };
            out.push_str(&format!(
                "{name} : {} {} {} {} {} {} {}\n",
                field("ok", s.ok, Color::Ok),
                field("changed", s.changed, Color::Changed),
                field("unreachable", s.unreachable, Color::Unreachable),
                field("failed", s.failed, Color::Error),
                field("skipped", s.skipped, Color::Skip),
                field("rescued", s.rescued, Color::Ok),
                field("ignored", s.ignored, Color::Warn),
            ));
        }
        out
    }
}

impl Sink for Recap {
    fn event(&mut self, event: &Event) {
        self.record(event);
    }

    fn shows_results(&self) -> bool {
        false
    }
}
