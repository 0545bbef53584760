//! Loading the kernel programs embedded at build time and attaching them:
//! tc on interfaces (ingress + egress), sock_addr and skb programs on the
//! cgroup v2 root. Dropping [`KernelPrograms`] detaches everything (the
//! attachments are bpf links owned by this process).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{
    CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, CgroupSockAddr, SchedClassifier,
    TcAttachType, tc,
};
use aya::{Ebpf, EbpfLoader};
use monitor_common::{FlowKey, ProcInfo, config, counter, names};

/// The object built by `cargo xtask build` (empty when built without it).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/monitor.bpf.o"));

/// Whether other CPUs see this machine's stores in program order and its
/// loads are not reordered with loads (`config::TSO`): x86 (Intel SDM
/// vol. 3 §9.2.2). Everything else gets the fully ordered atomics.
const TSO: bool = cfg!(any(target_arch = "x86_64", target_arch = "x86"));

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "this dnssec-monitor was built without eBPF programs; build it with `cargo xtask build` (or start it with `cargo xtask run`)"
    )]
    NoObject,
    #[error("loading the eBPF object: {0}")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("eBPF object has no {0}")]
    Missing(&'static str),
    #[error("eBPF program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("eBPF map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: Box<aya::maps::MapError>,
    },
    #[error("attaching to interface {iface}: {source}")]
    Attach {
        iface: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("opening cgroup {path}: {source}")]
    Cgroup {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("DNS port 0 is not a port")]
    PortZero,
    #[error(transparent)]
    SharedArray(#[from] super::shared_array::SharedArrayError),
}

fn prog_err(name: &'static str) -> impl FnOnce(aya::programs::ProgramError) -> CaptureError {
    move |e| CaptureError::Program {
        name,
        source: Box::new(e),
    }
}

fn map_err(name: &'static str) -> impl FnOnce(aya::maps::MapError) -> CaptureError {
    move |e| CaptureError::Map {
        name,
        source: Box::new(e),
    }
}

const ARPHRD_LOOPBACK: u16 = 772;

/// Which tc program suits a device: does it carry an Ethernet header?
/// (ARPHRD_* from `include/uapi/linux/if_arp.h`.) `None`: unsupported.
pub fn link_has_ethernet(arphrd: u16) -> Option<bool> {
    match arphrd {
        // ETHER, LOOPBACK (lo has a zeroed Ethernet header in the skb).
        1 | 772 => Some(true),
        // NONE (tun, wireguard), TUNNEL, TUNNEL6, SIT, IPGRE, IP6GRE, RAWIP.
        65534 | 768 | 769 | 776 | 778 | 823 | 519 => Some(false),
        _ => None,
    }
}

/// The maps user space reads, taken out of the loaded object.
pub struct KernelMaps {
    pub ring: RingBuf<MapData>,
    pub processes: ProcessMaps,
    pub counters: KernelCounters,
    pub fast: super::fast_path::FastPathMaps,
}

/// The process-attribution maps. Every lookup is a bpf(2) syscall, which
/// is why `correlate::process` caches what they say.
pub struct ProcessMaps {
    /// 4-tuple → process, filled by the cgroup_skb program.
    flows: BpfHashMap<MapData, FlowKey, ProcInfo>,
    /// Socket cookie → process, filled by the sock_addr programs.
    sockets: BpfHashMap<MapData, u64, ProcInfo>,
}

impl ProcessMaps {
    /// The process that sent packets with this 4-tuple, if recorded.
    pub fn flow(&self, key: &FlowKey) -> Option<ProcInfo> {
        self.flows.get(key, 0).ok()
    }

    /// The process that last connected or sent to a DNS port on the
    /// socket with this cookie, if recorded.
    pub fn socket(&self, cookie: u64) -> Option<ProcInfo> {
        self.sockets.get(&cookie, 0).ok()
    }
}

/// The per-CPU counters of the kernel programs, summed over CPUs.
pub struct KernelCounters(PerCpuArray<MapData, u64>);

impl KernelCounters {
    pub fn read(&self) -> [u64; counter::COUNT as usize] {
        let mut out = [0; counter::COUNT as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            if let Ok(v) = self.0.get(&(i as u32), 0) {
                *slot = v.iter().sum();
            }
        }
        out
    }

    /// `(name, value)` pairs for logs and metrics.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        counter::NAMES.iter().copied().zip(self.read()).collect()
    }
}

/// tc links of one interface.
struct Attached {
    name: String,
    eth: bool,
}

