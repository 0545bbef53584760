//! pcap / pcapng reader tests (files written in memory with pcap-file).

use std::borrow::Cow;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;

use super::*;
use crate::decode::build;

fn t(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}

fn read_all(bytes: Vec<u8>) -> Result<Vec<CapturedPacket>, PcapError> {
    PcapSource::new(Cursor::new(bytes))?.collect()
}

#[test]
fn pcap_ethernet_packets_and_timestamps() {
    let f = build::pcap_file(
        1,
        &[
            (t(1_700_000_000_000_001), vec![1, 2, 3]),
            (t(1_700_000_001_500_000), vec![4; 60]),
        ],
    );
    let pkts = read_all(f).unwrap();
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].link, LinkType::Ethernet);
    assert_eq!(pkts[0].timestamp, t(1_700_000_000_000_001));
    assert_eq!(pkts[0].data, vec![1, 2, 3]);
    assert_eq!(pkts[1].orig_len, 60);
    assert!(pkts[1].interface.is_none());
}

#[test]
fn supported_and_unsupported_link_types() {
    for (n, l) in [
        (113, LinkType::LinuxSll),
        (276, LinkType::LinuxSll2),
        (101, LinkType::RawIp),
        (228, LinkType::RawIp),
        (229, LinkType::RawIp),
    ] {
        let pkts = read_all(build::pcap_file(n, &[(t(1), vec![0x45])])).unwrap();
        assert_eq!(pkts[0].link, l, "linktype {n}");
    }
    let err = read_all(build::pcap_file(147, &[(t(1), vec![0])]))
        .err()
        .unwrap();
    assert!(matches!(err, PcapError::UnsupportedLinkType(147)));
    assert!(
        err.to_string().contains("unsupported link type 147"),
        "{err}"
    );
}

#[test]
fn nanosecond_pcap() {
    let header = PcapHeader {
        ts_resolution: pcap_file::TsResolution::NanoSecond,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    w.write_packet(&PcapPacket::new(
        Duration::new(1_700_000_000, 123_456_789),
        1,
        &[0],
    ))
    .unwrap();
    let pkts = read_all(w.into_writer()).unwrap();
    assert_eq!(
        pkts[0].timestamp,
        UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)
    );
}

fn pcapng(
    idbs: Vec<InterfaceDescriptionBlock<'static>>,
    epbs: Vec<EnhancedPacketBlock<'static>>,
) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    for i in idbs {
        w.write_pcapng_block(i).unwrap();
    }
    for e in epbs {
        w.write_pcapng_block(e).unwrap();
    }
    w.into_inner()
}

fn epb(if_id: u32, ticks: u64, data: Vec<u8>, flags: Option<u32>) -> EnhancedPacketBlock<'static> {
    EnhancedPacketBlock {
        interface_id: if_id,
        // pcap-file writes the Duration's nanoseconds as the raw tick count.
        timestamp: Duration::from_nanos(ticks),
        original_len: data.len() as u32,
        data: Cow::Owned(data),
        options: flags.map(EnhancedPacketOption::Flags).into_iter().collect(),
    }
}

#[test]
fn pcapng_interfaces_resolution_and_direction() {
    let mut ns = InterfaceDescriptionBlock::new(DataLink::LINUX_SLL2, 65535);
    ns.options = vec![
        InterfaceDescriptionOption::IfName(Cow::Borrowed("eth0")),
        InterfaceDescriptionOption::IfTsResol(9),
    ];
    let us = InterfaceDescriptionBlock::new(DataLink::ETHERNET, 65535); // default 10^-6
    let f = pcapng(
        vec![ns, us],
        vec![
            epb(0, 1_700_000_000_123_456_789, vec![1], Some(2)),
            epb(1, 1_700_000_000_000_001, vec![2], Some(1)),
            epb(0, 1_700_000_001_000_000_000, vec![3], Some(1)),
        ],
    );
    let pkts = read_all(f).unwrap();
    assert_eq!(pkts.len(), 3);
    assert_eq!(pkts[0].link, LinkType::LinuxSll2);
    assert_eq!(
        pkts[0].timestamp,
        UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)
    );
    assert_eq!(
        pkts[0].interface,
        Some(InterfaceRef {
            index: 0,
            name: "eth0".into(),
            direction: Direction::Egress,
            side: crate::capture::Side::Unknown,
        })
    );
    assert_eq!(pkts[1].link, LinkType::Ethernet);
    assert_eq!(pkts[1].timestamp, t(1_700_000_000_000_001));
    assert!(pkts[1].interface.is_none(), "no if_name, no interface");
    assert_eq!(
        pkts[2].interface.as_ref().unwrap().direction,
        Direction::Ingress
    );
}

#[test]
fn pcapng_unsupported_interface_is_an_error() {
    let f = pcapng(
        vec![InterfaceDescriptionBlock::new(DataLink::USB_LINUX, 65535)],
        vec![epb(0, 1, vec![0], None)],
    );
    let err = read_all(f).err().unwrap();
    assert!(
        matches!(err, PcapError::UnsupportedLinkType(189)),
        "{err:?}"
    );
}

#[test]
fn not_a_capture_and_truncated_files() {
    let err = read_all(b"GET / HTTP/1.1\r\n".to_vec()).err().unwrap();
    assert!(matches!(err, PcapError::NotACapture(_)));
    assert!(matches!(
        read_all(vec![0xd4, 0xc3]).err().unwrap(),
        PcapError::Io(_)
    ));
    let mut f = build::pcap_file(1, &[(t(1), vec![7; 100])]);
    f.truncate(f.len() - 10);
    assert!(read_all(f).is_err());
}
