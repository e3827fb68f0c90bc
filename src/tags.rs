//! Tag selection (`--tags`, `--skip-tags`), as ansible-core 2.19 decides
//! whether a task runs.

use std::collections::BTreeSet;

/// The tags a task without tags carries for matching.
pub const UNTAGGED: &str = "untagged";

/// The selection given on the command line, already split on commas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagSelection {
    /// `-t`: empty means `all`.
    pub only: Vec<String>,
    /// `--skip-tags`.
    pub skip: Vec<String>,
}

impl TagSelection {
    /// Builds a selection from repeated, comma-separated flag values.
    pub fn new(only: &[String], skip: &[String]) -> TagSelection {
        let split = |vals: &[String]| -> Vec<String> {
            vals.iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut only = split(only);
        if only.is_empty() {
            only.push("all".into());
        }
        TagSelection {
            only,
            skip: split(skip),
        }
    }

    /// Whether a task with these (inherited and own) tags is selected.
    pub fn should_run(&self, tags: &[String]) -> bool {
        let set: BTreeSet<&str> = if tags.is_empty() {
            BTreeSet::from([UNTAGGED])
        } else {
            tags.iter().map(String::as_str).collect()
        };
        let untagged = tags.is_empty();
        let has = |t: &str| set.contains(t);
        let meets = |list: &[String]| list.iter().any(|t| set.contains(t.as_str()));
        let only_has = |t: &str| self.only.iter().any(|o| o == t);
        let skip_has = |t: &str| self.skip.iter().any(|o| o == t);

        let mut run = true;
        if !self.only.is_empty() {
            run = has("always")
                || (only_has("all") && !has("never"))
                || meets(&self.only)
                || (only_has("tagged") && !untagged && !has("never"));
        }
        if run && !self.skip.is_empty() {
            if skip_has("all") {
                if !has("always") || skip_has("always") {
                    run = false;
                }
            } else if meets(&self.skip) || (skip_has("tagged") && !untagged) {
                run = false;
            }
        }
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    fn sel(only: &[&str], skip: &[&str]) -> TagSelection {
        TagSelection::new(&tags(only), &tags(skip))
    }

    #[test]
    fn default_runs_all_but_never() {
        let s = sel(&[], &[]);
        assert!(s.should_run(&[]));
        assert!(s.should_run(&tags(&["web"])));
        assert!(!s.should_run(&tags(&["never"])));
        assert!(s.should_run(&tags(&["never", "always"])));
    }

    #[test]
    fn only_tags() {
        let s = sel(&["web,db"], &[]);
        assert!(s.should_run(&tags(&["db"])));
        assert!(!s.should_run(&tags(&["app"])));
        assert!(!s.should_run(&[]));
        assert!(s.should_run(&tags(&["always"])));
        assert!(s.should_run(&tags(&["never", "web"])));
        let s = sel(&["untagged"], &[]);
        assert!(s.should_run(&[]));
        assert!(!s.should_run(&tags(&["x"])));
        let s = sel(&["tagged"], &[]);
        assert!(s.should_run(&tags(&["x"])));
        assert!(!s.should_run(&[]));
        assert!(!s.should_run(&tags(&["never"])));
        let s = sel(&["never"], &[]);
        assert!(s.should_run(&tags(&["never"])));
    }

    #[test]
    fn skip_tags() {
        let s = sel(&[], &["web"]);
        assert!(!s.should_run(&tags(&["web"])));
        assert!(s.should_run(&tags(&["db"])));
        let s = sel(&[], &["all"]);
        assert!(!s.should_run(&tags(&["db"])));
        assert!(s.should_run(&tags(&["always"])));
        let s = sel(&[], &["always"]);
        assert!(!s.should_run(&tags(&["always"])));
        let s = sel(&[], &["tagged"]);
        assert!(s.should_run(&[]));
        assert!(!s.should_run(&tags(&["a"])));
    }
}
