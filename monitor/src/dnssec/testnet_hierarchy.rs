//! The standard signed test hierarchy served by [`TestNet`]: root → test. →
//! secure/other/unsigned/broken/expired/nokey/keytrap.test., one server per
//! zone on 198.18.0.x (RFC 2544 benchmarking space, never routed here).

use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, RRSIG};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{RData, Record, RecordType, SerialNumber};

use super::{Mutator, TestKey, TestNet, Zone, a, dname, name, rec};

/// The validation time of the standard hierarchy.
pub const NOW: u32 = 1_700_000_000;
const DAY: u32 = 86_400;

/// root → test. → {secure, other, unsigned, broken, expired, nokey,
/// keytrap}.test., each zone on its own 198.18.0.x address; returns the
/// network and the root key (the trust anchor).
pub fn standard_hierarchy(mutators: Vec<Mutator>) -> (TestNet, DNSKEY) {
    let (inc, exp) = (NOW - DAY, NOW + 30 * DAY);
    let ip = |n: u8| [198, 18, 0, n];

    let mut secure = Zone::new("secure.test.", ip(3));
    secure
        .add(a("www.secure.test.", [192, 0, 2, 1]))
        .add(rec(
            "alias.secure.test.",
            300,
            RData::CNAME(CNAME(name("www.other.test."))),
        ))
        .add(rec(
            "loop.secure.test.",
            300,
            RData::CNAME(CNAME(name("nx.other.test."))),
        ))
        .add(a("*.wild.secure.test.", [192, 0, 2, 9]))
        .add(a("x.sub.secure.test.", [192, 0, 2, 10]))
        .add(dname("dn.secure.test.", "other.test."))
        .sign(inc, exp);
    let mut other = Zone::new("other.test.", ip(4));
    other
        .add(a("www.other.test.", [192, 0, 2, 2]))
        .sign(inc, exp);
    let mut unsigned = Zone::new("unsigned.test.", ip(5));
    unsigned.add(a("www.unsigned.test.", [192, 0, 2, 3]));
    let mut broken = Zone::new("broken.test.", ip(6));
    broken
        .add(a("www.broken.test.", [192, 0, 2, 4]))
        .sign(inc, exp);
    for r in broken.records.iter_mut() {
        if r.name == name("www.broken.test.")
            && let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data
            && sig.input().type_covered == RecordType::A
        {
            let mut bytes = sig.sig().to_vec();
            bytes[10] ^= 0x55;
            r.data = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(
                sig.input().clone(),
                bytes,
            )));
        }
    }
    let mut expired = Zone::new("expired.test.", ip(7));
    expired
        .add(a("www.expired.test.", [192, 0, 2, 5]))
        .sign(NOW - 40 * DAY, NOW - 10 * DAY);
    let mut nokey = Zone::new("nokey.test.", ip(8));
    nokey
        .add(a("www.nokey.test.", [192, 0, 2, 6]))
        .sign(inc, exp);
    let stray = TestKey::generate();
    let mut keytrap = Zone::new("keytrap.test.", ip(9));
    keytrap
        .add(a("www.keytrap.test.", [192, 0, 2, 7]))
        .sign(inc, exp);
    // KeyTrap-style: 100 signatures over one RRset that all name the zone's key, none valid.
    let trap_key_tag = keytrap.key.as_ref().map(|k| k.tag).unwrap_or(0);
    let real: Vec<Record> = keytrap
        .records
        .iter()
        .filter(|r| r.name == name("www.keytrap.test.") && r.record_type() == RecordType::RRSIG)
        .cloned()
        .collect();
    keytrap
        .records
        .retain(|r| !(r.name == name("www.keytrap.test.") && r.record_type() == RecordType::RRSIG));
    for i in 1..=100u32 {
        if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &real[0].data {
            let mut input = sig.input().clone();
            input.key_tag = trap_key_tag;
            input.sig_inception = SerialNumber::new(inc + i);
            keytrap.records.push(Record::from_rdata(
                real[0].name.clone(),
                300,
                RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(
                    input,
                    sig.sig().to_vec(),
                ))),
            ));
        }
    }

    let ds = |z: &Zone| z.key.as_ref().map(|k| k.ds(&z.origin));
    let mut test = Zone::new("test.", ip(2));
    test.delegate(&secure, ip(3), ds(&secure))
        .delegate(&other, ip(4), ds(&other))
        .delegate(&unsigned, ip(5), None)
        .delegate(&broken, ip(6), ds(&broken))
        .delegate(&expired, ip(7), ds(&expired))
        .delegate(&nokey, ip(8), Some(stray.ds(&nokey.origin)))
        .delegate(&keytrap, ip(9), ds(&keytrap))
        .sign(inc, exp);
    let mut root = Zone::new(".", ip(1));
    root.delegate(&test, ip(2), ds(&test)).sign(inc, exp);
    let anchor = root
        .key
        .as_ref()
        .map(|k| k.dnskey.clone())
        .expect("root is signed");

    let mut net = TestNet::default();
    for (n, z) in [
        (1, root),
        (2, test),
        (3, secure),
        (4, other),
        (5, unsigned),
        (6, broken),
        (7, expired),
        (8, nokey),
        (9, keytrap),
    ] {
        net.serve(ip(n), z);
    }
    for m in mutators {
        net.mutate(m);
    }
    (net, anchor)
}
