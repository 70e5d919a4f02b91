//! A throwaway authoritative DNS server (dnsmasq) on a free loopback port, killed on drop.
//!
//! It answers only the records it is given (TXT and A), says NXDOMAIN for any other name under the
//! zones it is given, and forwards nothing: no query leaves the machine.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A record to serve.
#[derive(Debug, Clone)]
pub enum Record {
    /// `name TXT "text"` (one character-string, no commas).
    Txt(String, String),
    /// `name A ip` (IPv4).
    A(String, String),
}

/// A running dnsmasq.
pub struct DnsServer {
    child: Child,
    addr: SocketAddr,
}

impl DnsServer {
    /// Serves `records`, authoritative (NXDOMAIN for the rest) for each zone in `zones`
    /// (for example `test`).
    pub fn start(zones: &[&str], records: &[Record]) -> DnsServer {
        let port = free_udp_and_tcp_port();
        let mut args = vec![
            "--keep-in-foreground".to_string(),
            format!("--port={port}"),
            "--listen-address=127.0.0.1".into(),
            "--bind-interfaces".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            "--no-poll".into(),
            "--conf-file=/dev/null".into(),
            "--pid-file=".into(),
            "--user=root".into(),
            "--log-facility=-".into(),
            "--log-queries".into(),
        ];
        for z in zones {
            args.push(format!("--local=/{z}/"));
        }
        for r in records {
            match r {
                // No shell here: quotes would become part of the text. A comma would start
                // a second character-string; tests give none.
                Record::Txt(name, text) => args.push(format!("--txt-record={name},{text}")),
                Record::A(name, ip) => args.push(format!("--host-record={name},{ip}")),
            }
        }
        let bin = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("dnsmasq");
        let child = Command::new(bin)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (run scripts/setup.sh)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        DnsServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// `127.0.0.1:<port>`, for `--dns-server`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free for both UDP and TCP (DNS uses both).
fn free_udp_and_tcp_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("a loopback UDP socket");
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}
