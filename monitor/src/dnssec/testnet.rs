//! An in-process DNS "network" for tests and benches: authoritative servers
//! for zones signed at run time (ECDSA P-256 through hickory's signer, which
//! is independent of our validator's canonical form), answering through the
//! [`Transport`] trait. It implements just enough of RFC 1034 §4.3.2 and
//! RFC 4035 §3.1 (referrals with DS/NSEC, NODATA, NXDOMAIN, wildcards with
//! NSEC proofs, CNAME without chasing) to exercise the engine end to end.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, NSEC, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf, SigningKey, TBS};
use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};

use super::transport::{BoxFuture, Protocol, Transport, TransportError};

/// A zone signing key (flags 257, one key signs everything).
pub struct TestKey {
    key: EcdsaSigningKey,
    pub dnskey: DNSKEY,
    pub tag: u16,
}

impl TestKey {
    /// A fresh ECDSA P-256 key.
    pub fn generate() -> Self {
        let alg = Algorithm::ECDSAP256SHA256;
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(alg).expect("ring generates P-256 keys");
        let key = EcdsaSigningKey::from_pkcs8(&pkcs8, alg).expect("fresh PKCS#8 parses");
        let public = key.to_public_key().expect("public key of a fresh key");
        let dnskey = DNSKEY::new(
            true,
            true,
            false,
            PublicKeyBuf::new(
                hickory_proto::dnssec::PublicKey::public_bytes(&public).to_vec(),
                alg,
            ),
        );
        let tag = dnskey.calculate_key_tag().expect("key tag of a P-256 key");
        Self { key, dnskey, tag }
    }

    /// The SHA-256 DS of this key at `owner`.
    pub fn ds(&self, owner: &Name) -> DS {
        let digest = self
            .dnskey
            .to_digest(owner, DigestType::SHA256)
            .expect("SHA-256 digest");
        DS::new(
            self.tag,
            Algorithm::ECDSAP256SHA256,
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        )
    }

    /// An RRSIG record over `records` (one RRset) by this key for `zone`.
    pub fn sign(&self, zone: &Name, records: &[Record], inception: u32, expiration: u32) -> Record {
        let owner = records[0].name.clone();
        let input = SigInput {
            type_covered: records[0].record_type(),
            algorithm: Algorithm::ECDSAP256SHA256,
            num_labels: owner.num_labels(),
            original_ttl: records[0].ttl,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag: self.tag,
            signer_name: zone.clone(),
        };
        let tbs = TBS::from_input(&owner, DNSClass::IN, &input, records.iter()).expect("TBS");
        let sig = self.key.sign(&tbs).expect("ECDSA signing");
        Record::from_rdata(
            owner,
            records[0].ttl,
            RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
        )
    }
}

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

pub fn rec(owner: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(name(owner), ttl, data)
}

/// A DNAME record (RFC 6672), carried as opaque RDATA by hickory.
pub fn dname(owner: &str, target: &str) -> Record {
    use hickory_proto::serialize::binary::BinEncodable;
    let wire = name(target).to_bytes().expect("target name encodes");
    rec(
        owner,
        300,
        RData::Unknown {
            code: RecordType::DNAME,
            rdata: hickory_proto::rr::rdata::NULL::with(wire),
        },
    )
}

pub fn a(owner: &str, ip: [u8; 4]) -> Record {
    rec(owner, 300, RData::A(A::new(ip[0], ip[1], ip[2], ip[3])))
}

/// One zone: its records (NS at cuts, glue, DS at cuts) and, once signed,
/// DNSKEY, NSEC chain and RRSIGs.
pub struct Zone {
    pub origin: Name,
    pub records: Vec<Record>,
    pub key: Option<TestKey>,
}

