//! `herd doc`: a module's documentation, from the same metadata its
//! argument validation reads (as ansible-doc).
//!
//! ```text
//! herd doc copy          # what copy does, its arguments and return values
//! herd doc --list        # every module herd runs, one line each
//! ```

use clap::Args;
use herd_modules::{registry, ModuleKind};

use crate::diag::{did_you_mean, exit, Diagnostic, Result};

/// The flags of `herd doc`.
#[derive(Args, Debug)]
pub struct DocArgs {
    /// Module names (short or fully qualified: copy, ansible.builtin.copy)
    #[arg(value_name = "MODULE")]
    pub modules: Vec<String>,

    /// List every module herd runs, with a one-line summary
    #[arg(short = 'l', long = "list")]
    pub list: bool,
}

/// Runs `herd doc`.
pub fn run(args: &DocArgs) -> Result<i32> {
    if args.list {
        print!("{}", list());
        return Ok(0);
    }
    if args.modules.is_empty() {
        return Err(Diagnostic::new(
            "Missing name(s), incorrect options passed for detailed documentation.",
        )
        .hint("name a module (herd doc copy), or list them all with herd doc --list")
        .code(exit::BAD_OPTIONS));
    }
    let mut pages = Vec::new();
    for name in &args.modules {
        match page(name) {
            Some(p) => pages.push(p),
            // ansible-doc warns about a name it cannot find and goes on
            // (exit 0); herd does the same, with a suggestion.
            None => crate::diag::warn(not_found(name)),
        }
    }
    print!("{}", pages.join("\n"));
    Ok(0)
}

/// `herd doc --list`: fully qualified name and summary, sorted as
/// ansible-doc sorts them.
fn list() -> String {
    let mut rows: Vec<(String, String)> = registry::names()
        .iter()
        .filter_map(|n| {
            let info = herd_modules::lookup(n)?;
            Some((info.fqcn(), registry::synopsis(n).unwrap_or_default()))
        })
        .collect();
    rows.sort();
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(n, s)| format!("{n:width$}  {s}\n"))
        .collect()
}

/// One module's page, for any spelling Ansible accepts.
fn page(name: &str) -> Option<String> {
    let info = herd_modules::lookup(name)?;
    if let Some(text) = registry::full_doc(info.name) {
        return Some(format!("{} ({})\n\n{text}", info.name, info.fqcn()));
    }
    if info.kind == ModuleKind::Action {
        return Some(format!(
            "{} ({})\n\nCarried out by the engine on the controller, with Ansible's \
             arguments and behaviour; see docs/compatibility.md.\n",
            info.name,
            info.fqcn()
        ));
    }
    None
}

/// Why a name has no page.
fn not_found(name: &str) -> String {
    if let Some(info) = herd_modules::lookup(name) {
        return format!(
            "{} is an Ansible module herd does not run yet; see docs/modules.md for those it runs",
            info.fqcn()
        );
    }
    let short = name.rsplit('.').next().unwrap_or(name);
    if let Some(coll) = herd_modules::moved_to_collection(short) {
        return format!(
            "{name} was not found: it lives in the {coll} collection, which herd does not include"
        );
    }
    match did_you_mean(name, registry::names().iter().copied()) {
        Some(s) => format!("{name} was not found. Did you mean {s}?"),
        None => format!("{name} was not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_for_every_spelling() {
        let p = page("ansible.builtin.copy").unwrap_or_default();
        assert!(p.starts_with("copy (ansible.builtin.copy)\n"), "{p}");
        assert!(p.contains("Argument spec:"), "{p}");
        assert_eq!(page("copy"), page("ansible.legacy.copy"));
        let a = page("authorized_key").unwrap_or_default();
        assert!(
            a.starts_with("authorized_key (ansible.posix.authorized_key)"),
            "{a}"
        );
        assert!(page("set_fact").unwrap_or_default().contains("engine"));
        assert!(page("nope").is_none());
    }

    #[test]
    fn explains_missing_names() {
        assert_eq!(
            not_found("copyy"),
            "copyy was not found. Did you mean copy?"
        );
        assert!(not_found("ufw").contains("community.general"));
    }

    #[test]
    fn lists_every_module_once() {
        let l = list();
        assert_eq!(l.lines().count(), registry::names().len());
        assert!(l.contains("ansible.builtin.copy "), "{l}");
    }
}
