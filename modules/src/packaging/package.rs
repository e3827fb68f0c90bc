//! package — install or remove packages with whatever package manager the
//! host uses, as Ansible's package action does.
//!
//! The manager is, in order: `use` when it is not `auto`; the variable
//! `ansible_package_use`; the host's `ansible_pkg_mgr` fact when facts
//! were gathered; otherwise it is detected on the host with the probe of
//! herd's fact gathering (the first of apt-get, dnf, yum, zypper, apk,
//! pacman found; apt-get is `apt`, yum is `dnf`, as Ansible names them).
//! The task then runs as that manager's module, looked up by name among
//! herd's modules, with every argument but `use` passed on: that module
//! checks them, and its result is the task's.
//!
//! Arguments:
//!   name   package name(s), as the manager's module takes them
//!   state  present, absent, or what the manager's module supports
//!   use    the manager's module (`apt`, `dnf`, …), default auto
//!   (anything else goes to the manager's module)
//!
//! Returns: the manager's module's result.
//!
//! Tested: for real with apt and Debian's hello package
//! (tests/module_package.rs): detection without facts, the gathered fact,
//! `use`, and the failures for an unknown manager, compared with ansible.

use async_trait::async_trait;

use crate::api::{ExecOptions, HostError, Module, ModuleContext, Outcome, TemplateOptions, Value};
use crate::args::{Param, Spec};

pub struct Package;

/// package's own arguments, for `herd doc`: the rest are the manager's
/// module's, which checks them all when the task runs as that module.
static SPEC: Spec = Spec {
    module: "package",
    params: &[
        Param::list("name").required(),
        Param::str("state").required(),
        Param::str("use").default("auto"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The fact script's probe (src/exec/facts.rs), with the names Ansible
/// gives the managers.
const PROBE: &str = "for pm in apt-get dnf yum zypper apk pacman; do \
     if command -v \"$pm\" >/dev/null 2>&1; then \
       case $pm in apt-get) echo apt;; yum) echo dnf;; *) echo \"$pm\";; esac; exit 0; \
     fi; done; echo unknown";

/// The manager configured or known from facts, if any: `ansible_package_use`
/// first, then the `pkg_mgr` fact.
fn from_vars(ctx: &ModuleContext<'_>) -> Option<String> {
    let text = "{{ ansible_package_use | default('') }}\n{{ ansible_facts.pkg_mgr | default('') }}";
    let out = ctx
        .controller
        .render_template(text, &TemplateOptions::default())
        .ok()?;
    out.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[async_trait]
impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let wanted = match ctx.args.get("use") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "auto".to_string(),
            Some(other) => other.to_string(),
        };
        let mut manager = wanted;
        if manager == "auto" {
            manager = match from_vars(ctx) {
                Some(m) => m,
                None => {
                    let r = ctx.host.exec(PROBE, &ExecOptions::default()).await?;
                    if r.rc != 0 {
                        return Ok(Outcome::failed(format!(
                            "Failed to fetch ansible_pkg_mgr to determine the package action backend: {}",
                            r.stderr_text().trim()
                        )));
                    }
                    r.stdout_text().trim().to_string()
                }
            };
        }
        if manager.is_empty() || manager == "auto" {
            return Ok(Outcome::failed(
                "Could not detect which package manager to use. Try gathering facts or setting the \"use\" option.",
            ));
        }
        let module = match crate::registry::get(&manager) {
            Some(m) if m.name() != "package" => m,
            _ => {
                return Ok(Outcome::failed(format!(
                    "Could not find a matching action for the \"{manager}\" package manager."
                )))
            }
        };
        let mut args = ctx.args.clone();
        args.remove("use");
        // Ansible's package action runs the manager's module by this name,
        // which its argument errors show.
        args.insert(
            "_ansible_module_name".into(),
            Value::String(format!("ansible.legacy.{}", module.name())),
        );
        let inner = ModuleContext {
            host: ctx.host,
            controller: ctx.controller,
            args: &args,
            check_mode: ctx.check_mode,
            diff: ctx.diff,
            result_seen: ctx.result_seen,
            demand: ctx.demand,
        };
        module.run(&inner).await
    }
}
