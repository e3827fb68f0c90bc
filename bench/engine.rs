//! Micro-benchmarks of the engine's own hot paths, with no host and no
//! network: what herd costs on the controller before and after the
//! modules run.
//!
//! - `syntax_check`: `herd playbook --syntax-check` on the 50 roles × 20
//!   tasks tree of `bench/gen_tree.py` (inventory, playbook, roles,
//!   validation), through the same library calls as the command.
//! - `compile_task`: one task on 1,000 hosts: each host's merged variables,
//!   its `when` and its templated module arguments, with the functions the
//!   executor calls for them; and the same task run by the executor itself
//!   (`debug` on `local` hosts, which opens no connection).
//! - `report`: the events of 1,000 hosts × 12 tasks, recap included, through
//!   the human output and the JSON output into a sink.
//! - `vault`: loading 1,000 vaulted variables and decrypting every one, as
//!   inline `!vault` values (each with its own salt, as ansible-vault's
//!   `encrypt_string` makes them: 1,000 key derivations, on rayon's
//!   threads) and as one vaulted file (one derivation). Each iteration
//!   starts with a new set of secrets, so no derived key is reused.
//!
//! `cargo bench --bench engine` measures wall-clock time, and with
//! `HERD_BENCH_CPU=1` the process's CPU time (steady on a shared machine);
//! `cargo test --bench engine` runs each benchmark once, as a test.
//! docs/benchmarks.md has the numbers.

use std::hint::black_box;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkGroup, Criterion, Throughput};
use herd::cli::listing::{self, ListOptions};
use herd::cli::playbook::{self as cli_playbook, Session};
use herd::config::Config;
use herd::exec::{RunOptions, SHARED_VARS};
use herd::inventory::{Inventory, UnparsedPolicy};
use herd::playbook::{load_playbook, Play, Playbook, Task, TaskItem};
use herd::report::{Event, HumanSink, JsonSink, Settings, Sink, Status};
use herd::tags::TagSelection;
use herd::template::{HostVarsSource, Templar, Vars};
use herd::value::{Map, Value};
use herd::vars::{self, HostScope, InventoryHostVars, PlayScope};
use serde_json::json;

/// Hosts of the compile and report benchmarks.
const HOSTS: usize = 1000;
/// Tasks of the report benchmark.
const TASKS: usize = 12;

/// Short runs: the whole bench takes about a minute on two cores, with
/// numbers stable to a few per cent (room for 10 samples of the slowest
/// benchmark, the JSON report, at 80–120 ms an iteration).
fn configure<M: Measurement>(g: &mut BenchmarkGroup<'_, M>) {
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
}

// --- syntax check ---------------------------------------------------------

/// Writes the generated tree into `dir` with bench/gen_tree.py.
fn generate_tree(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/gen_tree.py");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir)
        .status()
        .expect("python3 runs bench/gen_tree.py");
    assert!(status.success(), "bench/gen_tree.py failed: {status}");
}

/// What `herd playbook -i inventory.ini site.yml --syntax-check` does
/// (src/cli/playbook.rs `run`), with the default configuration rather than
/// one read from the environment: load the inventory, load the playbook
/// (roles resolved and every task validated), render the listing.
fn syntax_check(tree: &Path) -> herd::diag::Result<String> {
    let config = Config::default();
    let inventory = Inventory::load_with(
        &[tree.join("inventory.ini").display().to_string()],
        &UnparsedPolicy::from_config(&config),
    )?;
    let session = Session {
        config,
        inventory,
        extra_vars: Map::new(),
        templar: Arc::new(Templar::new()),
        tags: TagSelection::new(&[], &[]),
    };
    let playbook = cli_playbook::load(&session, &tree.join("site.yml"))?;
    let opts = ListOptions {
        syntax_only: true,
        ..ListOptions::default()
    };
    listing::render(&session, "site.yml", &playbook, &opts)
}

