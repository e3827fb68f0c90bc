//! template — render a Jinja2 template from the controller onto the host.
//!
//! The template is looked up in the role's and playbook's `templates/`,
//! rendered with the task's variables, and written as `copy` writes a
//! file: only when the result differs, atomically, keeping mode and owner.
//!
//! Arguments:
//!   src              the template (required)
//!   dest             where to write it (required); a directory or a path
//!                    ending in `/` gets the template's name
//!   mode, owner, group   attributes (`mode: preserve`: the template's mode)
//!   backup, force, validate, follow   as for copy
//!   trim_blocks      strip the newline after a block tag (default true)
//!   lstrip_blocks    strip spaces before a block tag (default false)
//!   newline_sequence `\n` (default), `\r` or `\r\n`
//!   block_start_string, block_end_string, variable_start_string,
//!   variable_end_string, comment_start_string, comment_end_string
//!                    Jinja2 delimiters
//!   output_encoding  utf-8 (default); latin-1/iso-8859-1 also accepted
//!
//! Returns: as copy (dest, src, checksum, md5sum, size, mode, owner, group,
//! uid, gid, state, backup_file). With --diff, the old and new content.
//!
//! Tested: tests/module_template.rs and tests/template_files.rs (role and
//! playbook templates, trim/lstrip blocks, newline_sequence, delimiters,
//! output_encoding, validate, backup, force, check, diff), rerun with a
//! BusyBox userland (tests/module_busybox.rs) and in the BusyBox SSH
//! playbook (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance cases 15, 22 and 31.

use async_trait::async_trait;

use super::common::{basename, Attrs};
use super::copy::{put_file, resolve_dest, PutFile};
use crate::api::{HostError, Module, ModuleContext, Outcome, TemplateOptions};
use crate::args::{Mode, Param, Spec};
use crate::file_spec;

pub struct Template;

static SPEC: Spec = file_spec!(
    "template",
    [
        Param::str("src").required(),
        Param::path("dest").required(),
        Param::bool("backup").default("false"),
        Param::bool("force").default("true"),
        Param::bool("follow").default("false"),
        Param::str("validate"),
        Param::str("newline_sequence").default("\\n"),
        Param::bool("trim_blocks").default("true"),
        Param::bool("lstrip_blocks").default("false"),
        Param::str("block_start_string").default("{%"),
        Param::str("block_end_string").default("%}"),
        Param::str("variable_start_string").default("{{"),
        Param::str("variable_end_string").default("}}"),
        Param::str("comment_start_string"),
        Param::str("comment_end_string"),
        Param::str("output_encoding").default("utf-8"),
    ],
    &[],
    &[]
);

/// Encodes the rendered text; `None` for an encoding herd cannot write.
pub fn encode(text: &str, encoding: &str) -> Option<Vec<u8>> {
    match encoding.to_ascii_lowercase().replace('_', "-").as_str() {
        "utf-8" | "utf8" => Some(text.as_bytes().to_vec()),
        "latin-1" | "latin1" | "iso-8859-1" => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect(),
        "ascii" | "us-ascii" => text.is_ascii().then(|| text.as_bytes().to_vec()),
        _ => None,
    }
}

#[async_trait]
impl Module for Template {
    fn name(&self) -> &'static str {
        "template"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let src = a.str_or("src", "");
        let Some(local) = ctx.controller.find_file("templates", &src) else {
            return Ok(Outcome::failed(format!(
                "Could not find or access '{src}' on the Ansible Controller."
            )));
        };
        let text = match ctx.controller.read_local(&local).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                return Ok(Outcome::failed(format!(
                    "template {} is not UTF-8 text",
                    local.display()
                )))
            }
            Err(e) => {
                return Ok(Outcome::failed(format!(
                    "could not read {}: {e}",
                    local.display()
                )))
            }
        };
        let d = TemplateOptions::default();
        // Written escaped in YAML ('\r\n') or as the characters themselves.
        let newline = match a.str("newline_sequence").as_deref() {
            None | Some("\n") | Some("\\n") => "\n",
            Some("\r") | Some("\\r") => "\r",
            Some("\r\n") | Some("\\r\\n") => "\r\n",
            Some(other) => {
                return Ok(Outcome::failed(format!(
                    "newline_sequence needs to be one of: \\n, \\r or \\r\\n, got {other:?}"
                )))
            }
        };
        let opts = TemplateOptions {
            trim_blocks: a.bool_or("trim_blocks", d.trim_blocks),
            lstrip_blocks: a.bool_or("lstrip_blocks", d.lstrip_blocks),
            newline_sequence: newline.to_string(),
            block_start_string: a.str_or("block_start_string", &d.block_start_string),
            block_end_string: a.str_or("block_end_string", &d.block_end_string),
            variable_start_string: a.str_or("variable_start_string", &d.variable_start_string),
            variable_end_string: a.str_or("variable_end_string", &d.variable_end_string),
            comment_start_string: a.str_or("comment_start_string", &d.comment_start_string),
            comment_end_string: a.str_or("comment_end_string", &d.comment_end_string),
            path: Some(local.clone()),
        };
        let rendered = match ctx.controller.render_template(&text, &opts) {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let encoding = a.str_or("output_encoding", "utf-8");
        let Some(bytes) = encode(&rendered, &encoding) else {
            return Ok(Outcome::failed(format!(
                "cannot write the template in output_encoding {encoding}"
            )));
        };
        let into_dir = a.str_or("dest", "").ends_with('/');
        let (dest, known, known_data) =
            resolve_dest(ctx, &a.str_or("dest", ""), basename(&src)).await?;
        let mut attrs = Attrs::from_args(&a);
        if attrs.mode == Some(Mode::Preserve) {
            use std::os::unix::fs::PermissionsExt;
            attrs.mode = std::fs::metadata(&local)
                .ok()
                .map(|m| Mode::Octal(m.permissions().mode() & 0o7777));
        }
        let p = PutFile {
            dest,
            src_label: local.display().to_string(),
            attrs,
            backup: a.bool_or("backup", false),
            force: a.bool_or("force", true),
            follow: a.bool_or("follow", false),
            validate: a.str("validate"),
            directory_mode: None,
            known,
            known_data,
            // As copy's: only a dest ending in `/` gets its directory made.
            create_parents: into_dir,
        };
        put_file(ctx, &p, &bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encodings() {
        assert_eq!(encode("é", "utf-8"), Some("é".as_bytes().to_vec()));
        assert_eq!(encode("é", "latin-1"), Some(vec![0xe9]));
        assert_eq!(encode("é", "ascii"), None);
        assert_eq!(encode("x", "klingon"), None);
    }
}
