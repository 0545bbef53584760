//! Retention: delete what is older than `max_age`, then the oldest rows
//! until the pages in use fit in `max_bytes`, then give the freed pages
//! back to the file system (`incremental_vacuum`, then a WAL checkpoint
//! that truncates the WAL file).
//!
//! Evidence and verdicts go with their transaction (foreign-key cascade);
//! an alert outlives its transaction only until its own time is reached.

use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::{
    db::{Store, StoreError},
    record::time_ns,
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub max_bytes: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Transactions and alerts deleted for age.
    pub deleted_by_age: u64,
    /// Transactions and alerts deleted for size.
    pub deleted_by_size: u64,
    /// Used bytes after the run.
    pub used_bytes: u64,
}

/// Bounded work per run: the daemon runs retention periodically, so a
/// store far over its bound shrinks over several runs, never stalling the
/// writer for long.
const MAX_SIZE_ROUNDS: usize = 64;

impl Store {
    pub fn apply_retention(
        &mut self,
        policy: &Retention,
        now: SystemTime,
    ) -> Result<RetentionReport, StoreError> {
        let mut report = RetentionReport::default();
        if let Some(age) = policy.max_age {
            let cutoff = time_ns(Some(now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH)));
            report.deleted_by_age = self.delete_before(cutoff)?;
        }
        if let Some(max) = policy.max_bytes {
            for _ in 0..MAX_SIZE_ROUNDS {
                if self.used_bytes()? <= max {
                    break;
                }
                let Some(cutoff) = self.chunk_cutoff()? else {
                    break;
                };
                report.deleted_by_size += self.delete_before(cutoff + 1)?;
            }
        }
        if report.deleted_by_age + report.deleted_by_size > 0 {
            // incremental_vacuum frees one page per sqlite3_step, so it is
            // stepped to the end (execute_batch would step it only once).
            let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            // Best effort: a long-running reader may hold the WAL.
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        report.used_bytes = self.used_bytes()?;
        Ok(report)
    }

    /// Delete transactions and alerts (and, by cascade, their verdicts and
    /// evidence) with `time_ns < cutoff`, in one transaction.
    fn delete_before(&mut self, cutoff: i64) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let alerts = tx.execute("DELETE FROM alerts WHERE time_ns < ?1", params![cutoff])?;
        let txs = tx.execute(
            "DELETE FROM transactions WHERE time_ns < ?1",
            params![cutoff],
        )?;
        // Verdicts stored without a transaction age out by their own time.
        tx.execute(
            "DELETE FROM verdicts WHERE transaction_id IS NULL AND time_ns < ?1",
            params![cutoff],
        )?;
        // Posture rows (report) age out with the rest.
        tx.execute(
            "DELETE FROM resolver_stats WHERE time_ns < ?1",
            params![cutoff],
        )?;
        tx.execute(
            "DELETE FROM name_observations WHERE time_ns < ?1",
            params![cutoff],
        )?;
        tx.commit()?;
        Ok((alerts + txs) as u64)
    }

    /// The time up to which about 1/16 of the rows (at least 64) are older:
    /// the next chunk to delete for size. `None` when the store is empty.
    fn chunk_cutoff(&self) -> Result<Option<i64>, StoreError> {
        let (txs, _, _, alerts) = self.counts()?;
        let nth = |table: &str, count: i64| -> Result<Option<i64>, StoreError> {
            if count == 0 {
                return Ok(None);
            }
            let k = (count / 16).max(64).min(count) - 1;
            let sql = format!("SELECT time_ns FROM {table} ORDER BY time_ns LIMIT 1 OFFSET ?1");
            Ok(Some(self.conn.query_row(&sql, params![k], |r| r.get(0))?))
        };
        let a = nth("transactions", txs)?;
        let b = nth("alerts", alerts)?;
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        BatchWriter,
        record::{Alert, Evidence, Record, Transaction, Verdict},
    };
    use std::time::UNIX_EPOCH;

    const T0: u64 = 1_800_000_000;

    fn at(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(T0 + secs))
    }

    fn rec(i: u64, blob: usize) -> Record {
        Record {
            transaction: Some(Transaction {
                time: at(i),
                qname: format!("n{i}.example"),
                qtype: 1,
                answer: Some(vec![7u8; blob]),
                ..Transaction::default()
            }),
            verdict: Some(Verdict {
                time: at(i),
                qname: format!("n{i}.example"),
                outcome: "bogus".into(),
                evidence: vec![Evidence {
                    owner: "example".into(),
                    rtype: 48,
                    wire: vec![1; 64],
                    presentation: None,
                }],
                ..Verdict::default()
            }),
            alerts: vec![Alert {
                time: at(i),
                rule: "bogus_signature".into(),
                json: "{}".into(),
                ..Alert::default()
            }],
        }
    }

    fn filled(dir: &std::path::Path, n: u64, blob: usize) -> Store {
        let mut w = BatchWriter::new(
            Store::open(&dir.join("s.db")).unwrap(),
            500,
            Duration::from_secs(60),
        );
        for i in 0..n {
            w.push(rec(i, blob)).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn age_retention_deletes_exactly_the_old_rows_and_their_evidence() {
        let d = tempfile::tempdir().unwrap();
        let mut s = filled(d.path(), 100, 10);
        let now = at(100).unwrap();
        let r = s
            .apply_retention(
                &Retention {
                    max_age: Some(Duration::from_secs(40)),
                    max_bytes: None,
                },
                now,
            )
            .unwrap();
        // Rows at T0+60 .. T0+99 are within 40 s of T0+100.
        assert_eq!(r.deleted_by_age, 2 * 60);
        assert_eq!(s.counts().unwrap(), (40, 40, 40, 40));
        s.integrity_check().unwrap();
        let fk: i64 = s
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
    }

    #[test]
    fn nothing_is_deleted_within_bounds() {
        let d = tempfile::tempdir().unwrap();
        let mut s = filled(d.path(), 100, 10);
        let policy = Retention {
            max_age: Some(Duration::from_secs(1000)),
            max_bytes: Some(1 << 30),
        };
        let r = s.apply_retention(&policy, at(100).unwrap()).unwrap();
        assert_eq!((r.deleted_by_age, r.deleted_by_size), (0, 0));
        assert_eq!(s.counts().unwrap().0, 100);
    }

    #[test]
    fn size_retention_drops_oldest_and_shrinks_the_file() {
        let d = tempfile::tempdir().unwrap();
        let mut s = filled(d.path(), 2000, 2000);
        let before = s.used_bytes().unwrap();
        assert!(before > 4 << 20, "{before}");
        let max = before / 2;
        let r = s
            .apply_retention(
                &Retention {
                    max_age: None,
                    max_bytes: Some(max),
                },
                at(0).unwrap(),
            )
            .unwrap();
        assert!(r.used_bytes <= max, "{r:?}");
        assert!(r.deleted_by_size > 0);
        let oldest: i64 = s
            .conn
            .query_row("SELECT min(time_ns) FROM transactions", [], |r| r.get(0))
            .unwrap();
        let newest: i64 = s
            .conn
            .query_row("SELECT max(time_ns) FROM transactions", [], |r| r.get(0))
            .unwrap();
        assert!(oldest > time_ns(at(0)), "the oldest went first");
        assert_eq!(newest, time_ns(at(1999)), "the newest stayed");
        let file = std::fs::metadata(d.path().join("s.db")).unwrap().len();
        assert!(
            file <= max + (64 << 10),
            "file {file} not given back (max {max})"
        );
        s.integrity_check().unwrap();
    }
}
