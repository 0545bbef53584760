//! Defragmenter tests, hostile cases included (RFC 5722 overlaps, floods).

use std::time::{Duration, SystemTime};

use super::*;

fn key(id: u32) -> FragKey {
    FragKey {
        src: "198.18.0.1".parse().unwrap(),
        dst: "198.18.0.2".parse().unwrap(),
        id,
        proto: 17,
    }
}

fn t(s: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Cut `p` into (offset, bytes, more) pieces of `size` (a multiple of 8).
fn pieces(p: &[u8], size: usize) -> Vec<(usize, Vec<u8>, bool)> {
    p.chunks(size)
        .enumerate()
        .map(|(i, c)| (i * size, c.to_vec(), (i + 1) * size < p.len()))
        .collect()
}

/// Fragments handed in = used + dropped + still held.
fn ledger_ok(d: &Defragmenter, c: &DecodeCounters, handed: u64) {
    assert_eq!(
        handed,
        c.frag_used + c.frag_dropped() + d.fragments_held() as u64,
        "{c:?}"
    );
}

#[test]
fn in_order_and_reverse_order_reassemble() {
    let l = DecodeLimits::default();
    let p = payload(1000);
    for reverse in [false, true] {
        let mut d = Defragmenter::new();
        let mut c = DecodeCounters::default();
        let mut ps = pieces(&p, 296);
        if reverse {
            ps.reverse();
        }
        let n = ps.len();
        let mut out = None;
        for (i, (o, b, m)) in ps.into_iter().enumerate() {
            let r = d.insert(key(1), o, &b, m, t(0), &l, &mut c);
            if i + 1 < n {
                assert_eq!(r, FragResult::Held);
            } else {
                out = Some(r);
            }
        }
        assert_eq!(out, Some(FragResult::Complete(p.clone())));
        assert_eq!((c.frag_reassembled, c.frag_used), (1, 4));
        assert_eq!(d.bytes_held(), 0);
        ledger_ok(&d, &c, 4);
    }
}

#[test]
fn shuffled_order_reassembles() {
    let l = DecodeLimits::default();
    let p = payload(4000);
    let mut ps = pieces(&p, 1480);
    ps.swap(0, 2); // last, middle, first
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    let results: Vec<_> = ps
        .into_iter()
        .map(|(o, b, m)| d.insert(key(1), o, &b, m, t(0), &l, &mut c))
        .collect();
    assert_eq!(results[2], FragResult::Complete(p));
}

#[test]
fn overlap_drops_whole_datagram() {
    let l = DecodeLimits::default();
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    assert_eq!(
        d.insert(key(9), 0, &[1; 64], true, t(0), &l, &mut c),
        FragResult::Held
    );
    assert_eq!(
        d.insert(key(9), 128, &[3; 16], false, t(0), &l, &mut c),
        FragResult::Held
    );
    // Starts inside the first fragment: a classic overlap (teardrop style).
    assert_eq!(
        d.insert(key(9), 56, &[2; 72], true, t(0), &l, &mut c),
        FragResult::Dropped
    );
    assert_eq!(c.frag_overlap, 3);
    assert_eq!(d.datagrams_held(), 0);
    assert_eq!(d.bytes_held(), 0);
    // The missing piece arriving later does not resurrect the datagram.
    assert_eq!(
        d.insert(key(9), 64, &[2; 64], true, t(0), &l, &mut c),
        FragResult::Held
    );
    assert_eq!(c.frag_reassembled, 0);
    ledger_ok(&d, &c, 4);
}

#[test]
fn overlap_with_next_fragment_is_caught() {
    let l = DecodeLimits::default();
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    d.insert(key(2), 64, &[1; 64], true, t(0), &l, &mut c);
    assert_eq!(
        d.insert(key(2), 0, &[1; 72], true, t(0), &l, &mut c),
        FragResult::Dropped
    );
    assert_eq!(c.frag_overlap, 2);
    // Adjacent (not overlapping) is fine.
    d.insert(key(3), 64, &[1; 64], false, t(0), &l, &mut c);
    assert!(matches!(
        d.insert(key(3), 0, &[1; 64], true, t(0), &l, &mut c),
        FragResult::Complete(_)
    ));
}

#[test]
fn exact_duplicate_is_dropped_alone_but_changed_copy_kills_datagram() {
    let l = DecodeLimits::default();
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    d.insert(key(4), 0, &[5; 64], true, t(0), &l, &mut c);
    assert_eq!(
        d.insert(key(4), 0, &[5; 64], true, t(0), &l, &mut c),
        FragResult::Dropped
    );
    assert_eq!((c.frag_duplicate, c.frag_overlap), (1, 0));
    assert!(matches!(
        d.insert(key(4), 64, &[6; 10], false, t(0), &l, &mut c),
        FragResult::Complete(_)
    ));

    d.insert(key(5), 0, &[5; 64], true, t(0), &l, &mut c);
    assert_eq!(
        d.insert(key(5), 0, &[6; 64], true, t(0), &l, &mut c),
        FragResult::Dropped
    );
    assert_eq!(c.frag_overlap, 2);
    assert_eq!(d.datagrams_held(), 0);
}

#[test]
fn conflicting_last_fragment_drops() {
    let l = DecodeLimits::default();
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    d.insert(key(6), 64, &[1; 8], false, t(0), &l, &mut c); // total = 72
    assert_eq!(
        d.insert(key(6), 80, &[1; 8], true, t(0), &l, &mut c),
        FragResult::Dropped
    );
    assert_eq!(c.frag_overlap, 2);
    d.insert(key(7), 64, &[1; 64], true, t(0), &l, &mut c);
    // A "last" fragment that ends before data already held.
    assert_eq!(
        d.insert(key(7), 0, &[1; 16], false, t(0), &l, &mut c),
        FragResult::Dropped
    );
    assert_eq!(c.frag_overlap, 4);
}

#[test]
fn datagram_beyond_65535_is_refused() {
    let l = DecodeLimits::default();
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    d.insert(key(8), 0, &[0; 1480], true, t(0), &l, &mut c);
    assert_eq!(
        d.insert(key(8), 65_528, &[0; 16], false, t(0), &l, &mut c),
        FragResult::Dropped
    );
    assert_eq!(c.frag_limit, 2);
    assert_eq!(d.bytes_held(), 0);
    // Ending exactly at 65,535 is allowed.
    assert_eq!(
        d.insert(key(9), 65_528, &[0; 7], false, t(0), &l, &mut c),
        FragResult::Held
    );
}

#[test]
fn flood_of_datagrams_stays_bounded() {
    let l = DecodeLimits {
        frag_max_datagrams: 16,
        ..Default::default()
    };
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    for id in 0..10_000u32 {
        d.insert(key(id), 0, &[0; 64], true, t(0), &l, &mut c);
        assert!(d.datagrams_held() <= 16);
    }
    assert_eq!(c.frag_limit, 10_000 - 16);
    assert!(
        d.age.len() <= 2 * 16 + 64 + 1,
        "age queue grows: {}",
        d.age.len()
    );
    ledger_ok(&d, &c, 10_000);
    // A legitimate datagram still gets through during the flood.
    d.insert(key(50_000), 0, &[1; 64], true, t(0), &l, &mut c);
    assert!(matches!(
        d.insert(key(50_000), 64, &[1; 8], false, t(0), &l, &mut c),
        FragResult::Complete(_)
    ));
}

#[test]
fn flood_of_bytes_stays_bounded() {
    let l = DecodeLimits {
        frag_max_bytes: 100_000,
        ..Default::default()
    };
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    let mut handed = 0;
    for id in 0..200u32 {
        for i in 0..10 {
            d.insert(key(id), i * 1480, &[0; 1480], true, t(0), &l, &mut c);
            handed += 1;
            assert!(d.bytes_held() <= 100_000);
        }
    }
    assert!(c.frag_limit > 0);
    ledger_ok(&d, &c, handed);
}

#[test]
fn tiny_fragment_flood_hits_per_datagram_limit() {
    let l = DecodeLimits {
        frag_max_per_datagram: 32,
        ..Default::default()
    };
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    let mut last = FragResult::Held;
    for i in 0..33 {
        last = d.insert(key(1), i * 8, &[0; 8], true, t(0), &l, &mut c);
    }
    assert_eq!(last, FragResult::Dropped);
    assert_eq!(c.frag_limit, 33);
    assert_eq!(d.datagrams_held(), 0);
    ledger_ok(&d, &c, 33);
}

#[test]
fn timeout_discards_incomplete_datagrams() {
    let l = DecodeLimits::default();
    let mut d = Defragmenter::new();
    let mut c = DecodeCounters::default();
    d.insert(key(1), 0, &[0; 64], true, t(0), &l, &mut c);
    d.insert(key(1), 128, &[0; 64], true, t(1), &l, &mut c);
    d.expire(t(29), &l, &mut c);
    assert_eq!((d.datagrams_held(), c.frag_timeout), (1, 0));
    d.expire(t(30), &l, &mut c);
    assert_eq!((d.datagrams_held(), c.frag_timeout), (0, 2));
    assert_eq!(d.bytes_held(), 0);
    ledger_ok(&d, &c, 2);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Fragments in any order, with exact duplicates, rebuild the exact
        /// payload once; the fragment ledger balances.
        #[test]
        fn any_order_with_duplicates_rebuilds_exactly(
            len in 1usize..6000,
            size8 in 1usize..200,
            perm in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
            dups in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
        ) {
            let p = payload(len);
            let mut ps = pieces(&p, size8 * 8);
            // One piece with MF=0 at offset 0 is not a fragment at all.
            prop_assume!(ps.len() >= 2);
            for d in &dups {
                let x = d.get(&ps).clone();
                ps.push(x);
            }
            // Deterministic shuffle from the drawn seed.
            let mut seed = perm;
            for i in (1..ps.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ps.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let l = DecodeLimits { frag_max_per_datagram: 1024, ..Default::default() };
            let mut d = Defragmenter::new();
            let mut c = DecodeCounters::default();
            let mut done = Vec::new();
            for (o, b, m) in &ps {
                if let FragResult::Complete(x) = d.insert(key(1), *o, b, *m, t(0), &l, &mut c) {
                    done.push(x);
                }
            }
            // Duplicates arriving after completion start a new datagram (as in
            // Linux, which forgets completed queues); if every piece was
            // duplicated that copy completes too, and is the same bytes.
            prop_assert!(!done.is_empty());
            prop_assert!(done.len() <= 1 + usize::from(!dups.is_empty()));
            for x in &done {
                prop_assert_eq!(x, &p);
            }
            ledger_ok(&d, &c, ps.len() as u64);
            prop_assert_eq!(c.frag_overlap, 0);
        }
    }
}
