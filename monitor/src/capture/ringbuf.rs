//! Reading captured packets from the kernel's ring buffer: wake on epoll
//! (tokio `AsyncFd`), drain every record, turn each into a
//! [`CapturedPacket`] and hand it to the next stage without ever blocking
//! (a full channel is a counted drop, so the kernel side never backs up
//! behind a slow consumer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aya::maps::{MapData, RingBuf};
use monitor_common::{DIR_EGRESS, PKT_F_HAS_COOKIE, PacketHeader};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};

use super::dedup::Dedup;
use super::{CapturedPacket, Direction, InterfaceRef, LinkType};

/// ifindex → interface name, kept current by whoever attaches.
pub type InterfaceNames = Arc<RwLock<HashMap<u32, String>>>;

/// Converts `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) to wall-clock time with
/// an offset measured once at start. (Wall-clock steps after start are not
/// followed: the events keep a consistent time line.)
#[derive(Clone, Copy, Debug)]
pub struct KtimeClock {
    /// CLOCK_REALTIME − CLOCK_MONOTONIC, in ns.
    offset_ns: i128,
}

fn clock_ns(id: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out pointer.
    unsafe { libc::clock_gettime(id, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl KtimeClock {
    pub fn now() -> Self {
        let mono = clock_ns(libc::CLOCK_MONOTONIC);
        let real = clock_ns(libc::CLOCK_REALTIME);
        KtimeClock {
            offset_ns: real - mono,
        }
    }

    pub fn with_offset_ns(offset_ns: i128) -> Self {
        KtimeClock { offset_ns }
    }

    pub fn wall(&self, ktime_ns: u64) -> SystemTime {
        let t = i128::from(ktime_ns) + self.offset_ns;
        let t = u64::try_from(t.max(0)).unwrap_or(u64::MAX);
        SystemTime::UNIX_EPOCH + Duration::from_nanos(t)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("ring record of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("ring record claims {claimed} captured bytes but carries {have}")]
    Length { claimed: u32, have: usize },
}

/// One ring-buffer record → a packet.
pub fn parse_record(
    rec: &[u8],
    clock: &KtimeClock,
    names: &InterfaceNames,
) -> Result<CapturedPacket, RecordError> {
    const HDR: usize = std::mem::size_of::<PacketHeader>();
    if rec.len() < HDR {
        return Err(RecordError::Short(rec.len()));
    }
    // SAFETY: PacketHeader is repr(C) plain data and rec has HDR bytes.
    let h: PacketHeader = unsafe { std::ptr::read_unaligned(rec.as_ptr().cast()) };
    let body = &rec[HDR..];
    let cap = h.cap_len as usize;
    if cap > body.len() {
        return Err(RecordError::Length {
            claimed: h.cap_len,
            have: body.len(),
        });
    }
    let name = names
        .read()
        .ok()
        .and_then(|m| m.get(&h.ifindex).cloned())
        .unwrap_or_else(|| format!("if{}", h.ifindex));
    Ok(CapturedPacket {
        timestamp: clock.wall(h.ktime_ns),
        link: if h.l3_offset == 0 {
            LinkType::RawIp
        } else {
            LinkType::Ethernet
        },
        interface: Some(InterfaceRef {
            index: h.ifindex,
            name,
            direction: if h.direction == DIR_EGRESS {
                Direction::Egress
            } else {
                Direction::Ingress
            },
        }),
        socket_cookie: (h.flags & PKT_F_HAS_COOKIE != 0).then_some(h.socket_cookie),
        orig_len: h.pkt_len,
        data: body[..cap].to_vec(),
    })
}

/// What the reader counted.
#[derive(Debug, Default)]
pub struct RingStats {
    pub records: AtomicU64,
    pub malformed: AtomicU64,
    /// Packets dropped because the next stage's channel was full.
    pub channel_full: AtomicU64,
    /// Second sightings of one packet (lo, forwarding), not passed on.
    pub duplicates: AtomicU64,
}

pub struct RingReader {
    ring: AsyncFd<RingBuf<MapData>>,
    dedup: Dedup,
    clock: KtimeClock,
    names: InterfaceNames,
}

impl RingReader {
    /// Must be called inside a tokio runtime.
    pub fn new(ring: RingBuf<MapData>, names: InterfaceNames) -> std::io::Result<Self> {
        Ok(RingReader {
            // SAFETY: the ring owns its fd, which stays open as long as
            // the AsyncFd (which owns the ring) lives.
            ring: unsafe { AsyncFd::register(ring) }.map_err(std::io::Error::from)?,
            dedup: Dedup::new(),
            clock: KtimeClock::now(),
            names,
        })
    }

    /// Drains the ring into `tx` until `stop` turns true or `tx` closes.
    /// Before returning it drains what is left once more.
    pub async fn run(
        mut self,
        tx: mpsc::Sender<CapturedPacket>,
        stats: Arc<RingStats>,
        mut stop: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        loop {
            tokio::select! {
                r = self.ring.readable_mut() => {
                    let mut guard = r?;
                    let ring = guard.get_inner_mut();
                    if !drain(ring, &mut self.dedup, &self.clock, &self.names, &tx, &stats) {
                        return Ok(());
                    }
                    guard.clear_ready();
                }
                _ = stop.changed() => {
                    drain(self.ring.get_mut(), &mut self.dedup, &self.clock, &self.names, &tx, &stats);
                    return Ok(());
                }
            }
        }
    }
}

/// `false` when the receiver is gone.
fn drain(
    ring: &mut RingBuf<MapData>,
    dedup: &mut Dedup,
    clock: &KtimeClock,
    names: &InterfaceNames,
    tx: &mpsc::Sender<CapturedPacket>,
    stats: &RingStats,
) -> bool {
    while let Some(item) = ring.next() {
        stats.records.fetch_add(1, Ordering::Relaxed);
        match parse_record(&item, clock, names) {
            Ok(pkt) if !dedup.first_sighting(&pkt) => {
                stats.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Ok(pkt) => match tx.try_send(pkt) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    stats.channel_full.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            },
            Err(e) => {
                stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("ring record dropped: {e}");
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(h: PacketHeader, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; std::mem::size_of::<PacketHeader>()];
        // SAFETY: v has room for the header.
        unsafe { std::ptr::write_unaligned(v.as_mut_ptr().cast(), h) };
        v.extend_from_slice(body);
        v
    }

    fn names() -> InterfaceNames {
        Arc::new(RwLock::new(HashMap::from([(2, "veth0".to_owned())])))
    }

    #[test]
    fn record_becomes_packet() {
        let h = PacketHeader {
            ktime_ns: 1_000,
            socket_cookie: 77,
            ifindex: 2,
            direction: DIR_EGRESS,
            pkt_len: 100,
            cap_len: 3,
            l3_offset: 14,
            flags: PKT_F_HAS_COOKIE,
        };
        // Size-class padding after the captured bytes is ignored.
        let r = rec(h, &[1, 2, 3, 0, 0, 0, 0, 0]);
        let clock = KtimeClock::with_offset_ns(1_000_000_000);
        let p = parse_record(&r, &clock, &names()).unwrap();
        assert_eq!(p.data, vec![1, 2, 3]);
        assert_eq!(p.orig_len, 100);
        assert_eq!(p.socket_cookie, Some(77));
        assert_eq!(p.link, LinkType::Ethernet);
        let i = p.interface.unwrap();
        assert_eq!(
            (i.index, i.name.as_str(), i.direction),
            (2, "veth0", Direction::Egress)
        );
        assert_eq!(
            p.timestamp,
            SystemTime::UNIX_EPOCH + Duration::from_nanos(1_000_001_000)
        );
    }

    #[test]
    fn unknown_interface_raw_ip_no_cookie() {
        let h = PacketHeader {
            ifindex: 9,
            cap_len: 1,
            socket_cookie: 5,
            ..Default::default()
        };
        let p = parse_record(&rec(h, &[0x45]), &KtimeClock::now(), &names()).unwrap();
        assert_eq!(p.link, LinkType::RawIp);
        assert_eq!(p.socket_cookie, None);
        let i = p.interface.unwrap();
        assert_eq!((i.name.as_str(), i.direction), ("if9", Direction::Ingress));
    }

    #[test]
    fn short_and_lying_records_rejected() {
        assert_eq!(
            parse_record(&[0; 10], &KtimeClock::now(), &names()).unwrap_err(),
            RecordError::Short(10)
        );
        let h = PacketHeader {
            cap_len: 9,
            ..Default::default()
        };
        assert_eq!(
            parse_record(&rec(h, &[0; 4]), &KtimeClock::now(), &names()).unwrap_err(),
            RecordError::Length {
                claimed: 9,
                have: 4
            }
        );
    }

    #[test]
    fn clock_offset_is_realtime_minus_monotonic() {
        let c = KtimeClock::now();
        let mono = clock_ns(libc::CLOCK_MONOTONIC) as u64;
        let wall = c.wall(mono);
        let now = SystemTime::now();
        let diff = now.duration_since(wall).unwrap_or_else(|e| e.duration());
        assert!(diff < Duration::from_secs(1), "{diff:?}");
        // Negative results clamp to the epoch instead of wrapping.
        assert_eq!(
            KtimeClock::with_offset_ns(-10).wall(5),
            SystemTime::UNIX_EPOCH
        );
    }
}
