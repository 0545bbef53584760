//! One packet, one copy. The tc programs sit on every interface, so a
//! packet is often seen twice: on `lo` at egress and again at ingress, and
//! a packet the host forwards (container veth → bridge/route → veth) at the
//! ingress of one interface and the egress of the next. Only the first
//! sighting goes on.
//!
//! Two sightings are the same packet when their IP packets are identical
//! except for what forwarding rewrites (IPv4 TTL and header checksum, IPv6
//! hop limit) and their kernel timestamps are within [`WINDOW`]. A real
//! retransmission (a resolver retrying after a timeout) comes much later
//! than that, or differs (IPv4 id, TCP sequence/timestamps).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, SystemTime};

use super::{CapturedPacket, LinkType};

/// Two sightings further apart than this are two packets.
pub const WINDOW: Duration = Duration::from_millis(50);
/// Bound on remembered packets (oldest forgotten first).
const MAX_REMEMBERED: usize = 65_536;

/// foldhash, seeded per process: SipHash over every packet's bytes was a
/// few % of the agent's CPU under load; a random seed keeps crafted
/// collisions (a packet passed off as a copy of another) out of reach.
type Seeded = foldhash::quality::RandomState;

pub struct Dedup {
    hasher: Seeded,
    seen: HashMap<u64, SystemTime, Seeded>,
    order: VecDeque<(u64, SystemTime)>,
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
            seen: HashMap::default(),
            order: VecDeque::new(),
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
        let Some(h) = ip_hash(pkt, &self.hasher) else {
            return true;
        };
        let now = pkt.timestamp;
        while let Some(&(k, t)) = self.order.front() {
            let old = now.duration_since(t).is_ok_and(|d| d > WINDOW);
            if !old && self.order.len() < MAX_REMEMBERED {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&k) == Some(&t) {
                self.seen.remove(&k);
            }
        }
        if let Some(&t) = self.seen.get(&h) {
            let close = match now.duration_since(t) {
                Ok(d) => d <= WINDOW,
                // Out of order by a little (two CPUs): still a copy.
                Err(e) => e.duration() <= WINDOW,
            };
            if close {
                self.duplicates += 1;
                return false;
            }
        }
        self.seen.insert(h, now);
        self.order.push_back((h, now));
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
                index: 1,
                name: "lo".into(),
                direction: Direction::Egress,
            }),
            socket_cookie: None,
            orig_len: d.len() as u32,
            data: d,
        }
    }

    #[test]
    fn loopback_and_forwarded_copies_dropped() {
        let mut dd = Dedup::new();
        assert!(dd.first_sighting(&pkt(64, 0, 1000, 1)));
        // Same bytes (lo ingress).
        assert!(!dd.first_sighting(&pkt(64, 0, 1000, 1)));
        // Forwarded: other MACs, TTL - 1, checksum rewritten.
        let mut fwd = pkt(63, 7, 1001, 1);
        fwd.data[14 + 10] = 0x11;
        assert!(!dd.first_sighting(&fwd));
        assert_eq!(dd.duplicates(), 2);
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
    fn memory_bounded() {
        let mut dd = Dedup::new();
        for i in 0..(MAX_REMEMBERED as u64 + 10) {
            let mut p = pkt(64, 0, 1000, 0);
            p.data.extend(i.to_be_bytes());
            dd.first_sighting(&p);
        }
        assert!(dd.seen.len() <= MAX_REMEMBERED);
        assert!(dd.order.len() <= MAX_REMEMBERED);
    }
}
