//! A service binary run as a child process on a free loopback port, for the tests that kill it
//! (`kill -9`) or run several processes on one database.

use std::{
    net::{SocketAddr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tonic::transport::Channel;

/// A running service binary, killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    /// Runs `bin serve ARGS... --listen 127.0.0.1:PORT` (PORT free a moment before) with its
    /// output discarded unless `ACORN_TEST_SERVER_LOGS` is set, and waits up to 60 s until it
    /// accepts connections (it listens only once its store is open).
    pub async fn serve(bin: &Path, args: &[String]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let logs = std::env::var_os("ACORN_TEST_SERVER_LOGS").is_some();
        let child = Command::new(bin)
            .arg("serve")
            .args(args)
            .args(["--listen", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(if logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        let mut process = Self { child, addr };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("{} exited before serving: {status}", bin.display());
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return process;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} did not listen on {addr} within 60 s",
                bin.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A channel to the server (connected lazily, so it outlives a restart on another port only
    /// by failing).
    pub fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect_lazy()
    }

    /// `kill -9`: the process gets no chance to flush, checkpoint or answer anyone.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
