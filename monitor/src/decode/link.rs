//! Link layer: find where the IP header starts.
//!
//! Ethernet II with any number (bounded) of 802.1Q / 802.1ad / legacy QinQ
//! tags, Linux cooked capture v1 (`LINKTYPE_LINUX_SLL`, 16-byte header) and
//! v2 (`LINKTYPE_LINUX_SLL2`, 20-byte header), or raw IP.

use super::counters::Outcome;
use crate::capture::LinkType;

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_8021Q: u16 = 0x8100;
const ETHERTYPE_8021AD: u16 = 0x88A8;
/// Pre-standard QinQ outer tag still seen on some switches.
const ETHERTYPE_QINQ_LEGACY: u16 = 0x9100;
/// More stacked tags than this is not a real network; stop walking.
const MAX_VLAN_TAGS: usize = 4;

/// The network-layer protocol and where its header starts in the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct L3Start {
    pub ethertype: u16,
    pub offset: usize,
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

/// Parse the link header of `data`. `truncated` says the capture kept fewer
/// bytes than the wire carried.
pub(crate) fn parse(link: LinkType, data: &[u8], truncated: bool) -> Result<L3Start, Outcome> {
    let short = Outcome::short(truncated, Outcome::MalformedL2);
    let (ethertype, offset) = match link {
        LinkType::RawIp => {
            // No link header: the IP version nibble says which IP it is.
            let Some(&b) = data.first() else {
                return Err(short);
            };
            let et = match b >> 4 {
                4 => ETHERTYPE_IPV4,
                6 => ETHERTYPE_IPV6,
                _ => return Err(Outcome::MalformedL3),
            };
            return Ok(L3Start {
                ethertype: et,
                offset: 0,
            });
        }
        LinkType::Ethernet => {
            if data.len() < 14 {
                return Err(short);
            }
            (be16(data, 12), 14)
        }
        LinkType::LinuxSll => {
            // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
            if data.len() < 16 {
                return Err(short);
            }
            (be16(data, 14), 16)
        }
        LinkType::LinuxSll2 => {
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) pkttype(1)
            // addr len(1) addr(8)
            if data.len() < 20 {
                return Err(short);
            }
            (be16(data, 0), 20)
        }
    };
    skip_vlan_tags(data, ethertype, offset, short)
}

/// Walk 802.1Q/802.1ad tags (4 bytes each: TCI then the inner type).
fn skip_vlan_tags(
    data: &[u8],
    mut ethertype: u16,
    mut offset: usize,
    short: Outcome,
) -> Result<L3Start, Outcome> {
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_8021Q | ETHERTYPE_8021AD | ETHERTYPE_QINQ_LEGACY
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(Outcome::MalformedL2);
        }
        if data.len() < offset + 4 {
            return Err(short);
        }
        ethertype = be16(data, offset + 2);
        offset += 4;
    }
    Ok(L3Start { ethertype, offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(types: &[u16]) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        for (i, t) in types.iter().enumerate() {
            v.extend_from_slice(&t.to_be_bytes());
            if i + 1 < types.len() {
                v.extend_from_slice(&[0x00, 0x64]); // TCI: VLAN 100
            }
        }
        v.push(0x45);
        v
    }

    #[test]
    fn plain_ethernet() {
        let d = eth(&[ETHERTYPE_IPV4]);
        let r = parse(LinkType::Ethernet, &d, false).unwrap();
        assert_eq!(
            r,
            L3Start {
                ethertype: ETHERTYPE_IPV4,
                offset: 14
            }
        );
    }

    #[test]
    fn single_and_double_vlan_tags() {
        let d = eth(&[ETHERTYPE_8021Q, ETHERTYPE_IPV6]);
        let r = parse(LinkType::Ethernet, &d, false).unwrap();
        assert_eq!(
            r,
            L3Start {
                ethertype: ETHERTYPE_IPV6,
                offset: 18
            }
        );
        let d = eth(&[ETHERTYPE_8021AD, ETHERTYPE_8021Q, ETHERTYPE_IPV4]);
        let r = parse(LinkType::Ethernet, &d, false).unwrap();
        assert_eq!(
            r,
            L3Start {
                ethertype: ETHERTYPE_IPV4,
                offset: 22
            }
        );
    }

    #[test]
    fn too_many_tags_or_cut_tag_is_malformed() {
        let d = eth(&[ETHERTYPE_8021Q; 6]
            .iter()
            .copied()
            .chain([ETHERTYPE_IPV4])
            .collect::<Vec<_>>());
        assert_eq!(
            parse(LinkType::Ethernet, &d, false),
            Err(Outcome::MalformedL2)
        );
        let mut d = vec![0u8; 12];
        d.extend_from_slice(&ETHERTYPE_8021Q.to_be_bytes());
        d.push(0);
        assert_eq!(
            parse(LinkType::Ethernet, &d, false),
            Err(Outcome::MalformedL2)
        );
        assert_eq!(
            parse(LinkType::Ethernet, &d, true),
            Err(Outcome::TruncatedCapture)
        );
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut v1 = vec![0u8; 14];
        v1.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        assert_eq!(
            parse(LinkType::LinuxSll, &v1, false).unwrap(),
            L3Start {
                ethertype: ETHERTYPE_IPV6,
                offset: 16
            }
        );
        assert_eq!(
            parse(LinkType::LinuxSll, &v1[..15], false),
            Err(Outcome::MalformedL2)
        );
        let mut v2 = ETHERTYPE_IPV4.to_be_bytes().to_vec();
        v2.extend_from_slice(&[0u8; 18]);
        assert_eq!(
            parse(LinkType::LinuxSll2, &v2, false).unwrap(),
            L3Start {
                ethertype: ETHERTYPE_IPV4,
                offset: 20
            }
        );
        assert_eq!(
            parse(LinkType::LinuxSll2, &v2[..19], false),
            Err(Outcome::MalformedL2)
        );
    }

    #[test]
    fn raw_ip_by_version_nibble() {
        assert_eq!(
            parse(LinkType::RawIp, &[0x45], false).unwrap().ethertype,
            ETHERTYPE_IPV4
        );
        assert_eq!(
            parse(LinkType::RawIp, &[0x60], false).unwrap().ethertype,
            ETHERTYPE_IPV6
        );
        assert_eq!(
            parse(LinkType::RawIp, &[0x55], false),
            Err(Outcome::MalformedL3)
        );
        assert_eq!(
            parse(LinkType::RawIp, &[], false),
            Err(Outcome::MalformedL2)
        );
    }
}
