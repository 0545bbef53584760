//! In-process collectors (UDP, TCP, TLS with a test CA from rcgen) and the
//! transport tests that use them. The collectors are reused by the
//! reliable-sink tests.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::{mpsc, watch},
    task::JoinSet,
};
use tokio_rustls::TlsAcceptor;

use super::*;
use crate::sinks::syslog::{format::tests::parse_rfc5424, tls};

/// Split an RFC 6587 octet-counted stream into messages; leaves an
/// incomplete tail in `buf`. Strict: MSG-LEN is NONZERO-DIGIT *DIGIT.
pub(crate) fn decode_frames(buf: &mut Vec<u8>) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(sp) = buf.iter().position(|&b| b == b' ') else {
            if buf.len() > 10 || !buf.iter().all(u8::is_ascii_digit) {
                return Err(format!(
                    "bad MSG-LEN prefix {:?}",
                    String::from_utf8_lossy(buf)
                ));
            }
            return Ok(out);
        };
        let len_s = &buf[..sp];
        if len_s.is_empty()
            || len_s[0] == b'0'
            || len_s.len() > 10
            || !len_s.iter().all(u8::is_ascii_digit)
        {
            return Err(format!("bad MSG-LEN {:?}", String::from_utf8_lossy(len_s)));
        }
        let len: usize = std::str::from_utf8(len_s).unwrap().parse().unwrap();
        if buf.len() < sp + 1 + len {
            return Ok(out);
        }
        out.push(buf[sp + 1..sp + 1 + len].to_vec());
        buf.drain(..sp + 1 + len);
    }
}

/// A test CA and a server certificate for `localhost` and 127.0.0.1.
pub(crate) struct TestPki {
    pub _dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    /// The server's certificate and PKCS#8 key as PEM files (for external
    /// servers such as rsyslogd).
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub server: Arc<ServerConfig>,
}

pub(crate) fn test_pki() -> TestPki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "dnssec-monitor test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let cert_file = dir.path().join("server.pem");
    std::fs::write(&cert_file, leaf.pem()).unwrap();
    let key_file = dir.path().join("server.key");
    std::fs::write(&key_file, leaf_key.serialize_pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
    TestPki {
        _dir: dir,
        ca_file,
        cert_file,
        key_file,
        server: Arc::new(server),
    }
}

/// A TCP or TLS collector on loopback that can be stopped (each open
/// connection is closed gracefully: TLS close_notify, then FIN) and
/// started again on the same port, feeding one channel of messages.
pub(crate) struct Collector {
    pub addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Collector {
    pub async fn start(
        addr: SocketAddr,
        tls: Option<Arc<ServerConfig>>,
        out: mpsc::UnboundedSender<Vec<u8>>,
    ) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let mut stop = stop_rx.clone();
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        let out = out.clone();
                        let stop = stop_rx.clone();
                        match tls.clone() {
                            None => { conns.spawn(serve(tcp, out, stop)); }
                            Some(cfg) => {
                                conns.spawn(async move {
                                    if let Ok(s) = TlsAcceptor::from(cfg).accept(tcp).await {
                                        serve(s, out, stop).await;
                                    }
                                });
                            }
                        }
                    }
                }
            }
            drop(listener);
            while conns.join_next().await.is_some() {}
        });
        Self {
            addr,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

async fn serve<S>(mut s: S, out: mpsc::UnboundedSender<Vec<u8>>, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        tokio::select! {
            _ = stop.changed() => { let _ = s.shutdown().await; return; }
            n = s.read(&mut chunk) => {
                let Ok(n) = n else { return };
                if n == 0 { return; }
                buf.extend_from_slice(&chunk[..n]);
                for m in decode_frames(&mut buf).expect("collector got a badly framed stream") {
                    let _ = out.send(m);
                }
            }
        }
    }
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn message(i: usize) -> Vec<u8> {
    let f = crate::sinks::syslog::Rfc5424Formatter::new(crate::sinks::syslog::Facility::AUTH);
    f.format(
        Severity::Warning,
        "test_rule",
        std::time::SystemTime::now(),
        &format!("{{\"n\":{i}}}"),
    )
}

use crate::sinks::syslog::Severity;

#[test]
fn octet_counting_frames_and_decodes() {
    let mut stream = octet_counted(b"<13>1 - - - - - - hello");
    assert!(stream.starts_with(b"23 <13>1"));
    stream.extend_from_slice(&octet_counted("é".as_bytes()));
    stream.extend_from_slice(b"5 ab");
    let msgs = decode_frames(&mut stream).unwrap();
    assert_eq!(
        msgs,
        vec![b"<13>1 - - - - - - hello".to_vec(), "é".as_bytes().to_vec()]
    );
    assert_eq!(stream, b"5 ab", "an incomplete frame stays buffered");
    // Negative twins: leading zero and non-digits are framing errors.
    assert!(decode_frames(&mut b"05 hello".to_vec()).is_err());
    assert!(decode_frames(&mut b"x5 hello".to_vec()).is_err());
}

#[tokio::test]
async fn udp_sends_one_datagram_per_message() {
    let server = UdpSocket::bind(any_port()).await.unwrap();
    let t = SyslogTransport::udp(server.local_addr().unwrap().to_string());
    let mut conn = t.connect().await.unwrap();
    for i in 0..3 {
        conn.send(&message(i)).await.unwrap();
    }
    let mut buf = vec![0u8; 70_000];
    for i in 0..3 {
        let n = server.recv(&mut buf).await.unwrap();
        let p = parse_rfc5424(&buf[..n]).unwrap();
        assert_eq!(p.msg, format!("{{\"n\":{i}}}"));
    }
    let too_big = vec![b'x'; MAX_UDP_MESSAGE + 1];
    assert!(matches!(
        conn.send(&too_big).await,
        Err(SendError::Rejected(_))
    ));
}

#[tokio::test]
async fn tcp_messages_arrive_octet_counted_in_order() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = Collector::start(any_port(), None, tx).await;
    let mut conn = SyslogTransport::tcp(c.addr.to_string())
        .connect()
        .await
        .unwrap();
    for i in 0..50 {
        conn.send(&message(i)).await.unwrap();
    }
    for i in 0..50 {
        let m = rx.recv().await.unwrap();
        assert_eq!(parse_rfc5424(&m).unwrap().msg, format!("{{\"n\":{i}}}"));
    }
    c.stop().await;
}

