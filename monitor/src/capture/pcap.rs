//! Offline capture: read a pcap or pcapng file (pcap-file 2.x) into
//! [`CapturedPacket`]s, with the timestamps the file recorded.
//!
//! Link types (tcpdump.org LINKTYPE_* values): Ethernet (1), Linux cooked
//! v1 (113) and v2 (276), raw IP (101, and 228/229 for raw IPv4/IPv6).
//! Anything else is a clear error, not a silent skip.

use std::fs::File;
use std::io::{self, BufReader, Chain, Cursor, Read};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};

use super::{CapturedPacket, Direction, InterfaceRef, LinkType};

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("cannot read capture file: {0}")]
    Io(#[from] io::Error),
    #[error("not a pcap or pcapng file (magic {0:02x?})")]
    NotACapture([u8; 4]),
    #[error(
        "unsupported link type {0}: supported are Ethernet (1), Linux cooked v1 (113) and v2 (276), raw IP (101, 228, 229)"
    )]
    UnsupportedLinkType(u32),
    #[error("packet refers to interface {0}, which the pcapng file never described")]
    UnknownInterface(u32),
    #[error("bad pcapng timestamp resolution {0:#x}")]
    BadTimestampResolution(u8),
    #[error("corrupt capture file: {0}")]
    Format(#[from] pcap_file::PcapError),
}

/// Map a LINKTYPE_* number to what the decoder understands.
pub fn link_type(linktype: u32) -> Result<LinkType, PcapError> {
    match linktype {
        1 => Ok(LinkType::Ethernet),
        113 => Ok(LinkType::LinuxSll),
        276 => Ok(LinkType::LinuxSll2),
        101 | 228 | 229 => Ok(LinkType::RawIp),
        n => Err(PcapError::UnsupportedLinkType(n)),
    }
}

/// One pcapng interface (IDB), as far as packets need it.
struct Interface {
    link: Result<LinkType, u32>,
    name: Option<std::sync::Arc<str>>,
    /// Timestamp units per second (`if_tsresol`, default 10⁶).
    units_per_sec: u64,
    /// `if_tsoffset`, seconds added to every timestamp.
    offset_secs: u64,
}

impl Interface {
    fn from_idb(
        linktype: u32,
        options: &[InterfaceDescriptionOption<'_>],
    ) -> Result<Self, PcapError> {
        let mut i = Interface {
            link: link_type(linktype).map_err(|_| linktype),
            name: None,
            units_per_sec: 1_000_000,
            offset_secs: 0,
        };
        for o in options {
            match o {
                InterfaceDescriptionOption::IfName(n) => i.name = Some(n.as_ref().into()),
                // pcapng §4.2: MSB clear = negative power of 10, set = of 2.
                InterfaceDescriptionOption::IfTsResol(r) => {
                    let e = u32::from(r & 0x7f);
                    let base: u64 = if r & 0x80 == 0 { 10 } else { 2 };
                    i.units_per_sec = base
                        .checked_pow(e)
                        .filter(|&u| u > 0)
                        .ok_or(PcapError::BadTimestampResolution(*r))?;
                }
                InterfaceDescriptionOption::IfTsOffset(s) => i.offset_secs = *s,
                _ => {}
            }
        }
        Ok(i)
    }

    fn timestamp(&self, ticks: u64) -> SystemTime {
        let u = u128::from(self.units_per_sec);
        let t = u128::from(ticks);
        let secs = (t / u) as u64;
        let nanos = ((t % u) * 1_000_000_000 / u) as u32;
        UNIX_EPOCH + Duration::new(secs.saturating_add(self.offset_secs), nanos)
    }
}

type Input<R> = Chain<Cursor<[u8; 4]>, R>;

enum Inner<R: Read> {
    Pcap {
        reader: PcapReader<Input<R>>,
        link: LinkType,
    },
    PcapNg {
        reader: PcapNgReader<Input<R>>,
        interfaces: Vec<Interface>,
        last: SystemTime,
    },
}

/// Packets of a pcap or pcapng file, in file order.
pub struct PcapSource<R: Read> {
    inner: Inner<R>,
}

impl PcapSource<BufReader<File>> {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PcapError> {
        Self::new(BufReader::new(File::open(path)?))
    }
}

impl<R: Read> PcapSource<R> {
    /// Recognise the format by its magic number and read the file header.
    pub fn new(mut r: R) -> Result<Self, PcapError> {
        let mut magic = [0u8; 4];
        r.read_exact(&mut magic)?;
        let input = Cursor::new(magic).chain(r);
        let inner = match magic {
            // pcapng Section Header Block type.
            [0x0a, 0x0d, 0x0d, 0x0a] => Inner::PcapNg {
                reader: PcapNgReader::new(input)?,
                interfaces: Vec::new(),
                last: UNIX_EPOCH,
            },
            // pcap, µs or ns resolution, either byte order.
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => {
                let reader = PcapReader::new(input)?;
                let link = link_type(u32::from(reader.header().datalink))?;
                Inner::Pcap { reader, link }
            }
            m => return Err(PcapError::NotACapture(m)),
        };
        Ok(Self { inner })
    }

