//! JSON-lines output file with size rotation and reopen on SIGHUP.
//!
//! Rotation: before a line would take the file past `max_bytes`, the file
//! is closed and renamed `FILE.1` (older ones shift to `FILE.2` …, the one
//! past `keep` is deleted) and a fresh `FILE` is opened. A line is never
//! split across files.
//!
//! Reopen: external rotation (logrotate without `copytruncate`) renames the
//! file and sends SIGHUP; the daemon's signal task calls
//! [`ReopenHandle::request`], and the writer reopens `FILE` before its next
//! line, so nothing is written to the renamed file after the signal.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, BufWriter, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

#[derive(Debug, thiserror::Error)]
#[error("output file {path}: {cause}")]
pub struct RotateError {
    pub path: PathBuf,
    pub cause: io::Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotateOptions {
    /// Rotate before the file would exceed this size; 0 = never rotate.
    pub max_bytes: u64,
    /// Rotated files kept (`FILE.1` … `FILE.keep`); 0 = none kept.
    pub keep: usize,
}

impl Default for RotateOptions {
    /// 100 MiB, 5 kept.
    fn default() -> Self {
        Self {
            max_bytes: 100 << 20,
            keep: 5,
        }
    }
}

/// Asks a [`RotatingFile`] to reopen its path before the next line. Cheap
/// to clone and safe to use from a signal-handling task.
#[derive(Clone, Debug, Default)]
pub struct ReopenHandle(Arc<AtomicBool>);

impl ReopenHandle {
    pub fn request(&self) {
        self.0.store(true, Ordering::Release);
    }
}

#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    opts: RotateOptions,
    file: BufWriter<File>,
    size: u64,
    /// See [`Opened::regular`].
    regular: bool,
    reopen: ReopenHandle,
    rotations: u64,
}

/// Alerts may name internal hosts and processes: not world-readable.
const FILE_MODE: u32 = 0o640;

/// What [`open_append`] opened.
struct Opened {
    file: BufWriter<File>,
    size: u64,
    /// A regular file. Anything else (`/dev/null`, a FIFO, a terminal) is
    /// never rotated: renaming it away would replace a device node with a
    /// plain file (`--output /dev/null` once did exactly that).
    regular: bool,
}

fn open_append(path: &Path) -> Result<Opened, RotateError> {
    let err = |source| RotateError {
        path: path.to_owned(),
        cause: source,
    };
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(err)?;
    let meta = f.metadata().map_err(err)?;
    Ok(Opened {
        file: BufWriter::with_capacity(64 << 10, f),
        size: meta.len(),
        regular: meta.is_file(),
    })
}

impl RotatingFile {
    /// Open `path` for appending (created if missing).
    pub fn open(
        path: impl Into<PathBuf>,
        opts: RotateOptions,
    ) -> Result<RotatingFile, RotateError> {
        let path = path.into();
        let o = open_append(&path)?;
        Ok(RotatingFile {
            path,
            opts,
            file: o.file,
            size: o.size,
            regular: o.regular,
            reopen: ReopenHandle::default(),
            rotations: 0,
        })
    }

    pub fn reopen_handle(&self) -> ReopenHandle {
        self.reopen.clone()
    }

