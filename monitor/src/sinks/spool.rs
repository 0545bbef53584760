//! A bounded on-disk FIFO queue that keeps alerts while their sink is down.
//!
//! Layout of the spool directory:
//! - `NNNNNNNNNNNNNNNNNNNN.seg`: append-only segment files named after the
//!   sequence number of their first record. Each record is framed as
//!   `len: u32 LE | crc32(seq ‖ payload): u32 LE | seq: u64 LE | payload`.
//! - `ack`: the highest sequence number delivered, in two 16-byte slots
//!   written alternately (`seq: u64 LE | crc32(seq): u32 LE | 0: u32`), so
//!   a torn write of one slot leaves the other readable.
//! - `lock`: `flock`ed while open, so two processes never share a spool.
//!
//! Durability: with `sync` on, `push` returns after `fdatasync` of the
//! segment and `ack` after `fdatasync` of the ack file, so a crash neither
//! loses a pushed record nor resends a delivered one. On open, a torn tail
//! (a crash mid-append) is cut off; records up to it are kept.
//!
//! Bound: the bytes of undelivered records never exceed `max_bytes`. When a
//! push would exceed it, the oldest undelivered records are dropped and
//! counted in [`SpoolStats::dropped_full`] — never silently.

use std::{
    collections::VecDeque,
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    os::{fd::AsRawFd, unix::fs::FileExt},
    path::{Path, PathBuf},
};

const HEADER: usize = 16;
const ACK_SLOT: u64 = 16;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {cause}")]
    Io { path: PathBuf, cause: io::Error },
    #[error("spool {0} is in use by another process")]
    Locked(PathBuf),
    #[error("record of {len} bytes exceeds the spool bound of {max} bytes")]
    TooLarge { len: usize, max: u64 },
    #[error("ack of {got} out of order: the oldest undelivered record is {expected:?}")]
    AckOrder { got: u64, expected: Option<u64> },
}

#[derive(Clone, Copy, Debug)]
pub struct SpoolOptions {
    /// Upper bound of the bytes (framing included) of undelivered records.
    pub max_bytes: u64,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// `fdatasync` after each push and ack (see the module note).
    pub sync: bool,
}

impl SpoolOptions {
    /// 64 MiB (about 50,000 alerts of ~1 KiB), segments of 1/8 of that,
    /// synced.
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(4096, 8 << 20),
            sync: true,
        }
    }
}

impl Default for SpoolOptions {
    fn default() -> Self {
        Self::with_max_bytes(64 << 20)
    }
}

/// What the spool has done since it was opened (for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoolStats {
    pub pushed: u64,
    pub acked: u64,
    /// Oldest records dropped to stay within `max_bytes`.
    pub dropped_full: u64,
    /// Records (or unreadable tails) lost to on-disk corruption.
    pub dropped_corrupt: u64,
    /// Records refused because one alone exceeds `max_bytes`.
    pub rejected_too_large: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    last_seq: Option<u64>,
    size: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    segment: u64,
    offset: u64,
    len: u32,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    opts: SpoolOptions,
    _lock: File,
    ack_file: File,
    ack_slot: u64,
    acked: u64,
    next_seq: u64,
    segments: VecDeque<Segment>,
    writer: Option<File>,
    /// Records written but not yet fdatasync'ed.
    dirty: bool,
    reader: Option<(u64, File)>,
    index: VecDeque<Entry>,
    unacked_bytes: u64,
    stats: SpoolStats,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        cause: source,
    }
}

fn seg_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.seg"))
}

fn crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

