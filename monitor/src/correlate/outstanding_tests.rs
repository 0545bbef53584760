use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::detect::testkit::{CLIENT, RESOLVER, answer_msg, event, query_msg};
use crate::event::ProcessInfo;

fn a(name: &str, ip: [u8; 4]) -> Record {
    Record::from_rdata(
        Name::from_ascii(name).unwrap(),
        300,
        RData::A(A(Ipv4Addr::from(ip))),
    )
}

fn table() -> OutstandingTable {
    OutstandingTable::new(OutstandingConfig {
        warmup: Duration::ZERO,
        ..OutstandingConfig::default()
    })
}

#[test]
fn answer_joins_its_query_with_the_process() {
    let mut t = table();
    let q = query_msg(7, "www.secure.test.", RecordType::A, true, true);
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 0));
    let ans = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a("www.secure.test.", [192, 0, 2, 1])],
    );
    match t.on_answer(&event(ans, CLIENT, RESOLVER, 20)) {
        Join::Answered { query } => {
            assert_eq!(query.id, 7);
            assert!(query.rd && query.dnssec_ok);
            assert_eq!(query.process.unwrap().name, "curl");
        }
        j => panic!("expected Answered, got {j:?}"),
    }
    assert_eq!(t.stats().joined, 1);
}

#[test]
fn question_case_does_not_matter_but_txid_and_port_do() {
    let mut t = table();
    let q = query_msg(7, "WwW.Secure.TEST.", RecordType::A, true, false);
    t.on_query(&event(q, CLIENT, RESOLVER, 0));
    let q2 = query_msg(7, "www.secure.test.", RecordType::A, true, false);
    let ans = answer_msg(&q2, ResponseCode::NoError, vec![]);
    assert!(matches!(
        t.on_answer(&event(ans.clone(), CLIENT, RESOLVER, 5)),
        Join::Answered { .. }
    ));
    // Another client port: nothing outstanding there.
    assert_eq!(
        t.on_answer(&event(ans, "10.0.0.2:40001", RESOLVER, 6)),
        Join::Unsolicited
    );
}

#[test]
fn answer_without_query_is_unsolicited() {
    let mut t = table();
    let q = query_msg(9, "www.secure.test.", RecordType::A, true, false);
    let ans = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a("www.secure.test.", [6, 6, 6, 6])],
    );
    assert_eq!(
        t.on_answer(&event(ans, CLIENT, RESOLVER, 0)),
        Join::Unsolicited
    );
    assert_eq!(t.stats().unsolicited, 1);
}

#[test]
fn late_answer_after_timeout_is_unsolicited() {
    let mut t = table();
    let q = query_msg(9, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 0));
    let ans = answer_msg(&q, ResponseCode::NoError, vec![]);
    assert_eq!(
        t.on_answer(&event(ans, CLIENT, RESOLVER, 11_000)),
        Join::Unsolicited
    );
    assert_eq!(t.stats().entries, 0);
}

#[test]
fn two_different_answers_race_but_a_repeat_does_not() {
    let mut t = table();
    let q = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 0));
    let good = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![
            a("www.secure.test.", [192, 0, 2, 1]),
            a("www.secure.test.", [192, 0, 2, 2]),
        ],
    );
    // Same data in another order and TTL: a retransmission.
    let mut again = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![
            a("www.secure.test.", [192, 0, 2, 2]),
            a("www.secure.test.", [192, 0, 2, 1]),
        ],
    );
    again.answers[0].ttl = 299;
    let forged = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a("www.secure.test.", [6, 6, 6, 6])],
    );
    assert!(matches!(
        t.on_answer(&event(good, CLIENT, RESOLVER, 10)),
        Join::Answered { .. }
    ));
    assert!(matches!(
        t.on_answer(&event(again, CLIENT, RESOLVER, 11)),
        Join::Repeated { .. }
    ));
    match t.on_answer(&event(forged.clone(), CLIENT, RESOLVER, 15)) {
        Join::Race {
            distinct,
            first,
            since_first,
            ..
        } => {
            assert_eq!(distinct, 2);
            assert!(first.contains("192.0.2.1"), "{first}");
            assert_eq!(since_first, Duration::from_millis(5));
        }
        j => panic!("expected Race, got {j:?}"),
    }
    // Reported once per query.
    assert!(matches!(
        t.on_answer(&event(forged, CLIENT, RESOLVER, 16)),
        Join::Repeated { .. }
    ));
    assert_eq!(t.stats().races, 1);
}