    /// The next packet, `None` at the end of the file.
    pub fn next_packet(&mut self) -> Option<Result<CapturedPacket, PcapError>> {
        match &mut self.inner {
            Inner::Pcap { reader, link } => {
                let p = match reader.next_packet()? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e.into())),
                };
                Some(Ok(CapturedPacket {
                    timestamp: UNIX_EPOCH + p.timestamp,
                    link: *link,
                    interface: None,
                    socket_cookie: None,
                    orig_len: p.orig_len,
                    data: p.data.into_owned(),
                }))
            }
            Inner::PcapNg {
                reader,
                interfaces,
                last,
            } => loop {
                let block = match reader.next_block()? {
                    Ok(b) => b,
                    Err(e) => return Some(Err(e.into())),
                };
                let (if_id, ticks, orig_len, data, flags) = match block {
                    Block::SectionHeader(_) => {
                        interfaces.clear();
                        continue;
                    }
                    Block::InterfaceDescription(idb) => {
                        match Interface::from_idb(u32::from(idb.linktype), &idb.options) {
                            Ok(i) => interfaces.push(i),
                            Err(e) => return Some(Err(e)),
                        }
                        continue;
                    }
                    Block::EnhancedPacket(epb) => {
                        let flags = epb.options.iter().find_map(|o| match o {
                            EnhancedPacketOption::Flags(f) => Some(*f),
                            _ => None,
                        });
                        // pcap-file hands back the raw 64-bit tick count as
                        // if it were nanoseconds; undo that, apply if_tsresol.
                        let ticks = epb.timestamp.as_nanos() as u64;
                        (
                            epb.interface_id,
                            Some(ticks),
                            epb.original_len,
                            epb.data.into_owned(),
                            flags,
                        )
                    }
                    Block::Packet(pb) => (
                        u32::from(pb.interface_id),
                        Some(pb.timestamp),
                        pb.original_len,
                        pb.data.into_owned(),
                        None,
                    ),
                    // Simple packets: interface 0, no timestamp.
                    Block::SimplePacket(spb) => {
                        (0, None, spb.original_len, spb.data.into_owned(), None)
                    }
                    _ => continue,
                };
                let Some(iface) = interfaces.get(if_id as usize) else {
                    return Some(Err(PcapError::UnknownInterface(if_id)));
                };
                let link = match iface.link {
                    Ok(l) => l,
                    Err(n) => return Some(Err(PcapError::UnsupportedLinkType(n))),
                };
                let timestamp = ticks.map_or(*last, |t| iface.timestamp(t));
                *last = timestamp;
                // epb_flags bits 0-1: 1 inbound, 2 outbound (pcapng §4.3.1).
                let direction = match flags.map(|f| f & 3) {
                    Some(1) => Some(Direction::Ingress),
                    Some(2) => Some(Direction::Egress),
                    _ => None,
                };
                let interface = match (direction, &iface.name) {
                    (Some(direction), Some(name)) => Some(InterfaceRef {
                        index: if_id,
                        name: name.clone(),
                        direction,
                        // A file does not say where its interfaces led.
                        side: super::Side::Unknown,
                    }),
                    _ => None,
                };
                return Some(Ok(CapturedPacket {
                    timestamp,
                    link,
                    interface,
                    socket_cookie: None,
                    orig_len,
                    data,
                }));
            },
        }
    }
}

impl<R: Read> Iterator for PcapSource<R> {
    type Item = Result<CapturedPacket, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet()
    }
}

#[cfg(test)]
#[path = "pcap_tests.rs"]
mod tests;
