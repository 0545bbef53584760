//! Posture rows for `dnssec-monitor report` (schema version 2): periodic
//! per-resolver aggregates and per-name observations (verdict, zone,
//! algorithms, DS key tags, earliest signature expiry, the resolver that
//! answered, AD, the asking process), each aggregated over one interval
//! by the detection stage and written together in one transaction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::params;

use super::{
    db::{Store, StoreError},
    record::{normalize_name, reversed_name, time_ns},
};

/// One resolver over one interval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolverStat {
    pub start: Option<SystemTime>,
    pub end: Option<SystemTime>,
    /// `ip:port`.
    pub resolver: String,
    pub queries: u64,
    pub answers: u64,
    pub unanswered: u64,
    pub servfail: u64,
    pub refused: u64,
    /// Answers for names found Secure, and those with AD.
    pub secure_answers: u64,
    pub secure_ad: u64,
    /// Latency histogram, sparse (`crate::detect::latency`): (bucket, count).
    pub latency: Vec<(u8, u32)>,
}

/// One name as resolved by one process through one resolver, over one
/// interval, with the independent verdict last seen for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameObservation {
    pub first: Option<SystemTime>,
    pub last: Option<SystemTime>,
    pub qname: String,
    pub qtype: u16,
    /// The `[[critical]]` label the name matched, if any.
    pub label: Option<String>,
    /// The deepest zone on the validated chain.
    pub zone: Option<String>,
    /// `secure`, `insecure`, `bogus`, `indeterminate`.
    pub outcome: String,
    pub reason: Option<String>,
    /// DNSSEC algorithm numbers of the zone's signatures.
    pub algorithms: Vec<u8>,
    pub ds_key_tags: Vec<u16>,
    /// The earliest expiration of the signatures the verdict rested on.
    pub sig_expiration: Option<SystemTime>,
    pub resolver: Option<String>,
    pub answers: u64,
    pub ad_answers: u64,
    pub pid: Option<u32>,
    pub process: Option<String>,
    pub container_id: Option<String>,
}

/// An alert as the report lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAlert {
    pub time: SystemTime,
    pub rule: String,
    /// ECS `event.severity` (risk score).
    pub severity: i64,
    pub detail: String,
    /// The full alert JSON.
    pub json: String,
}

/// What the detection stage hands over once per interval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Posture {
    pub resolvers: Vec<ResolverStat>,
    pub names: Vec<NameObservation>,
}

