//! herd-modules: the modules herd knows.
//!
//! [`api`] is what a module sees ([`api::Host`], [`api::Controller`]) and
//! returns ([`api::Outcome`]). The catalogue lists the name of every `ansible.builtin`
//! module and action of ansible-core 2.19 and of the common `ansible.posix`
//! modules, with how a task may call each one. The playbook loader uses it to
//! tell a module from a misspelt keyword and to reject unknown modules at load
//! time, as ansible-playbook does.

pub mod api;
pub mod args;
mod catalogue;
pub mod commands;
pub mod files;
pub mod packaging;
pub mod registry;
pub mod system;
pub mod utilities;

pub use catalogue::CATALOGUE;

/// How a name is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// A module that runs against a host.
    Module,
    /// An action handled by the engine itself, on the controller (as
    /// Ansible's action plugins and task-level keywords such as
    /// `include_tasks`, `set_fact`, `meta`, `debug`).
    Action,
}

/// One entry of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Short name, e.g. `copy`.
    pub name: &'static str,
    /// The collection it belongs to: `ansible.builtin`, `ansible.posix` or
    /// (for `ini_file`) `community.general`.
    pub collection: &'static str,
    /// Whether it takes free-form text (`command: ls -l`), kept as
    /// `_raw_params` in the arguments.
    pub free_form: bool,
    /// Module or engine action.
    pub kind: ModuleKind,
}

impl ModuleInfo {
    /// The fully qualified name, e.g. `ansible.builtin.copy`.
    pub fn fqcn(&self) -> String {
        format!("{}.{}", self.collection, self.name)
    }
}

/// Every module and action herd knows, in catalogue order.
pub fn all() -> &'static [ModuleInfo] {
    CATALOGUE
}

/// Finds a module by its short name (`copy`), its fully qualified name
/// (`ansible.builtin.copy`, `ansible.posix.mount`), or the `ansible.legacy`
/// spelling (`ansible.legacy.copy`), which Ansible resolves like a short name.
///
/// A short name also finds an `ansible.posix` module: ansible-core routes
/// those names to that collection.
pub fn lookup(name: &str) -> Option<&'static ModuleInfo> {
    let (collection, short) = match name.rsplit_once('.') {
        Some((c, s)) => (Some(c), s),
        None => (None, name),
    };
    let info = CATALOGUE.iter().find(|m| m.name == short)?;
    match collection {
        None | Some("ansible.legacy") => Some(info),
        Some(c) if c == info.collection => Some(info),
        // `ansible.builtin.mount` is routed to ansible.posix, and
        // `ansible.builtin.ini_file` to community.general, by ansible-core.
        Some("ansible.builtin") if info.collection != "ansible.builtin" => Some(info),
        Some(_) => None,
    }
}

/// For a short module name ansible-core once shipped and now routes to
/// another collection (`ufw` → `community.general`), that collection.
/// Used to explain why such a name is unknown to herd.
pub fn moved_to_collection(short_name: &str) -> Option<&'static str> {
    static TABLE: &str = include_str!("legacy_redirects.txt");
    TABLE.lines().find_map(|line| {
        let (name, coll) = line.split_once(' ')?;
        (name == short_name).then_some(coll)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_spelling() {
        assert_eq!(lookup("copy").map(|m| m.name), Some("copy"));
        assert_eq!(lookup("ansible.builtin.copy").map(|m| m.name), Some("copy"));
        assert_eq!(
            lookup("ansible.legacy.shell").map(|m| m.name),
            Some("shell")
        );
        assert_eq!(
            lookup("ansible.posix.mount").map(|m| m.collection),
            Some("ansible.posix")
        );
        assert_eq!(lookup("mount").map(|m| m.collection), Some("ansible.posix"));
        assert!(lookup("community.general.ufw").is_none());
        assert!(lookup("ansible.posix.copy").is_none());
        assert!(lookup("copyy").is_none());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = all().iter().map(|m| m.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
    }

    #[test]
    fn knows_moved_modules() {
        assert_eq!(moved_to_collection("ufw"), Some("community.general"));
        assert_eq!(moved_to_collection("copy"), None);
    }
}
