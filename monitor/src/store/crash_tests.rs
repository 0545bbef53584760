//! Crash safety: a child process (this test binary, re-run on one ignored
//! test) writes batches as fast as it can and reports each commit; the
//! parent kills it with SIGKILL mid-stream and checks the database.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use super::{
    BatchWriter, Store,
    record::{Record, Transaction},
};

const ENV: &str = "DNSSEC_MONITOR_STORE_CRASH_DB";
const BATCH_RECORDS: i64 = 200;

fn heavy(i: u64) -> Record {
    Record {
        transaction: Some(Transaction {
            qname: format!("host{i}.crash.test"),
            qtype: 1,
            query: Some(vec![1; 64]),
            answer: Some(vec![2; 512]),
            ..Transaction::default()
        }),
        verdict: None,
        alerts: vec![],
    }
}

/// The child: not a test on its own (ignored), run by the parent with
/// `ENV` set. Writes until killed; prints `committed N` after each commit.
#[test]
#[ignore = "child process of store_survives_sigkill_during_heavy_writes"]
fn crash_child() {
    let Ok(path) = std::env::var(ENV) else { return };
    let store = Store::open(std::path::Path::new(&path)).unwrap();
    // One row per record: a commit every BATCH_RECORDS records, never by time.
    let mut w = BatchWriter::new(store, BATCH_RECORDS as usize, Duration::from_secs(3600));
    for i in 0.. {
        if w.push(heavy(i)).unwrap() {
            println!("committed {}", w.committed().0);
        }
    }
}

#[test]
fn store_survives_sigkill_during_heavy_writes() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::crash_tests::crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last_seen = 0i64;
    while last_seen < 20 * BATCH_RECORDS {
        assert!(
            Instant::now() < deadline,
            "child too slow: {last_seen} committed"
        );
        let Some(line) = lines.next() else {
            panic!("child exited early after {last_seen}")
        };
        if let Some(n) = line.unwrap().strip_prefix("committed ") {
            last_seen = n.parse().unwrap();
        }
    }
    // Let it get into the middle of further batches before the kill.
    std::thread::sleep(Duration::from_millis(37));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Commits the child reported between our last read and the kill are
    // still in the pipe.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("committed ") {
            last_seen = n.parse().unwrap();
        }
    }

    let s = Store::open(&db).unwrap();
    s.integrity_check().unwrap();
    let (rows, ..) = s.counts().unwrap();
    eprintln!("killed: {last_seen} reported committed, {rows} rows in the store");
    assert!(
        rows >= last_seen,
        "a reported commit was lost: {rows} < {last_seen}"
    );
    assert_eq!(
        rows % BATCH_RECORDS,
        0,
        "a batch was partly applied: {rows} rows"
    );
    // At most one commit can have completed without being reported.
    assert!(
        rows <= last_seen + BATCH_RECORDS,
        "{rows} rows, {last_seen} reported"
    );
    // The child writes one batch at a time: whatever it had not committed
    // is at most the batch in flight, which is absent as a whole.
}

/// Negative twin: the integrity check does catch a damaged file.
#[test]
fn integrity_check_detects_damage() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("damaged.db");
    {
        let mut w = BatchWriter::new(Store::open(&db).unwrap(), 100, Duration::from_secs(60));
        for i in 0..2000 {
            w.push(heavy(i)).unwrap();
        }
        let s = w.finish().unwrap();
        s.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    // Overwrite the middle of the file (b-tree pages) with garbage.
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    let len = f.metadata().unwrap().len();
    std::os::unix::fs::FileExt::write_all_at(&f, &vec![0x5a; 16 << 10], len / 2).unwrap();
    drop(f);
    let damaged = Store::open(&db).and_then(|s| s.integrity_check());
    assert!(damaged.is_err());
}
