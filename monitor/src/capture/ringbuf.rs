//! Reading captured packets from the kernel's ring buffer: wake on epoll
//! (tokio `AsyncFd`) or a poll timer, let a batch gather, drain every
//! record into one reused [`CapturedPacket`] and hand each to a
//! [`PacketSink`] that must never block (the next stage counts what it
//! cannot take, so the kernel side never backs up behind a slow consumer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aya::maps::{MapData, RingBuf};
use monitor_common::{DIR_EGRESS, PKT_F_DEFERRED_QUERY, PKT_F_HAS_COOKIE, PacketHeader};
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use super::dedup::Dedup;
use super::{CapturedPacket, Direction, InterfaceRef, LinkType, Side};

/// ifindex → interface name and what it leads to, kept current by
/// whoever attaches.
pub type InterfaceNames = Arc<RwLock<HashMap<u32, (Arc<str>, Side)>>>;

/// Converts `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) to wall-clock time with
/// one offset, so a record costs an addition, not a clock read. NTP slews
/// both clocks alike, so the offset only changes when the wall clock is
/// stepped; the reader re-measures it every [`CLOCK_REFRESH`] and follows
/// a step larger than [`CLOCK_STEP`] (smaller differences are the jitter
/// of measuring, ignored so that time does not wobble).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KtimeClock {
    /// CLOCK_REALTIME − CLOCK_MONOTONIC, in ns.
    offset_ns: i128,
}

pub(crate) fn clock_ns(id: libc::clockid_t) -> i128 {
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

    /// `self`, or `fresh` if the wall clock was stepped since `self` was
    /// measured.
    pub fn follow(self, fresh: KtimeClock) -> KtimeClock {
        if (fresh.offset_ns - self.offset_ns).unsigned_abs() > CLOCK_STEP.as_nanos() {
            fresh
        } else {
            self
        }
    }

    pub fn wall(&self, ktime_ns: u64) -> SystemTime {
        let t = i128::from(ktime_ns) + self.offset_ns;
        let t = u64::try_from(t.max(0)).unwrap_or(u64::MAX);
        SystemTime::UNIX_EPOCH + Duration::from_nanos(t)
    }
}

/// How often the reader re-measures the [`KtimeClock`] offset.
pub const CLOCK_REFRESH: Duration = Duration::from_secs(60);
/// The smallest change of the offset taken for a wall-clock step.
pub const CLOCK_STEP: Duration = Duration::from_millis(1);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("ring record of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("ring record claims {claimed} captured bytes but carries {have}")]
    Length { claimed: u32, have: usize },
    #[error("fast path record: not a held-back query")]
    Deferred,
}

/// One ring-buffer record → a packet.
pub fn parse_record(
    rec: &[u8],
    clock: &KtimeClock,
    names: &InterfaceNames,
) -> Result<CapturedPacket, RecordError> {
    let mut pkt = CapturedPacket {
        timestamp: SystemTime::UNIX_EPOCH,
        link: LinkType::RawIp,
        interface: None,
        socket_cookie: None,
        orig_len: 0,
        data: Vec::new(),
    };
    parse_record_into(rec, clock, names, &mut pkt)?;
    Ok(pkt)
}

/// [`parse_record`] into a packet that is reused from record to record:
/// its buffer keeps its capacity and its interface name is only replaced
/// when the interface changes, so the reader allocates nothing per packet.
pub fn parse_record_into(
    rec: &[u8],
    clock: &KtimeClock,
    names: &InterfaceNames,
    pkt: &mut CapturedPacket,
) -> Result<(), RecordError> {
    parse_record_checked(rec, clock, names, &mut None, pkt)
}

