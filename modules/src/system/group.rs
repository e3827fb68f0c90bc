//! group — add, change or remove a group on the host.
//!
//! Looks the group up in the system's group database (`getent group`, or
//! `/etc/group` where there is no `getent`; with `local`, `/etc/group`
//! only), then runs the shadow-utils tools (`groupadd`, `groupmod`,
//! `groupdel`), or BusyBox's `addgroup`/`delgroup` where those are
//! missing. BusyBox has no way to change a group's id: asking for another
//! `gid` there fails with a message saying so.
//!
//! Tested: for real as root on test groups of its own
//! (tests/module_group.rs); ad-hoc results compared with ansible's
//! (tests/adhoc_output.rs).
//!
//! Arguments:
//!   name        the group (required)
//!   state       present (default) or absent
//!   gid         the group id to have
//!   system      create a system group (default no)
//!   non_unique  allow a gid already used by another group (needs gid)
//!   local       look only at /etc/group (the shadow tools act on it anyway)
//!   force       with state=absent, remove it even if it is a user's
//!               primary group (groupdel -f)
//!   gid_min, gid_max  the range groupadd picks a new id from
//!
//! Returns: name, state, gid, system (when the group exists after the run).

use async_trait::async_trait;

use crate::api::{HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};
use crate::system::accounts::{has_program, lookup_group, run_first, words};

pub struct Group;