    /// Files rotated since open (for metrics).
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One JSON object as one line (serde_json's compact form has no newline).
    pub fn write_json(&mut self, value: &serde_json::Value) -> Result<(), RotateError> {
        let line = serde_json::to_vec(value).map_err(|e| self.err(io::Error::other(e)))?;
        self.write_line(&line)
    }

    /// Append `line` and a newline (buffered; see [`RotatingFile::flush`]).
    /// A line holding a newline is refused: it would break the JSON-lines
    /// framing for every reader.
    pub fn write_line(&mut self, line: &[u8]) -> Result<(), RotateError> {
        if line.contains(&b'\n') {
            return Err(self.err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "line contains a newline",
            )));
        }
        if self.reopen.0.swap(false, Ordering::AcqRel) {
            self.reopen()?;
        }
        let len = line.len() as u64 + 1;
        if self.regular
            && self.opts.max_bytes > 0
            && self.size > 0
            && self.size + len > self.opts.max_bytes
        {
            self.rotate()?;
        }
        self.file
            .write_all(line)
            .and_then(|()| self.file.write_all(b"\n"))
            .map_err(|e| self.err(e))?;
        self.size += len;
        Ok(())
    }

    /// Append `block`, whole lines each ending in a newline, in one write:
    /// a batch of event lines the caller rendered itself (serde_json's
    /// compact form holds no raw newline), so unlike [`Self::write_line`]
    /// its bytes are not scanned, split and copied line by line.
    /// `Ok(false)`, nothing written, when the block would cross
    /// `max_bytes`: the caller then writes its lines one at a time, so that
    /// the rotation falls between two lines.
    pub fn write_block(&mut self, block: &[u8]) -> Result<bool, RotateError> {
        if block.last().is_some_and(|b| *b != b'\n') {
            return Err(self.err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "block does not end with a newline",
            )));
        }
        if self.reopen.0.swap(false, Ordering::AcqRel) {
            self.reopen()?;
        }
        let len = block.len() as u64;
        if self.regular && self.opts.max_bytes > 0 && self.size + len > self.opts.max_bytes {
            return Ok(false);
        }
        self.file.write_all(block).map_err(|e| self.err(e))?;
        self.size += len;
        Ok(true)
    }

    /// Push buffered lines to the kernel.
    pub fn flush(&mut self) -> Result<(), RotateError> {
        self.file.flush().map_err(|e| self.err(e))
    }

    /// Flush and reopen the path (after an external rename).
    pub fn reopen(&mut self) -> Result<(), RotateError> {
        self.flush()?;
        self.install(open_append(&self.path)?);
        Ok(())
    }

    fn install(&mut self, o: Opened) {
        self.file = o.file;
        self.size = o.size;
        self.regular = o.regular;
    }

    /// Rotate now: FILE → FILE.1 → … → FILE.keep, then a fresh FILE.
    /// Not a regular file (see [`Opened::regular`]): nothing to rotate.
    pub fn rotate(&mut self) -> Result<(), RotateError> {
        self.flush()?;
        if !self.regular {
            return Ok(());
        }
        let numbered = |n: usize| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        let ignore_missing = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        if self.opts.keep == 0 {
            ignore_missing(fs::remove_file(&self.path)).map_err(|e| self.err(e))?;
        } else {
            ignore_missing(fs::remove_file(numbered(self.opts.keep))).map_err(|e| self.err(e))?;
            for n in (1..self.opts.keep).rev() {
                ignore_missing(fs::rename(numbered(n), numbered(n + 1)))
                    .map_err(|e| self.err(e))?;
            }
            ignore_missing(fs::rename(&self.path, numbered(1))).map_err(|e| self.err(e))?;
        }
        self.install(open_append(&self.path)?);
        self.rotations += 1;
        Ok(())
    }

    fn err(&self, source: io::Error) -> RotateError {
        RotateError {
            path: self.path.clone(),
            cause: source,
        }
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        let _ = self.file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(p: &Path) -> Vec<String> {
        fs::read_to_string(p)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn open(p: &Path, max_bytes: u64, keep: usize) -> RotatingFile {
        RotatingFile::open(p, RotateOptions { max_bytes, keep }).unwrap()
    }

    fn line(i: usize) -> Vec<u8> {
        format!("{{\"n\":{i:>3}}}").into_bytes() // 11 bytes + newline
    }

    /// `--output /dev/null` (through a symlink here, so a regression
    /// renames the link, never the machine's device node).
    #[test]
    fn a_device_is_never_rotated() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out");
        std::os::unix::fs::symlink("/dev/null", &p).unwrap();
        let mut f = open(&p, 36, 2);
        for i in 0..12 {
            f.write_line(&line(i)).unwrap();
        }
        f.rotate().unwrap();
        f.flush().unwrap();
        assert_eq!(f.rotations(), 0);
        assert!(fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
        assert!(!d.path().join("out.1").exists());
        // Twin: a regular file with the same options does rotate.
        let r = d.path().join("regular");
        let mut g = open(&r, 36, 2);
        for i in 0..12 {
            g.write_line(&line(i)).unwrap();
        }
        assert!(g.rotations() > 0);
        assert!(d.path().join("regular.1").exists());
    }

    #[test]
    fn rotates_by_size_and_keeps_n() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("alerts.jsonl");
        let mut f = open(&p, 36, 2);
        for i in 0..12 {
            f.write_line(&line(i)).unwrap();
        }
        f.flush().unwrap();
        // 3 lines of 12 bytes per file: 4 files written, the oldest deleted.
        assert_eq!(f.rotations(), 3);
        assert_eq!(lines(&p), ["{\"n\":  9}", "{\"n\": 10}", "{\"n\": 11}"]);
        assert_eq!(lines(&d.path().join("alerts.jsonl.1"))[0], "{\"n\":  6}");
        assert_eq!(lines(&d.path().join("alerts.jsonl.2"))[0], "{\"n\":  3}");
        assert!(!d.path().join("alerts.jsonl.3").exists());
        for entry in fs::read_dir(d.path()).unwrap() {
            assert!(entry.unwrap().metadata().unwrap().len() <= 36);
        }
    }

    #[test]
    fn a_block_goes_whole_or_not_at_all() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("events.jsonl");
        let mut f = open(&p, 36, 2);
        let block: Vec<u8> = (0..2)
            .flat_map(|i| [line(i), b"\n".to_vec()].concat())
            .collect();
        assert!(f.write_block(&block).unwrap());
        // 24 + 24 bytes would cross 36: refused, nothing written.
        assert!(!f.write_block(&block).unwrap());
        f.flush().unwrap();
        assert_eq!(lines(&p), ["{\"n\":  0}", "{\"n\":  1}"]);
        assert_eq!(f.rotations(), 0);
        // A block must end at a line end.
        assert!(f.write_block(b"{\"n\":1}").is_err());
        assert!(f.write_block(b"").unwrap());
        // Not a regular file: never refused (nothing to rotate).
        let n = d.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &n).unwrap();
        let mut g = open(&n, 36, 2);
        for _ in 0..4 {
            assert!(g.write_block(&block).unwrap());
        }
    }

    #[test]
    fn no_rotation_when_disabled() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.jsonl");
        let mut f = open(&p, 0, 2);
        for i in 0..100 {
            f.write_line(&line(i)).unwrap();
        }
        f.flush().unwrap();
        assert_eq!(f.rotations(), 0);
        assert_eq!(lines(&p).len(), 100);
    }

    #[test]
    fn keep_zero_discards_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.jsonl");
        let mut f = open(&p, 12, 0);
        f.write_line(&line(1)).unwrap();
        f.write_line(&line(2)).unwrap();
        f.flush().unwrap();
        assert_eq!(lines(&p), ["{\"n\":  2}"]);
        assert!(!d.path().join("a.jsonl.1").exists());
    }

    #[test]
    fn an_oversized_line_is_written_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.jsonl");
        let mut f = open(&p, 5, 1);
        f.write_line(&line(1)).unwrap();
        f.write_line(&line(2)).unwrap();
        f.flush().unwrap();
        assert_eq!(lines(&p), ["{\"n\":  2}"]);
        assert_eq!(lines(&d.path().join("a.jsonl.1")), ["{\"n\":  1}"]);
    }

    #[test]
    fn reopen_after_external_rename() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.jsonl");
        let moved = d.path().join("a.jsonl-20261127");
        let mut f = RotatingFile::open(&p, RotateOptions::default()).unwrap();
        let hup = f.reopen_handle();
        f.write_json(&serde_json::json!({"n": 1})).unwrap();
        f.flush().unwrap();
        fs::rename(&p, &moved).unwrap();
        // Negative twin: before the signal, lines still go to the renamed file.
        f.write_json(&serde_json::json!({"n": 2})).unwrap();
        f.flush().unwrap();
        assert!(!p.exists());
        hup.request();
        f.write_json(&serde_json::json!({"n": 3})).unwrap();
        f.flush().unwrap();
        assert_eq!(lines(&moved), ["{\"n\":1}", "{\"n\":2}"]);
        assert_eq!(lines(&p), ["{\"n\":3}"]);
    }

    #[test]
    fn appends_to_an_existing_file_and_counts_its_size() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.jsonl");
        fs::write(&p, "{\"old\":1}\n{\"old\":2}\n").unwrap();
        let mut f = open(&p, 25, 1);
        f.write_line(&line(1)).unwrap(); // 20 + 12 > 25: rotates first
        f.flush().unwrap();
        assert_eq!(
            lines(&d.path().join("a.jsonl.1")),
            ["{\"old\":1}", "{\"old\":2}"]
        );
        assert_eq!(lines(&p), ["{\"n\":  1}"]);
    }

    #[test]
    fn refuses_embedded_newlines_and_unwritable_paths() {
        let d = tempfile::tempdir().unwrap();
        let mut f = RotatingFile::open(d.path().join("a"), RotateOptions::default()).unwrap();
        assert!(f.write_line(b"a\nb").is_err());
        let err =
            RotatingFile::open("/nonexistent-dir/a.jsonl", RotateOptions::default()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/a.jsonl"));
    }
}