fn bench_syntax_check<M: Measurement>(c: &mut Criterion<M>) {
    let dir = tempfile::tempdir().expect("temp dir");
    generate_tree(dir.path());
    let out = syntax_check(dir.path()).unwrap_or_else(|d| panic!("syntax check: {d}"));
    assert_eq!(out, "\nplaybook: site.yml\n");
    let mut g = c.benchmark_group(group_name("syntax_check"));
    configure(&mut g);
    g.bench_function("50_roles_x_20_tasks", |b| {
        b.iter(|| black_box(syntax_check(dir.path())))
    });
    g.finish();
}

// --- one task compiled for 1,000 hosts ------------------------------------

/// An inventory of [`HOSTS`] hosts in two groups, with group variables in
/// the file, in `group_vars/` and in `host_vars/`, and a playbook of one
/// play; returns the inventory file and the playbook.
fn write_fleet(dir: &Path, task: &str) -> (PathBuf, PathBuf) {
    let mut ini = String::from("[web]\n");
    for i in 0..HOSTS / 2 {
        ini.push_str(&format!("web{i:04} http_port={}\n", 8000 + i % 100));
    }
    ini.push_str("\n[db]\n");
    for i in 0..HOSTS - HOSTS / 2 {
        ini.push_str(&format!("db{i:04}\n"));
    }
    ini.push_str(
        "\n[web:vars]\nrole_label=frontend\n\n[db:vars]\nrole_label=database\nhttp_port=5432\n\n\
         [all:vars]\nansible_connection=local\nenabled=true\n",
    );
    let inv = dir.join("inventory");
    write(&inv.join("hosts.ini"), &ini);
    write(
        &inv.join("group_vars/all.yml"),
        "site_name: example\napp_root: /srv/app\nowners: [alice, bob]\n",
    );
    write(
        &inv.join("group_vars/web.yml"),
        "vhost: www.example.com\nworkers: 4\n",
    );
    for i in 0..5 {
        write(
            &inv.join(format!("host_vars/web{i:04}.yml")),
            "workers: 8\ncanary: true\n",
        );
    }
    let pb = dir.join("site.yml");
    write(
        &pb,
        &format!(
            "- name: One task on every host\n  hosts: all\n  gather_facts: false\n  \
             vars:\n    dest_dir: \"{{{{ app_root }}}}/hosts\"\n  tasks:\n{task}"
        ),
    );
    (inv.join("hosts.ini"), pb)
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the fixture's directories");
    }
    std::fs::write(path, text).expect("write a fixture file");
}

/// The compile benchmark's task: templated `copy` arguments and a `when`.
const COPY_TASK: &str = r#"    - name: Write the host's marker
      ansible.builtin.copy:
        content: "{{ inventory_hostname }} {{ site_name }} {{ role_label }} port={{ http_port }}\n"
        dest: "{{ dest_dir }}/{{ inventory_hostname }}"
        mode: "0644"
        owner: "{{ owners | first }}"
      when:
        - enabled | bool
        - http_port | int > 1024
"#;

/// The executor benchmark's task: `debug` runs in the engine, so the run
/// measures the executor's own work (variables, templating, events).
const DEBUG_TASK: &str = r#"    - name: Show the host's marker
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} {{ site_name }} {{ role_label }} port={{ http_port }}"
      when:
        - enabled | bool
        - http_port | int > 1024
"#;

/// A play ready to run, as the executor has it when a play starts: its
/// variables, with the host lists shared by every host rather than copied.
struct CompiledPlay {
    inventory: Arc<Inventory>,
    playbook: Playbook,
    play_vars: vars::PlayVars,
    shared: Arc<Map<String, Value>>,
    hostvars: Arc<dyn HostVarsSource>,
    templar: Templar,
}

