//! A NATS server of a test's own, on a free port, that the test may stop
//! and start again without disturbing other tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

pub struct OwnNats {
    pub port: u16,
    store: TempDir,
    child: Option<Child>,
}

impl OwnNats {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut nats = Self {
            port,
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        nats.resume().await;
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same storage.
    pub async fn resume(&mut self) {
        let store: PathBuf = self.store.path().to_path_buf();
        let child = Command::new(nats_server())
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not start on port {}", self.port);
    }
}

fn nats_server() -> PathBuf {
    let packaged = PathBuf::from("/usr/sbin/nats-server");
    std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or(if packaged.exists() {
            packaged
        } else {
            "nats-server".into()
        })
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.kill();
    }
}