#[test]
fn different_answer_after_the_window_is_unsolicited_not_race() {
    let mut t = table();
    let q = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 0));
    let good = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a("www.secure.test.", [192, 0, 2, 1])],
    );
    let other = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a("www.secure.test.", [6, 6, 6, 6])],
    );
    t.on_answer(&event(good, CLIENT, RESOLVER, 10));
    assert_eq!(
        t.on_answer(&event(other, CLIENT, RESOLVER, 3_000)),
        Join::Unsolicited
    );
}

#[test]
fn wrong_txid_burst_toward_one_socket() {
    let mut t = table();
    let q = query_msg(100, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q, CLIENT, RESOLVER, 0));
    let mut joins = Vec::new();
    for (i, id) in [200u16, 201, 202, 203].into_iter().enumerate() {
        let g = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        let ans = answer_msg(
            &g,
            ResponseCode::NoError,
            vec![a("www.secure.test.", [6, 6, 6, 6])],
        );
        joins.push(t.on_answer(&event(ans, CLIENT, RESOLVER, 1 + i as u64)));
    }
    // Below the threshold the guesses are held, never unsolicited.
    assert_eq!(joins[0], Join::WrongTxid { answers: 1 });
    assert_eq!(joins[1], Join::WrongTxid { answers: 2 });
    assert!(
        matches!(&joins[2], Join::TxidBurst { answers: 3, query, .. } if query.id == 100),
        "{:?}",
        joins[2]
    );
    assert_eq!(joins[3], Join::BurstContinues);
    assert_eq!(t.stats().wrong_txid, 4);
}

#[test]
fn spread_out_wrong_txids_are_no_burst() {
    let mut t = table();
    let q = query_msg(100, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q, CLIENT, RESOLVER, 0));
    for (i, id) in [200u16, 201, 202].into_iter().enumerate() {
        let g = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        let ans = answer_msg(&g, ResponseCode::NoError, vec![]);
        let j = t.on_answer(&event(ans, CLIENT, RESOLVER, i as u64 * 2_500));
        assert_eq!(j, Join::WrongTxid { answers: 1 }, "{j:?}");
    }
    // Guesses that never made a burst: no race, and not unsolicited either.
    let s = t.stats();
    assert_eq!((s.races, s.unsolicited, s.wrong_txid), (0, 0, 3));
}

#[test]
fn full_table_evicts_oldest_and_counts() {
    let mut t = OutstandingTable::new(OutstandingConfig {
        max_entries: 2,
        warmup: Duration::ZERO,
        ..OutstandingConfig::default()
    });
    for id in 1..=3u16 {
        let q = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        t.on_query(&event(q, CLIENT, RESOLVER, u64::from(id)));
    }
    let s = t.stats();
    assert_eq!((s.entries, s.evicted_full), (2, 1));
    let q1 = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    let ans = answer_msg(&q1, ResponseCode::NoError, vec![]);
    // Evicted: query 1's socket still has queries 2 and 3 out → a wrong-txid guess.
    assert_eq!(
        t.on_answer(&event(ans, CLIENT, RESOLVER, 10)),
        Join::WrongTxid { answers: 1 }
    );
}

#[test]
fn expiry_counts_unanswered_queries() {
    let mut t = table();
    let q = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q, CLIENT, RESOLVER, 0));
    t.expire(crate::detect::testkit::at(20_000));
    assert_eq!((t.stats().expired, t.stats().entries), (1, 0));
}

#[test]
fn unmatched_answers_right_after_start_are_warmup() {
    let mut t = OutstandingTable::new(OutstandingConfig::default());
    let q = query_msg(9, "www.secure.test.", RecordType::A, true, false);
    let ans = answer_msg(&q, ResponseCode::NoError, vec![]);
    assert_eq!(
        t.on_answer(&event(ans.clone(), CLIENT, RESOLVER, 0)),
        Join::BeforeStart
    );
    assert_eq!(
        t.on_answer(&event(ans.clone(), CLIENT, RESOLVER, 9_999)),
        Join::BeforeStart
    );
    // Twin: after the warm-up the same answer is unsolicited.
    assert_eq!(
        t.on_answer(&event(ans, CLIENT, RESOLVER, 10_000)),
        Join::Unsolicited
    );
    assert_eq!(t.stats().warmup, 2);
}

