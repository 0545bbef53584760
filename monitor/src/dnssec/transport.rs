//! How the engine's queries reach servers. The engine builds the query in
//! wire format and gets wire bytes back, so an in-process transport (tests,
//! Deckard replay) exercises exactly the parsing path real traffic takes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

/// UDP first; TCP when the UDP answer was truncated (RFC 7766).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Udp,
    Tcp,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no answer from {server} within {timeout_ms} ms")]
    Timeout { server: SocketAddr, timeout_ms: u64 },
    #[error("{server} unreachable: {source}")]
    Io {
        server: SocketAddr,
        source: std::io::Error,
    },
    #[error("{server} answered with a message that does not match the query: {why}")]
    Mismatch { server: SocketAddr, why: String },
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one DNS message to one server and returns the raw answer.
pub trait Transport: Send + Sync + 'static {
    fn exchange<'a>(
        &'a self,
        server: SocketAddr,
        protocol: Protocol,
        query: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>>;
}
