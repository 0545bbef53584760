//! The tc classifier's packet parsing, in the kernel, through
//! BPF_PROG_TEST_RUN (root): which frames it copies to the ring buffer and
//! which it lets go after a few loads. Each positive case has a negative
//! twin. (VLAN tags, IPv6 extension headers and fragments are hard to
//! produce on demand with real clients; here they are exact.)

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, RwLock};

use anyhow::{Result, ensure};
use hickory_proto::rr::RecordType;
use monitor::capture::ebpf::{KernelMaps, KernelPrograms};
use monitor::capture::ringbuf::{KtimeClock, parse_record};
use monitor::decode::build;
use monitor_common::{counter, names};
use tests::root::root_or_skip;

const V4C: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const V4S: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
const V6C: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
const V6S: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 1, 1);
const UDP: u8 = 17;
const TCP: u8 = 6;

struct Kernel {
    progs: KernelPrograms,
    maps: KernelMaps,
}

impl Kernel {
    fn load() -> Result<Kernel> {
        let mut progs = KernelPrograms::load(&[53])?;
        let maps = progs.take_maps()?;
        Ok(Kernel { progs, maps })
    }

    /// Runs the Ethernet ingress classifier once over `frame`; `Some(l3
    /// offset)` if it was copied to the ring (bytes checked), `None` if not.
    fn run(&mut self, frame: &[u8]) -> Result<Option<u32>> {
        while self.maps.ring.next().is_some() {}
        let sent0 = self.maps.counters.read()[counter::SENT as usize];
        self.progs
            .test_run_tc(names::TC_INGRESS_ETH, frame, 1)
            .map_err(|e| anyhow::anyhow!("test run of a {}-byte frame: {e:#}", frame.len()))?;
        let sent = self.maps.counters.read()[counter::SENT as usize] - sent0;
        let rec = self.maps.ring.next().map(|r| r.to_vec());
        ensure!(self.maps.ring.next().is_none(), "more than one record");
        match (sent, rec) {
            (0, None) => Ok(None),
            (1, Some(rec)) => {
                let names = Arc::new(RwLock::default());
                let p = parse_record(&rec, &KtimeClock::now(), &names)?;
                ensure!(p.data == frame, "captured bytes differ from the frame");
                ensure!(p.orig_len as usize == frame.len());
                // The l3 offset is not in CapturedPacket: read the header.
                let l3 = u32::from_ne_bytes(rec[32..36].try_into()?);
                Ok(Some(l3))
            }
            (n, r) => anyhow::bail!("sent counter +{n} but record {:?}", r.map(|r| r.len())),
        }
    }
}

fn query() -> Vec<u8> {
    build::dns_query(7, "a.test", RecordType::A)
}

fn udp4(sport: u16, dport: u16) -> Vec<u8> {
    build::ipv4(V4C, V4S, UDP, &build::udp(sport, dport, &query()))
}