/// The loaded programs and their attachments.
pub struct KernelPrograms {
    bpf: Ebpf,
    /// ifindex → what is attached there.
    attached: BTreeMap<u32, Attached>,
    /// ifindex → tc link ids, per program name.
    links: HashMap<u32, Vec<(&'static str, aya::programs::tc::SchedClassifierLinkId)>>,
}

const TC_PROGS: [&str; 5] = [
    names::TC_INGRESS_ETH,
    names::TC_EGRESS_ETH,
    names::TC_INGRESS_RAW,
    names::TC_EGRESS_RAW,
    names::TC_NOOP,
];

impl KernelPrograms {
    /// Loads the embedded object, fills the DNS port map and loads (verifies)
    /// every program. Nothing is attached yet.
    pub fn load(dns_ports: &[u16]) -> Result<Self, CaptureError> {
        if OBJECT.is_empty() {
            return Err(CaptureError::NoObject);
        }
        let mut bpf = EbpfLoader::new()
            .load(OBJECT)
            .map_err(|e| CaptureError::Load(Box::new(e)))?;
        {
            let map = bpf
                .map_mut(names::DNS_PORTS)
                .ok_or(CaptureError::Missing(names::DNS_PORTS))?;
            let mut ports: Array<_, u8> =
                Array::try_from(map).map_err(map_err(names::DNS_PORTS))?;
            for &p in dns_ports {
                if p == 0 {
                    return Err(CaptureError::PortZero);
                }
                ports
                    .set(u32::from(p), 1, 0)
                    .map_err(map_err(names::DNS_PORTS))?;
            }
        }
        {
            let map = bpf
                .map_mut(names::CONFIG)
                .ok_or(CaptureError::Missing(names::CONFIG))?;
            let mut cfg: Array<_, u32> = Array::try_from(map).map_err(map_err(names::CONFIG))?;
            // The programs run JIT-compiled for this machine, whose
            // architecture this binary was built for.
            cfg.set(config::TSO, u32::from(TSO), 0)
                .map_err(map_err(names::CONFIG))?;
            match super::btf::task_offsets() {
                Ok(o) => {
                    for (i, v) in [
                        (config::GROUP_LEADER_OFF, o.group_leader),
                        (config::COMM_OFF, o.comm),
                        (config::OFFSETS_VALID, 1),
                    ] {
                        cfg.set(i, v, 0).map_err(map_err(names::CONFIG))?;
                    }
                }
                Err(e) => tracing::warn!(
                    "process names will be thread names: cannot find task_struct offsets: {e}"
                ),
            }
        }
        for name in TC_PROGS {
            let p: &mut SchedClassifier = bpf
                .program_mut(name)
                .ok_or(CaptureError::Missing(name))?
                .try_into()
                .map_err(prog_err(name))?;
            p.load().map_err(prog_err(name))?;
        }
        for name in [
            names::CONNECT4,
            names::CONNECT6,
            names::SENDMSG4,
            names::SENDMSG6,
        ] {
            let p: &mut CgroupSockAddr = bpf
                .program_mut(name)
                .ok_or(CaptureError::Missing(name))?
                .try_into()
                .map_err(prog_err(name))?;
            p.load().map_err(prog_err(name))?;
        }
        let p: &mut CgroupSkb = bpf
            .program_mut(names::SKB_EGRESS)
            .ok_or(CaptureError::Missing(names::SKB_EGRESS))?
            .try_into()
            .map_err(prog_err(names::SKB_EGRESS))?;
        p.load().map_err(prog_err(names::SKB_EGRESS))?;
        Ok(KernelPrograms {
            bpf,
            attached: BTreeMap::new(),
            links: HashMap::new(),
        })
    }

    /// Takes the ring buffer, process maps and counters out of the object
    /// (once; a second call fails with `Missing`).
    pub fn take_maps(&mut self) -> Result<KernelMaps, CaptureError> {
        let mut take =
            |name: &'static str| self.bpf.take_map(name).ok_or(CaptureError::Missing(name));
        let ring = RingBuf::try_from(take(names::RING)?).map_err(map_err(names::RING))?;
        let flows = BpfHashMap::try_from(take(names::FLOWS)?).map_err(map_err(names::FLOWS))?;
        let sockets =
            BpfHashMap::try_from(take(names::SOCKETS)?).map_err(map_err(names::SOCKETS))?;
        let counters =
            PerCpuArray::try_from(take(names::COUNTERS)?).map_err(map_err(names::COUNTERS))?;
        let fast = super::fast_path::FastPathMaps {
            validated: super::validated_table::ValidatedTable::map(take(names::FAST_VALIDATED)?)?,
            pending: super::held_slots::HeldSlots::map(take(names::FAST_PENDING)?)?,
            servers: aya::maps::PerCpuHashMap::try_from(take(names::FAST_SERVERS)?)
                .map_err(map_err(names::FAST_SERVERS))?,
        };
        Ok(KernelMaps {
            ring,
            processes: ProcessMaps { flows, sockets },
            counters: KernelCounters(counters),
            fast,
        })
    }