impl Zone {
    /// A zone with SOA and `NS ns.<origin>` + its address.
    pub fn new(origin: &str, ns_ip: [u8; 4]) -> Self {
        let o = name(origin);
        let ns = if o.is_root() {
            name("ns.root-servers.test.")
        } else {
            o.prepend_label("ns").expect("ns label")
        };
        let soa = SOA::new(
            ns.clone(),
            name("hostmaster.test."),
            1,
            3600,
            600,
            86400,
            300,
        );
        let mut records = vec![
            Record::from_rdata(o.clone(), 3600, RData::SOA(soa)),
            Record::from_rdata(o.clone(), 3600, RData::NS(NS(ns.clone()))),
        ];
        if o.zone_of(&ns) {
            records.push(Record::from_rdata(
                ns,
                3600,
                RData::A(A::new(ns_ip[0], ns_ip[1], ns_ip[2], ns_ip[3])),
            ));
        }
        Self {
            origin: o,
            records,
            key: None,
        }
    }

    pub fn add(&mut self, r: Record) -> &mut Self {
        self.records.push(r);
        self
    }

    /// Delegates `child` (served at `ip`); with `ds` when the child is signed.
    pub fn delegate(&mut self, child: &Zone, ip: [u8; 4], ds: Option<DS>) -> &mut Self {
        let ns = child.origin.prepend_label("ns").expect("ns label");
        self.records.push(Record::from_rdata(
            child.origin.clone(),
            3600,
            RData::NS(NS(ns.clone())),
        ));
        self.records.push(Record::from_rdata(
            ns,
            3600,
            RData::A(A::new(ip[0], ip[1], ip[2], ip[3])),
        ));
        if let Some(ds) = ds {
            self.records.push(Record::from_rdata(
                child.origin.clone(),
                3600,
                RData::DNSSEC(DNSSECRData::DS(ds)),
            ));
        }
        self
    }

    /// Zone cuts inside this zone (owners of NS other than the apex).
    fn cuts(&self) -> Vec<Name> {
        let mut cuts: Vec<Name> = self
            .records
            .iter()
            .filter(|r| r.record_type() == RecordType::NS && r.name != self.origin)
            .map(|r| r.name.clone())
            .collect();
        cuts.dedup();
        cuts
    }

    fn below_cut(&self, n: &Name) -> Option<Name> {
        self.cuts().into_iter().find(|c| c.zone_of(n))
    }