/// [`parse_record_into`] that reads `names` (a lock, two atomic operations)
/// only when the record's interface is not `*checked`, the interface whose
/// name in `pkt` was last checked against `names`. The reader resets
/// `checked` to `None` for every batch, so a renamed interface shows its
/// new name from the next batch on, and a batch costs one lock.
pub fn parse_record_checked(
    rec: &[u8],
    clock: &KtimeClock,
    names: &InterfaceNames,
    checked: &mut Option<u32>,
    pkt: &mut CapturedPacket,
) -> Result<(), RecordError> {
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
    let direction = if h.direction == DIR_EGRESS {
        Direction::Egress
    } else {
        Direction::Ingress
    };
    match pkt.interface.as_mut() {
        Some(i) if i.index == h.ifindex && *checked == Some(h.ifindex) => {
            i.direction = direction;
        }
        _ => {
            let map = names.read().ok();
            let known = map.as_ref().and_then(|m| m.get(&h.ifindex));
            match pkt.interface.as_mut() {
                // Same interface, same name (it may have been renamed): keep it.
                Some(i)
                    if i.index == h.ifindex
                        && known.is_some_and(|(n, s)| *n == i.name && *s == i.side) =>
                {
                    i.direction = direction;
                }
                _ => {
                    let (name, side) = known
                        .cloned()
                        .unwrap_or_else(|| (format!("if{}", h.ifindex).into(), Side::Unknown));
                    pkt.interface = Some(InterfaceRef {
                        index: h.ifindex,
                        name,
                        direction,
                        side,
                    });
                }
            }
            *checked = Some(h.ifindex);
        }
    }
    pkt.timestamp = clock.wall(h.ktime_ns);
    pkt.link = if h.l3_offset == 0 {
        LinkType::RawIp
    } else {
        LinkType::Ethernet
    };
    pkt.socket_cookie = (h.flags & PKT_F_HAS_COOKIE != 0).then_some(h.socket_cookie);
    pkt.orig_len = h.pkt_len;
    if h.flags & PKT_F_DEFERRED_QUERY != 0 {
        // A query the kernel fast path held back (capture/fast_path.rs).
        let pq = super::fast_path::pending_of(&body[..cap]).ok_or(RecordError::Deferred)?;
        super::fast_path::synthesize_query(&pq, &mut pkt.data).ok_or(RecordError::Deferred)?;
        pkt.link = LinkType::Ethernet;
        pkt.orig_len = pkt.data.len() as u32;
        return Ok(());
    }
    pkt.data.clear();
    pkt.data.extend_from_slice(&body[..cap]);
    Ok(())
}

/// A held-back query as the ring record the kernel would have sent for it.
pub fn deferred_record(pq: &monitor_common::fast::PendingQuery) -> Vec<u8> {
    let mut flags = PKT_F_DEFERRED_QUERY;
    if pq.socket_cookie != 0 {
        flags |= PKT_F_HAS_COOKIE;
    }
    let h = PacketHeader {
        ktime_ns: pq.ktime_ns,
        socket_cookie: pq.socket_cookie,
        ifindex: pq.ifindex,
        direction: DIR_EGRESS,
        pkt_len: u32::from(pq.key.len) + 2,
        cap_len: std::mem::size_of::<monitor_common::fast::PendingQuery>() as u32,
        l3_offset: 0,
        flags,
    };
    let mut v = Vec::with_capacity(std::mem::size_of::<PacketHeader>() + h.cap_len as usize);
    // SAFETY: both are repr(C) plain data without padding.
    unsafe {
        v.extend_from_slice(std::slice::from_raw_parts(
            (&h as *const PacketHeader).cast::<u8>(),
            std::mem::size_of::<PacketHeader>(),
        ));
        v.extend_from_slice(std::slice::from_raw_parts(
            (pq as *const monitor_common::fast::PendingQuery).cast::<u8>(),
            std::mem::size_of::<monitor_common::fast::PendingQuery>(),
        ));
    }
    v
}

