use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::dnssec::Algorithm;
use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG, SigInput};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};

use super::*;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn rec(owner: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(name(owner), ttl, data)
}

fn a(owner: &str, ip: [u8; 4]) -> Record {
    rec(owner, 300, RData::A(A(Ipv4Addr::from(ip))))
}

fn answer(rcode: ResponseCode, answers: Vec<Record>) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.response_code = rcode;
    m.answers = answers;
    m
}

fn q(qname: &str, qtype: RecordType) -> Query {
    Query::query(name(qname), qtype)
}

#[test]
fn question_ignores_case_but_not_name_type_or_class() {
    let f = Fingerprints::default();
    let base = f.question(&q("www.secure.test.", RecordType::A));
    assert_eq!(base, f.question(&q("WwW.SeCuRe.TEST.", RecordType::A)));
    assert_ne!(base, f.question(&q("www.secure.test.", RecordType::AAAA)));
    assert_ne!(base, f.question(&q("ww.wsecure.test.", RecordType::A)));
    let mut chaos = q("www.secure.test.", RecordType::A);
    chaos.set_query_class(DNSClass::CH);
    assert_ne!(base, f.question(&chaos));
}

#[test]
fn label_boundaries_count() {
    let f = Fingerprints::default();
    // Same letters, other labels: wire form (length octets) tells them apart.
    assert_ne!(
        f.question(&q("ab.c.", RecordType::A)),
        f.question(&q("a.bc.", RecordType::A))
    );
}

#[test]
fn answer_digest_ignores_order_ttl_owner_case_and_rrsig() {
    let f = Fingerprints::default();
    let one = answer(
        ResponseCode::NoError,
        vec![
            a("www.test.", [192, 0, 2, 1]),
            a("www.test.", [192, 0, 2, 2]),
        ],
    );
    let mut other = answer(
        ResponseCode::NoError,
        vec![
            a("WWW.test.", [192, 0, 2, 2]),
            a("www.test.", [192, 0, 2, 1]),
        ],
    );
    other.answers[0].ttl = 17;
    assert_eq!(f.answer(&one), f.answer(&other));
    // A signature over the same data, present in one copy only.
    other.answers.push(rrsig("www.test.", 7));
    assert_eq!(f.answer(&one), f.answer(&other));
    // Twin: an A record added instead does change it.
    other.answers.push(a("www.test.", [192, 0, 2, 3]));
    assert_ne!(f.answer(&one), f.answer(&other));
}

fn rrsig(owner: &str, byte: u8) -> Record {
    let input = SigInput {
        type_covered: RecordType::A,
        algorithm: Algorithm::ECDSAP256SHA256,
        num_labels: 2,
        original_ttl: 300,
        sig_expiration: SerialNumber::new(2_000_000_000),
        sig_inception: SerialNumber::new(1_000_000_000),
        key_tag: 1,
        signer_name: name("test."),
    };
    rec(
        owner,
        300,
        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, vec![byte; 64]))),
    )
}

#[test]
fn answer_digest_tells_data_rcode_and_multiplicity_apart() {
    let f = Fingerprints::default();
    let good = answer(ResponseCode::NoError, vec![a("www.test.", [192, 0, 2, 1])]);
    let forged = answer(ResponseCode::NoError, vec![a("www.test.", [6, 6, 6, 6])]);
    let nx = answer(ResponseCode::NXDomain, vec![]);
    let nodata = answer(ResponseCode::NoError, vec![]);
    let twice = answer(
        ResponseCode::NoError,
        vec![
            a("www.test.", [192, 0, 2, 1]),
            a("www.test.", [192, 0, 2, 1]),
        ],
    );
    let elsewhere = answer(ResponseCode::NoError, vec![a("ww.test.", [192, 0, 2, 1])]);
    let d = [&good, &forged, &nx, &nodata, &twice, &elsewhere].map(|m| f.answer(m));
    for i in 0..d.len() {
        for j in i + 1..d.len() {
            assert_ne!(d[i], d[j], "answers {i} and {j}");
        }
    }
}

#[test]
fn another_table_keys_its_digests_differently() {
    let m = answer(ResponseCode::NoError, vec![a("www.test.", [192, 0, 2, 1])]);
    assert_ne!(
        Fingerprints::default().answer(&m),
        Fingerprints::default().answer(&m)
    );
}

/// The inline form renders exactly what rendering the records renders.
#[test]
fn inline_addresses_render_like_the_records() {
    let v6 = |s: &str| RData::AAAA(AAAA(s.parse::<Ipv6Addr>().unwrap()));
    let cases = [
        vec![],
        vec![a("www.test.", [192, 0, 2, 1])],
        // "192.0.2.10" sorts before "192.0.2.2" as text.
        vec![
            a("www.test.", [192, 0, 2, 2]),
            a("WWW.test.", [192, 0, 2, 10]),
            rec("www.test.", 60, v6("2001:db8::1")),
            a("www.test.", [10, 0, 0, 1]),
        ],
    ];
    for (i, records) in cases.into_iter().enumerate() {
        for rcode in [ResponseCode::NoError, ResponseCode::NXDomain] {
            let m = answer(rcode, records.clone());
            let fa = FirstAnswer::of(&m);
            assert!(matches!(fa, FirstAnswer::Addresses { .. }), "case {i}");
            assert_eq!(fa.render(), summary(rcode, &records), "case {i}");
        }
    }
    let m = answer(
        ResponseCode::NoError,
        vec![
            a("www.test.", [192, 0, 2, 2]),
            a("www.test.", [192, 0, 2, 10]),
        ],
    );
    assert_eq!(FirstAnswer::of(&m).render(), "NOERROR 192.0.2.10,192.0.2.2");
}

#[test]
fn other_answers_are_kept_as_records_without_rrsig() {
    let cname = rec("www.test.", 300, RData::CNAME(CNAME(name("web.test."))));
    let txt = rec("t.test.", 300, RData::TXT(TXT::new(vec!["hi".into()])));
    let five: Vec<Record> = (1..=5).map(|i| a("www.test.", [192, 0, 2, i])).collect();
    let two_owners = vec![a("a.test.", [192, 0, 2, 1]), a("b.test.", [192, 0, 2, 2])];
    for records in [
        vec![cname, a("web.test.", [192, 0, 2, 1])],
        vec![a("www.test.", [192, 0, 2, 1]), rrsig("www.test.", 1)],
        vec![txt],
        five,
        two_owners,
    ] {
        let m = answer(ResponseCode::NoError, records.clone());
        let fa = FirstAnswer::of(&m);
        let shown: Vec<Record> = records
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
            .cloned()
            .collect();
        assert_eq!(fa.render(), summary(ResponseCode::NoError, &shown));
        if shown.len() == records.len() {
            assert!(matches!(fa, FirstAnswer::Records { .. }), "{records:?}");
        } else {
            assert_eq!(fa.render(), "NOERROR 192.0.2.1", "RRSIG not shown");
        }
    }
}

/// The word-at-a-time lowercasing against the byte one, on every byte value.
#[test]
fn lowercase_matches_the_standard_library() {
    let mut all = [0u8; 256];
    for (i, b) in all.iter_mut().enumerate() {
        *b = i as u8;
    }
    for n in [0, 1, 7, 8, 9, 255, 256] {
        let mut buf = all;
        let got = lowercase(&mut buf, n).to_vec();
        assert_eq!(got, all[..n].to_ascii_lowercase(), "n = {n}");
    }
}
