//! Syslog transports behind one connect/send interface.
//!
//! - UDP (RFC 5426): one message per datagram. Fire and forget: a datagram
//!   to a dead collector is lost; only a later ICMP "port unreachable"
//!   surfaces (as `ECONNREFUSED` on a connected socket).
//! - TCP (RFC 6587 §3.4.1 octet counting): `MSG-LEN SP SYSLOG-MSG`.
//! - TLS (RFC 5425 §4.3): the same octet-counting framing inside TLS.
//!
//! A stream whose peer has closed still accepts the next `write` into the
//! kernel buffer, and that message would be lost. So before each send we
//! peek at the socket (as rsyslog's omfwd does with `recv(MSG_PEEK)`): a
//! syslog collector never sends application data, so end-of-stream or an
//! error there means the connection is gone and the caller reconnects.
//! A collector that dies without closing (host crash) can still lose the
//! messages written after its death; only an application-level ack (RELP)
//! closes that gap.

use std::{
    io,
    os::fd::AsRawFd,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::{
    io::{AsyncRead, AsyncWriteExt, ReadBuf},
    net::{TcpStream, UdpSocket, lookup_host},
};
use tokio_rustls::{TlsConnector, client::TlsStream};

/// Largest UDP payload over IPv4 (65,535 − 20 − 8, RFC 5426 §3.2).
pub const MAX_UDP_MESSAGE: usize = 65_507;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
}

/// Why one send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// This message can never be sent on this transport (too large for a
    /// datagram): drop it, count it, keep the connection.
    #[error("message rejected: {0}")]
    Rejected(String),
    /// The connection is broken: reconnect and send the message again.
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
}

