//! Batched writes: records accumulate in memory and are committed in one
//! SQLite transaction every `max_rows` rows or `max_delay`, whichever comes
//! first. One fsync-backed commit per batch instead of per row is what
//! makes heavy event volume affordable; a crash loses at most the batch
//! not yet committed.

use std::time::{Duration, Instant};

use rusqlite::{Transaction as SqlTx, params};

use super::{
    db::{Store, StoreError},
    record::{Record, normalize_name, reversed_name, time_ns},
};

pub struct BatchWriter {
    store: Store,
    pending: Vec<Record>,
    pending_rows: usize,
    oldest: Option<Instant>,
    max_rows: usize,
    max_delay: Duration,
    committed_records: u64,
    committed_batches: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("batch of {lost} records lost: {cause}")]
pub struct CommitError {
    pub lost: usize,
    pub cause: StoreError,
}

impl BatchWriter {
    pub fn new(store: Store, max_rows: usize, max_delay: Duration) -> Self {
        Self {
            store,
            pending: Vec::new(),
            pending_rows: 0,
            oldest: None,
            max_rows: max_rows.max(1),
            max_delay,
            committed_records: 0,
            committed_batches: 0,
        }
    }

    /// Queue one record; commits when the batch reaches `max_rows`.
    /// Returns whether a commit happened.
    pub fn push(&mut self, record: Record) -> Result<bool, CommitError> {
        self.pending_rows += record.rows().max(1);
        self.pending.push(record);
        self.oldest.get_or_insert_with(Instant::now);
        if self.pending_rows >= self.max_rows {
            self.commit()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// When the pending batch must be committed by (for the caller's timer).
    pub fn deadline(&self) -> Option<Instant> {
        self.oldest.map(|t| t + self.max_delay)
    }

    /// Commit if the pending batch is older than `max_delay`.
    pub fn commit_due(&mut self, now: Instant) -> Result<bool, CommitError> {
        if self.deadline().is_some_and(|d| now >= d) {
            self.commit()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Commit everything pending now; returns the records committed. On
    /// failure the batch is dropped (so a full disk does not grow memory
    /// without bound) and the error says how many records were lost.
    pub fn commit(&mut self) -> Result<usize, CommitError> {
        let batch = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        self.oldest = None;
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        let result = (|| -> Result<(), StoreError> {
            let tx = self.store.conn.transaction()?;
            for r in &batch {
                insert(&tx, r)?;
            }
            tx.commit()?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.committed_records += n as u64;
                self.committed_batches += 1;
                Ok(n)
            }
            Err(source) => Err(CommitError {
                lost: n,
                cause: source,
            }),
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// (records, batches) committed since creation.
    pub fn committed(&self) -> (u64, u64) {
        (self.committed_records, self.committed_batches)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// For maintenance between batches (retention); pending records are
    /// unaffected, as no transaction is open outside [`BatchWriter::commit`].
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Commit what is pending and hand the store back.
    pub fn finish(mut self) -> Result<Store, CommitError> {
        self.commit()?;
        Ok(self.store)
    }
}

/// Insert one record's rows, linking alert → verdict → transaction.
fn insert(tx: &SqlTx<'_>, r: &Record) -> Result<(), StoreError> {
    let tx_id = match &r.transaction {
        None => None,
        Some(t) => {
            let name = normalize_name(&t.qname);
            tx.prepare_cached(
                "INSERT INTO transactions (time_ns, query_time_ns, qname, qname_rev, qtype, rcode, pid, process,
                 uid, container_id, src, dst, transport, query, answer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                time_ns(t.time),
                t.query_time.map(|q| time_ns(Some(q))),
                name,
                reversed_name(&name),
                t.qtype,
                t.rcode,
                t.pid,
                t.process,
                t.uid,
                t.container_id,
                t.src,
                t.dst,
                t.transport,
                t.query,
                t.answer,
            ])?;
            Some(tx.last_insert_rowid())
        }
    };
    let verdict_id = match &r.verdict {
        None => None,
        Some(v) => {
            tx.prepare_cached(
                "INSERT INTO verdicts (transaction_id, time_ns, qname, qtype, outcome, reason, ede_code, ede_text, chain_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                tx_id,
                time_ns(v.time),
                normalize_name(&v.qname),
                v.qtype,
                v.outcome,
                v.reason,
                v.ede_code,
                v.ede_text,
                v.chain_json,
            ])?;
            let id = tx.last_insert_rowid();
            let mut ev = tx.prepare_cached(
                "INSERT INTO evidence (verdict_id, owner, rtype, wire, presentation) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in &v.evidence {
                ev.execute(params![
                    id,
                    normalize_name(&e.owner),
                    e.rtype,
                    e.wire,
                    e.presentation
                ])?;
            }
            Some(id)
        }
    };
    let mut alert = tx.prepare_cached(
        "INSERT INTO alerts (transaction_id, verdict_id, time_ns, rule, severity, detail, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for a in &r.alerts {
        alert.execute(params![
            tx_id,
            verdict_id,
            time_ns(a.time),
            a.rule,
            a.severity,
            a.detail,
            a.json
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{Alert, Transaction};

    fn rec(i: u32) -> Record {
        Record {
            transaction: Some(Transaction {
                qname: format!("n{i}.example."),
                qtype: 1,
                ..Transaction::default()
            }),
            verdict: None,
            alerts: vec![Alert {
                rule: "r".into(),
                json: "{}".into(),
                ..Alert::default()
            }],
        }
    }

    #[test]
    fn commits_every_n_rows() {
        let d = tempfile::tempdir().unwrap();
        let mut w = BatchWriter::new(
            Store::open(&d.path().join("s.db")).unwrap(),
            6,
            Duration::from_secs(3600),
        );
        // Each record is 2 rows: the third push reaches 6 and commits.
        assert!(!w.push(rec(0)).unwrap());
        assert!(!w.push(rec(1)).unwrap());
        assert_eq!(
            w.store().counts().unwrap().0,
            0,
            "nothing visible before the commit"
        );
        assert!(w.push(rec(2)).unwrap());
        assert_eq!(w.store().counts().unwrap(), (3, 0, 0, 3));
        assert_eq!(w.committed(), (3, 1));
    }

    #[test]
    fn commits_after_the_delay() {
        let d = tempfile::tempdir().unwrap();
        let mut w = BatchWriter::new(
            Store::open(&d.path().join("s.db")).unwrap(),
            1000,
            Duration::from_millis(50),
        );
        w.push(rec(0)).unwrap();
        let deadline = w.deadline().unwrap();
        assert!(!w.commit_due(deadline - Duration::from_millis(1)).unwrap());
        assert_eq!(w.pending(), 1);
        assert!(w.commit_due(deadline).unwrap());
        assert_eq!(w.pending(), 0);
        assert_eq!(w.store().counts().unwrap().0, 1);
        assert!(w.deadline().is_none());
    }

    #[test]
    fn finish_commits_the_tail() {
        let d = tempfile::tempdir().unwrap();
        let w = BatchWriter::new(
            Store::open(&d.path().join("s.db")).unwrap(),
            1000,
            Duration::from_secs(60),
        );
        let mut w = w;
        w.push(rec(0)).unwrap();
        let s = w.finish().unwrap();
        assert_eq!(s.counts().unwrap().0, 1);
    }
}
