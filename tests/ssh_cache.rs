//! The connection cache: `connect` reuses, `close_all` ends everything
//! (in its own test binary: closing is global to the process).

mod support;

use std::sync::Arc;

use herd_modules::api::ExecOptions;
use support::Sshd;

#[tokio::test]
async fn connect_caches_and_close_all_removes_temp_files() {
    let sshd = Sshd::start();
    let settings = sshd.settings();
    let a = herd::connection::connect("h", &settings).await.unwrap();
    let b = herd::connection::connect("h", &settings).await.unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let r = a
        .exec("printf %s \"$HERD_TMPDIR\"", &ExecOptions::default())
        .await
        .unwrap();
    let tmp = r.stdout_text();
    assert!(tmp.contains(".herd-"), "{tmp}");
    // Made only when first needed: standard input is stored there.
    assert!(!std::path::Path::new(&tmp).exists());
    let r = a
        .exec(
            "cat; test -d \"$HERD_TMPDIR\" && echo made",
            &ExecOptions {
                stdin: Some(b"in\n".to_vec()),
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), "in\nmade\n");
    assert!(std::path::Path::new(&tmp).is_dir());
    herd::connection::close_all().await;
    // The shell removed its directory on the way out.
    assert!(!std::path::Path::new(&tmp).exists());
}
