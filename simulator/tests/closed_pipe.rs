//! `simulator run ... | head`: a reader that closes the pipe ends the output quietly, and the
//! files are written all the same.

use std::process::{Command, Stdio};

#[test]
fn run_into_a_closed_pipe_exits_quietly_with_its_files_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("out");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_simulator"))
        .args([
            "run",
            "--scenario",
            "pioneer-2012-2013",
            "--replicates",
            "2",
            "--out",
        ])
        .arg(&out_dir)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run the simulator");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
    assert!(out_dir.join("summary.json").is_file());
}