impl Posture {
    pub fn is_empty(&self) -> bool {
        self.resolvers.is_empty() && self.names.is_empty()
    }
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

fn split<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn latency_text(v: &[(u8, u32)]) -> String {
    v.iter()
        .map(|(b, c)| format!("{b}:{c}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn latency_parse(s: &str) -> Vec<(u8, u32)> {
    s.split(',')
        .filter_map(|p| {
            let (b, c) = p.split_once(':')?;
            Some((b.parse().ok()?, c.parse().ok()?))
        })
        .collect()
}

fn from_ns(ns: Option<i64>) -> Option<SystemTime> {
    let ns = ns?;
    Some(if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    })
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Write one interval's posture rows in one transaction.
    pub fn write_posture(&mut self, p: &Posture) -> Result<(), StoreError> {
        if p.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut r = tx.prepare_cached(
                "INSERT INTO resolver_stats (start_ns, time_ns, resolver, queries, answers, unanswered,
                 servfail, refused, secure_answers, secure_ad, latency)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for s in &p.resolvers {
                r.execute(params![
                    time_ns(s.start),
                    time_ns(s.end),
                    s.resolver,
                    s.queries as i64,
                    s.answers as i64,
                    s.unanswered as i64,
                    s.servfail as i64,
                    s.refused as i64,
                    s.secure_answers as i64,
                    s.secure_ad as i64,
                    latency_text(&s.latency),
                ])?;
            }
            let mut n = tx.prepare_cached(
                "INSERT INTO name_observations (first_ns, time_ns, qname, qname_rev, qtype, label, zone,
                 outcome, reason, algorithms, ds_key_tags, sig_expiration_ns, resolver, answers,
                 ad_answers, pid, process, container_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            for o in &p.names {
                let name = normalize_name(&o.qname);
                n.execute(params![
                    time_ns(o.first),
                    time_ns(o.last),
                    name,
                    reversed_name(&name),
                    o.qtype,
                    o.label,
                    o.zone.as_deref().map(normalize_name),
                    o.outcome,
                    o.reason,
                    join(&o.algorithms),
                    join(&o.ds_key_tags),
                    o.sig_expiration.map(|t| time_ns(Some(t))),
                    o.resolver,
                    o.answers as i64,
                    o.ad_answers as i64,
                    o.pid,
                    o.process,
                    o.container_id,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Resolver aggregates whose interval ended at or after `since`, oldest first.
    pub fn resolver_stats_since(&self, since: SystemTime) -> Result<Vec<ResolverStat>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT start_ns, time_ns, resolver, queries, answers, unanswered, servfail, refused,
                    secure_answers, secure_ad, latency
             FROM resolver_stats WHERE time_ns >= ?1 ORDER BY time_ns, id",
        )?;
        let rows = stmt.query_map(params![time_ns(Some(since))], |r| {
            Ok(ResolverStat {
                start: from_ns(r.get(0)?),
                end: from_ns(r.get(1)?),
                resolver: r.get(2)?,
                queries: count(r.get(3)?),
                answers: count(r.get(4)?),
                unanswered: count(r.get(5)?),
                servfail: count(r.get(6)?),
                refused: count(r.get(7)?),
                secure_answers: count(r.get(8)?),
                secure_ad: count(r.get(9)?),
                latency: latency_parse(&r.get::<_, String>(10)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Name observations whose interval ended at or after `since`, oldest first.
    pub fn name_observations_since(
        &self,
        since: SystemTime,
    ) -> Result<Vec<NameObservation>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT first_ns, time_ns, qname, qtype, label, zone, outcome, reason, algorithms,
                    ds_key_tags, sig_expiration_ns, resolver, answers, ad_answers, pid, process,
                    container_id
             FROM name_observations WHERE time_ns >= ?1 ORDER BY time_ns, id",
        )?;
        let rows = stmt.query_map(params![time_ns(Some(since))], |r| {
            Ok(NameObservation {
                first: from_ns(r.get(0)?),
                last: from_ns(r.get(1)?),
                qname: r.get(2)?,
                qtype: r.get(3)?,
                label: r.get(4)?,
                zone: r.get(5)?,
                outcome: r.get(6)?,
                reason: r.get(7)?,
                algorithms: split(&r.get::<_, String>(8)?),
                ds_key_tags: split(&r.get::<_, String>(9)?),
                sig_expiration: from_ns(r.get(10)?),
                resolver: r.get(11)?,
                answers: count(r.get(12)?),
                ad_answers: count(r.get(13)?),
                pid: r.get(14)?,
                process: r.get(15)?,
                container_id: r.get(16)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Alerts at or after `since`, newest first, at most `limit`.
    pub fn alerts_since(
        &self,
        since: SystemTime,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT time_ns, rule, severity, detail, json FROM alerts
             WHERE time_ns >= ?1 ORDER BY time_ns DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![time_ns(Some(since)), limit.min(i64::MAX as usize) as i64],
            |r| {
                Ok(StoredAlert {
                    time: from_ns(r.get(0)?).unwrap_or(UNIX_EPOCH),
                    rule: r.get(1)?,
                    severity: r.get(2)?,
                    detail: r.get(3)?,
                    json: r.get(4)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    fn posture(at: u64) -> Posture {
        Posture {
            resolvers: vec![ResolverStat {
                start: Some(t(at)),
                end: Some(t(at + 60)),
                resolver: "10.0.0.53:53".into(),
                queries: 10,
                answers: 9,
                unanswered: 1,
                servfail: 2,
                refused: 0,
                secure_answers: 4,
                secure_ad: 3,
                latency: vec![(10, 5), (20, 4)],
            }],
            names: vec![NameObservation {
                first: Some(t(at)),
                last: Some(t(at + 30)),
                qname: "Login.Example.COM.".into(),
                qtype: 1,
                label: Some("idp".into()),
                zone: Some("example.com.".into()),
                outcome: "secure".into(),
                reason: None,
                algorithms: vec![13],
                ds_key_tags: vec![12345, 54321],
                sig_expiration: Some(t(at + 86_400)),
                resolver: Some("10.0.0.53:53".into()),
                answers: 3,
                ad_answers: 2,
                pid: Some(42),
                process: Some("curl".into()),
                container_id: None,
            }],
        }
    }

    #[test]
    fn posture_round_trips_and_filters_by_time() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("s.db")).unwrap();
        s.write_posture(&posture(0)).unwrap();
        s.write_posture(&posture(1000)).unwrap();
        s.write_posture(&Posture::default()).unwrap();
        let r = s.resolver_stats_since(t(0)).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], posture(0).resolvers[0]);
        let n = s.name_observations_since(t(500)).unwrap();
        assert_eq!(n.len(), 1, "only the later interval");
        let mut want = posture(1000).names[0].clone();
        want.qname = "login.example.com".into();
        want.zone = Some("example.com".into());
        assert_eq!(n[0], want);
        assert!(s.resolver_stats_since(t(5000)).unwrap().is_empty());
    }

    #[test]
    fn malformed_lists_read_as_what_parses() {
        assert_eq!(split::<u16>("1,x,3"), vec![1, 3]);
        assert!(split::<u16>("").is_empty());
        assert_eq!(latency_parse("1:2,bad,3:4"), vec![(1, 2), (3, 4)]);
    }
}
