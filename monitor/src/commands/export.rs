//! `dnssec-monitor export --db PATH --alert ID --pcap FILE`: write an
//! alert's query and answer as packets a packet analyser opens.
//!
//! The store keeps the DNS messages and the `ip:port` of both ends, not
//! the frames, so the frames are synthesised: Ethernet II (fixed local
//! MACs), IPv4 (RFC 791, header checksum) or IPv6 (RFC 8200), and UDP
//! (RFC 768) or TCP (RFC 9293: a handshake, then each message with its
//! two-byte length, RFC 1035 §4.2.2). UDP and TCP checksums are computed
//! over the pseudo-header, so the frames pass checksum validation.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::{Duration, SystemTime},
};

use anyhow::{Context, bail};
use pcap_file::{
    DataLink,
    pcap::{PcapHeader, PcapPacket, PcapWriter},
};

use crate::store::{Store, Transaction};

use super::search::DEFAULT_STORE;

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The store (SQLite file); opened read-only.
    #[arg(long = "store", value_name = "PATH", alias = "db", default_value = DEFAULT_STORE)]
    pub db: PathBuf,
    /// The alert id (from `search`).
    #[arg(long, value_name = "ID")]
    pub alert: i64,
    /// The pcap file to write.
    #[arg(long, value_name = "FILE")]
    pub pcap: PathBuf,
}

pub fn main(args: ExportArgs) -> anyhow::Result<i32> {
    let store = Store::open_read_only(&args.db)
        .with_context(|| format!("opening the store {}", args.db.display()))?;
    let Some(detail) = store.alert_detail(args.alert)? else {
        bail!("no alert {} in {}", args.alert, args.db.display());
    };
    let Some(tx) = detail.transaction else {
        bail!(
            "alert {} ({}) has no DNS transaction to export",
            args.alert,
            detail.hit.rule
        );
    };
    let packets = frames(&tx)?;
    let file = std::fs::File::create(&args.pcap)
        .with_context(|| format!("creating {}", args.pcap.display()))?;
    write_pcap(file, &packets)?;
    eprintln!(
        "wrote {} packets of alert {} to {}",
        packets.len(),
        args.alert,
        args.pcap.display()
    );
    Ok(0)
}

/// Write Ethernet frames as a classic pcap (microsecond timestamps).
pub fn write_pcap<W: std::io::Write>(w: W, packets: &[(SystemTime, Vec<u8>)]) -> anyhow::Result<W> {
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut pw = PcapWriter::with_header(w, header)?;
    for (t, data) in packets {
        let ts = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        pw.write_packet(&PcapPacket::new(ts, data.len() as u32, data))?;
    }
    Ok(pw.into_writer())
}

/// The frames of one transaction: query (querier → server), then answer.
pub fn frames(tx: &Transaction) -> anyhow::Result<Vec<(SystemTime, Vec<u8>)>> {
    let addr = |s: &Option<String>, what: &str| -> anyhow::Result<SocketAddr> {
        let s = s
            .as_deref()
            .with_context(|| format!("the transaction has no {what} address"))?;
        s.parse()
            .with_context(|| format!("bad {what} address {s:?} in the store"))
    };
    let client = addr(&tx.src, "source")?;
    let server = addr(&tx.dst, "destination")?;
    if client.is_ipv4() != server.is_ipv4() {
        bail!("source {client} and destination {server} are not the same address family");
    }
    let answer_time = tx.time.unwrap_or(SystemTime::UNIX_EPOCH);
    let query_time = tx
        .query_time
        .unwrap_or_else(|| answer_time - Duration::from_micros(1));
    let tcp = tx.transport.as_deref() == Some("tcp");
    let mut out = Vec::new();
    if !tcp {
        if let Some(q) = &tx.query {
            out.push((
                query_time,
                frame(client, server, UDP, &udp(client, server, q)?)?,
            ));
        }
        if let Some(a) = &tx.answer {
            out.push((
                answer_time,
                frame(server, client, UDP, &udp(server, client, a)?)?,
            ));
        }
    } else {
        // Initial sequence numbers are arbitrary; the handshake makes the
        // stream complete for the analyser's reassembly.
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        let t = query_time;
        let seg = |src, dst, seq, ack, flags, data: &[u8]| -> anyhow::Result<Vec<u8>> {
            frame(
                src,
                dst,
                TCP,
                &tcp_segment(src, dst, seq, ack, flags, data)?,
            )
        };
        out.push((t, seg(client, server, cseq, 0, SYN, &[])?));
        out.push((t, seg(server, client, sseq, cseq + 1, SYN | ACK, &[])?));
        cseq += 1;
        sseq += 1;
        out.push((t, seg(client, server, cseq, sseq, ACK, &[])?));
        if let Some(q) = &tx.query {
            let data = length_prefixed(q)?;
            out.push((t, seg(client, server, cseq, sseq, PSH | ACK, &data)?));
            cseq = cseq.wrapping_add(data.len() as u32);
        }
        if let Some(a) = &tx.answer {
            let data = length_prefixed(a)?;
            out.push((
                answer_time,
                seg(server, client, sseq, cseq, PSH | ACK, &data)?,
            ));
        }
    }
    if out.is_empty() {
        bail!("the transaction has neither a query nor an answer stored");
    }
    Ok(out)
}