impl CompiledPlay {
    fn new(dir: &Path) -> CompiledPlay {
        let (inv_path, pb_path) = write_fleet(dir, COPY_TASK);
        let inventory = Arc::new(
            Inventory::load(&[inv_path.display().to_string()])
                .unwrap_or_else(|d| panic!("inventory: {d}")),
        );
        let playbook = load_playbook(&pb_path, &Default::default())
            .unwrap_or_else(|d| panic!("playbook: {d}"));
        let templar = Templar::new();
        let tags = TagSelection::new(&[], &[]);
        let no_extra = Map::new();
        let scope = PlayScope {
            play: &playbook.plays[0],
            inventory: &inventory,
            extra_vars: &no_extra,
            templar: &templar,
            limit: None,
            check_mode: false,
            diff_mode: false,
            verbosity: 0,
            tags: &tags,
        };
        let mut play_vars = vars::play_vars(&scope).unwrap_or_else(|d| panic!("play vars: {d}"));
        // As the executor's run_play for a batch of every host: the host
        // lists go into the shared map.
        let hosts = Value::Array(play_vars.hosts.iter().cloned().map(Value::String).collect());
        for key in [
            "ansible_play_batch",
            "play_hosts",
            "ansible_play_hosts",
            "ansible_play_hosts_all",
        ] {
            play_vars.magic.insert(key.into(), hosts.clone());
        }
        let mut shared = Map::new();
        for key in SHARED_VARS {
            if let Some(v) = play_vars.magic.shift_remove(*key) {
                shared.insert((*key).to_string(), v);
            }
        }
        let hostvars: Arc<dyn HostVarsSource> = Arc::new(InventoryHostVars {
            inventory: inventory.clone(),
            playbook_dir: Some(playbook.plays[0].playbook_dir.clone()),
        });
        CompiledPlay {
            inventory,
            playbook,
            play_vars,
            shared: Arc::new(shared),
            hostvars,
            templar,
        }
    }

    fn play(&self) -> &Play {
        &self.playbook.plays[0]
    }

    fn task(&self) -> &Task {
        match &self.play().tasks[0] {
            TaskItem::Task(t) => t,
            TaskItem::Block(_) => unreachable!("the fixture's first item is a task"),
        }
    }

    /// One host's task: its variables (Runner::task_vars), its `when`
    /// (Runner::eval_when) and its arguments (Runner::execute_once) —
    /// `None` when the `when` is false.
    fn compile(&self, host: &str) -> herd::diag::Result<Option<Map<String, Value>>> {
        let play = self.play();
        let task = self.task();
        // Before any task has run: no facts but the empty `ansible_facts`,
        // no include_vars, set_fact or include parameters.
        let mut facts = Map::new();
        facts.insert("ansible_facts".into(), Value::Object(Map::new()));
        let empty = Map::new();
        let scope = HostScope {
            play: &self.play_vars,
            inventory: &self.inventory,
            host,
            playbook_dir: &play.playbook_dir,
            role: task.role.as_ref(),
            block_vars: Vec::new(),
            task_vars: Some(&task.vars),
            facts: Some(&facts),
            include_vars: Some(&empty),
            set_facts: Some(&empty),
            include_params: Some(&empty),
        };
        let mut host_vars = vars::host_vars(&scope)?;
        for key in SHARED_VARS {
            host_vars.shift_remove(*key);
        }
        let vars = Vars {
            vars: host_vars,
            hostvars: Some(self.hostvars.clone()),
            shared: Some(self.shared.clone()),
        };
        for cond in play.when.iter().chain(&task.when) {
            if !self
                .templar
                .eval_conditions(std::slice::from_ref(cond), &vars)?
            {
                return Ok(None);
            }
        }
        match self
            .templar
            .render_value(&Value::Object(task.args.clone()), &vars)?
        {
            Value::Object(args) => Ok(Some(args)),
            _ => Ok(None),
        }
    }

    /// Every host of the play compiled; the hosts whose `when` held.
    fn compile_all(&self) -> herd::diag::Result<usize> {
        let mut run = 0;
        for host in &self.play_vars.hosts {
            if let Some(args) = self.compile(host)? {
                black_box(args);
                run += 1;
            }
        }
        Ok(run)
    }
}

/// Counts the host results of a run.
#[derive(Default)]
struct CountResults(Arc<std::sync::atomic::AtomicUsize>);

