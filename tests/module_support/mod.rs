//! Shared by the `module_*` tests: run a built-in module against the local
//! host, with a controller whose search path is one directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use herd::connection::LocalHost;
use herd::template::{Templar, TemplateFileOptions, Vars};
use herd::vars::ConnectionSettings;
use herd_modules::api::{Controller, Map, ModuleContext, Outcome, TemplateOptions, Value};

/// Files in `root/files`, `root/templates` or `root` are found; templates
/// see `vars`.
pub struct TestController {
    pub root: PathBuf,
    pub vars: Map<String, Value>,
}

impl Controller for TestController {
    fn find_file(&self, kind: &str, name: &str) -> Option<PathBuf> {
        let p = Path::new(name);
        if p.is_absolute() {
            return p.exists().then(|| p.to_path_buf());
        }
        [self.root.join(kind).join(name), self.root.join(name)]
            .into_iter()
            .find(|p| p.exists())
    }

    fn render_template(&self, text: &str, o: &TemplateOptions) -> Result<String, String> {
        let opts = TemplateFileOptions {
            trim_blocks: o.trim_blocks,
            lstrip_blocks: o.lstrip_blocks,
            newline_sequence: o.newline_sequence.clone(),
            block_start_string: o.block_start_string.clone(),
            block_end_string: o.block_end_string.clone(),
            variable_start_string: o.variable_start_string.clone(),
            variable_end_string: o.variable_end_string.clone(),
            comment_start_string: o.comment_start_string.clone(),
            comment_end_string: o.comment_end_string.clone(),
            search_path: Vec::new(),
        };
        Templar::new()
            .render_template_file(text, &Vars::new(self.vars.clone()), &opts)
            .map_err(|e| e.to_string())
    }

    fn read_local(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

/// The BusyBox userland scripts/test.sh installs: applet symlinks in
/// `bin/`, and `shell`, BusyBox's sh with only that directory on PATH.
pub const BUSYBOX_DIR: &str = "/opt/herd-busybox";

/// True in the BusyBox flavour: the test binary `module_busybox`, which
/// runs the file, command and text module tests a second time with the
/// host's commands under BusyBox (the same test bodies, no copies).
pub fn busybox() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|n| n.starts_with("module_busybox"))
}

/// The wrapper shell of the BusyBox flavour, or a failure that says how
/// to install it.
pub fn busybox_shell() -> String {
    let shell = format!("{BUSYBOX_DIR}/shell");
    assert!(
        Path::new(&shell).is_file() && Path::new(BUSYBOX_DIR).join("bin/sh").exists(),
        "the BusyBox userland is missing ({shell}): run scripts/test.sh (as root), \
         which installs busybox and links its applets into {BUSYBOX_DIR}/bin"
    );
    shell
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub host: LocalHost,
    pub controller: TestController,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let controller = TestController {
            root: dir.path().join("controller"),
            vars: Map::new(),
        };
        std::fs::create_dir_all(&controller.root).unwrap();
        // The BusyBox flavour runs every command under BusyBox's sh with
        // only its applets on PATH; HERD_TEST_SHELL names another shell.
        let shell = if busybox() {
            Some(busybox_shell())
        } else {
            std::env::var("HERD_TEST_SHELL").ok()
        };
        let settings = ConnectionSettings {
            shell_executable: shell,
            ..ConnectionSettings::default()
        };
        Env {
            host: LocalHost::new("localhost", &settings).unwrap(),
            controller,
            dir,
        }
    }

    /// A path inside the temp dir, as a string.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// Writes a file on the controller side (`controller/<name>`).
    pub fn local_file(&self, name: &str, data: &str) -> PathBuf {
        let p = self.controller.root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }

    pub async fn run(&self, module: &str, args: Value) -> Outcome {
        self.run_with(module, args, false, false).await
    }

    pub async fn check(&self, module: &str, args: Value) -> Outcome {
        self.run_with(module, args, true, true).await
    }

    pub async fn run_with(&self, module: &str, args: Value, check: bool, diff: bool) -> Outcome {
        let args = match args {
            Value::Object(m) => m,
            other => panic!("args must be a dict: {other}"),
        };
        let m = herd_modules::registry::get(module).expect(module);
        let ctx = ModuleContext {
            host: &self.host,
            controller: &self.controller,
            args: &args,
            check_mode: check,
            diff,
            result_seen: true,
            demand: None,
        };
        m.run(&ctx).await.expect("host error")
    }
}

/// The mode bits of a path.
pub fn mode_of(p: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

pub fn set_mode(p: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A file name with the characters that break careless shell code.
pub const NASTY: &str = "a b'c\"d $(touch pwned);e\nf";
