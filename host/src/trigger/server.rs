//! The listener: accepts connections and serves HTTP/1.1 on each with hyper, handing
//! every request to the [`HttpTrigger`].
//!
//! The edge is bounded ([`ServerOptions`]):
//! - **the listen backlog** is [`LISTEN_BACKLOG`], so a burst of connections waits in
//!   the kernel rather than in SYN-ACK retransmission;
//! - **open connections** are capped: at the cap the server stops accepting (new
//!   connections wait in the kernel's backlog) until one closes. The cap is lowered to
//!   fit the process's file-descriptor limit, keeping [`RESERVED_FDS`] for everything
//!   else, so connections can never exhaust descriptors;
//! - **header read**: hyper's own `header_read_timeout` closes a connection whose
//!   request head has not fully arrived in time, counted from when the server is ready
//!   for it (a new connection, or the end of the previous response);
//! - **idle keep-alive**: a connection with no request in flight is closed after the
//!   keep-alive timeout (hyper's `graceful_shutdown`, which closes an idle connection
//!   at once). hyper's header timer also runs while a connection waits for its next
//!   request, so an idle connection lasts at most the shorter of the two; one still
//!   open a second after the longer of the two, with no request in flight, is
//!   dropped (a backstop: hyper can leave a timed-out connection waiting for a wake-up);
//! - **heads**: hyper parses at most [`HYPER_MAX_HEADERS`] fields and twice the head
//!   byte budget; within that, the trigger judges the client's own head
//!   ([`HeadLimits`]) and answers with a JSON 431.
//!
//! On shutdown it stops accepting, asks every connection to finish its request in
//! flight, and waits up to 10 s for them.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use wasmtime_wasi_http::WasiBody;

use super::{HeadLimits, HttpTrigger};
use crate::runtime::AppRuntime;

/// Descriptors kept free of connections for everything else the host opens: Postgres
/// and Redis connections, SQLite files, the compilation cache, logs.
pub const RESERVED_FDS: u64 = 64;

/// Connections the kernel may hold completed but not yet accepted.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Header fields hyper parses before refusing a head on its own (with a bare 431); the
/// host's own, lower limit answers in JSON first.
pub const HYPER_MAX_HEADERS: usize = 1024;

/// How the server bounds connections and request heads.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Time a client has to send a complete request head (default 10 s).
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request in flight (default 5 s).
    pub keep_alive_timeout: Duration,
    /// Connections open at once (default 1024; lowered to the descriptor limit).
    pub max_connections: usize,
    /// What the host accepts of a client's request head.
    pub head_limits: HeadLimits,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            max_connections: 1024,
            head_limits: HeadLimits::default(),
        }
    }
}

/// A bound, not yet running, HTTP server.
pub struct Server {
    trigger: Arc<HttpTrigger>,
    listener: TcpListener,
    addr: SocketAddr,
    options: ServerOptions,
}