/// Where and how to reach one syslog collector.
#[derive(Clone)]
pub struct SyslogTransport {
    kind: TransportKind,
    /// `host:port`; resolved at every connect so a moved collector is found.
    address: String,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for SyslogTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}://{}", self.kind, self.address)
    }
}

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl SyslogTransport {
    pub fn udp(address: impl Into<String>) -> Self {
        Self::plain(TransportKind::Udp, address.into())
    }

    pub fn tcp(address: impl Into<String>) -> Self {
        Self::plain(TransportKind::Tcp, address.into())
    }

    /// `config` from [`super::tls::client_config`], `server_name` from
    /// [`super::tls::server_name`].
    pub fn tls(
        address: impl Into<String>,
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Self {
        Self {
            kind: TransportKind::Tls,
            address: address.into(),
            tls: Some((config, server_name)),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    fn plain(kind: TransportKind, address: String) -> Self {
        Self {
            kind,
            address,
            tls: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Resolve, connect and (for TLS) handshake, within the connect timeout.
    pub async fn connect(&self) -> io::Result<SyslogConnection> {
        tokio::time::timeout(self.connect_timeout, self.connect_inner())
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {} timed out", self.address),
                )
            })?
    }

    async fn connect_inner(&self) -> io::Result<SyslogConnection> {
        let mut last_err = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} resolves to no address", self.address),
        );
        for addr in lookup_host(&self.address).await? {
            let attempt = match self.kind {
                TransportKind::Udp => {
                    let bind = if addr.is_ipv4() {
                        "0.0.0.0:0"
                    } else {
                        "[::]:0"
                    };
                    let sock = UdpSocket::bind(bind).await?;
                    sock.connect(addr)
                        .await
                        .map(|()| SyslogConnection::Udp(sock))
                }
                TransportKind::Tcp => TcpStream::connect(addr).await.map(SyslogConnection::Tcp),
                TransportKind::Tls => {
                    let (config, name) = self
                        .tls
                        .clone()
                        .ok_or_else(|| io::Error::other("TLS transport without TLS config"))?;
                    match TcpStream::connect(addr).await {
                        Ok(tcp) => {
                            tcp.set_nodelay(true)?;
                            TlsConnector::from(config)
                                .connect(name, tcp)
                                .await
                                .map(|s| SyslogConnection::Tls(Box::new(s)))
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match attempt {
                Ok(conn) => return Ok(conn),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }
}

/// One open connection to a collector.
pub enum SyslogConnection {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl SyslogConnection {
    /// Send one RFC 5424 message (unframed) and flush it to the kernel.
    /// `Ok` means the bytes left this process, not that the collector
    /// stored them (see the module note).
    pub async fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        match self {
            SyslogConnection::Udp(sock) => {
                if msg.len() > MAX_UDP_MESSAGE {
                    return Err(SendError::Rejected(format!(
                        "{} octets exceed the UDP limit of {MAX_UDP_MESSAGE}",
                        msg.len()
                    )));
                }
                sock.send(msg).await?;
                Ok(())
            }
            SyslogConnection::Tcp(stream) => {
                check_open_tcp(stream)?;
                stream.write_all(&octet_counted(msg)).await?;
                stream.flush().await?;
                Ok(())
            }
            SyslogConnection::Tls(stream) => {
                check_open_tls(stream).await?;
                stream.write_all(&octet_counted(msg)).await?;
                stream.flush().await?;
                Ok(())
            }
        }
    }

    /// Close cleanly (TLS close_notify, TCP FIN), flushing what is pending.
    pub async fn close(self) -> io::Result<()> {
        match self {
            SyslogConnection::Udp(_) => Ok(()),
            SyslogConnection::Tcp(mut s) => s.shutdown().await,
            SyslogConnection::Tls(mut s) => s.shutdown().await,
        }
    }
}

/// RFC 6587 §3.4.1: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in decimal octets.
/// One buffer, so the frame goes out in one write.
pub fn octet_counted(msg: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(msg.len() + 8);
    framed.extend_from_slice(msg.len().to_string().as_bytes());
    framed.push(b' ');
    framed.extend_from_slice(msg);
    framed
}

/// What a non-blocking `recv(MSG_PEEK)` sees on the socket.
enum Peek {
    Nothing,
    Data,
    Closed,
}

fn peek(fd: &impl AsRawFd) -> io::Result<Peek> {
    let mut byte = [0u8; 1];
    // SAFETY: the fd is a live socket owned by the caller; the buffer is
    // valid for 1 byte; MSG_PEEK leaves the data in the socket.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Ok(Peek::Closed),
        n if n > 0 => Ok(Peek::Data),
        _ => {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                Ok(Peek::Nothing)
            } else {
                Err(err)
            }
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "collector closed the connection",
    )
}

fn check_open_tcp(stream: &TcpStream) -> io::Result<()> {
    loop {
        match peek(stream)? {
            Peek::Nothing => return Ok(()),
            Peek::Closed => return Err(closed()),
            // A collector has nothing to say; discard whatever it sent.
            Peek::Data => {
                let mut sink = [0u8; 512];
                match stream.try_read(&mut sink) {
                    Ok(0) => return Err(closed()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// TLS servers do send records after the handshake (TLS 1.3 session
/// tickets, close_notify), so data on the socket is not by itself a close:
/// feed it through rustls, which reports end-of-stream on close_notify.
async fn check_open_tls(stream: &mut TlsStream<TcpStream>) -> io::Result<()> {
    // Bounded: a peer cannot keep us here by streaming records.
    for _ in 0..8 {
        match peek(stream.get_ref().0)? {
            Peek::Nothing => return Ok(()),
            Peek::Closed => return Err(closed()),
            Peek::Data => {}
        }
        let mut buf = [0u8; 512];
        let mut read_buf = ReadBuf::new(&mut buf);
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut *stream).poll_read(&mut cx, &mut read_buf) {
            Poll::Ready(Ok(())) if read_buf.filled().is_empty() => return Err(closed()),
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Err(e),
            // The runtime has not yet seen the readiness the peek saw:
            // let its driver run once, then look again.
            Poll::Pending => tokio::task::yield_now().await,
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "transport_tests.rs"]
pub(crate) mod tests;
