//! The seed scenario (examples/playbooks/seed) end to end over SSH: two
//! hosts on the loopback sshd, facts gathered, the OS family's packages
//! checked with the package manager, scripts copied, a configuration
//! templated from facts and two cron jobs written; the second run changes
//! nothing, and a check run after drift finds exactly the drifted task.

mod common;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::Sshd;

const HOSTS: [&str; 2] = ["seed1", "seed2"];

struct Run {
    code: Option<i32>,
    stdout: String,
    recap: BTreeMap<String, String>,
}

fn herd(project: &Path, inventory: &Path, extra: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(project)
        .env("ANSIBLE_NOCOLOR", "1")
        .args(["playbook", "-i"])
        .arg(inventory)
        .arg("site.yml")
        .args(extra)
        .output()
        .expect("run herd");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let recap = stdout
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(h, c)| {
            (
                h.trim().to_string(),
                c.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    Run {
        code: out.status.code(),
        stdout: format!(
            "{stdout}\n[stderr]\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        recap,
    }
}

fn counter(run: &Run, host: &str, key: &str) -> u32 {
    run.recap
        .get(host)
        .and_then(|c| {
            c.split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| panic!("no {key} for {host}:\n{}", run.stdout))
}

#[test]
fn seed_scenario_converges_over_ssh() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = work.path();
    support::chmod_755(base);
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/playbooks/seed");
    // The example's own inventory names machines of the reader's; this one
    // points both hosts at the loopback sshd, each with its own root.
    let mut inv = String::from("[seed]\n");
    for h in HOSTS {
        let root = base.join(h);
        inv.push_str(&format!(
            "{h} {} seed_root={r}/opt seed_etc={r}/etc seed_cron_file={r}/seed-cron\n",
            sshd.inventory_vars(),
            r = root.display()
        ));
    }
    let inventory = base.join("hosts.ini");
    std::fs::write(&inventory, inv).expect("inventory");

    let first = herd(&project, &inventory, &[]);
    assert_eq!(first.code, Some(0), "{}", first.stdout);
    for h in HOSTS {
        assert!(counter(&first, h, "changed") >= 6, "{}", first.stdout);
        assert_eq!(counter(&first, h, "failed"), 0, "{}", first.stdout);
        let root = base.join(h);
        let conf = std::fs::read_to_string(root.join("etc/seed.conf")).expect("seed.conf");
        assert!(conf.contains(&format!("name = {h}\n")), "{conf}");
        assert!(conf.contains("family = Debian\n"), "{conf}");
        assert!(conf.contains("curl = required\n"), "{conf}");
        let cron = std::fs::read_to_string(root.join("seed-cron")).expect("cron file");
        assert!(
            cron.contains(&format!(
                "#Ansible: seed health check\n*/5 * * * * root {}/opt/bin/healthcheck.sh {}/opt\n",
                root.display(),
                root.display()
            )),
            "{cron}"
        );
        assert!(
            cron.contains("#Ansible: seed log rotation\n@daily root "),
            "{cron}"
        );
        for script in ["healthcheck.sh", "rotate.sh"] {
            let meta = std::fs::metadata(root.join("opt/bin").join(script)).expect("script");
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        }
        // The handler ran the health check once.
        let log = std::fs::read_to_string(root.join("opt/var/health.log")).expect("health log");
        assert_eq!(log.lines().count(), 1, "{log}");
    }
    assert!(first.stdout.contains("runs Debian"), "{}", first.stdout);

    let second = herd(&project, &inventory, &[]);
    assert_eq!(second.code, Some(0), "{}", second.stdout);
    for h in HOSTS {
        assert_eq!(counter(&second, h, "changed"), 0, "{}", second.stdout);
    }

    // Drift on one host: check mode names it, a real run repairs it.
    let conf = base.join("seed2/etc/seed.conf");
    std::fs::write(&conf, "edited by hand\n").expect("drift");
    let check = herd(&project, &inventory, &["--check"]);
    assert_eq!(counter(&check, "seed1", "changed"), 0, "{}", check.stdout);
    assert_eq!(counter(&check, "seed2", "changed"), 1, "{}", check.stdout);
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap_or_default(),
        "edited by hand\n"
    );
    let fix = herd(&project, &inventory, &[]);
    assert_eq!(counter(&fix, "seed2", "changed"), 1, "{}", fix.stdout);
    assert!(std::fs::read_to_string(&conf)
        .unwrap_or_default()
        .contains("name = seed2"));
}
