use super::*;

fn opts(max: u64, seg: u64) -> SpoolOptions {
    SpoolOptions {
        max_bytes: max,
        segment_bytes: seg,
        sync: true,
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("alert number {i}").into_bytes()
}

/// Deliver everything: the sequence of payloads in delivery order.
fn drain(s: &mut Spool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(r) = s.peek().unwrap() {
        s.ack(r.seq).unwrap();
        out.push(r.payload);
    }
    out
}

fn seg_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .ends_with(".seg")
        })
        .count()
}

#[test]
fn fifo_with_peek_and_ack() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    assert!(s.peek().unwrap().is_none());
    for i in 0..5 {
        assert_eq!(s.push(&payload(i)).unwrap(), i + 1);
    }
    let r = s.peek().unwrap().unwrap();
    assert_eq!(r, s.peek().unwrap().unwrap(), "peek does not consume");
    assert_eq!(drain(&mut s), (0..5).map(payload).collect::<Vec<_>>());
    assert!(s.is_empty());
    assert_eq!(s.unacked_bytes(), 0);
    assert_eq!(s.stats().acked, 5);
}

#[test]
fn ack_out_of_order_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    s.push(b"a").unwrap();
    s.push(b"b").unwrap();
    assert!(matches!(
        s.ack(2),
        Err(SpoolError::AckOrder {
            got: 2,
            expected: Some(1)
        })
    ));
    s.ack(1).unwrap();
    s.ack(2).unwrap();
    assert!(matches!(
        s.ack(3),
        Err(SpoolError::AckOrder { expected: None, .. })
    ));
}

#[test]
fn survives_reopen_resuming_after_the_ack() {
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(d.path(), opts(1 << 20, 256)).unwrap();
        for i in 0..10 {
            s.push(&payload(i)).unwrap();
        }
        for seq in 1..=3 {
            assert_eq!(s.peek().unwrap().unwrap().seq, seq);
            s.ack(seq).unwrap();
        }
    }
    let mut s = Spool::open(d.path(), opts(1 << 20, 256)).unwrap();
    assert_eq!(s.len(), 7);
    // New records continue the sequence after the recovered ones.
    assert_eq!(s.push(&payload(10)).unwrap(), 11);
    assert_eq!(drain(&mut s), (3..11).map(payload).collect::<Vec<_>>());
    drop(s);
    let mut s = Spool::open(d.path(), opts(1 << 20, 256)).unwrap();
    assert!(
        drain(&mut s).is_empty(),
        "delivered records are never resent"
    );
    assert_eq!(s.push(b"x").unwrap(), 12, "sequence numbers are not reused");
}

#[test]
fn full_spool_drops_oldest_and_counts_them() {
    let d = tempfile::tempdir().unwrap();
    // Each frame is 16 + 14..15 bytes; 10 frames of 31 bytes fit in 310.
    let mut s = Spool::open(d.path(), opts(310, 100)).unwrap();
    for i in 10..30 {
        s.push(&payload(i)).unwrap();
    }
    assert!(s.unacked_bytes() <= 310);
    assert_eq!(s.stats().dropped_full, 10);
    assert_eq!(s.len(), 10);
    drop(s);
    let mut s = Spool::open(d.path(), opts(310, 100)).unwrap();
    assert_eq!(
        drain(&mut s),
        (20..30).map(payload).collect::<Vec<_>>(),
        "the newest survive, in order"
    );
}

#[test]
fn within_bound_nothing_is_dropped() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::open(d.path(), opts(310, 100)).unwrap();
    for i in 10..20 {
        s.push(&payload(i)).unwrap();
    }
    assert_eq!(s.stats().dropped_full, 0);
    assert_eq!(drain(&mut s).len(), 10);
}

#[test]
fn record_larger_than_the_bound_is_rejected_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::open(d.path(), opts(100, 100)).unwrap();
    s.push(b"small").unwrap();
    assert!(matches!(
        s.push(&[0u8; 100]),
        Err(SpoolError::TooLarge { .. })
    ));
    assert_eq!(s.stats().rejected_too_large, 1);
    assert_eq!(s.len(), 1, "the queue is untouched");
}

#[test]
fn delivered_segments_are_deleted() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::open(d.path(), opts(1 << 20, 64)).unwrap();
    for i in 0..20 {
        s.push(&payload(i)).unwrap();
    }
    assert!(seg_files(d.path()) >= 10);
    drain(&mut s);
    assert_eq!(seg_files(d.path()), 1, "only the open tail segment remains");
}