#[test]
fn tc_parsing_in_the_kernel() -> Result<()> {
    if !root_or_skip("tc_parsing_in_the_kernel") {
        return Ok(());
    }
    let mut k = Kernel::load()?;
    let eth = |l3: &[u8]| build::ethernet(l3, &[]);

    // UDP/IPv4 to and from port 53; not to 54.
    ensure!(k.run(&eth(&udp4(40000, 53)))? == Some(14), "UDP/IPv4 query");
    ensure!(
        k.run(&eth(&udp4(53, 40000)))? == Some(14),
        "UDP/IPv4 answer"
    );
    ensure!(k.run(&eth(&udp4(40000, 54)))?.is_none(), "port 54 captured");

    // TCP both ways; not other ports.
    let tcp = |s, d| {
        build::ipv4(
            V4C,
            V4S,
            TCP,
            &build::tcp(s, d, 1, 0x18, &build::tcp_framed(&query())),
        )
    };
    ensure!(k.run(&eth(&tcp(40000, 53)))?.is_some(), "TCP query");
    ensure!(k.run(&eth(&tcp(53, 40000)))?.is_some(), "TCP answer");
    ensure!(k.run(&eth(&tcp(40000, 443)))?.is_none(), "TCP/443 captured");

    // IPv6, with extension headers (hop-by-hop, routing, destination
    // options) to skip; more than the bounded six are let through.
    let v6 = |chain: &[(u8, u8)]| {
        build::ipv6_with_ext(V6C, V6S, UDP, &build::udp(40000, 53, &query()), chain)
    };
    ensure!(k.run(&eth(&v6(&[])))? == Some(14), "UDP/IPv6");
    ensure!(
        k.run(&eth(&v6(&[(0, 0), (43, 0), (60, 1)])))?.is_some(),
        "IPv6 ext headers"
    );
    ensure!(
        k.run(&eth(&v6(&[(60, 0); 7])))?.is_none(),
        "7 extension headers captured"
    );
    let v6_54 = build::ipv6(V6C, V6S, UDP, &build::udp(40000, 54, &query()));
    ensure!(k.run(&eth(&v6_54))?.is_none(), "UDP/IPv6 port 54 captured");

    // 802.1Q and 802.1ad+802.1Q tags in the frame; three tags are more
    // than the bounded two.
    let q = build::ethernet(&udp4(40000, 53), &[(0x8100, 10)]);
    ensure!(k.run(&q)? == Some(18), "802.1Q");
    let qinq = build::ethernet(&udp4(40000, 53), &[(0x88a8, 20), (0x8100, 10)]);
    ensure!(k.run(&qinq)? == Some(22), "802.1ad + 802.1Q");
    let three = build::ethernet(&udp4(40000, 53), &[(0x88a8, 1), (0x8100, 2), (0x8100, 3)]);
    ensure!(k.run(&three)?.is_none(), "three VLAN tags captured");
    let q54 = build::ethernet(&udp4(40000, 54), &[(0x8100, 10)]);
    ensure!(k.run(&q54)?.is_none(), "802.1Q port 54 captured");

    // Every UDP fragment goes up (later ones carry no ports), whatever the
    // port; TCP fragments do not.
    let big = build::udp(40000, 54, &vec![0u8; 3000]);
    for f in build::ipv4_fragments(V4C, V4S, UDP, 1, &big, 1480) {
        ensure!(k.run(&eth(&f))?.is_some(), "IPv4 UDP fragment");
    }
    for f in build::ipv6_fragments(V6C, V6S, UDP, 1, &big, 1448) {
        ensure!(k.run(&eth(&f))?.is_some(), "IPv6 UDP fragment");
    }
    let tcp_big = build::tcp(40000, 443, 1, 0x18, &vec![0u8; 3000]);
    let frags = build::ipv4_fragments(V4C, V4S, TCP, 2, &tcp_big, 1480);
    ensure!(
        k.run(&eth(&frags[1]))?.is_none(),
        "later TCP fragment captured"
    );

    // Not IP at all, or cut short: let go, no crash.
    let mut arp = build::ethernet(&[0u8; 28], &[]);
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    ensure!(k.run(&arp)?.is_none(), "ARP captured");
    // (The kernel's test harness itself refuses a cut IP header; cut the
    // UDP header instead.)
    let cut = eth(&udp4(40000, 53))[..14 + 20 + 2].to_vec();
    ensure!(k.run(&cut)?.is_none(), "truncated UDP header captured");
    let icmp = build::ipv4(V4C, V4S, 1, &[8, 0, 0, 0, 0, 0, 0, 0]);
    ensure!(k.run(&eth(&icmp))?.is_none(), "ICMP captured");

    // Larger than the small size classes (the harness takes at most a
    // page): copied whole.
    let large = build::ipv6(V6C, V6S, UDP, &build::udp(53, 40000, &vec![0u8; 3000]));
    ensure!(k.run(&eth(&large))? == Some(14), "3,000-byte packet");
    Ok(())
}
