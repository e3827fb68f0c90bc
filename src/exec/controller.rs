//! The controller's side of a task, as modules see it: the search path
//! for files and templates, and the one template environment.

use std::path::{Path, PathBuf};

use herd_modules::api::{Controller, TemplateOptions};

use super::PlayRun;
use crate::playbook::Task;
use crate::template::{Templar, TemplateFileOptions, Vars};

/// The controller side of one task on one host.
pub(crate) struct TaskController {
    templar: std::sync::Arc<Templar>,
    vars: Vars,
    /// Directories searched, in order (role, task file, playbook).
    search: Vec<PathBuf>,
    /// Where relative controller paths are taken from.
    base: PathBuf,
}

impl TaskController {
    pub fn new(
        templar: std::sync::Arc<Templar>,
        vars: Vars,
        task: &Task,
        run: &PlayRun<'_>,
    ) -> TaskController {
        let mut search = Vec::new();
        if let Some(role) = &task.role {
            search.push(role.path.clone());
        }
        if let Some(dir) = Path::new(&*task.loc.file).parent() {
            if !dir.as_os_str().is_empty() {
                search.push(dir.to_path_buf());
            }
        }
        search.push(run.play.basedir.clone());
        search.push(run.play.playbook_dir.clone());
        search.dedup();
        TaskController {
            templar,
            vars,
            search,
            base: run.play.basedir.clone(),
        }
    }
}

impl Controller for TaskController {
    fn base_dir(&self) -> PathBuf {
        self.base.clone()
    }

    fn find_file(&self, kind: &str, name: &str) -> Option<PathBuf> {
        let p = Path::new(name);
        if p.is_absolute() {
            return p.exists().then(|| p.to_path_buf());
        }
        for dir in &self.search {
            for candidate in [dir.join(kind).join(p), dir.join(p)] {
                if candidate.exists() {
                    return Some(candidate);
                }
            }
        }
        None
    }

    fn render_template(&self, text: &str, options: &TemplateOptions) -> Result<String, String> {
        let mut search_path: Vec<String> = Vec::new();
        if let Some(dir) = options.path.as_ref().and_then(|p| p.parent()) {
            search_path.push(dir.display().to_string());
        }
        for dir in &self.search {
            search_path.push(dir.join("templates").display().to_string());
        }
        let opts = TemplateFileOptions {
            trim_blocks: options.trim_blocks,
            lstrip_blocks: options.lstrip_blocks,
            newline_sequence: options.newline_sequence.clone(),
            block_start_string: options.block_start_string.clone(),
            block_end_string: options.block_end_string.clone(),
            variable_start_string: options.variable_start_string.clone(),
            variable_end_string: options.variable_end_string.clone(),
            comment_start_string: options.comment_start_string.clone(),
            comment_end_string: options.comment_end_string.clone(),
            search_path,
        };
        let mut vars = self.vars.clone();
        // ansible-core's template action always defines `ansible_managed`
        // (its DEFAULT_MANAGED_STR), over any variable of that name.
        vars.vars.insert(
            "ansible_managed".into(),
            crate::value::Value::String("Ansible managed".into()),
        );
        if let Some(p) = &options.path {
            vars.vars.insert(
                "template_path".into(),
                crate::value::Value::String(p.display().to_string()),
            );
        }
        self.templar
            .render_template_file(text, &vars, &opts)
            .map_err(|d| d.message)
    }

    fn read_local(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let bytes = std::fs::read(path)?;
        crate::vault::open_file_data(bytes, path)
            .map(|plain| plain.to_vec())
            .map_err(|d| std::io::Error::other(d.message))
    }

    fn decrypt_local(&self, path: &Path) -> Result<Option<Vec<u8>>, String> {
        use std::io::Read;
        let mut head = [0u8; crate::vault::HEADER.len()];
        let vaulted = std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| crate::vault::is_encrypted_file(&head));
        if !vaulted {
            return Ok(None);
        }
        self.read_local(path).map(Some).map_err(|e| e.to_string())
    }
}