#[test]
fn a_new_query_reusing_an_answered_key_starts_afresh() {
    let mut t = table();
    let q = query_msg(5, "www.secure.test.", RecordType::A, true, false);
    let a1 = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a("www.secure.test.", [192, 0, 2, 1])],
    );
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 0));
    assert!(matches!(
        t.on_answer(&event(a1.clone(), CLIENT, RESOLVER, 1)),
        Join::Answered { .. }
    ));
    // Twin: without a new query the same answer is only a repeat.
    assert!(matches!(
        t.on_answer(&event(a1.clone(), CLIENT, RESOLVER, 2)),
        Join::Repeated { .. }
    ));
    t.on_query(&event(q, CLIENT, RESOLVER, 3));
    assert!(matches!(
        t.on_answer(&event(a1, CLIENT, RESOLVER, 4)),
        Join::Answered { .. }
    ));
}

#[test]
fn expired_unanswered_queries_are_logged_for_resolver_health() {
    let mut t = table();
    t.log_expired();
    let q1 = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    let q2 = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    assert!(t.on_query(&event(q1.clone(), CLIENT, RESOLVER, 0)));
    // A retransmission is not a new transaction.
    assert!(!t.on_query(&event(q1, CLIENT, RESOLVER, 1_000)));
    assert!(t.on_query(&event(q2.clone(), CLIENT, RESOLVER, 0)));
    // The answered one is not a timeout (benign twin).
    let ans = answer_msg(
        &q2,
        ResponseCode::NoError,
        vec![a("www.secure.test.", [192, 0, 2, 1])],
    );
    t.on_answer(&event(ans, CLIENT, RESOLVER, 5));
    assert!(t.take_expired().is_empty());
    t.expire(crate::detect::testkit::at(20_000));
    let e = t.take_expired();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].server, RESOLVER.parse().unwrap());
    assert_eq!(e[0].query.id, 1);
    // The retransmission restarted the timer: 1 s + 10 s.
    assert_eq!(e[0].expired, crate::detect::testkit::at(11_000));
    assert!(t.take_expired().is_empty(), "taken once");
}

#[test]
fn without_logging_nothing_is_kept() {
    let mut t = table();
    let q = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q, CLIENT, RESOLVER, 0));
    t.expire(crate::detect::testkit::at(20_000));
    assert_eq!(t.stats().expired, 1);
    assert!(t.take_expired().is_empty());
}

/// The lab's blind-spoof race: five wrong-txid answers, then the right one,
/// toward one socket with its query out. Every guess belongs to the race;
/// none is unsolicited, and the right answer still joins its query.
#[test]
fn wrong_txid_burst_then_the_right_answer_is_one_race_and_no_unsolicited() {
    let mut t = table();
    let q = query_msg(100, "txt.ed.test.", RecordType::TXT, true, false);
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 0));
    let mut joins = Vec::new();
    for (i, id) in (200u16..205).enumerate() {
        let g = query_msg(id, "txt.ed.test.", RecordType::TXT, true, false);
        let ans = answer_msg(&g, ResponseCode::NXDomain, vec![]);
        joins.push(t.on_answer(&event(ans, CLIENT, RESOLVER, 1 + i as u64)));
    }
    let right = answer_msg(&q, ResponseCode::NoError, vec![]);
    joins.push(t.on_answer(&event(right, CLIENT, RESOLVER, 10)));
    let races = joins
        .iter()
        .filter(|j| matches!(j, Join::TxidBurst { .. }))
        .count();
    assert_eq!(races, 1, "{joins:?}");
    assert!(!joins.contains(&Join::Unsolicited), "{joins:?}");
    assert!(matches!(joins[5], Join::Answered { .. }), "{:?}", joins[5]);
    assert_eq!(t.stats().unsolicited, 0);
}

