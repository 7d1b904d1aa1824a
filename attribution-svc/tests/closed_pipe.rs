//! `attribution-svc assign ... | head`: a reader that closes the pipe ends the output quietly.

use std::process::{Command, Stdio};

/// The README's `assign` example with the list on standard output, which is a pipe whose read end
/// is already closed (every write fails with EPIPE, as after `head` has exited).
#[test]
fn assign_into_a_closed_pipe_exits_quietly() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_attribution-svc"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "assign",
            "--performance-year",
            "2024",
            "--participants",
            "attribution-svc/testdata/readme/participants.csv",
            "--beneficiaries",
            "attribution-svc/testdata/readme/beneficiaries.csv",
            "--claims",
            "attribution-svc/testdata/readme/claims.csv",
        ])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run attribution-svc assign");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
}
