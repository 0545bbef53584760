//! JSON lines (one JSON document per line) to stdout or a file.
//!
//! The file target remembers its path so that size rotation and reopening
//! on SIGHUP (a later issue) can close and reopen it in place: `reopen` is
//! the one hook they need.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

enum Target {
    Stdout(BufWriter<io::Stdout>),
    File {
        path: PathBuf,
        out: BufWriter<File>,
    },
    /// Any writer (tests, benches, pipes).
    Writer(BufWriter<Box<dyn Write + Send>>),
}

/// Writes one compact JSON document per line. Buffered: call [`flush`]
/// (`JsonLinesSink::flush`) at quiet moments and before exit.
pub struct JsonLinesSink {
    target: Target,
    lines: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl JsonLinesSink {
    pub fn stdout() -> Self {
        Self {
            target: Target::Stdout(BufWriter::new(io::stdout())),
            lines: 0,
        }
    }

    /// Append to `path`, creating it if needed.
    pub fn file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let out = BufWriter::new(open_append(&path)?);
        Ok(Self {
            target: Target::File { path, out },
            lines: 0,
        })
    }

    /// `-` is stdout, anything else a file path (the CLI convention).
    pub fn open(spec: &str) -> io::Result<Self> {
        if spec == "-" {
            Ok(Self::stdout())
        } else {
            Self::file(spec)
        }
    }

    pub fn writer(w: Box<dyn Write + Send>) -> Self {
        Self {
            target: Target::Writer(BufWriter::new(w)),
            lines: 0,
        }
    }

    fn out(&mut self) -> &mut dyn Write {
        match &mut self.target {
            Target::Stdout(w) => w,
            Target::File { out, .. } => out,
            Target::Writer(w) => w,
        }
    }

    pub fn write(&mut self, v: &serde_json::Value) -> io::Result<()> {
        self.write_record(v)
    }

    /// Write any serialisable document as one line, without building a
    /// `serde_json::Value` first (e.g. [`crate::event::DnsEvent::ecs`]).
    pub fn write_record<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> io::Result<()> {
        let out = self.out();
        serde_json::to_writer(&mut *out, v)?;
        out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    /// Write bytes that already are complete JSON lines (each ending in
    /// `\n`); counts the lines.
    pub fn write_raw(&mut self, lines: &[u8]) -> io::Result<()> {
        self.out().write_all(lines)?;
        self.lines += lines.iter().filter(|b| **b == b'\n').count() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out().flush()
    }

    /// Lines written since creation.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Flush, close and reopen the file at the same path (after a log
    /// rotator renamed it). No-op for stdout and plain writers.
    pub fn reopen(&mut self) -> io::Result<()> {
        if let Target::File { path, out } = &mut self.target {
            out.flush()?;
            *out = BufWriter::new(open_append(path)?);
        }
        Ok(())
    }
}

impl Drop for JsonLinesSink {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tmp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("jsonl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn file_gets_one_document_per_line_and_appends() {
        let p = tmp("append");
        {
            let mut s = JsonLinesSink::file(&p).unwrap();
            s.write(&json!({"a": 1, "b": {"c": "x\ny"}})).unwrap();
            s.write(&json!({"a": 2})).unwrap();
            assert_eq!(s.lines(), 2);
        }
        {
            let mut s = JsonLinesSink::file(&p).unwrap();
            s.write(&json!({"a": 3})).unwrap();
            s.flush().unwrap();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["b"]["c"], "x\ny");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(lines[2]).unwrap()["a"],
            3
        );
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn reopen_follows_a_rotated_file() {
        let p = tmp("rotate");
        let rotated = p.with_extension("1");
        let mut s = JsonLinesSink::file(&p).unwrap();
        s.write(&json!({"n": 1})).unwrap();
        s.flush().unwrap();
        std::fs::rename(&p, &rotated).unwrap();
        s.reopen().unwrap();
        s.write(&json!({"n": 2})).unwrap();
        s.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap().lines().count(),
            1
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"n\":2}\n");
        std::fs::remove_file(&p).unwrap();
        std::fs::remove_file(&rotated).unwrap();
    }

    #[test]
    fn unwritable_path_is_an_error() {
        assert!(JsonLinesSink::file("/nonexistent-dir/x.jsonl").is_err());
    }
}