/// Twin: the same wrong-txid answers toward a socket with nothing out are
/// unsolicited, each of them (no query for a race to be about).
#[test]
fn wrong_txids_toward_a_socket_with_nothing_out_are_unsolicited() {
    let mut t = table();
    // A query out on another client socket does not make these guesses.
    let other = query_msg(100, "txt.ed.test.", RecordType::TXT, true, false);
    t.on_query(&event(other, "10.0.0.2:40001", RESOLVER, 0));
    for (i, id) in (200u16..205).enumerate() {
        let g = query_msg(id, "txt.ed.test.", RecordType::TXT, true, false);
        let ans = answer_msg(&g, ResponseCode::NXDomain, vec![]);
        assert_eq!(
            t.on_answer(&event(ans, CLIENT, RESOLVER, 1 + i as u64)),
            Join::Unsolicited
        );
    }
    let s = t.stats();
    assert_eq!((s.unsolicited, s.wrong_txid, s.races), (5, 0, 0));
}

/// A burst's window closes: later guesses start a new count (below the
/// threshold again, quiet), after the socket's burst was forgotten.
#[test]
fn a_closed_burst_window_starts_a_new_count() {
    let mut t = table();
    let q = query_msg(100, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q, CLIENT, RESOLVER, 0));
    let guess = |id: u16| {
        let g = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        answer_msg(&g, ResponseCode::NoError, vec![])
    };
    assert_eq!(
        t.on_answer(&event(guess(1), CLIENT, RESOLVER, 1)),
        Join::WrongTxid { answers: 1 }
    );
    assert_eq!(
        t.on_answer(&event(guess(2), CLIENT, RESOLVER, 2)),
        Join::WrongTxid { answers: 2 }
    );
    // 2.5 s later (window 2 s): the first two are gone.
    assert_eq!(
        t.on_answer(&event(guess(3), CLIENT, RESOLVER, 2_500)),
        Join::WrongTxid { answers: 1 }
    );
    assert_eq!(t.stats().races, 0);
}

/// An answered entry leaves when its race window closes even when an
/// older query, still unanswered, is due later.
#[test]
fn answered_entries_leave_after_the_race_window_behind_an_older_query() {
    let mut t = table();
    let old = query_msg(1, "old.secure.test.", RecordType::A, true, false);
    let q = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(old, CLIENT, RESOLVER, 0));
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 1));
    let ans = answer_msg(&q, ResponseCode::NoError, vec![]);
    t.on_answer(&event(ans, CLIENT, RESOLVER, 2));
    // Twin: inside the race window both are still there.
    t.expire(crate::detect::testkit::at(2_001));
    assert_eq!(t.stats().entries, 2);
    t.expire(crate::detect::testkit::at(2_002));
    let s = t.stats();
    // The answered one left without counting as a timeout.
    assert_eq!((s.entries, s.expired), (1, 0));
}

/// A query captured with an earlier time than the last one (another
/// CPU's ring) still expires on its own deadline.
#[test]
fn out_of_order_queries_expire_in_deadline_order() {
    let mut t = table();
    t.log_expired();
    let late = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    let early = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(late, CLIENT, RESOLVER, 1_000));
    t.on_query(&event(early, CLIENT, RESOLVER, 0));
    t.expire(crate::detect::testkit::at(10_500));
    let e = t.take_expired();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].query.id, 2);
    assert_eq!(t.stats().entries, 1);
    t.expire(crate::detect::testkit::at(11_000));
    assert_eq!(t.take_expired()[0].query.id, 1);
}

/// When full, an answered query (only waiting for a race) goes before an
/// unanswered one, whose answer would otherwise look unsolicited.
#[test]
fn a_full_table_evicts_answered_entries_first() {
    let mut t = OutstandingTable::new(OutstandingConfig {
        max_entries: 2,
        warmup: Duration::ZERO,
        ..OutstandingConfig::default()
    });
    let q1 = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    let q2 = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    let q3 = query_msg(3, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q1.clone(), CLIENT, RESOLVER, 0));
    t.on_query(&event(q2.clone(), CLIENT, RESOLVER, 1));
    let a2 = answer_msg(&q2, ResponseCode::NoError, vec![]);
    t.on_answer(&event(a2.clone(), CLIENT, RESOLVER, 2));
    t.on_query(&event(q3, CLIENT, RESOLVER, 3));
    // An answered entry's eviction shortens its race window; it is not a
    // lost answer check, so it is not counted with the losses.
    assert_eq!((t.stats().evicted_answered, t.stats().evicted_full), (1, 0));
    let a1 = answer_msg(&q1, ResponseCode::NoError, vec![]);
    assert!(matches!(
        t.on_answer(&event(a1, CLIENT, RESOLVER, 4)),
        Join::Answered { .. }
    ));
    // Twin: the evicted answered query no longer joins.
    assert!(!matches!(
        t.on_answer(&event(a2, CLIENT, RESOLVER, 5)),
        Join::Repeated { .. }
    ));
}