#[test]
fn torn_tail_is_cut_and_earlier_records_kept() {
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
        for i in 0..3 {
            s.push(&payload(i)).unwrap();
        }
    }
    let seg = seg_path(d.path(), 1);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap(); // half a header
    drop(f);
    let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    assert_eq!(s.stats().dropped_corrupt, 1);
    assert_eq!(s.push(&payload(3)).unwrap(), 4);
    drop(s);
    let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    assert_eq!(
        s.stats().dropped_corrupt,
        0,
        "the tail was cut, the file is clean now"
    );
    assert_eq!(drain(&mut s), (0..4).map(payload).collect::<Vec<_>>());
}

#[test]
fn flipped_payload_byte_is_detected_on_read() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    for i in 0..3 {
        s.push(&payload(i)).unwrap();
    }
    // Corrupt the first record's payload behind the spool's back.
    let f = OpenOptions::new()
        .write(true)
        .open(seg_path(d.path(), 1))
        .unwrap();
    f.write_all_at(b"X", HEADER as u64).unwrap();
    assert_eq!(drain(&mut s), vec![payload(1), payload(2)]);
    assert_eq!(s.stats().dropped_corrupt, 1);
}

#[test]
fn torn_ack_slot_falls_back_to_the_other() {
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
        for i in 0..4 {
            s.push(&payload(i)).unwrap();
        }
        s.ack(1).unwrap(); // slot 0
        s.ack(2).unwrap(); // slot 1
    }
    // Tear slot 1 (the newest): the ack falls back to seq 1, so record 2 is
    // resent (a duplicate is better than a loss) and none is lost.
    let f = OpenOptions::new()
        .write(true)
        .open(d.path().join("ack"))
        .unwrap();
    f.write_all_at(&[0xff; 4], ACK_SLOT).unwrap();
    drop(f);
    let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    assert_eq!(drain(&mut s), vec![payload(1), payload(2), payload(3)]);
}

#[test]
fn second_open_of_a_live_spool_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    assert!(matches!(
        Spool::open(d.path(), SpoolOptions::default()),
        Err(SpoolError::Locked(_))
    ));
    drop(s);
    assert!(Spool::open(d.path(), SpoolOptions::default()).is_ok());
}

#[test]
fn unsynced_mode_keeps_the_same_semantics() {
    let d = tempfile::tempdir().unwrap();
    let o = SpoolOptions {
        sync: false,
        ..SpoolOptions::default()
    };
    {
        let mut s = Spool::open(d.path(), o).unwrap();
        for i in 0..3 {
            s.push(&payload(i)).unwrap();
        }
        s.ack(1).unwrap();
    }
    let mut s = Spool::open(d.path(), o).unwrap();
    assert_eq!(drain(&mut s), vec![payload(1), payload(2)]);
}

#[test]
fn group_commit_batches_and_ack_through() {
    let d = tempfile::tempdir().unwrap();
    {
        // Small segments: the group crosses segment boundaries.
        let mut s = Spool::open(d.path(), opts(1 << 20, 64)).unwrap();
        for i in 0..10 {
            s.push_unsynced(&payload(i)).unwrap();
        }
        s.sync().unwrap();
        let batch = s.peek_batch(4).unwrap();
        assert_eq!(
            batch.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(batch[3].payload, payload(3));
        s.ack_through(4).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s.stats().acked, 4);
        // Out of range: below the front, or never pushed.
        assert!(matches!(s.ack_through(3), Err(SpoolError::AckOrder { .. })));
        assert!(matches!(
            s.ack_through(11),
            Err(SpoolError::AckOrder { .. })
        ));
        assert_eq!(s.peek_batch(100).unwrap().len(), 6);
    }
    let mut s = Spool::open(d.path(), opts(1 << 20, 64)).unwrap();
    assert_eq!(drain(&mut s), (4..10).map(payload).collect::<Vec<_>>());
}

#[test]
fn peek_batch_stops_before_a_corrupt_record() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::open(d.path(), SpoolOptions::default()).unwrap();
    for i in 0..4 {
        s.push(&payload(i)).unwrap();
    }
    // Corrupt record 3 (seq 3): frames of "alert number N" are 30 bytes.
    let f = OpenOptions::new()
        .write(true)
        .open(seg_path(d.path(), 1))
        .unwrap();
    f.write_all_at(b"X", 2 * 30 + HEADER as u64).unwrap();
    let b = s.peek_batch(10).unwrap();
    assert_eq!(b.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    s.ack_through(2).unwrap();
    assert_eq!(
        s.peek_batch(10)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>(),
        [4]
    );
    assert_eq!(s.stats().dropped_corrupt, 1);
}