    /// Signs with a fresh key: DNSKEY, NSEC chain, RRSIG over every
    /// authoritative RRset (RFC 4035 §2), window [inception, expiration].
    pub fn sign(&mut self, inception: u32, expiration: u32) -> &mut Self {
        let key = TestKey::generate();
        self.records.push(Record::from_rdata(
            self.origin.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::DNSKEY(key.dnskey.clone())),
        ));
        // NSEC chain over authoritative owners and cuts (not glue).
        let mut owners: Vec<Name> = self
            .records
            .iter()
            .map(|r| r.name.clone())
            .filter(|n| match self.below_cut(n) {
                Some(c) => c == *n,
                None => true,
            })
            .collect();
        owners.sort();
        owners.dedup();
        for (i, o) in owners.iter().enumerate() {
            let next = owners[(i + 1) % owners.len()].clone();
            let is_cut = self.below_cut(o).is_some();
            let mut types: Vec<RecordType> = self
                .records
                .iter()
                .filter(|r| r.name == *o)
                .map(|r| r.record_type())
                .collect();
            types.dedup();
            if !is_cut || types.contains(&RecordType::DS) {
                types.push(RecordType::RRSIG);
            }
            types.push(RecordType::NSEC);
            self.records.push(Record::from_rdata(
                o.clone(),
                300,
                RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(next, types))),
            ));
        }
        // RRSIGs over every authoritative RRset.
        let mut sets: Vec<(Name, RecordType)> = Vec::new();
        for r in &self.records {
            let k = (r.name.clone(), r.record_type());
            if !sets.contains(&k) {
                sets.push(k);
            }
        }
        let mut sigs = Vec::new();
        for (owner, rtype) in sets {
            if let Some(cut) = self.below_cut(&owner)
                && !(cut == owner && (rtype == RecordType::DS || rtype == RecordType::NSEC))
            {
                continue; // NS at a cut and glue are not signed
            }
            let set: Vec<Record> = self
                .records
                .iter()
                .filter(|r| r.name == owner && r.record_type() == rtype)
                .cloned()
                .collect();
            sigs.push(key.sign(&self.origin, &set, inception, expiration));
        }
        self.records.extend(sigs);
        self.key = Some(key);
        self
    }

    fn rrset(&self, owner: &Name, rtype: RecordType) -> Vec<Record> {
        self.records
            .iter()
            .filter(|r| r.name == *owner && r.record_type() == rtype)
            .cloned()
            .collect()
    }

    fn sigs(&self, owner: &Name, covered: RecordType) -> Vec<Record> {
        self.records
            .iter()
            .filter(|r| {
                r.name == *owner
                    && matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == covered)
            })
            .cloned()
            .collect()
    }

    fn with_sigs(&self, owner: &Name, rtype: RecordType) -> Vec<Record> {
        let mut v = self.rrset(owner, rtype);
        if !v.is_empty() {
            v.extend(self.sigs(owner, rtype));
        }
        v
    }

    /// The NSEC (with its RRSIG) whose owner is `n` or whose span covers `n`.
    fn nsec_for(&self, n: &Name) -> Vec<Record> {
        let nsecs: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| r.record_type() == RecordType::NSEC)
            .collect();
        let hit = nsecs.iter().find(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(x)) => {
                let next = x.next_domain_name();
                r.name == *n || (r.name < *n && (n < next || *next == self.origin))
            }
            _ => false,
        });
        match hit {
            Some(r) => {
                let mut v = vec![(*r).clone()];
                v.extend(self.sigs(&r.name, RecordType::NSEC));
                v
            }
            None => Vec::new(),
        }
    }

    fn exists(&self, n: &Name) -> bool {
        self.records.iter().any(|r| n.zone_of(&r.name))
    }

    /// The authoritative answer to (qname, qtype) from this zone.
    fn answer(&self, qname: &Name, qtype: RecordType, resp: &mut Message) {
        let signed = self.key.is_some();
        let soa = |resp: &mut Message| {
            resp.authorities
                .extend(self.with_sigs(&self.origin, RecordType::SOA))
        };
        if let Some(cut) = self.below_cut(qname)
            && !(qtype == RecordType::DS && cut == *qname)
        {
            resp.authorities.extend(self.rrset(&cut, RecordType::NS));
            let ds = self.with_sigs(&cut, RecordType::DS);
            if ds.is_empty() && signed {
                resp.authorities.extend(self.nsec_for(&cut));
            }
            resp.authorities.extend(ds);
            for ns in self.rrset(&cut, RecordType::NS) {
                if let RData::NS(NS(target)) = &ns.data {
                    resp.additionals.extend(self.rrset(target, RecordType::A));
                }
            }
            return;
        }
        resp.metadata.authoritative = true;
        // DNAME at a proper ancestor (RFC 6672 §3.2): DNAME + synthesized CNAME.
        let mut anc = qname.base_name();
        while self.origin.zone_of(&anc) {
            if let Some(d) = self.rrset(&anc, RecordType::DNAME).first()
                && let RData::Unknown { rdata, .. } = &d.data
            {
                use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
                let target =
                    Name::read(&mut BinDecoder::new(&rdata.anything)).expect("DNAME target");
                let keep = qname.iter().count() - anc.iter().count();
                let synth = Name::from_labels(qname.iter().take(keep))
                    .expect("labels")
                    .append_name(&target)
                    .expect("name");
                resp.answers.extend(self.with_sigs(&anc, RecordType::DNAME));
                resp.answers.push(Record::from_rdata(
                    qname.clone(),
                    d.ttl,
                    RData::CNAME(CNAME(synth)),
                ));
                return;
            }
            if anc == self.origin {
                break;
            }
            anc = anc.base_name();
        }
        // An existing name or an empty non-terminal (RFC 4592 §2.2.2).
        if self.exists(qname) {
            let direct = self.with_sigs(qname, qtype);
            if !direct.is_empty() {
                resp.answers.extend(direct);
            } else if !self.rrset(qname, RecordType::CNAME).is_empty() {
                resp.answers
                    .extend(self.with_sigs(qname, RecordType::CNAME));
            } else {
                soa(resp);
                resp.authorities.extend(self.nsec_for(qname));
            }
            return;
        }
        // Closest encloser and wildcard (RFC 4592).
        let mut ce = qname.base_name();
        while !self.exists(&ce) && ce != self.origin && !ce.is_root() {
            ce = ce.base_name();
        }
        let wild = ce.prepend_label("*").expect("wildcard label");
        let wild_set = self.rrset(&wild, qtype);
        if !wild_set.is_empty() {
            for mut r in wild_set.into_iter().chain(self.sigs(&wild, qtype)) {
                r.name = qname.clone();
                resp.answers.push(r);
            }
            resp.authorities.extend(self.nsec_for(qname));
        } else if self.records.iter().any(|r| r.name == wild) {
            soa(resp);
            resp.authorities.extend(self.nsec_for(qname));
            resp.authorities.extend(self.nsec_for(&wild));
        } else {
            resp.metadata.response_code = ResponseCode::NXDomain;
            soa(resp);
            let a = self.nsec_for(qname);
            let b = self.nsec_for(&wild);
            let same = a.first().map(|r| r.name.clone()) == b.first().map(|r| r.name.clone());
            resp.authorities.extend(a);
            if !same {
                resp.authorities.extend(b);
            }
        }
    }
}