/// Where the reader hands packets: one call per packet (borrowed: copy
/// what you keep), then one [`PacketSink::flush`] per drained batch, so the
/// next stage is woken once per batch, not once per packet.
pub trait PacketSink {
    /// How many more packets it can take now. The reader leaves the rest
    /// in the ring (the kernel side counts `ring_full` if it fills): a
    /// slow consumer is buffered by the ring, not dropped in user space.
    fn room(&self) -> usize;
    fn packet(&mut self, pkt: &CapturedPacket);
    /// The end of a batch; `false` when the consumer is gone (stop reading).
    fn flush(&mut self) -> bool;
    /// Called on every poll tick, busy or idle (age state, timers).
    fn tick(&mut self) {}
}

/// Most records handed to the sink between two flushes.
pub const MAX_BATCH: usize = 4_096;
/// After a wake-up, how long the reader lets records gather before it
/// drains: the kernel programs only wake the reader for the record that
/// finds the ring empty (monitor-ebpf/src/tc.rs `wake_flags`), so this
/// turns a wake-up per packet into one per batch; it bounds the latency a
/// record adds before decoding.
pub const GATHER: Duration = Duration::from_millis(1);
/// Reads happen at least this often even without a wake-up: a record
/// submitted without one while the reader was going to sleep waits at
/// most this long.
pub const POLL_EVERY: Duration = Duration::from_millis(10);

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
    clock_measured: std::time::Instant,
    names: InterfaceNames,
    /// Reused for every record (see [`parse_record_into`]).
    scratch: CapturedPacket,
    /// Held-back queries the fast path's scanner took out of the kernel
    /// (capture/fast_path.rs), sent on as if the ring had carried them.
    expired: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
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
            clock_measured: std::time::Instant::now(),
            names,
            scratch: CapturedPacket {
                timestamp: SystemTime::UNIX_EPOCH,
                link: LinkType::RawIp,
                interface: None,
                socket_cookie: None,
                orig_len: 0,
                data: Vec::with_capacity(2048),
            },
            expired: None,
        })
    }

    /// Also read records (see [`deferred_record`]) from `rx`, at each poll.
    pub fn with_expired(mut self, rx: std::sync::mpsc::Receiver<Vec<u8>>) -> Self {
        self.expired = Some(rx);
        self
    }

    /// The scanner's records → `sink` (a held-back query is small and
    /// rare: a timeout; the sink's room is not waited for).
    fn drain_expired<S: PacketSink>(&mut self, sink: &mut S, stats: &RingStats) -> bool {
        let Some(rx) = &self.expired else {
            return true;
        };
        let mut n = 0;
        let mut checked = None;
        while let Ok(rec) = rx.try_recv() {
            n += 1;
            match parse_record_checked(
                &rec,
                &self.clock,
                &self.names,
                &mut checked,
                &mut self.scratch,
            ) {
                Ok(()) => sink.packet(&self.scratch),
                Err(_) => {
                    stats.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        n == 0 || sink.flush()
    }

    /// Drains the ring into `sink` until `stop` turns true or the sink is
    /// gone; before returning it drains what is left once more. Returns
    /// the sink (its counters are the stage's report).
    pub async fn run<S: PacketSink>(
        mut self,
        mut sink: S,
        stats: Arc<RingStats>,
        mut stop: watch::Receiver<bool>,
    ) -> std::io::Result<S> {
        let mut poll = tokio::time::interval(POLL_EVERY);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = self.ring.readable_mut() => {
                    r?.clear_ready();
                    // Let a batch gather (see GATHER), unless asked to stop.
                    tokio::select! {
                        _ = tokio::time::sleep(GATHER) => {}
                        _ = stop.changed() => {
                            self.drain(&mut sink, &stats);
                            return Ok(sink);
                        }
                    }
                    if !self.drain(&mut sink, &stats) {
                        return Ok(sink);
                    }
                }
                _ = poll.tick() => {
                    if !self.drain(&mut sink, &stats) || !self.drain_expired(&mut sink, &stats) {
                        return Ok(sink);
                    }
                    sink.tick();
                    if self.clock_measured.elapsed() >= CLOCK_REFRESH {
                        self.clock = self.clock.follow(KtimeClock::now());
                        self.clock_measured = std::time::Instant::now();
                    }
                }
                _ = stop.changed() => {
                    self.drain(&mut sink, &stats);
                    return Ok(sink);
                }
            }
        }
    }

    /// Records now in the ring → `sink`, a flush per [`MAX_BATCH`] records
    /// at most, until the ring is empty or the sink has no room. `false`
    /// when the sink is gone.
    fn drain<S: PacketSink>(&mut self, sink: &mut S, stats: &RingStats) -> bool {
        let ring = self.ring.get_mut();
        loop {
            let room = sink.room().min(MAX_BATCH);
            if room == 0 {
                // Left in the ring; retried on the next wake-up or tick.
                return true;
            }
            let mut n = 0usize;
            let mut checked = None;
            while n < room {
                let Some(item) = ring.next() else { break };
                n += 1;
                match parse_record_checked(
                    &item,
                    &self.clock,
                    &self.names,
                    &mut checked,
                    &mut self.scratch,
                ) {
                    Ok(()) if !self.dedup.first_sighting(&self.scratch) => {
                        stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(()) => sink.packet(&self.scratch),
                    Err(e) => {
                        stats.malformed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("ring record dropped: {e}");
                    }
                }
            }
            stats.records.fetch_add(n as u64, Ordering::Relaxed);
            if n > 0 && !sink.flush() {
                return false;
            }
            if n < room {
                return true;
            }
        }
    }
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
        Arc::new(RwLock::new(HashMap::from([(
            2,
            ("veth0".into(), Side::Guests),
        )])))
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
            (i.index, &*i.name, i.direction, i.side),
            (2, "veth0", Direction::Egress, Side::Guests)
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
        // Not listed (yet): not taken for a network-facing one.
        assert_eq!(
            (&*i.name, i.direction, i.side),
            ("if9", Direction::Ingress, Side::Unknown)
        );
    }

    #[test]
    fn interface_name_checked_once_per_batch() {
        let names = names();
        let clock = KtimeClock::now();
        let h = PacketHeader {
            ifindex: 2,
            cap_len: 1,
            ..Default::default()
        };
        let r = rec(h, &[0x45]);
        let mut pkt = parse_record(&r, &clock, &names).unwrap();
        let mut checked = None;
        let name = |p: &CapturedPacket| p.interface.as_ref().unwrap().name.to_string();
        parse_record_checked(&r, &clock, &names, &mut checked, &mut pkt).unwrap();
        assert_eq!(checked, Some(2));
        // Renamed mid-batch: the batch keeps the name it checked ...
        names
            .write()
            .unwrap()
            .insert(2, ("veth1".into(), Side::Guests));
        parse_record_checked(&r, &clock, &names, &mut checked, &mut pkt).unwrap();
        assert_eq!(name(&pkt), "veth0");
        // ... another interface is looked up at once ...
        let other = rec(PacketHeader { ifindex: 9, ..h }, &[0x45]);
        parse_record_checked(&other, &clock, &names, &mut checked, &mut pkt).unwrap();
        assert_eq!((name(&pkt), checked), ("if9".to_owned(), Some(9)));
        // ... and the next batch sees the new name.
        let mut checked = None;
        parse_record_checked(&r, &clock, &names, &mut checked, &mut pkt).unwrap();
        assert_eq!(name(&pkt), "veth1");
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
        // A step is followed, measuring jitter is not.
        let c = KtimeClock::with_offset_ns(5_000_000);
        let jitter = KtimeClock::with_offset_ns(5_000_000 + 999_999);
        assert_eq!(c.follow(jitter), c);
        let step = KtimeClock::with_offset_ns(5_000_000 - 1_000_001);
        assert_eq!(c.follow(step), step);
        // Negative results clamp to the epoch instead of wrapping.
        assert_eq!(
            KtimeClock::with_offset_ns(-10).wall(5),
            SystemTime::UNIX_EPOCH
        );
    }
}