#[test]
fn each_query_keeps_its_own_process() {
    let mut t = table();
    let q1 = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    let q2 = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    let q3 = query_msg(3, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q1.clone(), CLIENT, RESOLVER, 0));
    let mut other = event(q2.clone(), CLIENT, RESOLVER, 1);
    other.process = Some(std::sync::Arc::new(ProcessInfo {
        pid: 7,
        name: "wget".into(),
        ..crate::detect::testkit::process()
    }));
    t.on_query(&other);
    t.on_query(&event(q3.clone(), CLIENT, RESOLVER, 2));
    let process_of = |t: &mut OutstandingTable, q: &hickory_proto::op::Message, ms| match t
        .on_answer(&event(
            answer_msg(q, ResponseCode::NoError, vec![]),
            CLIENT,
            RESOLVER,
            ms,
        )) {
        Join::Answered { query } => query.process.expect("attributed"),
        j => panic!("expected Answered, got {j:?}"),
    };
    let p1 = process_of(&mut t, &q1, 3);
    let p2 = process_of(&mut t, &q2, 4);
    let p3 = process_of(&mut t, &q3, 5);
    assert_eq!((p1.name.as_str(), p2.name.as_str()), ("curl", "wget"));
    assert_eq!((p2.pid, p3.name.as_str()), (7, "curl"));
}

/// RFC 5452 §9.1: the question's class is part of the match.
#[test]
fn an_answer_for_another_class_does_not_join() {
    let mut t = table();
    let q = query_msg(7, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q.clone(), CLIENT, RESOLVER, 0));
    let mut chaos = q.clone();
    chaos.queries[0].set_query_class(hickory_proto::rr::DNSClass::CH);
    let ans = answer_msg(&chaos, ResponseCode::NoError, vec![]);
    assert_eq!(
        t.on_answer(&event(ans, CLIENT, RESOLVER, 1)),
        Join::WrongTxid { answers: 1 }
    );
    // Twin: the same class joins.
    let ans = answer_msg(&q, ResponseCode::NoError, vec![]);
    assert!(matches!(
        t.on_answer(&event(ans, CLIENT, RESOLVER, 2)),
        Join::Answered { .. }
    ));
}

/// Many transactions through a small table: slots are reused, the index
/// stays consistent, every answer finds its query.
#[test]
fn slots_are_reused_without_mixing_entries() {
    let mut t = OutstandingTable::new(OutstandingConfig {
        max_entries: 64,
        warmup: Duration::ZERO,
        ..OutstandingConfig::default()
    });
    let clients = ["10.0.0.2:40000", "10.0.0.2:40001", "10.0.0.3:40000"];
    for n in 0..5_000u64 {
        let name = format!("www{}.secure.test.", n % 100);
        let q = query_msg(n as u16, &name, RecordType::A, true, false);
        let client = clients[(n % 3) as usize];
        t.on_query(&event(q.clone(), client, RESOLVER, n * 10));
        let ip = [192, 0, 2, (n % 250) as u8];
        let ans = answer_msg(&q, ResponseCode::NoError, vec![a(&name, ip)]);
        match t.on_answer(&event(ans, client, RESOLVER, n * 10 + 1)) {
            Join::Answered { query } => assert_eq!(query.id, n as u16),
            j => panic!("pair {n}: expected Answered, got {j:?}"),
        }
    }
    let s = t.stats();
    assert!(s.entries <= 64, "{s:?}");
    assert_eq!((s.joined, s.races, s.unsolicited), (5_000, 0, 0));
}