static SPEC: Spec = Spec {
    module: "group",
    params: &[
        Param::str("name").required(),
        Param::str("state")
            .default("present")
            .choices(&["absent", "present"]),
        Param::bool("force").default("false"),
        Param::int("gid"),
        Param::bool("system").default("false"),
        Param::bool("local").default("false"),
        Param::bool("non_unique").default("false"),
        Param::int("gid_min"),
        Param::int("gid_max"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// What to run to bring the group to the wanted state, if anything.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    Nothing,
    /// Alternatives in order of preference; the first whose tool exists runs.
    Run(Vec<Vec<String>>),
}

/// The wanted state of a group.
#[derive(Debug, Default)]
pub struct Want {
    pub name: String,
    pub present: bool,
    pub gid: Option<i64>,
    pub system: bool,
    pub non_unique: bool,
    pub force: bool,
    pub gid_min: Option<i64>,
    pub gid_max: Option<i64>,
}

/// Decides from the current gid (None: no such group).
pub fn plan(want: &Want, current_gid: Option<i64>) -> Plan {
    let name = want.name.as_str();
    match (want.present, current_gid) {
        (false, None) => Plan::Nothing,
        (false, Some(_)) => {
            let mut shadow = words(&["groupdel"]);
            if want.force {
                shadow.push("-f".into());
            }
            shadow.push(name.into());
            Plan::Run(vec![shadow, words(&["delgroup", name])])
        }
        (true, None) => {
            let mut shadow = words(&["groupadd"]);
            let mut busybox = words(&["addgroup"]);
            if let Some(gid) = want.gid {
                shadow.extend(["-g".into(), gid.to_string()]);
                busybox.extend(["-g".into(), gid.to_string()]);
                if want.non_unique {
                    shadow.push("-o".into());
                }
            }
            if want.system {
                shadow.push("-r".into());
                busybox.push("-S".into());
            }
            if let Some(min) = want.gid_min {
                shadow.extend(["-K".into(), format!("GID_MIN={min}")]);
            }
            if let Some(max) = want.gid_max {
                shadow.extend(["-K".into(), format!("GID_MAX={max}")]);
            }
            shadow.push(name.into());
            busybox.push(name.into());
            Plan::Run(vec![shadow, busybox])
        }
        (true, Some(cur)) => match want.gid {
            Some(gid) if gid != cur => {
                let mut shadow = words(&["groupmod", "-g", &gid.to_string()]);
                if want.non_unique {
                    shadow.push("-o".into());
                }
                shadow.push(name.into());
                Plan::Run(vec![shadow])
            }
            _ => Plan::Nothing,
        },
    }
}

#[async_trait]
impl Module for Group {
    fn name(&self) -> &'static str {
        "group"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let force = a.bool_or("force", false);
        let local = a.bool_or("local", false);
        if force && local {
            return Ok(Outcome::failed(
                "force is not a valid option for local, force=True and local=True are mutually exclusive",
            ));
        }
        let want = Want {
            name: a.str_or("name", ""),
            present: a.str_or("state", "present") == "present",
            gid: a.int("gid"),
            system: a.bool_or("system", false),
            non_unique: a.bool_or("non_unique", false),
            force,
            gid_min: a.int("gid_min"),
            gid_max: a.int("gid_max"),
        };
        if want.non_unique && want.gid.is_none() {
            return Ok(Outcome::failed(
                "non_unique is True but all of the following are missing: gid",
            ));
        }
        let state = if want.present { "present" } else { "absent" };
        let current = lookup_group(ctx.host, &want.name, local).await?;
        let plan = plan(&want, current.as_ref().map(|g| g.gid));
        let mut out = match plan {
            Plan::Nothing => Outcome::ok(),
            Plan::Run(alternatives) => {
                if ctx.check_mode {
                    // Ansible answers check mode with `changed` alone when
                    // the group would be added or removed.
                    if current.is_none() || !want.present {
                        return Ok(Outcome::changed());
                    }
                    Outcome::changed()
                } else {
                    if current.is_some() && want.present {
                        // Changing a gid needs groupmod; BusyBox has none.
                        if !has_program(ctx.host, "groupmod").await? {
                            return Ok(Outcome::failed(format!(
                                "cannot change the gid of group {}: the host has no groupmod",
                                want.name
                            ))
                            .with("name", want.name.clone()));
                        }
                    }
                    let r = run_first(ctx.host, &alternatives).await?;
                    if r.rc != 0 {
                        return Ok(Outcome::failed(r.stderr_text().trim_end().to_string())
                            .with("name", want.name.clone()));
                    }
                    let mut o = Outcome::changed();
                    let stdout = r.stdout_text();
                    if !stdout.is_empty() {
                        o = o.with("stdout", stdout);
                    }
                    let stderr = r.stderr_text();
                    if !stderr.is_empty() {
                        o = o.with("stderr", stderr);
                    }
                    o
                }
            }
        };
        out = out.with("name", want.name.clone()).with("state", state);
        let after = if ctx.check_mode {
            current
        } else {
            lookup_group(ctx.host, &want.name, local).await?
        };
        if let Some(g) = after {
            out = out.with("system", want.system).with("gid", g.gid);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(present: bool) -> Want {
        Want {
            name: "web".into(),
            present,
            ..Want::default()
        }
    }

    #[test]
    fn plans() {
        assert_eq!(plan(&want(false), None), Plan::Nothing);
        assert_eq!(plan(&want(true), Some(1000)), Plan::Nothing);
        let w = Want {
            gid: Some(1000),
            ..want(true)
        };
        assert_eq!(plan(&w, Some(1000)), Plan::Nothing);
        let w = Want {
            gid: Some(2000),
            non_unique: true,
            ..want(true)
        };
        assert_eq!(
            plan(&w, Some(1000)),
            Plan::Run(vec![words(&["groupmod", "-g", "2000", "-o", "web"])])
        );
        let w = Want {
            gid: Some(2000),
            system: true,
            ..want(true)
        };
        assert_eq!(
            plan(&w, None),
            Plan::Run(vec![
                words(&["groupadd", "-g", "2000", "-r", "web"]),
                words(&["addgroup", "-g", "2000", "-S", "web"]),
            ])
        );
        let w = Want {
            force: true,
            ..want(false)
        };
        assert_eq!(
            plan(&w, Some(5)),
            Plan::Run(vec![
                words(&["groupdel", "-f", "web"]),
                words(&["delgroup", "web"])
            ])
        );
    }
}
