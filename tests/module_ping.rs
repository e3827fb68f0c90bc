//! ping against the local host.

mod module_support;

use module_support::Env;
use serde_json::json;

#[tokio::test]
async fn ping() {
    let env = Env::new();
    let o = env.run("ping", json!({})).await;
    assert!(!o.changed && !o.failed);
    assert_eq!(o.values["ping"], "pong");
    let o = env.check("ping", json!({"data": "hello"})).await;
    assert_eq!(o.values["ping"], "hello");
    let o = env.run("ping", json!({"data": "crash"})).await;
    assert!(o.failed);
    let o = env.run("ping", json!({"date": "x"})).await;
    assert!(o.failed && o.msg.unwrap().contains("Did you mean 'data'"));
}