    /// Turns the kernel fast path on or off (`CONFIG[FAST_PATH]`).
    pub fn set_fast_path(&mut self, on: bool) -> Result<(), CaptureError> {
        let map = self
            .bpf
            .map_mut(names::CONFIG)
            .ok_or(CaptureError::Missing(names::CONFIG))?;
        let mut cfg: Array<_, u32> = Array::try_from(map).map_err(map_err(names::CONFIG))?;
        cfg.set(config::FAST_PATH, u32::from(on), 0)
            .map_err(map_err(names::CONFIG))
    }

    /// Attaches the process-attribution programs to the cgroup v2 root,
    /// alongside whatever else is attached there. On kernels ≥ 5.7 aya
    /// uses bpf links, which always coexist with other programs and take no
    /// flags (the kernel rejects BPF_F_ALLOW_MULTI there with EINVAL).
    pub fn attach_cgroup(&mut self, root: &Path) -> Result<(), CaptureError> {
        let cg = std::fs::File::open(root).map_err(|e| CaptureError::Cgroup {
            path: root.display().to_string(),
            source: e,
        })?;
        // The links stay owned by the programs; dropping `bpf` detaches.
        for name in [
            names::CONNECT4,
            names::CONNECT6,
            names::SENDMSG4,
            names::SENDMSG6,
        ] {
            let p: &mut CgroupSockAddr = self
                .bpf
                .program_mut(name)
                .ok_or(CaptureError::Missing(name))?
                .try_into()
                .map_err(prog_err(name))?;
            p.attach(&cg, CgroupAttachMode::Single)
                .map_err(prog_err(name))?;
        }
        let name = names::SKB_EGRESS;
        let p: &mut CgroupSkb = self
            .bpf
            .program_mut(name)
            .ok_or(CaptureError::Missing(name))?
            .try_into()
            .map_err(prog_err(name))?;
        p.attach(&cg, CgroupSkbAttachType::Egress, CgroupAttachMode::Single)
            .map_err(prog_err(name))?;
        Ok(())
    }