#[tokio::test]
async fn tcp_send_after_collector_closed_fails_instead_of_losing() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = Collector::start(any_port(), None, tx).await;
    let mut conn = SyslogTransport::tcp(c.addr.to_string())
        .connect()
        .await
        .unwrap();
    conn.send(&message(0)).await.unwrap();
    rx.recv().await.unwrap();
    c.stop().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Without the peek, this write would land in the kernel buffer and vanish.
    assert!(matches!(
        conn.send(&message(1)).await,
        Err(SendError::Io(_))
    ));
}

#[tokio::test]
async fn tcp_connect_to_closed_port_fails() {
    let l = std::net::TcpListener::bind(any_port()).unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    assert!(
        SyslogTransport::tcp(addr.to_string())
            .connect()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn tls_messages_arrive_and_close_notify_is_seen() {
    let pki = test_pki();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = Collector::start(any_port(), Some(pki.server.clone()), tx).await;
    let cfg = tls::client_config(&pki.ca_file).unwrap();
    let t = SyslogTransport::tls(
        c.addr.to_string(),
        cfg,
        tls::server_name("localhost").unwrap(),
    );
    let mut conn = t.connect().await.unwrap();
    for i in 0..20 {
        conn.send(&message(i)).await.unwrap();
    }
    for i in 0..20 {
        let m = rx.recv().await.unwrap();
        assert_eq!(parse_rfc5424(&m).unwrap().msg, format!("{{\"n\":{i}}}"));
    }
    c.stop().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        conn.send(&message(99)).await,
        Err(SendError::Io(_))
    ));
}

#[tokio::test]
async fn tls_rejects_a_server_from_another_ca() {
    let pki = test_pki();
    let other = test_pki();
    let (tx, _rx) = mpsc::unbounded_channel();
    let c = Collector::start(any_port(), Some(pki.server.clone()), tx).await;
    let cfg = tls::client_config(&other.ca_file).unwrap();
    let t = SyslogTransport::tls(
        c.addr.to_string(),
        cfg,
        tls::server_name("localhost").unwrap(),
    );
    assert!(t.connect().await.is_err());
    // And the wrong name with the right CA fails too.
    let cfg = tls::client_config(&pki.ca_file).unwrap();
    let t = SyslogTransport::tls(
        c.addr.to_string(),
        cfg,
        tls::server_name("siem.example").unwrap(),
    );
    assert!(t.connect().await.is_err());
    c.stop().await;
}
