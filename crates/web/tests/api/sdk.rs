//! The official Intercom SDKs, pointed at Tidings' base URL: the Python SDK (PyPI
//! `python-intercom` 5.x) for contacts, search, tags, segments, data attributes, admins, messages
//! and conversations, and the Node SDK (npm `intercom-client` 7.x) for every conversation method.
//! Each runs as a script against a server per database; under `CI=true` a missing SDK fails the
//! test, elsewhere it is skipped with what to install.

use std::path::PathBuf;

use super::support::servers;

/// Skips (or, in CI, fails) when an SDK is not installed.
fn missing(what: &str) -> bool {
    let msg = format!("{what} (scripts/test installs it)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED (not in CI): {msg}");
    true
}

/// Runs `program script` against a server on each database; the script prints `done` when every
/// check passed.
async fn run_against_each_database(program: &str, script: &str, env: &[(&str, String)], done: &str) {
    for s in servers().await {
        let out = tokio::process::Command::new(program)
            .arg(script)
            .env("TIDINGS_BASE_URL", &s.base)
            .env("TIDINGS_TOKEN", &s.token)
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: the SDK script failed\n{stdout}\n{stderr}", s.db);
        assert!(stdout.contains(done), "{}: {stdout}", s.db);
        s.stop().await;
    }
}

#[tokio::test]
async fn the_official_python_sdk_works_against_tidings() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/python_sdk.py");
    let available = std::process::Command::new("python3")
        .args(["-c", "import intercom"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available && missing("the Intercom Python SDK is not installed: python3 -m pip install 'python-intercom>=5,<6'")
    {
        return;
    }
    run_against_each_database("python3", script, &[], "all SDK checks passed").await;
}

/// Where `scripts/test` installs the Node SDK: `$TIDINGS_NODE_MODULES`, or
/// `~/.cache/tidings-node/node_modules`.
fn node_modules() -> PathBuf {
    match std::env::var_os("TIDINGS_NODE_MODULES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/tidings-node/node_modules"),
    }
}

#[tokio::test]
async fn the_official_node_sdk_works_against_tidings_conversations() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/node_sdk.cjs");
    let modules = node_modules().display().to_string();
    let available = std::process::Command::new("node")
        .args(["-e", "require('intercom-client')"])
        .env("NODE_PATH", &modules)
        .output()
        .is_ok_and(|o| o.status.success());
    if !available
        && missing(&format!(
            "node, or the Intercom Node SDK in {modules}: npm install --prefix DIR intercom-client@7.0.3 and set \
             TIDINGS_NODE_MODULES=DIR/node_modules (DIR is ~/.cache/tidings-node by default)"
        ))
    {
        return;
    }
    run_against_each_database("node", script, &[("NODE_PATH", modules)], "all Node SDK checks passed").await;
}