impl Spool {
    /// Open (creating if needed) the spool in `dir` and recover its state.
    pub fn open(dir: &Path, opts: SpoolOptions) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        // SAFETY: flock on an fd we own; LOCK_NB makes it non-blocking.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(SpoolError::Locked(dir.to_owned()));
        }
        let ack_path = dir.join("ack");
        let mut ack_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&ack_path)
            .map_err(io_err(&ack_path))?;
        let (acked, ack_slot) = read_ack(&mut ack_file).map_err(io_err(&ack_path))?;

        let mut spool = Spool {
            dir: dir.to_owned(),
            opts,
            _lock: lock,
            ack_file,
            ack_slot,
            acked,
            next_seq: acked + 1,
            segments: VecDeque::new(),
            writer: None,
            dirty: false,
            reader: None,
            index: VecDeque::new(),
            unacked_bytes: 0,
            stats: SpoolStats::default(),
        };
        spool.recover()?;
        Ok(spool)
    }

    fn recover(&mut self) -> Result<(), SpoolError> {
        let mut firsts: Vec<u64> = fs::read_dir(&self.dir)
            .map_err(io_err(&self.dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        firsts.sort_unstable();
        let count = firsts.len();
        // Sequence numbers start at 1 and rise strictly through the files.
        let mut scan_next = 1u64;
        for (i, first) in firsts.into_iter().enumerate() {
            let path = seg_path(&self.dir, first);
            let data = fs::read(&path).map_err(io_err(&path))?;
            let mut off = 0usize;
            let mut seg = Segment {
                first_seq: first,
                last_seq: None,
                size: 0,
            };
            while off < data.len() {
                let Some(rec) = parse_frame(&data[off..], scan_next.max(first)) else {
                    self.stats.dropped_corrupt += 1;
                    if i + 1 == count {
                        // A torn append: cut it so new records follow good ones.
                        let f = OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(io_err(&path))?;
                        f.set_len(off as u64).map_err(io_err(&path))?;
                        f.sync_all().map_err(io_err(&path))?;
                    }
                    break;
                };
                let (seq, len) = rec;
                if seq > self.acked {
                    self.index.push_back(Entry {
                        seq,
                        segment: first,
                        offset: off as u64,
                        len: len as u32,
                    });
                    self.unacked_bytes += (HEADER + len) as u64;
                }
                seg.last_seq = Some(seq);
                scan_next = seq + 1;
                off += HEADER + len;
            }
            seg.size = off as u64;
            self.segments.push_back(seg);
        }
        self.next_seq = self.next_seq.max(scan_next);
        self.remove_delivered_segments()?;
        Ok(())
    }

    /// Append one record durably; returns its sequence number. Drops (and
    /// counts) the oldest undelivered records when the bound would be
    /// exceeded.
    pub fn push(&mut self, payload: &[u8]) -> Result<u64, SpoolError> {
        let seq = self.push_unsynced(payload)?;
        self.sync()?;
        Ok(seq)
    }

    /// Append without waiting for the disk; [`Spool::sync`] then makes a
    /// whole group durable with one `fdatasync` (group commit).
    pub fn push_unsynced(&mut self, payload: &[u8]) -> Result<u64, SpoolError> {
        let frame_len = (HEADER + payload.len()) as u64;
        if frame_len > self.opts.max_bytes || payload.len() > u32::MAX as usize {
            self.stats.rejected_too_large += 1;
            return Err(SpoolError::TooLarge {
                len: payload.len(),
                max: self.opts.max_bytes,
            });
        }
        let mut dropped_to = None;
        while self.unacked_bytes + frame_len > self.opts.max_bytes {
            let Some(e) = self.index.pop_front() else {
                break;
            };
            self.unacked_bytes -= HEADER as u64 + u64::from(e.len);
            self.stats.dropped_full += 1;
            dropped_to = Some(e.seq);
        }
        if let Some(seq) = dropped_to {
            self.write_ack(seq)?;
            self.remove_delivered_segments()?;
        }
        let needs_new = match self.segments.back() {
            None => true,
            Some(s) => s.size > 0 && s.size + frame_len > self.opts.segment_bytes,
        };
        if needs_new || self.writer.is_none() {
            self.open_writer(needs_new)?;
        }
        let seq = self.next_seq;
        let mut frame = Vec::with_capacity(frame_len as usize);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc(seq, payload).to_le_bytes());
        frame.extend_from_slice(&seq.to_le_bytes());
        frame.extend_from_slice(payload);
        let seg = self
            .segments
            .back_mut()
            .expect("open_writer made a segment");
        let path = seg_path(&self.dir, seg.first_seq);
        let writer = self.writer.as_mut().expect("open_writer opened it");
        if let Err(e) = writer.write_all(&frame) {
            // Cut a partial frame so that later appends stay readable.
            let _ = writer.set_len(seg.size);
            return Err(SpoolError::Io { path, cause: e });
        }
        self.index.push_back(Entry {
            seq,
            segment: seg.first_seq,
            offset: seg.size,
            len: payload.len() as u32,
        });
        seg.size += frame_len;
        seg.last_seq = Some(seq);
        self.dirty = true;
        self.unacked_bytes += frame_len;
        self.next_seq += 1;
        self.stats.pushed += 1;
        Ok(seq)
    }

    /// Make every record pushed so far durable (with `sync` on).
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if self.dirty
            && self.opts.sync
            && let (Some(w), Some(seg)) = (&self.writer, self.segments.back())
        {
            let path = seg_path(&self.dir, seg.first_seq);
            w.sync_data().map_err(io_err(&path))?;
        }
        self.dirty = false;
        Ok(())
    }

    fn open_writer(&mut self, new_segment: bool) -> Result<(), SpoolError> {
        // Unsynced records in the segment being closed must reach the disk
        // before its handle goes.
        self.sync()?;
        if new_segment {
            self.segments.push_back(Segment {
                first_seq: self.next_seq,
                last_seq: None,
                size: 0,
            });
        }
        let seg = self.segments.back().expect("a segment exists");
        let path = seg_path(&self.dir, seg.first_seq);
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        if new_segment && self.opts.sync {
            // Make the new directory entry durable too.
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(&self.dir))?;
        }
        self.writer = Some(f);
        Ok(())
    }

    /// The oldest undelivered record, left in place until [`Spool::ack`].
    /// A record that fails its checksum is dropped, counted and skipped.
    pub fn peek(&mut self) -> Result<Option<Record>, SpoolError> {
        while let Some(e) = self.index.front().copied() {
            if let Some(r) = self.read_entry(e)? {
                return Ok(Some(r));
            }
            self.stats.dropped_corrupt += 1;
            self.index.pop_front();
            self.unacked_bytes -= HEADER as u64 + u64::from(e.len);
            self.write_ack(e.seq)?;
        }
        Ok(None)
    }

    /// Up to `max` of the oldest undelivered records, in order, left in
    /// place until acknowledged. A corrupt record ends the batch early (it
    /// is dropped and counted when it reaches the front).
    pub fn peek_batch(&mut self, max: usize) -> Result<Vec<Record>, SpoolError> {
        let Some(first) = self.peek()? else {
            return Ok(Vec::new());
        };
        let mut out = vec![first];
        for e in self
            .index
            .iter()
            .skip(1)
            .take(max.saturating_sub(1))
            .copied()
            .collect::<Vec<_>>()
        {
            match self.read_entry(e)? {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(out)
    }

    fn read_entry(&mut self, e: Entry) -> Result<Option<Record>, SpoolError> {
        if self.reader.as_ref().is_none_or(|(s, _)| *s != e.segment) {
            let path = seg_path(&self.dir, e.segment);
            let f = File::open(&path).map_err(io_err(&path))?;
            self.reader = Some((e.segment, f));
        }
        let (_, f) = self.reader.as_ref().expect("just opened");
        let mut frame = vec![0u8; HEADER + e.len as usize];
        let read = f.read_exact_at(&mut frame, e.offset);
        if read.is_ok() && parse_frame(&frame, e.seq) == Some((e.seq, e.len as usize)) {
            return Ok(Some(Record {
                seq: e.seq,
                payload: frame.split_off(HEADER),
            }));
        }
        Ok(None)
    }

    /// Mark every undelivered record up to and including `seq` delivered,
    /// with one write (and one `fdatasync`) of the ack file.
    pub fn ack_through(&mut self, seq: u64) -> Result<(), SpoolError> {
        let front = self.index.front().map(|e| e.seq);
        if front.is_none_or(|f| seq < f) || seq >= self.next_seq {
            return Err(SpoolError::AckOrder {
                got: seq,
                expected: front,
            });
        }
        while let Some(e) = self.index.front().copied().filter(|e| e.seq <= seq) {
            self.index.pop_front();
            self.unacked_bytes -= HEADER as u64 + u64::from(e.len);
            self.stats.acked += 1;
        }
        self.write_ack(seq)?;
        self.remove_delivered_segments()
    }

    /// Mark the oldest undelivered record (which must be `seq`) delivered.
    pub fn ack(&mut self, seq: u64) -> Result<(), SpoolError> {
        let front = self.index.front().map(|e| e.seq);
        if front != Some(seq) {
            return Err(SpoolError::AckOrder {
                got: seq,
                expected: front,
            });
        }
        let e = self.index.pop_front().expect("checked above");
        self.unacked_bytes -= HEADER as u64 + u64::from(e.len);
        self.write_ack(seq)?;
        self.stats.acked += 1;
        self.remove_delivered_segments()
    }

    fn write_ack(&mut self, seq: u64) -> Result<(), SpoolError> {
        let mut slot = [0u8; ACK_SLOT as usize];
        slot[..8].copy_from_slice(&seq.to_le_bytes());
        slot[8..12].copy_from_slice(&crc32fast::hash(&seq.to_le_bytes()).to_le_bytes());
        self.ack_slot ^= 1;
        let path = self.dir.join("ack");
        self.ack_file
            .write_all_at(&slot, self.ack_slot * ACK_SLOT)
            .map_err(io_err(&path))?;
        if self.opts.sync {
            self.ack_file.sync_data().map_err(io_err(&path))?;
        }
        self.acked = seq;
        Ok(())
    }

    /// Delete closed segments whose records are all delivered.
    fn remove_delivered_segments(&mut self) -> Result<(), SpoolError> {
        while self.segments.len() > 1 {
            let s = &self.segments[0];
            if s.last_seq.is_some_and(|l| l > self.acked) {
                break;
            }
            let path = seg_path(&self.dir, s.first_seq);
            if self.reader.as_ref().is_some_and(|(f, _)| *f == s.first_seq) {
                self.reader = None;
            }
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(SpoolError::Io { path, cause: e }),
            }
            self.segments.pop_front();
        }
        Ok(())
    }

    /// Number of undelivered records.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes (framing included) of undelivered records.
    pub fn unacked_bytes(&self) -> u64 {
        self.unacked_bytes
    }

    pub fn stats(&self) -> SpoolStats {
        self.stats
    }
}

/// `(seq, payload_len)` of the frame at the start of `data`, if it is whole,
/// its checksum holds and its sequence number is not below `min_seq`.
fn parse_frame(data: &[u8], min_seq: u64) -> Option<(u64, usize)> {
    let header = data.get(..HEADER)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let sum = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let seq = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let payload = data.get(HEADER..HEADER.checked_add(len)?)?;
    (seq >= min_seq && crc(seq, payload) == sum).then_some((seq, len))
}

/// The newest valid slot of the ack file: (acked seq, slot index).
fn read_ack(f: &mut File) -> io::Result<(u64, u64)> {
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let mut best: Option<(u64, u64)> = None;
    for slot in 0..2u64 {
        let Some(s) = buf.get((slot * ACK_SLOT) as usize..((slot + 1) * ACK_SLOT) as usize) else {
            continue;
        };
        let seq = u64::from_le_bytes(s[..8].try_into().expect("8 bytes"));
        let sum = u32::from_le_bytes(s[8..12].try_into().expect("4 bytes"));
        if crc32fast::hash(&seq.to_le_bytes()) == sum && best.is_none_or(|(b, _)| seq > b) {
            best = Some((seq, slot));
        }
    }
    Ok(best.unwrap_or((0, 1)))
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
