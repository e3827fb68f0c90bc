//! The live status line on a terminal: the current task, hosts done out
//! of the play's, time spent and a host still running; erased before any
//! output and when the task ends, so nothing of it stays on screen, and
//! never written to a pipe or the log file.

use std::collections::HashSet;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Event, Sink};

/// Wraps the human output with the live line.
pub struct LiveSink<S: Sink> {
    /// Always set until `into_inner` takes it.
    inner: Option<S>,
    bar: Option<ProgressBar>,
    hosts: Vec<String>,
    done: HashSet<String>,
    title: String,
}

impl<S: Sink> LiveSink<S> {
    pub fn new(inner: S) -> LiveSink<S> {
        LiveSink {
            inner: Some(inner),
            bar: None,
            hosts: Vec::new(),
            done: HashSet::new(),
            title: String::new(),
        }
    }

    /// The wrapped output.
    pub fn into_inner(mut self) -> Option<S> {
        self.clear();
        self.inner.take()
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn start(&mut self, title: &str) {
        self.clear();
        self.title = title.to_string();
        self.done.clear();
        // indicatif draws only on a terminal.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        self.bar = Some(bar);
        self.update();
    }

    fn update(&self) {
        let Some(bar) = &self.bar else { return };
        let waiting = self.hosts.iter().find(|h| !self.done.contains(*h));
        let mut msg = format!(
            "{}: {}/{} hosts",
            self.title,
            self.done.len(),
            self.hosts.len()
        );
        if let Some(h) = waiting {
            msg.push_str(&format!(", waiting on {h}"));
        }
        bar.set_message(msg);
    }
}

impl<S: Sink> Sink for LiveSink<S> {
    fn shows_results(&self) -> bool {
        self.inner.as_ref().is_some_and(|s| s.shows_results())
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::PlayStart { hosts, .. } => {
                self.clear();
                self.hosts = hosts.clone();
            }
            Event::PlaybookEnd => self.clear(),
            _ => {}
        }
        if let Some(inner) = &mut self.inner {
            match &self.bar {
                Some(bar) => bar.suspend(|| inner.event(event)),
                None => inner.event(event),
            }
        }
        match event {
            Event::TaskStart { title, .. } | Event::HandlerStart { title, .. } => self.start(title),
            Event::HostResult {
                host, item: None, ..
            } => {
                self.done.insert(host.clone());
                self.update();
                if !self.hosts.is_empty() && self.hosts.iter().all(|h| self.done.contains(h)) {
                    self.clear();
                }
            }
            _ => {}
        }
    }
}

impl<S: Sink> Drop for LiveSink<S> {
    fn drop(&mut self) {
        self.clear();
    }
}
