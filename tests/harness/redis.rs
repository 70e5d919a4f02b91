//! A throwaway `redis-server` on a free loopback port, killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, on_a_free_port};

/// A running Redis server.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` with no persistence on a free port of 127.0.0.1 (another, when
    /// the port is taken before redis binds it).
    pub fn start() -> RedisServer {
        on_a_free_port("redis-server", free_port, Self::try_start)
    }

    /// Starts `redis-server` on a given loopback port (a restart on the port a test knows).
    pub fn start_on(port: u16) -> RedisServer {
        Self::try_start(port).unwrap_or_else(|| panic!("redis-server could not bind port {port}"))
    }

    /// `redis-server` on `port`, once it answers `PING`; `None` when it exited first.
    fn try_start(port: u16) -> Option<RedisServer> {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (run scripts/setup.sh)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pong(port) {
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(RedisServer { child, port })
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a Redis server answers `PING` on `port` (a listener alone is not one: a Redis
/// still loading its data, or another program, does not answer `+PONG`).
fn pong(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    conn.write_all(b"PING\r\n").is_ok()
        && conn.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
