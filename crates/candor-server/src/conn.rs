//! The accept loop: HTTP/1.1 connections with bounds on what a slow or abusive client can hold.
//!
//! - **Header read timeout** (hyper's): the whole request header within `header_read` of
//!   connecting (or of its first byte on a kept-alive connection).
//! - **Idle timeout** ([`IdleIo`]): a connection that moves no byte for `idle` while no
//!   request is being answered is closed.
//! - **Connection cap**: at `max_connections` a new connection displaces the one idle the
//!   longest (between requests, or still sending its header: a half-sent header costs the
//!   attacker nothing, so it is what goes first); when every connection is answering a request
//!   the newcomer gets a quick 503 and is closed.
//! - The request timeout (body and answer) is a tower layer on the router (`App::router`).
//!
//! Graceful shutdown: stop accepting, let every connection finish its request, close.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The bounds of [`run`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

/// One connection as the registry sees it.
struct Slot {
    /// Requests being answered on it now.
    active: Arc<AtomicUsize>,
    /// When it last became idle (connected, or finished answering).
    idle_since: Arc<Mutex<Instant>>,
    /// Closes it (dropping the connection).
    evict: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Registry {
    next: u64,
    slots: HashMap<u64, Slot>,
}

impl Registry {
    /// Evict the connection idle the longest; false when every connection is busy.
    fn evict_oldest_idle(&mut self) -> bool {
        let oldest = self
            .slots
            .iter()
            .filter(|(_, s)| s.active.load(Ordering::Acquire) == 0 && s.evict.is_some())
            .min_by_key(|(_, s)| *s.idle_since.lock().expect("idle lock"))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| self.slots.get_mut(&id)) {
            Some(slot) => {
                if let Some(tx) = slot.evict.take() {
                    let _ = tx.send(());
                }
                metrics::counter!("candor_connections_evicted_total").increment(1);
                true
            }
            None => false,
        }
    }

    /// Connections not yet told to go.
    fn live(&self) -> usize {
        self.slots.values().filter(|s| s.evict.is_some()).count()
    }
}

/// Accept connections on `listener` and answer them with `router` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (evict_tx, evict_rx) = oneshot::channel();
        let active = Arc::new(AtomicUsize::new(0));
        let idle_since = Arc::new(Mutex::new(Instant::now()));
        let id = {
            let mut reg = registry.lock().expect("registry lock");
            if reg.live() >= limits.max_connections && !reg.evict_oldest_idle() {
                drop(reg);
                metrics::counter!("candor_connections_refused_total").increment(1);
                tokio::spawn(refuse(stream));
                continue;
            }
            let id = reg.next;
            reg.next += 1;
            reg.slots.insert(
                id,
                Slot {
                    active: active.clone(),
                    idle_since: idle_since.clone(),
                    evict: Some(evict_tx),
                },
            );
            id
        };
        metrics::gauge!("candor_connections_open").increment(1.0);
        let registry = registry.clone();
        let router = router.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, router, limits, active, idle_since, evict_rx, stop).await;
            registry.lock().expect("registry lock").slots.remove(&id);
            metrics::gauge!("candor_connections_open").decrement(1.0);
        });
    }
    // Graceful: every connection finishes the request it is answering, then closes.
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !registry.lock().expect("registry lock").slots.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Over the cap with every connection busy: a short 503, then close.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":{"code":"too_many_connections","message":"the service is at its connection limit; retry"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    active: Arc<AtomicUsize>,
    idle_since: Arc<Mutex<Instant>>,
    evict: oneshot::Receiver<()>,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(IdleIo::new(stream, limits.idle, active.clone()));
    let service = Tracked {
        router,
        active,
        idle_since,
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::pin!(evict);
    let graceful = tokio::select! {
        _ = conn.as_mut() => false,
        _ = &mut evict => return,
        _ = stop.wait_for(|s| *s) => true,
    };
    if graceful {
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
    }
}

/// The router, counting the requests being answered on its connection.
#[derive(Clone)]
struct Tracked {
    router: Router,
    active: Arc<AtomicUsize>,
    idle_since: Arc<Mutex<Instant>>,
}

/// Counts one request as active until dropped (the answer is ready, or the request was dropped).
struct ActiveGuard {
    active: Arc<AtomicUsize>,
    idle_since: Arc<Mutex<Instant>>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        *self.idle_since.lock().expect("idle lock") = Instant::now();
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.active.fetch_add(1, Ordering::AcqRel);
        let guard = ActiveGuard {
            active: self.active.clone(),
            idle_since: self.idle_since.clone(),
        };
        let router = self.router.clone();
        Box::pin(async move {
            let answer = router.oneshot(req.map(axum::body::Body::new)).await;
            drop(guard);
            answer
        })
    }
}

/// A TCP stream that fails its reads with `TimedOut` once no byte has moved for `idle` while
/// no request is being answered on it (the keep-alive idle timeout).
pub struct IdleIo {
    inner: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    active: Arc<AtomicUsize>,
}

impl IdleIo {
    fn new(inner: TcpStream, idle: Duration, active: Arc<AtomicUsize>) -> IdleIo {
        IdleIo {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            active,
        }
    }

    fn touch(&mut self) {
        let at = Instant::now() + self.idle;
        self.deadline.as_mut().reset(at);
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if self.active.load(Ordering::Acquire) > 0 {
                    // Answering a request may take a while; the clock runs only when idle.
                    self.touch();
                    return Poll::Pending;
                }
                match self.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            if *n > 0 {
                self.touch();
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            if *n > 0 {
                self.touch();
            }
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
