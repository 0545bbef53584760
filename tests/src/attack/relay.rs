//! On-path DNS relays and rogue servers: UDP threads that run inside a
//! network namespace (the thread enters it with setns(2); only that thread
//! moves, and its sockets stay in the namespace) and either forward each
//! query to a resolver — stripping RRSIGs, clearing AD, or racing it with a
//! burst of wrong-txid forgeries — or answer it themselves with a forgery.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

/// What a relay does with each query.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Forward to `upstream`; on the way back drop every RRSIG (all
    /// sections) and/or clear the AD bit.
    Forward {
        upstream: SocketAddrV4,
        strip_rrsig: bool,
        clear_ad: bool,
    },
    /// Answer A questions with this address (AA=0, RA=1, no RRSIGs).
    ForgeA(Ipv4Addr),
    /// Answer NXDOMAIN with no records at all.
    ForgeNxdomain,
    /// First `wrong` forged answers (A 6.6.6.N) under other txids, then the
    /// real answer from `upstream`: a blind spoofer that lost the race.
    Race { upstream: SocketAddrV4, wrong: u16 },
    /// An on-path spoofer that wins: `variants` forged answers (A 6.6.6.N)
    /// under the query's own txid, then the real answer from `upstream`.
    RaceWin {
        upstream: SocketAddrV4,
        variants: u8,
    },
}

/// A running relay; stopped and joined on drop.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub listen: SocketAddr,
}

/// Moves the calling thread into network namespace `ns` (`ip netns` name).
pub fn enter_netns(ns: &str) -> Result<()> {
    let f = File::open(format!("/var/run/netns/{ns}"))
        .with_context(|| format!("network namespace {ns}"))?;
    // SAFETY: setns on an fd we own; CLONE_NEWNET affects this thread only.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!("setns({ns}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

impl Relay {
    /// A relay listening on `listen` (IPv4 or IPv6) inside `ns`.
    pub fn start(ns: &str, listen: impl Into<SocketAddr>, behaviour: Behaviour) -> Result<Relay> {
        let listen = listen.into();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Result<()>>();
        let ns = ns.to_string();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("relay-{listen}"))
            .spawn(move || {
                let sock = enter_netns(&ns).and_then(|()| {
                    let s = UdpSocket::bind(listen).with_context(|| format!("bind {listen}"))?;
                    s.set_read_timeout(Some(Duration::from_millis(100)))?;
                    Ok(s)
                });
                match sock {
                    Ok(s) => {
                        let _ = tx.send(Ok(()));
                        serve(&s, &behaviour, &flag);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })?;
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|_| anyhow!("relay {listen} did not start"))??;
        Ok(Relay {
            stop,
            thread: Some(thread),
            listen,
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(sock: &UdpSocket, b: &Behaviour, stop: &AtomicBool) {
    let mut buf = [0u8; 65_535];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let query = &buf[..n];
        let Ok(q) = Message::from_vec(query) else {
            continue;
        };
        if q.metadata.message_type != MessageType::Query {
            continue;
        }
        let _ = handle(sock, b, query, &q, from);
    }
}

fn handle(
    sock: &UdpSocket,
    b: &Behaviour,
    raw: &[u8],
    q: &Message,
    from: SocketAddr,
) -> Result<()> {
    match b {
        Behaviour::Forward {
            upstream,
            strip_rrsig,
            clear_ad,
        } => {
            let answer = forward(raw, *upstream)?;
            let mut m = Message::from_vec(&answer)?;
            if *strip_rrsig {
                for sec in [&mut m.answers, &mut m.authorities, &mut m.additionals] {
                    sec.retain(|r| r.record_type() != RecordType::RRSIG);
                }
            }
            if *clear_ad {
                m.metadata.authentic_data = false;
            }
            sock.send_to(&m.to_vec()?, from)?;
        }
        Behaviour::ForgeA(addr) => {
            sock.send_to(&forged(q, q.metadata.id, Some(*addr))?, from)?;
        }
        Behaviour::ForgeNxdomain => {
            sock.send_to(&forged(q, q.metadata.id, None)?, from)?;
        }
        Behaviour::Race { upstream, wrong } => {
            for i in 1..=*wrong {
                let id = q.metadata.id.wrapping_add(i);
                let a = Ipv4Addr::new(6, 6, 6, u8::try_from(i).unwrap_or(255));
                sock.send_to(&forged(q, id, Some(a))?, from)?;
            }
            let answer = forward(raw, *upstream)?;
            sock.send_to(&answer, from)?;
        }
        Behaviour::RaceWin { upstream, variants } => {
            for i in 1..=*variants {
                let a = Ipv4Addr::new(6, 6, 6, i);
                sock.send_to(&forged(q, q.metadata.id, Some(a))?, from)?;
            }
            let answer = forward(raw, *upstream)?;
            sock.send_to(&answer, from)?;
        }
    }
    Ok(())
}

/// Sends `query` to `upstream` from an ephemeral socket; waits ≤ 3 s.
fn forward(query: &[u8], upstream: SocketAddrV4) -> Result<Vec<u8>> {
    let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.send_to(query, upstream)?;
    let mut buf = vec![0u8; 65_535];
    let (n, _) = s.recv_from(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// A forged response to `q` under txid `id`: an A record with `addr` for
/// the question, or NXDOMAIN when `addr` is None. No RRSIGs, no AD.
pub fn forged(q: &Message, id: u16, addr: Option<Ipv4Addr>) -> Result<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Response, q.metadata.op_code);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    for query in &q.queries {
        m.add_query(query.clone());
    }
    if let Some(edns) = &q.edns {
        m.set_edns(edns.clone());
    }
    match addr {
        Some(a) => {
            if let Some(query) = q.queries.first() {
                m.add_answer(Record::from_rdata(
                    query.name().clone(),
                    300,
                    RData::A(A(a)),
                ));
            }
        }
        None => m.metadata.response_code = ResponseCode::NXDomain,
    }
    Ok(m.to_vec()?)
}
