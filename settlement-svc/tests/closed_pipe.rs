//! `settlement-svc backtest ... | head`: a reader that closes the pipe ends the output quietly.

use std::process::{Command, Stdio};

/// Runs `settlement-svc args` with standard output a pipe whose read end is already closed (every
/// write fails with EPIPE, as after `head` has exited) and returns (success, stderr).
fn into_a_closed_pipe(args: &[&str]) -> (bool, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_settlement-svc"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run settlement-svc");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn backtest_into_a_closed_pipe_exits_quietly() {
    for format in ["json", "table"] {
        let (ok, stderr) = into_a_closed_pipe(&[
            "backtest",
            "--puf",
            "proto/testdata/puf/mssp_puf_py2014.csv",
            "--format",
            format,
        ]);
        assert!(ok, "{format}: {stderr}");
        assert!(stderr.is_empty(), "{format}: nothing on stderr: {stderr}");
    }
}
