//! A host that answers each command with the next recorded output (the
//! real tool's output, kept under tests/fixtures/), for modules whose tool
//! this machine does not have (dnf, apk). The tests check the commands the
//! module sends and the result it returns.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use herd_modules::api::{
    ExecOptions, ExecResult, FileStat, Host, HostError, Map, ModuleContext, Outcome, Source, Value,
};

use crate::module_support::TestController;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/packaging");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect(name)
}

/// A host that answers each command with the next recorded output, and
/// keeps the commands it was sent.
pub struct Recorded {
    answers: Mutex<VecDeque<(i32, String)>>,
    sent: Mutex<Vec<String>>,
}

impl Recorded {
    /// Answers read from fixture files.
    pub fn new(answers: &[(i32, &str)]) -> Recorded {
        Recorded::with_text(answers.iter().map(|(rc, f)| (*rc, fixture(f))).collect())
    }

    pub fn with_text(answers: Vec<(i32, String)>) -> Recorded {
        Recorded {
            answers: Mutex::new(answers.into()),
            sent: Mutex::new(Vec::new()),
        }
    }

    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Host for Recorded {
    fn name(&self) -> &str {
        "recorded"
    }
    async fn exec(&self, command: &str, _: &ExecOptions) -> Result<ExecResult, HostError> {
        self.sent.lock().unwrap().push(command.to_string());
        let (rc, out) = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("no recorded answer for: {command}"));
        Ok(ExecResult {
            rc,
            stdout: out.into_bytes(),
            stderr: Vec::new(),
        })
    }
    async fn read_file(&self, _: &str) -> Result<Option<Vec<u8>>, HostError> {
        Err(HostError::failed("no file access is recorded"))
    }
    async fn write_from(&self, _: &str, _: Source<'_>, _: Option<u32>) -> Result<(), HostError> {
        Err(HostError::failed("no file access is recorded"))
    }
    async fn checksum(&self, _: &str) -> Result<Option<String>, HostError> {
        Err(HostError::failed("no file access is recorded"))
    }
    async fn stat(&self, _: &str, _: bool) -> Result<Option<FileStat>, HostError> {
        Err(HostError::failed("no file access is recorded"))
    }
}

/// Runs `module` with `args` against the recorded host; its result as
/// registered.
pub async fn run(module: &str, args: Value, check: bool, host: &Recorded) -> Map<String, Value> {
    let dir = tempfile::tempdir().unwrap();
    let controller = TestController {
        root: dir.path().to_path_buf(),
        vars: Map::new(),
    };
    let Value::Object(args) = args else {
        panic!("args must be a dict")
    };
    let m = herd_modules::registry::get(module).expect(module);
    let ctx = ModuleContext {
        host,
        controller: &controller,
        args: &args,
        check_mode: check,
        diff: false,
        result_seen: true,
        demand: None,
    };
    let o: Outcome = m.run(&ctx).await.expect("host error");
    o.to_result()
}
