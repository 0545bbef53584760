//! Where packets come from: the kernel programs through a ring buffer, or a
//! pcap/pcapng file for offline replay. Both produce [`CapturedPacket`].

pub mod btf;
pub mod cgroup;
pub mod dedup;
pub mod ebpf;
pub mod fast_path;
#[cfg(test)]
mod fast_path_tests;
pub mod held_slots;
pub mod netlink;
pub mod ringbuf;
pub mod shared_array;
pub mod validated_table;

use std::sync::Arc;
use std::time::SystemTime;

pub mod pcap;

/// Which way the packet crossed the interface's tc hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// What the first byte of [`CapturedPacket::data`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II, possibly with 802.1Q/802.1ad tags (also `lo`).
    Ethernet,
    /// Linux cooked capture v1 (pcap LINKTYPE_LINUX_SLL).
    LinuxSll,
    /// Linux cooked capture v2 (pcap LINKTYPE_LINUX_SLL2).
    LinuxSll2,
    /// An IPv4 or IPv6 header, no link layer.
    RawIp,
}

/// `lo`'s index in every network namespace (`LOOPBACK_IFINDEX`,
/// include/net/flow.h).
pub const LOOPBACK_IFINDEX: u32 = 1;

/// One packet as captured, before any decoding.
#[derive(Clone, Debug)]
pub struct CapturedPacket {
    pub timestamp: SystemTime,
    pub link: LinkType,
    /// The interface it was seen on (kernel capture only).
    pub interface: Option<InterfaceRef>,
    /// Socket cookie of the sending socket, when the kernel knew it (egress).
    pub socket_cookie: Option<u64>,
    /// Length of the packet on the wire; `data` may be shorter if truncated.
    pub orig_len: u32,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceRef {
    pub index: u32,
    /// Shared: every message of the interface carries it (a clone is a
    /// reference count, not a string copy).
    pub name: Arc<str>,
    pub direction: Direction,
    pub side: Side,
}

/// What an interface leads to. With the direction of a message's first
/// sighting (capture/dedup.rs) it tells traffic this host (or a container
/// or VM on it) takes part in as a client from the traffic of a DNS server
/// on this host with other machines (`DnsEvent::served_here`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Side {
    /// Not known: a pcap file, or an interface not (yet) listed.
    #[default]
    Unknown,
    /// `lo`: both ends are this host.
    Loopback,
    /// veth, bridge, netkit, tap, ifb: containers and VMs on this host
    /// (what leaves toward them is delivered here).
    Guests,
    /// A NIC (no link kind), VLAN, bond, VPN or overlay tunnel (tun,
    /// wireguard, vxlan): other machines.
    Network,
}

impl Side {
    /// From rtnetlink: ARPHRD_LOOPBACK (772) is `lo`; `IFLA_INFO_KIND` names
    /// the virtual devices that lead to guests of this host. The tun driver
    /// calls both its kinds "tun": a tap (Ethernet, ARPHRD_ETHER, a VM's
    /// NIC) leads to a guest, a tun (ARPHRD_NONE, a VPN) to other machines.
    pub fn of(arphrd: u16, kind: Option<&str>) -> Side {
        const GUESTS: [&str; 4] = ["veth", "bridge", "netkit", "ifb"];
        const ARPHRD_ETHER: u16 = 1;
        match kind {
            _ if arphrd == 772 => Side::Loopback,
            Some("tun") if arphrd == ARPHRD_ETHER => Side::Guests,
            Some(k) if GUESTS.contains(&k) => Side::Guests,
            _ => Side::Network,
        }
    }
}