impl Server {
    /// Binds `addr` for `rt`. Port 0 picks a free port; see [`Server::local_addr`].
    pub async fn bind(
        rt: Arc<AppRuntime>,
        addr: SocketAddr,
        mut options: ServerOptions,
    ) -> anyhow::Result<Server> {
        let listener = listen(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        if let Some(fit) = connections_that_fit() {
            if options.max_connections > fit {
                tracing::warn!(
                    "lowering the connection cap from {} to {fit} to fit the file-descriptor limit",
                    options.max_connections
                );
                options.max_connections = fit;
            }
        }
        options.max_connections = options.max_connections.max(1);
        Ok(Server {
            trigger: HttpTrigger::with_limits(rt, options.head_limits),
            listener,
            addr,
            options,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The connection cap in force (after fitting the descriptor limit).
    pub fn max_connections(&self) -> usize {
        self.options.max_connections
    }

    /// Serves until `shutdown` completes, then stops accepting and waits (up to 10 s)
    /// for requests in flight to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.options.header_read_timeout)
            .keep_alive(true)
            .max_headers(HYPER_MAX_HEADERS)
            .max_buf_size((2 * self.options.head_limits.max_bytes).max(64 << 10));
        let max = self.options.max_connections;
        let slots = Arc::new(Semaphore::new(max));
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let conn = Conn {
                trigger: self.trigger.clone(),
                builder: builder.clone(),
                keep_alive: self.options.keep_alive_timeout,
                header_read: self.options.header_read_timeout,
                stop: stop_rx.clone(),
            };
            tokio::spawn(async move {
                conn.serve(stream, peer).await;
                drop(slot);
            });
        }
        drop(self.listener);
        tracing::info!("shutting down: waiting for requests in flight");
        let _ = stop_tx.send(true);
        let all_closed = slots.acquire_many(max as u32);
        if tokio::time::timeout(Duration::from_secs(10), all_closed)
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after 10s; stopping anyway");
        }
        Ok(())
    }
}

/// One accepted connection.
struct Conn {
    trigger: Arc<HttpTrigger>,
    builder: hyper::server::conn::http1::Builder,
    keep_alive: Duration,
    header_read: Duration,
    stop: watch::Receiver<bool>,
}

impl Conn {
    async fn serve(self, stream: TcpStream, peer: SocketAddr) {
        let Conn {
            trigger,
            builder,
            keep_alive,
            header_read,
            mut stop,
        } = self;
        let activity = Arc::new(Activity::new());
        let seen = activity.clone();
        let svc = hyper::service::service_fn(move |req| {
            let trigger = trigger.clone();
            let busy = seen.begin();
            async move {
                let resp = trigger.handle(req, peer).await;
                Ok::<_, Infallible>(resp.map(|body| Tracked { body, _busy: busy }))
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        tokio::pin!(conn);
        // Past this much time with no request in flight, both of hyper's closes should
        // have happened; a connection still open is dropped.
        let backstop = keep_alive.max(header_read) + Duration::from_secs(1);
        let mut closing = false;
        let idle_check = tokio::time::sleep(keep_alive);
        tokio::pin!(idle_check);
        loop {
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!("connection from {peer} ended: {e}");
                    }
                    return;
                }
                _ = stop.wait_for(|stop| *stop), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = &mut idle_check => {
                    let now = Instant::now();
                    let next = match activity.idle_since() {
                        None => now + keep_alive,
                        Some(since) if now >= since + backstop => {
                            tracing::debug!("dropping a connection from {peer} idle past every timeout");
                            return;
                        }
                        Some(since) if now >= since + keep_alive && !closing => {
                            conn.as_mut().graceful_shutdown();
                            closing = true;
                            since + backstop
                        }
                        Some(since) if closing => since + backstop,
                        Some(since) => since + keep_alive,
                    };
                    idle_check.as_mut().reset(next.into());
                }
            }
        }
    }
}

/// Requests in flight on one connection, and when it last became idle.
struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// Since when no request has been in flight; `None` while one is.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(*self.idle_since.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// One request in flight, until its response body is finished or dropped.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as in flight.
struct Tracked {
    body: WasiBody,
    _busy: Busy,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Binds `addr` with a listen backlog of [`LISTEN_BACKLOG`] (the kernel caps it at
/// `net.core.somaxconn`). The default of `TcpListener::bind`, 128, overflows under a
/// burst of connections: the kernel then drops their handshakes' last packet and they
/// are accepted only after seconds of SYN-ACK retransmission.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Connections that fit the soft `RLIMIT_NOFILE`, keeping [`RESERVED_FDS`] free.
fn connections_that_fit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0
            || lim.rlim_cur == libc::RLIM_INFINITY
        {
            return None;
        }
        let fit = lim.rlim_cur.saturating_sub(RESERVED_FDS);
        Some(usize::try_from(fit).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    None
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