    /// Attaches the tc programs on both directions of `name`. `Ok(false)`
    /// when it was already attached or its device type is unsupported.
    pub fn attach_interface(
        &mut self,
        index: u32,
        name: &str,
        arphrd: u16,
    ) -> Result<bool, CaptureError> {
        let Some(eth) = link_has_ethernet(arphrd) else {
            tracing::debug!(iface = name, arphrd, "device type not captured");
            return Ok(false);
        };
        if let Some(a) = self.attached.get(&index) {
            if a.name == name && a.eth == eth {
                return Ok(false);
            }
            // Same index, new name or type: the old device is gone.
            self.detach_interface(index);
        }
        // tc before 6.6 attaches through the clsact qdisc; TCX needs none.
        if !aya::util::KernelVersion::current()
            .is_ok_and(|v| v >= aya::util::KernelVersion::new(6, 6, 0))
        {
            match tc::qdisc_add_clsact(name) {
                Ok(()) | Err(tc::TcError::AlreadyAttached) => {}
                Err(tc::TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => {
                    return Err(CaptureError::Attach {
                        iface: name.to_owned(),
                        source: Box::new(e.into()),
                    });
                }
            }
        }
        let (ing, egr) = if eth {
            (names::TC_INGRESS_ETH, names::TC_EGRESS_ETH)
        } else {
            (names::TC_INGRESS_RAW, names::TC_EGRESS_RAW)
        };
        // Every packet on a loopback device passes its egress hook and then
        // its ingress hook: egress alone sees each one exactly once (which
        // lets dedup.rs skip lo's packets).
        let hooks: &[(&'static str, TcAttachType)] = if arphrd == ARPHRD_LOOPBACK {
            &[(egr, TcAttachType::Egress)]
        } else {
            &[(ing, TcAttachType::Ingress), (egr, TcAttachType::Egress)]
        };
        let mut ids = Vec::new();
        for &(prog, at) in hooks {
            let p: &mut SchedClassifier = self
                .bpf
                .program_mut(prog)
                .ok_or(CaptureError::Missing(prog))?
                .try_into()
                .map_err(prog_err(prog))?;
            match p.attach(name, at) {
                Ok(id) => ids.push((prog, id)),
                Err(e) => {
                    // Undo the half attachment.
                    self.links.insert(index, ids);
                    self.detach_links(index);
                    return Err(CaptureError::Attach {
                        iface: name.to_owned(),
                        source: Box::new(e),
                    });
                }
            }
        }
        self.links.insert(index, ids);
        self.attached.insert(
            index,
            Attached {
                name: name.to_owned(),
                eth,
            },
        );
        Ok(true)
    }

    /// Detaches from an interface (it may be gone already: errors ignored).
    pub fn detach_interface(&mut self, index: u32) -> Option<String> {
        self.detach_links(index);
        self.attached.remove(&index).map(|a| a.name)
    }

    fn detach_links(&mut self, index: u32) {
        for (prog, id) in self.links.remove(&index).unwrap_or_default() {
            if let Some(Ok(p)) = self
                .bpf
                .program_mut(prog)
                .map(<&mut SchedClassifier>::try_from)
            {
                let _ = p.detach(id);
            }
        }
    }

    /// `(ifindex, name)` of every interface the tc programs are on.
    pub fn attached(&self) -> Vec<(u32, String)> {
        self.attached
            .iter()
            .map(|(i, a)| (*i, a.name.clone()))
            .collect()
    }

    /// Attaches the do-nothing classifier to both directions of `iface`:
    /// the baseline of the kernel-cost benchmark (never used by `run`).
    pub fn attach_baseline(&mut self, iface: &str) -> Result<(), CaptureError> {
        let p: &mut SchedClassifier = self
            .bpf
            .program_mut(names::TC_NOOP)
            .ok_or(CaptureError::Missing(names::TC_NOOP))?
            .try_into()
            .map_err(prog_err(names::TC_NOOP))?;
        for at in [TcAttachType::Ingress, TcAttachType::Egress] {
            p.attach(iface, at).map_err(|e| CaptureError::Attach {
                iface: iface.to_owned(),
                source: Box::new(e),
            })?;
        }
        Ok(())
    }

    /// Runs tc program `prog` over `packet` (an Ethernet frame) `repeat`
    /// times in the kernel (BPF_PROG_TEST_RUN, no interface involved);
    /// returns the kernel's average time per run. Root only.
    pub fn test_run_tc(
        &self,
        prog: &'static str,
        packet: &[u8],
        repeat: u32,
    ) -> Result<std::time::Duration, CaptureError> {
        use aya::programs::{TestRun, TestRunOptions};
        let p: &SchedClassifier = self
            .bpf
            .program(prog)
            .ok_or(CaptureError::Missing(prog))?
            .try_into()
            .map_err(prog_err(prog))?;
        let mut opts = TestRunOptions::new();
        opts.data_in = Some(packet);
        opts.repeat = repeat.max(1);
        let r = p.test_run(opts).map_err(prog_err(prog))?;
        Ok(r.duration)
    }

    /// `(program, total run time, run count)` of every program, as the
    /// kernel counts them while statistics are enabled
    /// (`kernel.bpf_stats_enabled=1` or `aya::sys::enable_stats`).
    pub fn program_stats(&self) -> Vec<(String, std::time::Duration, u64)> {
        self.bpf
            .programs()
            .filter_map(|(name, p)| {
                let info = p.info().ok()?;
                Some((name.to_owned(), info.run_time(), info.run_count()))
            })
            .collect()
    }

    /// Whether the binary carries the kernel programs at all.
    pub fn embedded() -> bool {
        !OBJECT.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_types() {
        assert_eq!(link_has_ethernet(1), Some(true));
        assert_eq!(link_has_ethernet(772), Some(true));
        assert_eq!(link_has_ethernet(65534), Some(false));
        // ARPHRD_IEEE80211_RADIOTAP: radiotap headers, not captured.
        assert_eq!(link_has_ethernet(803), None);
    }

    #[test]
    fn load_without_object_or_root_is_a_clear_error() {
        if KernelPrograms::embedded() {
            // Built by xtask. Port 0 is refused once the maps exist (root)
            // or loading fails for want of privileges; never Ok.
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            match KernelPrograms::load(&[0]) {
                Ok(_) => panic!("port 0 accepted"),
                Err(CaptureError::PortZero) => {}
                Err(e) => assert!(!root, "as root, port 0 must be the error: {e}"),
            }
            return;
        }
        let err = KernelPrograms::load(&[53]).err().expect("no object: error");
        assert!(matches!(err, CaptureError::NoObject));
        assert!(err.to_string().contains("cargo xtask build"), "{err}");
    }
}
