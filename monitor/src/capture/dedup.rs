//! One packet, one copy. The tc programs sit on every interface, so a
//! packet the host forwards (container veth → bridge/route → veth) is seen
//! at the ingress of one interface and the egress of the next. Only the
//! first sighting goes on. `lo` is hooked at egress only
//! (`ebpf.rs::attach_interface`) and what crosses it crosses no other
//! interface, so its packets are seen exactly once and skip this (most
//! local DNS traffic: stub resolvers on 127.0.0.53, a local unbound).
//!
//! Two sightings are the same packet when their IP packets are identical
//! except for what forwarding rewrites (IPv4 TTL and header checksum, IPv6
//! hop limit) and their kernel timestamps are within [`WINDOW`]. A real
//! retransmission (a resolver retrying after a timeout) comes much later
//! than that, or differs (IPv4 id, TCP sequence/timestamps).

use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, UNIX_EPOCH};

use super::{CapturedPacket, Direction, LOOPBACK_IFINDEX, LinkType};

/// Two sightings further apart than this are two packets.
pub const WINDOW: Duration = Duration::from_millis(50);
const WINDOW_NS: u64 = WINDOW.as_nanos() as u64;
/// Remembered packets per bucket: one 64-byte cache line of
/// (hash, time) pairs, so a packet costs one line, not a hash map insert,
/// a queue push and the eviction of an old entry.
const WAYS: usize = 4;
/// Buckets (a power of two): WAYS × BUCKETS = 16,384 packets remembered
/// (160 ms at 100,000 packets/s) in 256 KiB, allocated once: small enough
/// to stay in the CPU's caches (a 1 MiB table cost a cache miss per
/// packet). A copy goes unnoticed only when four other packets land in its
/// bucket between its two sightings (which are microseconds apart), and
/// then it is passed on, never a packet lost.
const BUCKETS: usize = 4_096;

/// foldhash, seeded per process: SipHash over every packet's bytes was a
/// few % of the agent's CPU under load; a random seed keeps crafted
/// collisions (a packet passed off as a copy of another) out of reach.
type Seeded = foldhash::quality::RandomState;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    hash: u64,
    /// Capture time, ns since the epoch; 0 for a slot never used (the
    /// oldest, so the first to be taken).
    at_ns: u64,
}

#[derive(Clone, Copy, Debug, Default)]
#[repr(align(64))]
struct Bucket([Slot; WAYS]);

pub struct Dedup {
    hasher: Seeded,
    buckets: Box<[Bucket]>,
    duplicates: u64,
}

impl Default for Dedup {
    fn default() -> Self {
        Self::new()
    }
}

impl Dedup {
    pub fn new() -> Self {
        Dedup {
            hasher: Seeded::default(),
            buckets: vec![Bucket::default(); BUCKETS].into_boxed_slice(),
            duplicates: 0,
        }
    }

    /// Duplicates dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// `true` if this is the first sighting (pass it on), `false` for a
    /// copy of a packet seen within the window. Packets whose IP header
    /// cannot be located are always passed.
    pub fn first_sighting(&mut self, pkt: &CapturedPacket) -> bool {
        if pkt
            .interface
            .as_ref()
            .is_some_and(|i| i.index == LOOPBACK_IFINDEX && i.direction == Direction::Egress)
        {
            return true;
        }
        let Some(h) = ip_hash(pkt, &self.hasher) else {
            return true;
        };
        let now = pkt
            .timestamp
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.first_sighting_of(h, now)
    }

    fn first_sighting_of(&mut self, h: u64, now_ns: u64) -> bool {
        let bucket = &mut self.buckets[(h as usize) & (BUCKETS - 1)].0;
        // Out of order by a little (two CPUs) is still a copy: the
        // distance counts, not its sign.
        if bucket
            .iter()
            .any(|s| s.hash == h && s.at_ns != 0 && s.at_ns.abs_diff(now_ns) <= WINDOW_NS)
        {
            self.duplicates += 1;
            return false;
        }
        // A late repeat of a remembered packet takes its slot; a new one
        // the oldest slot (one that is past the window, unless four
        // packets of this bucket came within it).
        let slot = match bucket.iter().position(|s| s.hash == h && s.at_ns != 0) {
            Some(i) => i,
            None => (0..WAYS).min_by_key(|&i| bucket[i].at_ns).unwrap_or(0),
        };
        bucket[slot] = Slot {
            hash: h,
            at_ns: now_ns,
        };
        true
    }
}

