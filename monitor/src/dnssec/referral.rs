//! What a referral tells the iterative resolver (RFC 1034 §4.3.2, RFC 2181
//! §5.4.1): the servers of the child zone from in-bailiwick glue (or glue
//! seen earlier), NS names to resolve when there is none, out-of-bailiwick
//! addresses kept only as a last resort, and the DS RRset or its NSEC/NSEC3
//! denial that a signed parent adds (RFC 4035 §3.1.4), kept for the chain.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};

use super::{MAX_DELEGATION_TTL, MAX_GLUELESS_NS, ResolveError, Resolver, Work};

impl Resolver {
    /// Keeps the DS RRset (or the NSEC/NSEC3 records denying it) that a
    /// signed parent put in its referral, so the chain need not ask again.
    /// The records are validated by the chain like any DS answer.
    pub(super) fn remember_referral_ds(&self, msg: &Message, child: &Name) {
        use hickory_proto::dnssec::rdata::DNSSECRData;
        let covered = |r: &hickory_proto::rr::Record| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().type_covered),
            _ => None,
        };
        let ds: Vec<_> = msg
            .authorities
            .iter()
            .filter(|r| {
                r.name == *child
                    && (r.record_type() == RecordType::DS || covered(r) == Some(RecordType::DS))
            })
            .cloned()
            .collect();
        let denial: Vec<_> = msg
            .authorities
            .iter()
            .filter(|r| {
                let t = covered(r).unwrap_or(r.record_type());
                t == RecordType::NSEC || t == RecordType::NSEC3
            })
            .cloned()
            .collect();
        let has_ds = ds.iter().any(|r| r.record_type() == RecordType::DS);
        if !has_ds && denial.is_empty() {
            return;
        }
        let mut answer = Message::new(msg.metadata.id, MessageType::Response, OpCode::Query);
        answer.add_query(Query::query(child.clone(), RecordType::DS));
        let records = if has_ds { &ds } else { &denial };
        let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
        if has_ds {
            answer.answers = ds;
        } else {
            answer.authorities = denial;
        }
        let bytes = 512 + 256 * (answer.answers.len() + answer.authorities.len());
        self.referral_ds.insert(
            child.clone(),
            Arc::new(answer),
            ttl.min(MAX_DELEGATION_TTL),
            bytes,
            &self.clock,
        );
    }

    /// Keeps in-bailiwick glue addresses (of `zone`) for NS names, so a
    /// glueless delegation can use glue seen earlier (parent-side addresses).
    pub(super) fn remember_glue(
        &self,
        additionals: &[hickory_proto::rr::Record],
        _child: &Name,
        zone: &Name,
    ) {
        let mut by_name: Vec<(Name, Vec<SocketAddr>, u32)> = Vec::new();
        for r in additionals.iter().filter(|r| zone.zone_of(&r.name)) {
            let addr = match &r.data {
                RData::A(a) => SocketAddr::new(IpAddr::V4(a.0), 53),
                RData::AAAA(a) => SocketAddr::new(IpAddr::V6(a.0), 53),
                _ => continue,
            };
            match by_name.iter_mut().find(|(n, _, _)| *n == r.name) {
                Some((_, v, ttl)) => {
                    v.push(addr);
                    *ttl = (*ttl).min(r.ttl);
                }
                None => by_name.push((r.name.clone(), vec![addr], r.ttl)),
            }
        }
        for (n, v, ttl) in by_name {
            let bytes = 64 + v.len() * 32;
            self.glue.insert(
                n,
                Arc::new(v),
                ttl.min(MAX_DELEGATION_TTL),
                bytes,
                &self.clock,
            );
        }
    }

    /// Addresses of the servers a referral points to: glue in bailiwick of
    /// the delegating `zone` (RFC 2181 §5.4.1) or seen earlier, and the NS
    /// names still without an address (resolved only when needed).
    pub(super) fn referral_servers(
        &self,
        msg: &Message,
        zone: &Name,
        child: &Name,
    ) -> (Vec<SocketAddr>, Vec<Name>, Vec<SocketAddr>) {
        let ns_names: Vec<Name> = msg
            .authorities
            .iter()
            .filter(|r| r.name == *child)
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        self.remember_glue(&msg.additionals, child, zone);
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut glueless = Vec::new();
        // Out-of-bailiwick "glue": never trusted first, only a last resort
        // to break a delegation cycle whose names resolve nowhere else.
        let last_resort: Vec<SocketAddr> = msg
            .additionals
            .iter()
            .filter(|r| ns_names.contains(&r.name) && !zone.zone_of(&r.name))
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(SocketAddr::new(IpAddr::V4(a.0), 53)),
                RData::AAAA(a) => Some(SocketAddr::new(IpAddr::V6(a.0), 53)),
                _ => None,
            })
            .collect();
        for ns in &ns_names {
            let mut found = false;
            for r in msg
                .additionals
                .iter()
                .filter(|r| r.name == *ns && zone.zone_of(&r.name))
            {
                match &r.data {
                    RData::A(a) => v4.push(SocketAddr::new(IpAddr::V4(a.0), 53)),
                    RData::AAAA(a) => v6.push(SocketAddr::new(IpAddr::V6(a.0), 53)),
                    _ => continue,
                }
                found = true;
            }
            if !found {
                match self.glue.get(ns, &self.clock) {
                    Some(v) => v4.extend(v.iter().copied()),
                    // Names inside `child` without glue cannot be resolved
                    // (they need this very referral).
                    None if !child.zone_of(ns) => glueless.push(ns.clone()),
                    None => {}
                }
            }
        }
        v4.extend(v6);
        v4.dedup();
        (v4, glueless, last_resort)
    }

    /// Resolves glueless NS names (a few, bounded by nesting) to addresses.
    pub(super) async fn resolve_ns_names(
        &self,
        work: &mut Work,
        roots: &[SocketAddr],
        names: &[Name],
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        let mut out = Vec::new();
        if work.nesting >= 4 {
            return Ok(out);
        }
        for ns in names.iter().take(MAX_GLUELESS_NS) {
            for rtype in [RecordType::A, RecordType::AAAA] {
                work.nesting += 1;
                let r = Box::pin(self.iterate(work, roots.to_vec(), ns, rtype)).await;
                work.nesting -= 1;
                let resp = match r {
                    Ok(resp) => resp,
                    Err(e @ ResolveError::Budget(_)) => return Err(e),
                    Err(_) => continue,
                };
                for rec in resp.message.answers.iter().filter(|r| r.name == *ns) {
                    match &rec.data {
                        RData::A(a) => out.push(SocketAddr::new(IpAddr::V4(a.0), 53)),
                        RData::AAAA(a) => out.push(SocketAddr::new(IpAddr::V6(a.0), 53)),
                        _ => {}
                    }
                }
                if !out.is_empty() {
                    break;
                }
            }
            // Parent-side glue seen on the way is a fallback when the child's
            // own addresses are lame (parent/child differences).
            if let Some(v) = self.glue.get(ns, &self.clock) {
                for a in v.iter() {
                    if !out.contains(a) {
                        out.push(*a);
                    }
                }
            }
            if !out.is_empty() {
                break;
            }
        }
        Ok(out)
    }
}