const UDP: u8 = 17;
const TCP: u8 = 6;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

fn length_prefixed(msg: &[u8]) -> anyhow::Result<Vec<u8>> {
    let len = u16::try_from(msg.len()).context("DNS message longer than 65535 bytes")?;
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    Ok(v)
}

/// RFC 1071 one's-complement sum, folded.
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Checksum of an L4 segment with the IPv4 (RFC 768) or IPv6 (RFC 8200
/// §8.1) pseudo-header.
fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, seg: &[u8]) -> u16 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(&s.octets(), acc);
            acc = sum16(&d.octets(), acc);
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            acc = sum16(&v6(s), acc);
            acc = sum16(&v6(d), acc);
        }
    }
    acc += u32::from(proto) + seg.len() as u32;
    fold(sum16(seg, acc))
}

fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let len = u16::try_from(8 + payload.len()).context("UDP datagram too long")?;
    let mut s = Vec::with_capacity(len as usize);
    s.extend_from_slice(&src.port().to_be_bytes());
    s.extend_from_slice(&dst.port().to_be_bytes());
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let mut c = l4_checksum(src.ip(), dst.ip(), UDP, &s);
    if c == 0 {
        c = 0xffff; // RFC 768: a computed zero is sent as all ones.
    }
    s[6..8].copy_from_slice(&c.to_be_bytes());
    Ok(s)
}

fn tcp_segment(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let mut s = Vec::with_capacity(20 + payload.len());
    s.extend_from_slice(&src.port().to_be_bytes());
    s.extend_from_slice(&dst.port().to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&ack.to_be_bytes());
    s.push(5 << 4); // data offset: 5 words, no options
    s.push(flags);
    s.extend_from_slice(&65535u16.to_be_bytes()); // window
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    s.extend_from_slice(payload);
    let c = l4_checksum(src.ip(), dst.ip(), TCP, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    Ok(s)
}

/// Ethernet II + IP header around an L4 segment of protocol `proto`.
fn frame(src: SocketAddr, dst: SocketAddr, proto: u8, l4: &[u8]) -> anyhow::Result<Vec<u8>> {
    // Locally administered MACs: 02:00:00:00:00:01 (client side) etc.
    let mac = |a: &SocketAddr| -> [u8; 6] {
        let last = match a.ip() {
            IpAddr::V4(v) => v.octets()[3],
            IpAddr::V6(v) => v.octets()[15],
        };
        [0x02, 0, 0, 0, 0, last]
    };
    let mut f = Vec::with_capacity(14 + 40 + l4.len());
    f.extend_from_slice(&mac(&dst));
    f.extend_from_slice(&mac(&src));
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            let total = u16::try_from(20 + l4.len()).context("IPv4 packet too long")?;
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[6] = 0x40; // don't fragment
            h[8] = 64;
            h[9] = proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = fold(sum16(&h, 0));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&0x86DDu16.to_be_bytes());
            let plen = u16::try_from(l4.len()).context("IPv6 payload too long")?;
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&plen.to_be_bytes());
            f.push(proto);
            f.push(64);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        _ => bail!("mixed address families {src} → {dst}"),
    }
    f.extend_from_slice(l4);
    Ok(f)
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