/// Hash of the IP packet with the fields forwarding rewrites left out.
fn ip_hash(pkt: &CapturedPacket, seed: &Seeded) -> Option<u64> {
    let d = &pkt.data;
    let l3 = match pkt.link {
        LinkType::RawIp => 0,
        LinkType::Ethernet => {
            // Skip 802.1Q/802.1ad tags (at most two, as the kernel side).
            let mut off = 14;
            let mut et = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
            for _ in 0..2 {
                if et != 0x8100 && et != 0x88a8 {
                    break;
                }
                et = u16::from_be_bytes([*d.get(off + 2)?, *d.get(off + 3)?]);
                off += 4;
            }
            off
        }
        // Not produced by the kernel capture.
        LinkType::LinuxSll | LinkType::LinuxSll2 => return None,
    };
    let ip = d.get(l3..)?;
    let mut h = seed.build_hasher();
    pkt.orig_len.hash(&mut h);
    match ip.first()? >> 4 {
        4 if ip.len() >= 20 => {
            // Everything but TTL (8) and header checksum (10..12).
            h.write(&ip[..8]);
            h.write(&ip[9..10]);
            h.write(&ip[12..]);
        }
        6 if ip.len() >= 40 => {
            // Everything but the hop limit (7).
            h.write(&ip[..7]);
            h.write(&ip[8..]);
        }
        _ => return None,
    }
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Direction, InterfaceRef};
    use std::time::SystemTime;

    fn pkt(ttl: u8, mac: u8, t_ms: u64, payload: u8) -> CapturedPacket {
        let mut d = vec![mac; 12];
        d.extend([0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 29, 0, 1, 0x40, 0, ttl, 17, 0xab, 0xcd];
        ip.extend([198, 18, 0, 2, 198, 18, 1, 1]);
        ip.extend([0x9c, 0x40, 0, 53, 0, 9, 0, 0, payload]);
        d.extend(ip);
        CapturedPacket {
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(t_ms),
            link: LinkType::Ethernet,
            interface: Some(InterfaceRef {
                index: 2,
                name: "veth0".into(),
                direction: Direction::Ingress,
                side: crate::capture::Side::Unknown,
            }),
            socket_cookie: None,
            orig_len: d.len() as u32,
            data: d,
        }
    }

    #[test]
    fn copies_dropped() {
        let mut dd = Dedup::new();
        assert!(dd.first_sighting(&pkt(64, 0, 1000, 1)));
        // Same bytes.
        assert!(!dd.first_sighting(&pkt(64, 0, 1000, 1)));
        // Forwarded: other interface and MACs, TTL - 1, checksum rewritten.
        let mut fwd = pkt(63, 7, 1001, 1);
        fwd.data[14 + 10] = 0x11;
        fwd.interface = Some(InterfaceRef {
            index: 3,
            name: "br0".into(),
            direction: Direction::Egress,
            side: crate::capture::Side::Unknown,
        });
        assert!(!dd.first_sighting(&fwd));
        assert_eq!(dd.duplicates(), 2);
    }

    #[test]
    fn loopback_egress_is_seen_once_so_never_a_copy() {
        let mut dd = Dedup::new();
        let lo = |t_ms, direction| {
            let mut p = pkt(64, 0, t_ms, 1);
            p.interface = Some(InterfaceRef {
                index: LOOPBACK_IFINDEX,
                name: "lo".into(),
                direction,
                side: crate::capture::Side::Unknown,
            });
            p
        };
        // Two identical queries in a row (a retry whose IPv4 id is 0, as
        // Linux sends DF datagrams of unconnected sockets): both real.
        assert!(dd.first_sighting(&lo(1000, Direction::Egress)));
        assert!(dd.first_sighting(&lo(1001, Direction::Egress)));
        // Not even remembered: the same bytes elsewhere are a first sighting.
        assert!(dd.first_sighting(&pkt(64, 0, 1002, 1)));
        // lo at ingress (not hooked today) would be deduplicated as usual.
        assert!(!dd.first_sighting(&lo(1003, Direction::Ingress)));
        assert_eq!(dd.duplicates(), 1);
    }

    #[test]
    fn different_or_late_packets_kept() {
        let mut dd = Dedup::new();
        assert!(dd.first_sighting(&pkt(64, 0, 1000, 1)));
        // Other payload.
        assert!(dd.first_sighting(&pkt(64, 0, 1000, 2)));
        // Identical, but a retry a second later.
        assert!(dd.first_sighting(&pkt(64, 0, 2000, 1)));
        // Unparseable: always passed.
        let mut junk = pkt(64, 0, 2000, 1);
        junk.data.truncate(20);
        assert!(dd.first_sighting(&junk));
        assert!(dd.first_sighting(&junk));
        assert_eq!(dd.duplicates(), 0);
    }

    #[test]
    fn memory_bounded_oldest_of_a_bucket_forgotten() {
        let mut dd = Dedup::new();
        let before = dd.buckets.len();
        // Five packets of one bucket within the window: the first is
        // forgotten (its copy passes, and takes the next oldest's slot);
        // the later ones are still known.
        let same_bucket = |k: u64| 7 + k * BUCKETS as u64;
        for k in 0..5 {
            assert!(dd.first_sighting_of(same_bucket(k), 1_000 + k));
        }
        assert!(dd.first_sighting_of(same_bucket(0), 2_000));
        for k in 2..5 {
            assert!(!dd.first_sighting_of(same_bucket(k), 2_000));
        }
        // Another bucket is untouched by all that.
        assert!(dd.first_sighting_of(8, 1_000));
        assert!(!dd.first_sighting_of(8, 1_000 + WINDOW_NS));
        assert!(dd.first_sighting_of(8, 2_001 + 2 * WINDOW_NS));
        assert_eq!(dd.duplicates(), 4);
        // Fixed memory, however many packets.
        for i in 0..(WAYS * BUCKETS) as u64 * 2 {
            dd.first_sighting_of(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), 10_000);
        }
        assert_eq!(dd.buckets.len(), before);
    }

    #[test]
    fn copy_out_of_order_within_the_window_dropped() {
        let mut dd = Dedup::new();
        assert!(dd.first_sighting(&pkt(64, 0, 1000, 1)));
        // The copy stamped earlier by another CPU.
        assert!(!dd.first_sighting(&pkt(64, 0, 960, 1)));
        // Further than the window, either way: a new packet.
        assert!(dd.first_sighting(&pkt(64, 0, 949, 1)));
        assert_eq!(dd.duplicates(), 1);
    }
}
