//! `GET /metrics` over HTTP/1.x on tokio; anything else is 404.
//!
//! Hostile or broken clients cannot hold the daemon: a request head is
//! read for at most [`READ_TIMEOUT`] and [`MAX_REQUEST`] bytes (else 408 /
//! 431), the answer is written within [`WRITE_TIMEOUT`], every response
//! closes the connection, and at most [`MAX_CONNECTIONS`] are served at
//! once (more are closed at accept).

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinHandle,
    time::timeout,
};

use super::{Metrics, encode::CONTENT_TYPE};

pub const MAX_REQUEST: usize = 8 * 1024;
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_CONNECTIONS: usize = 16;

/// The running endpoint; dropping it stops accepting.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// The bound address (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Bind `addr` and serve `metrics` on a background task (call inside a
/// tokio runtime).
pub async fn start(addr: SocketAddr, metrics: Metrics) -> io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, metrics));
    tracing::info!(%local_addr, "metrics: serving GET /metrics");
    Ok(MetricsServer { local_addr, task })
}

async fn accept_loop(listener: TcpListener, metrics: Metrics) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let rejected = metrics.stage_dropped("metrics_http", "too_many_connections");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("metrics: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            rejected.inc();
            continue; // dropping the stream closes it
        };
        let m = metrics.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = serve(stream, &m).await {
                tracing::debug!("metrics: connection: {e}");
            }
        });
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Metrics { head_only: bool },
    NotFound,
}

/// Route a request line (`GET /metrics HTTP/1.1`); `None` if malformed.
pub fn route(request_line: &str) -> Option<Route> {
    let mut parts = request_line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    Some(match (method, path) {
        ("GET", "/metrics") => Route::Metrics { head_only: false },
        ("HEAD", "/metrics") => Route::Metrics { head_only: true },
        _ => Route::NotFound,
    })
}

async fn serve(mut stream: TcpStream, metrics: &Metrics) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let head = timeout(READ_TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(end));
            }
            if buf.len() >= MAX_REQUEST {
                return Ok(None);
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed mid-request",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    let response = match head {
        Err(_) => response(408, "Request Timeout", "text/plain", b"timeout\n", false),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(None)) => response(
            431,
            "Request Header Fields Too Large",
            "text/plain",
            b"too large\n",
            false,
        ),
        Ok(Ok(Some(end))) => {
            let head = String::from_utf8_lossy(&buf[..end]);
            let line = head.lines().next().unwrap_or("");
            match route(line) {
                Some(Route::Metrics { head_only }) => response(
                    200,
                    "OK",
                    CONTENT_TYPE,
                    metrics.encode().as_bytes(),
                    head_only,
                ),
                Some(Route::NotFound) => {
                    response(404, "Not Found", "text/plain", b"not found\n", false)
                }
                None => response(400, "Bad Request", "text/plain", b"bad request\n", false),
            }
        }
    };
    timeout(WRITE_TIMEOUT, async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timeout"))?
}

fn response(code: u16, reason: &str, ctype: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        r.extend_from_slice(body);
    }
    r
}
