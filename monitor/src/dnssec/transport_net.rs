//! The real [`Transport`]: UDP with a fresh socket (random source port, chosen
//! by the kernel) per query and TCP with the 2-byte length prefix
//! (RFC 1035 §4.2.2, RFC 7766). The caller chooses the transaction id; here an
//! answer is only accepted when its source address, id and question match the
//! query (RFC 5452 §9.1), anything else is ignored until the timeout.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use super::transport::{BoxFuture, Protocol, Transport, TransportError};

/// UDP/TCP to real servers.
#[derive(Clone, Debug)]
pub struct NetTransport {
    /// Per-server, per-attempt time limit.
    pub timeout: Duration,
}

impl Default for NetTransport {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(1500),
        }
    }
}

/// Bytes 0..end of the question section of a query we built (no compression).
fn question_end(msg: &[u8]) -> Option<usize> {
    let mut i = 12;
    loop {
        let len = *msg.get(i)? as usize;
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xC0 != 0 {
            return None;
        }
        i += 1 + len;
    }
    let end = i + 4;
    (end <= msg.len()).then_some(end)
}

/// Does `answer` answer `query`: same id, same question (case-insensitive,
/// so an answer to a 0x20-mixed query matches), QR set.
pub fn matches_query(query: &[u8], answer: &[u8]) -> Result<(), String> {
    if answer.len() < 12 {
        return Err(format!("{} bytes is shorter than a header", answer.len()));
    }
    if answer[..2] != query[..2] {
        return Err(format!(
            "id {} instead of {}",
            u16::from_be_bytes([answer[0], answer[1]]),
            u16::from_be_bytes([query[0], query[1]])
        ));
    }
    if answer[2] & 0x80 == 0 {
        return Err("QR bit not set".into());
    }
    let Some(qend) = question_end(query) else {
        return Ok(()); // not a query we can compare (no question): id suffices
    };
    if answer[4..6] != query[4..6] {
        return Err("question count differs".into());
    }
    // FORMERR/NOTIMP answers may omit the question; accept them on the id.
    let rcode = answer[3] & 0x0F;
    if answer.len() < qend && (rcode == 1 || rcode == 4) {
        return Ok(());
    }
    let same = answer.len() >= qend
        && answer[12..qend]
            .iter()
            .zip(&query[12..qend])
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if same {
        Ok(())
    } else {
        Err("question differs".into())
    }
}

