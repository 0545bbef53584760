//! Negative trust anchors (RFC 7646): validation is turned off at and below
//! a zone, for a limited time. RFC 7646 §2 requires an NTA to expire (a
//! forgotten NTA silently disables DNSSEC for a zone); the expiry is read
//! at every lookup against the engine's clock, and a verdict reached under
//! an NTA is never cached past the NTA's end (§2.2: once it expires,
//! validation resumes).

use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::Name;

/// One NTA: `zone` and everything below it, until `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegativeTrustAnchor {
    /// Lowercased, fully qualified.
    pub zone: Name,
    /// Engine-clock Unix seconds; `None` = until the configuration changes.
    pub expires: Option<i64>,
}

impl NegativeTrustAnchor {
    /// An NTA without an end.
    pub fn permanent(zone: &Name) -> Self {
        let mut z = zone.to_lowercase();
        z.set_fqdn(true);
        Self {
            zone: z,
            expires: None,
        }
    }

    /// An NTA ending at `expires` (wall-clock time from the configuration).
    pub fn until(zone: &Name, expires: SystemTime) -> Self {
        let secs = match expires.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0, // before 1970: already over
        };
        Self {
            expires: Some(secs),
            ..Self::permanent(zone)
        }
    }

    /// In force at `now` (engine-clock Unix seconds).
    pub fn active(&self, now: i64) -> bool {
        self.expires.is_none_or(|e| e > now)
    }

    /// Seconds a verdict reached under this NTA at `now` may be reused.
    pub fn seconds_left(&self, now: i64) -> Option<u32> {
        self.expires
            .map(|e| u32::try_from((e - now).max(0)).unwrap_or(u32::MAX))
    }
}

impl From<Name> for NegativeTrustAnchor {
    fn from(zone: Name) -> Self {
        Self::permanent(&zone)
    }
}

/// The deepest NTA in force at `now` covering `name`.
pub fn covering<'a>(
    ntas: &'a [NegativeTrustAnchor],
    name: &Name,
    now: i64,
) -> Option<&'a NegativeTrustAnchor> {
    ntas.iter()
        .filter(|n| n.active(now) && n.zone.zone_of(name))
        .max_by_key(|n| n.zone.num_labels())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use std::time::Duration;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    #[test]
    fn expiry_is_read_at_the_time_asked() {
        let at = UNIX_EPOCH + Duration::from_secs(1_000);
        let ntas = vec![
            NegativeTrustAnchor::until(&n("Broken.Test."), at),
            NegativeTrustAnchor::permanent(&n("old.test")),
        ];
        let hit = covering(&ntas, &n("www.broken.test."), 999).unwrap();
        assert_eq!(hit.zone, n("broken.test."));
        assert_eq!(hit.seconds_left(999), Some(1));
        assert!(
            covering(&ntas, &n("www.broken.test."), 1_000).is_none(),
            "expired"
        );
        assert!(covering(&ntas, &n("broken.test.example."), 0).is_none());
        let p = covering(&ntas, &n("x.old.test."), i64::MAX).unwrap();
        assert_eq!(p.seconds_left(0), None);
        assert!(
            NegativeTrustAnchor::until(&n("x."), UNIX_EPOCH - Duration::from_secs(5))
                .expires
                .is_some_and(|e| e == 0)
        );
    }

    #[test]
    fn deepest_nta_wins() {
        let ntas = vec![
            NegativeTrustAnchor {
                zone: n("test."),
                expires: Some(100),
            },
            NegativeTrustAnchor {
                zone: n("a.test."),
                expires: Some(50),
            },
        ];
        assert_eq!(
            covering(&ntas, &n("x.a.test."), 0).unwrap().zone,
            n("a.test.")
        );
        assert_eq!(
            covering(&ntas, &n("x.a.test."), 60).unwrap().zone,
            n("test.")
        );
    }
}