#[test]
fn ipv6_sockets_join_and_keep_apart() {
    let mut t = table();
    let (client, server) = ("[fd00::2]:40000", "[fd00::53]:53");
    let q = query_msg(7, "www.secure.test.", RecordType::AAAA, true, false);
    t.on_query(&event(q.clone(), client, server, 0));
    let ans = answer_msg(&q, ResponseCode::NoError, vec![]);
    // Twin first: the same answer toward another port or scope is not it.
    assert_eq!(
        t.on_answer(&event(ans.clone(), "[fd00::2]:40001", server, 1)),
        Join::Unsolicited
    );
    assert_eq!(
        t.on_answer(&event(ans.clone(), "[fd00::2%3]:40000", server, 1)),
        Join::Unsolicited
    );
    assert!(matches!(
        t.on_answer(&event(ans, client, server, 2)),
        Join::Answered { .. }
    ));
}

/// A socket whose entries all left frees its id for the next socket: the
/// next socket's queries neither join the first socket's answers nor lend
/// them a socket with "a query out" (which would turn an unsolicited
/// answer into a wrong-txid guess), and a burst reports the new socket's
/// query.
#[test]
fn a_freed_socket_id_serves_another_socket_without_mixing() {
    let mut t = table();
    let other = "10.0.0.9:41000";
    let q_old = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q_old.clone(), CLIENT, RESOLVER, 0));
    t.expire(crate::detect::testkit::at(20_000));
    assert_eq!(t.stats().entries, 0);
    // `other` now holds the id CLIENT had.
    let q_new = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q_new, other, RESOLVER, 20_001));
    let late = answer_msg(&q_old, ResponseCode::NoError, vec![]);
    assert_eq!(
        t.on_answer(&event(late, CLIENT, RESOLVER, 20_002)),
        Join::Unsolicited
    );
    let mut last = None;
    for (i, id) in [200u16, 201, 202].into_iter().enumerate() {
        let g = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        let ans = answer_msg(&g, ResponseCode::NoError, vec![]);
        last = Some(t.on_answer(&event(ans, other, RESOLVER, 20_003 + i as u64)));
    }
    assert!(
        matches!(&last, Some(Join::TxidBurst { answers: 3, query, .. }) if query.id == 2),
        "{last:?}"
    );
}

/// Entries of two sockets expiring in one sweep are logged with their own
/// addresses (each socket's id is released as its last entry goes).
#[test]
fn expired_entries_of_two_sockets_keep_their_addresses() {
    let mut t = table();
    t.log_expired();
    let other = "10.0.0.9:41000";
    let q1 = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    let q2 = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q1, CLIENT, RESOLVER, 0));
    t.on_query(&event(q2, other, "10.0.0.54:53", 1));
    t.expire(crate::detect::testkit::at(20_000));
    let e = t.take_expired();
    let got: Vec<_> = e
        .iter()
        .map(|e| (e.query.id, e.client.to_string(), e.server.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (1, CLIENT.to_string(), RESOLVER.to_string()),
            (2, other.to_string(), "10.0.0.54:53".to_string()),
        ]
    );
}

/// A socket with one query left keeps its id after a sibling entry is
/// answered and leaves: a wrong-txid answer still sees a query out.
#[test]
fn a_socket_keeps_its_id_while_any_entry_is_live() {
    let mut t = table();
    let q1 = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    let q2 = query_msg(2, "www.secure.test.", RecordType::A, true, false);
    t.on_query(&event(q1.clone(), CLIENT, RESOLVER, 0));
    t.on_query(&event(q2, CLIENT, RESOLVER, 5_000));
    let ans = answer_msg(&q1, ResponseCode::NoError, vec![]);
    assert!(matches!(
        t.on_answer(&event(ans, CLIENT, RESOLVER, 1)),
        Join::Answered { .. }
    ));
    // q1's race window (2 s) and then its timeout have passed; q2 is out.
    t.expire(crate::detect::testkit::at(11_000));
    assert_eq!(t.stats().entries, 1);
    let g = query_msg(9, "www.secure.test.", RecordType::A, true, false);
    let guess = answer_msg(&g, ResponseCode::NoError, vec![]);
    assert_eq!(
        t.on_answer(&event(guess, CLIENT, RESOLVER, 11_001)),
        Join::WrongTxid { answers: 1 }
    );
}