/// Rewrites every answer a test network gives (strip proofs, corrupt data).
pub type Mutator = Box<dyn Fn(&Name, RecordType, &mut Message) + Send + Sync>;

/// Servers by address; each serves one or more zones.
#[derive(Default)]
pub struct TestNet {
    servers: HashMap<IpAddr, Vec<Zone>>,
    mutators: Vec<Mutator>,
    /// Answer every UDP query with an empty TC=1 message (forces TCP).
    pub truncate_udp: bool,
    pub queries: AtomicU64,
    pub log: Mutex<Vec<(IpAddr, Name, RecordType)>>,
}

impl TestNet {
    pub fn serve(&mut self, ip: [u8; 4], zone: Zone) -> &mut Self {
        self.servers.entry(IpAddr::from(ip)).or_default().push(zone);
        self
    }

    /// Every zone moved to one server at `ip` (like one nsd hosting parent
    /// and children, or a recursive server for upstream-mode tests).
    pub fn single_server(mut self, ip: [u8; 4]) -> Self {
        let zones: Vec<Zone> = self.servers.drain().flat_map(|(_, z)| z).collect();
        self.servers.insert(IpAddr::from(ip), zones);
        self
    }

    pub fn mutate(&mut self, m: Mutator) -> &mut Self {
        self.mutators.push(m);
        self
    }

    fn respond(
        &self,
        server: SocketAddr,
        protocol: Protocol,
        query: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        let mismatch = |why: String| TransportError::Mismatch { server, why };
        let q = Message::from_vec(query).map_err(|e| mismatch(e.to_string()))?;
        let question = q
            .queries
            .first()
            .ok_or_else(|| mismatch("no question".into()))?;
        let (qname, qtype) = (question.name().clone(), question.query_type());
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push((
            server.ip(),
            qname.clone(),
            qtype,
        ));
        let zones = self
            .servers
            .get(&server.ip())
            .ok_or(TransportError::Timeout {
                server,
                timeout_ms: 0,
            })?;
        let mut resp = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
        resp.metadata.recursion_desired = q.metadata.recursion_desired;
        resp.add_query(question.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(true);
        resp.set_edns(edns);
        // The deepest zone holding qname; for DS at a cut, the parent side.
        let zone = zones
            .iter()
            .filter(|z| {
                z.origin.zone_of(&qname)
                    && !(qtype == RecordType::DS && z.origin == qname && !qname.is_root())
            })
            .max_by_key(|z| z.origin.iter().count());
        match zone {
            Some(_) if self.truncate_udp && protocol == Protocol::Udp => {
                resp.metadata.truncation = true
            }
            Some(z) => z.answer(&qname, qtype, &mut resp),
            None => resp.metadata.response_code = ResponseCode::Refused,
        }
        for m in &self.mutators {
            m(&qname, qtype, &mut resp);
        }
        resp.to_vec().map_err(|e| mismatch(e.to_string()))
    }
}

impl Transport for TestNet {
    fn exchange<'a>(
        &'a self,
        server: SocketAddr,
        protocol: Protocol,
        query: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>> {
        Box::pin(async move { self.respond(server, protocol, query) })
    }
}

#[path = "testnet_hierarchy.rs"]
mod hierarchy;
pub use hierarchy::{NOW, standard_hierarchy};
