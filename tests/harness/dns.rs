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
        // A port taken between choosing it and dnsmasq's bind makes dnsmasq exit: another port.
        crate::on_a_free_port("dnsmasq", free_udp_and_tcp_port, |port| {
            Self::try_start(port, zones, records)
        })
    }

    /// dnsmasq on `port`, once it answers a query over UDP; `None` when it exited first.
    fn try_start(port: u16, zones: &[&str], records: &[Record]) -> Option<DnsServer> {
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
        let mut child = Command::new(bin)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (run scripts/setup.sh)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers(addr) {
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(DnsServer { child, addr })
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

/// Whether a DNS server answers at `addr`: a query (`ready.invalid. A`) whose reply carries its
/// id, whatever the answer. Any listener would accept a TCP connection; only a DNS server
/// replies to this.
fn answers(addr: SocketAddr) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    let mut query = vec![0x7a, 0x11, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["ready", "invalid"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    if socket.send_to(&query, addr).is_err() {
        return false;
    }
    let mut reply = [0u8; 512];
    matches!(socket.recv_from(&mut reply), Ok((n, from)) if n >= 12 && from == addr && reply[..2] == [0x7a, 0x11] && reply[2] & 0x80 != 0)
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