impl Sink for CountResults {
    fn event(&mut self, e: &Event) {
        if matches!(e, Event::HostResult { .. }) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Runs the one-task playbook with the executor; the host results seen.
fn run_executor(
    rt: &tokio::runtime::Runtime,
    inventory: &Inventory,
    playbook: &Playbook,
) -> (i32, usize) {
    let sink = CountResults::default();
    let seen = sink.0.clone();
    let opts = RunOptions {
        tags: TagSelection::new(&[], &[]),
        ..RunOptions::default()
    };
    let (result, fatal) = rt.block_on(herd::exec::run_playbook(
        playbook,
        inventory.clone(),
        Arc::new(Templar::new()),
        opts,
        Box::new(sink),
    ));
    if let Some(d) = fatal {
        panic!("executor: {d}");
    }
    (
        result.exit_code,
        seen.load(std::sync::atomic::Ordering::Relaxed),
    )
}

fn bench_compile<M: Measurement>(c: &mut Criterion<M>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let compiled = CompiledPlay::new(dir.path());
    assert_eq!(compiled.play_vars.hosts.len(), HOSTS);
    // Sanity: the arguments come out rendered, and the `when` is false on
    // no host (every port is above 1024).
    let args = compiled
        .compile("web0003")
        .unwrap_or_else(|d| panic!("compile: {d}"))
        .expect("the when holds on web0003");
    assert_eq!(args.get("dest"), Some(&json!("/srv/app/hosts/web0003")));
    assert_eq!(
        args.get("content"),
        Some(&json!("web0003 example frontend port=8003\n"))
    );
    assert_eq!(args.get("owner"), Some(&json!("alice")));
    assert_eq!(compiled.compile_all().ok(), Some(HOSTS));

    let exec_dir = tempfile::tempdir().expect("temp dir");
    let (inv_path, pb_path) = write_fleet(exec_dir.path(), DEBUG_TASK);
    let inventory =
        Inventory::load(&[inv_path.display().to_string()]).unwrap_or_else(|d| panic!("{d}"));
    let playbook = load_playbook(&pb_path, &Default::default()).unwrap_or_else(|d| panic!("{d}"));
    let rt = cli_playbook::runtime().unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(run_executor(&rt, &inventory, &playbook), (0, HOSTS));

    let mut g = c.benchmark_group(group_name("compile_task"));
    configure(&mut g);
    g.throughput(Throughput::Elements(HOSTS as u64));
    g.bench_function("copy_1000_hosts", |b| {
        b.iter(|| compiled.compile_all().unwrap_or_else(|d| panic!("{d}")))
    });
    g.bench_function("executor_debug_1000_hosts", |b| {
        b.iter(|| run_executor(&rt, &inventory, &playbook))
    });
    g.finish();
}

// --- report ---------------------------------------------------------------

/// The events of a run of [`TASKS`] tasks on [`HOSTS`] hosts, every result
/// ok or changed, shaped as the executor sends them (copy's result keys).
fn run_events() -> Vec<Event> {
    let hosts: Vec<String> = (0..HOSTS).map(|i| format!("host{i:04}")).collect();
    let mut events = vec![
        Event::PlaybookStart {
            path: "site.yml".into(),
        },
        Event::PlayStart {
            name: "Report benchmark".into(),
            hosts: hosts.clone(),
        },
    ];
    for t in 0..TASKS {
        events.push(Event::TaskStart {
            title: format!("Write file {t}"),
            is_handler: false,
            check_mode: false,
            action: "ansible.builtin.copy".into(),
        });
        for (h, host) in hosts.iter().enumerate() {
            let changed = (h + t) % 3 == 0;
            let result = json!({
                "changed": changed,
                "checksum": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
                "dest": format!("/srv/app/{host}/file{t}.txt"),
                "gid": 0,
                "group": "root",
                "mode": "0644",
                "owner": "root",
                "path": format!("/srv/app/{host}/file{t}.txt"),
                "size": 12,
                "state": "file",
                "uid": 0,
            });
            let Value::Object(result) = result else {
                unreachable!("json!({{…}}) is an object")
            };
            events.push(Event::HostResult {
                host: host.clone(),
                delegated_to: None,
                status: if changed { Status::Changed } else { Status::Ok },
                result,
                item: None,
                ignored: false,
                no_log: false,
            });
        }
    }
    events.push(Event::PlaybookEnd);
    events
}

/// The human output of `events` (as `herd playbook` writes it on a pipe:
/// no colour, verbosity 0, default settings).
fn human<W: io::Write + Send>(out: W, events: &[Event]) -> HumanSink<W> {
    let mut sink =
        HumanSink::new(out, false, 0, Settings::default()).with_stderr(Box::new(io::sink()));
    for e in events {
        sink.event(e);
    }
    sink
}

/// The JSON document of `events` (`--format json`, Ansible's indent of 4).
fn json_doc<W: io::Write + Send>(out: W, events: &[Event]) -> JsonSink<W> {
    let mut sink = JsonSink::new(out, Settings::default().json_indent);
    for e in events {
        sink.event(e);
    }
    sink
}

fn bench_report<M: Measurement>(c: &mut Criterion<M>) {
    let events = run_events();
    // Sanity: both outputs end with the recap of every host.
    let text = String::from_utf8(human(Vec::new(), &events).into_inner()).expect("UTF-8");
    assert!(text.contains("PLAY RECAP"), "no recap in the human output");
    assert_eq!(text.matches("ok=12").count(), HOSTS);
    let doc = json_doc(Vec::new(), &events).into_inner();
    let doc: serde_json::Value = serde_json::from_slice(&doc).expect("one JSON document");
    assert_eq!(doc["stats"].as_object().map(|s| s.len()), Some(HOSTS));
    assert_eq!(doc["stats"]["host0000"]["ok"], json!(12));

    let mut g = c.benchmark_group(group_name("report"));
    configure(&mut g);
    g.throughput(Throughput::Elements((HOSTS * TASKS) as u64));
    g.bench_function("human_1000_hosts_x_12_tasks", |b| {
        b.iter(|| human(io::sink(), black_box(&events)).recap().exit_code())
    });
    g.bench_function("json_1000_hosts_x_12_tasks", |b| {
        b.iter(|| json_doc(io::sink(), black_box(&events)).recap().exit_code())
    });
    g.finish();
}

// --- vault ----------------------------------------------------------------

/// Vaulted variables of the vault benchmark.
const VAULTED: usize = 1000;

fn bench_secrets() -> herd::vault::Vault {
    let mut v = herd::vault::Vault::new(vec![herd::vault::Secret::new(
        "default",
        b"bench-password".to_vec(),
        "bench",
    )]);
    v.encrypt_salt = Some(b"one salt for every value".to_vec());
    v
}

/// Writes `inline.yml` (1,000 `!vault` values), `salted.yml` (the same,
/// made with one fixed salt, as `vault_encrypt_salt` makes them) and
/// `whole.yml` (the 1,000 variables in plain text, the file vault-encrypted).
fn write_vaulted_vars(dir: &Path) -> [PathBuf; 3] {
    let mut vault = bench_secrets();
    let salted = inline_vars(&vault);
    vault.encrypt_salt = None;
    let inline = inline_vars(&vault);
    let mut plain = String::new();
    for i in 0..VAULTED {
        plain.push_str(&format!("var{i:04}: secret-{i}\n"));
    }
    let whole = vault.encrypt(plain.as_bytes(), 0).expect("encrypt");
    let paths = [
        dir.join("inline.yml"),
        dir.join("salted.yml"),
        dir.join("whole.yml"),
    ];
    write(&paths[0], &inline);
    write(&paths[1], &salted);
    write(&paths[2], &whole);
    paths
}

/// 1,000 variables, each an inline `!vault` value.
fn inline_vars(vault: &herd::vault::Vault) -> String {
    let mut inline = String::new();
    for i in 0..VAULTED {
        let text = vault
            .encrypt(format!("secret-{i}").as_bytes(), 0)
            .expect("encrypt");
        inline.push_str(&format!("var{i:04}: !vault |\n"));
        for line in text.lines() {
            inline.push_str("  ");
            inline.push_str(line);
            inline.push('\n');
        }
    }
    inline
}

/// Loads a vars file with new secrets and reads every variable's
/// plaintext, as templating does: the total length of the plaintexts.
fn load_vaulted(path: &Path) -> herd::diag::Result<usize> {
    herd::vault::install(bench_secrets());
    read_vaulted(&herd::yaml::load_file(path)?.to_value())
}

/// The total length of the variables' plaintexts, each decrypted as
/// templating reads it.
fn read_vaulted(vars: &Value) -> herd::diag::Result<usize> {
    let Value::Object(vars) = vars else {
        return Ok(0);
    };
    let mut total = 0;
    for (name, v) in vars {
        total += match herd::value::as_vault(v) {
            Some(text) => herd::vault::decrypt_inline(text, Some(name))?.len(),
            None => herd::value::py_str(v).len(),
        };
    }
    Ok(total)
}

fn bench_vault<M: Measurement>(c: &mut Criterion<M>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let [inline, salted, whole] = write_vaulted_vars(dir.path());
    // "secret-0" .. "secret-999": 10 × 8 + 90 × 9 + 900 × 10 bytes.
    let expected = 10 * 8 + 90 * 9 + 900 * 10;
    for p in [&inline, &salted, &whole] {
        assert_eq!(load_vaulted(p).expect("load"), expected);
    }

    let mut g = c.benchmark_group(group_name("vault"));
    configure(&mut g);
    g.throughput(Throughput::Elements(VAULTED as u64));
    g.bench_function("load_1000_inline_vault_values", |b| {
        b.iter(|| load_vaulted(black_box(&inline)).expect("inline"))
    });
    // Loading alone: the keys are derived in the background, and the
    // next iteration's setup (not timed) reads every value, waiting for
    // them, so that no derivation overlaps the next load.
    let loaded: std::cell::RefCell<Option<Value>> = std::cell::RefCell::new(None);
    g.bench_function("load_1000_inline_vault_values_without_reading", |b| {
        b.iter_batched(
            || {
                if let Some(vars) = loaded.borrow_mut().take() {
                    assert_eq!(read_vaulted(&vars).expect("read"), expected);
                }
                herd::vault::install(bench_secrets());
            },
            |()| {
                let vars = herd::yaml::load_file(black_box(&inline)).expect("load");
                *loaded.borrow_mut() = Some(vars.to_value());
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("load_1000_inline_vault_values_one_salt", |b| {
        b.iter(|| load_vaulted(black_box(&salted)).expect("salted"))
    });
    g.bench_function("load_1000_vars_from_a_vaulted_file", |b| {
        b.iter(|| load_vaulted(black_box(&whole)).expect("whole"))
    });
    g.finish();
}

// --- CPU time -------------------------------------------------------------

/// `HERD_BENCH_CPU=1` measures the CPU time of the whole process (every
/// thread) instead of the wall-clock time: on a machine shared with other
/// work, time spent waiting for a core is then not counted.
fn cpu_mode() -> bool {
    std::env::var_os("HERD_BENCH_CPU").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The group's name; `_cpu` after it in CPU mode, so criterion never
/// compares a CPU time with a wall-clock time from an earlier run.
fn group_name(name: &str) -> String {
    if cpu_mode() {
        format!("{name}_cpu")
    } else {
        name.to_string()
    }
}

/// The CPU time this process has used so far (`CLOCK_PROCESS_CPUTIME_ID`).
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// criterion's measurement of [`process_cpu_time`].
struct ProcessCpuTime;

/// Durations are shown as criterion shows wall-clock times.
static WALL_TIME: WallTime = WallTime;

impl Measurement for ProcessCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        process_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, d: &Duration) -> f64 {
        d.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

fn run_all<M: Measurement>(c: &mut Criterion<M>) {
    bench_syntax_check(c);
    bench_compile(c);
    bench_report(c);
    bench_vault(c);
}

// What criterion_group!/criterion_main! expand to, with the measurement
// chosen at run time.
fn main() {
    if cpu_mode() {
        let mut c = Criterion::default()
            .with_measurement(ProcessCpuTime)
            .configure_from_args();
        run_all(&mut c);
    } else {
        let mut c = Criterion::default().configure_from_args();
        run_all(&mut c);
    }
    Criterion::default().configure_from_args().final_summary();
}