impl NetTransport {
    async fn udp(&self, server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, TransportError> {
        let io = |source| TransportError::Io { server, source };
        let local: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await.map_err(io)?;
        socket.send_to(query, server).await.map_err(io)?;
        let start = Instant::now();
        let deadline = start + self.timeout;
        // One retransmission (RFC 1035 §4.2.1, RFC 1536 §1) a third of the
        // way in: a single lost datagram (a busy server's full socket
        // buffer, rate limiting) costs a third of the timeout, not the
        // server. Same socket and id: either answer matches.
        let mut resend_at = Some(start + self.timeout / 3);
        // Received into spare capacity (no 64 KiB memset per query).
        let mut buf: Vec<u8> = Vec::with_capacity(65_535);
        let mut last_mismatch = None;
        loop {
            let until = resend_at.map_or(deadline, |r| r.min(deadline));
            buf.clear();
            match timeout_at(until, socket.recv_buf_from(&mut buf)).await {
                Err(_) if resend_at.is_some() && Instant::now() < deadline => {
                    resend_at = None;
                    socket.send_to(query, server).await.map_err(io)?;
                }
                Err(_) => {
                    return Err(match last_mismatch {
                        Some(why) => TransportError::Mismatch { server, why },
                        None => TransportError::Timeout {
                            server,
                            timeout_ms: self.timeout.as_millis() as u64,
                        },
                    });
                }
                Ok(Err(e)) => return Err(io(e)),
                Ok(Ok((n, from))) => {
                    if from != server {
                        last_mismatch = Some(format!("datagram from {from}"));
                        continue;
                    }
                    match matches_query(query, &buf[..n]) {
                        Ok(()) => return Ok(buf[..n].to_vec()),
                        Err(why) => last_mismatch = Some(why),
                    }
                }
            }
        }
    }

    async fn tcp(&self, server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + self.timeout;
        let timeout = || TransportError::Timeout {
            server,
            timeout_ms: self.timeout.as_millis() as u64,
        };
        let io = |source| TransportError::Io { server, source };
        let len = u16::try_from(query.len()).map_err(|_| TransportError::Mismatch {
            server,
            why: "query longer than 65535 bytes".into(),
        })?;
        let work = async {
            let mut stream = TcpStream::connect(server).await.map_err(io)?;
            let mut framed = Vec::with_capacity(query.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(query);
            stream.write_all(&framed).await.map_err(io)?;
            // One answer per query on this connection; a mismatching one is an error.
            let mut lenbuf = [0u8; 2];
            stream.read_exact(&mut lenbuf).await.map_err(io)?;
            let n = u16::from_be_bytes(lenbuf) as usize;
            let mut buf = vec![0u8; n];
            stream.read_exact(&mut buf).await.map_err(io)?;
            matches_query(query, &buf).map_err(|why| TransportError::Mismatch { server, why })?;
            Ok(buf)
        };
        timeout_at(deadline, work).await.map_err(|_| timeout())?
    }
}

impl Transport for NetTransport {
    fn exchange<'a>(
        &'a self,
        server: SocketAddr,
        protocol: Protocol,
        query: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>> {
        Box::pin(async move {
            match protocol {
                Protocol::Udp => self.udp(server, query).await,
                Protocol::Tcp => self.tcp(server, query).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        q
    }

    fn answer_to(q: &[u8]) -> Vec<u8> {
        let mut a = q.to_vec();
        a[2] |= 0x80;
        a
    }

    #[test]
    fn match_rules() {
        let q = query(0x1234);
        assert!(matches_query(&q, &answer_to(&q)).is_ok());
        let mut wrong_id = answer_to(&q);
        wrong_id[1] ^= 1;
        assert!(matches_query(&q, &wrong_id).is_err());
        let mut mixed_case = answer_to(&q);
        mixed_case[13] = b'E';
        assert!(matches_query(&q, &mixed_case).is_ok());
        let mut other_name = answer_to(&q);
        other_name[14] = b'y';
        assert!(matches_query(&q, &other_name).is_err());
        assert!(matches_query(&q, &q).is_err(), "QR=0 is not an answer");
        assert!(matches_query(&q, &[0x12]).is_err());
    }

    #[tokio::test]
    async fn udp_ignores_spoofed_id_then_times_out() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let t = NetTransport {
            timeout: Duration::from_millis(300),
        };
        let q = query(7);
        let responder = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            let mut bad = answer_to(&buf[..n]);
            bad[0] ^= 0xFF;
            server.send_to(&bad, from).await.unwrap();
            let good = answer_to(&buf[..n]);
            server.send_to(&good, from).await.unwrap();
        });
        let got = t.exchange(addr, Protocol::Udp, &q).await.unwrap();
        assert_eq!(got, answer_to(&q));
        responder.await.unwrap();

        // Nobody answers: a timeout, not a hang.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = t
            .exchange(silent.local_addr().unwrap(), Protocol::Udp, &q)
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
    }

    #[tokio::test]
    async fn udp_retransmits_once_after_a_lost_datagram() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let t = NetTransport {
            timeout: Duration::from_millis(900),
        };
        let q = query(11);
        let responder = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            // The first datagram is "lost": read and ignored.
            let (_, first) = server.recv_from(&mut buf).await.unwrap();
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(first, from, "retransmitted from the same socket");
            server.send_to(&answer_to(&buf[..n]), from).await.unwrap();
        });
        let started = std::time::Instant::now();
        let got = t.exchange(addr, Protocol::Udp, &q).await.unwrap();
        assert_eq!(got, answer_to(&q));
        assert!(started.elapsed() < Duration::from_millis(900));
        responder.await.unwrap();
    }

    #[tokio::test]
    async fn tcp_framing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut l = [0u8; 2];
            s.read_exact(&mut l).await.unwrap();
            let mut b = vec![0u8; u16::from_be_bytes(l) as usize];
            s.read_exact(&mut b).await.unwrap();
            let a = answer_to(&b);
            s.write_all(&(a.len() as u16).to_be_bytes()).await.unwrap();
            s.write_all(&a).await.unwrap();
        });
        let q = query(9);
        let got = NetTransport::default()
            .exchange(addr, Protocol::Tcp, &q)
            .await
            .unwrap();
        assert_eq!(got, answer_to(&q));
        // Connection refused on a closed port: an I/O error.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        assert!(
            NetTransport::default()
                .exchange(closed, Protocol::Tcp, &q)
                .await
                .is_err()
        );
    }
}
