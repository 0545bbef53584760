//! BIND's `delv` as the reference validator: it asks the lab's
//! non-validating recursor for data and validates it itself against the
//! lab's trust anchor.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::run_combined;
use super::zones::RECURSOR_ADDR;

/// delv's outcome for one name/type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Oracle {
    /// `secure`, `insecure` or `bogus`.
    pub outcome: String,
    /// `NXDOMAIN` or `NOERROR` (meaningful for non-bogus outcomes).
    pub rcode: String,
    /// The full output, for messages.
    pub raw: String,
}

/// Classifies delv's comment lines: `; fully validated`, `; unsigned
/// answer`, `; negative response, fully validated|unsigned answer`, and
/// `;; resolution failed: …` (which for `ncache nxdomain|nxrrset` only
/// reports a negative answer). In a CNAME chain the weakest link decides.
pub fn classify(out: &str) -> Result<(String, String), String> {
    let failed = out
        .lines()
        .any(|l| l.starts_with(";; resolution failed:") && !l.contains("ncache"));
    let outcome = if failed {
        "bogus"
    } else if out
        .lines()
        .any(|l| l.starts_with("; ") && l.ends_with("unsigned answer"))
    {
        "insecure"
    } else if out
        .lines()
        .any(|l| l.starts_with("; ") && l.ends_with("fully validated"))
    {
        "secure"
    } else {
        return Err(format!("cannot classify delv output:\n{out}"));
    };
    let rcode = if out.contains(";-$NXDOMAIN") {
        "NXDOMAIN"
    } else {
        "NOERROR"
    };
    Ok((outcome.to_string(), rcode.to_string()))
}

/// Runs delv for `name`/`rtype` with the anchor file in delv syntax.
pub fn delv(anchor: &Path, name: &str, rtype: &str) -> Result<Oracle, String> {
    let mut c = Command::new("delv");
    c.arg(format!("@{RECURSOR_ADDR}"))
        .arg("-a")
        .arg(anchor)
        .args(["+root=.", "+nomultiline", name, rtype]);
    // delv exits non-zero on failed validation and writes its verdict
    // comments to stderr: keep both streams either way.
    let (_, stdout, stderr, _) = run_combined(c, Duration::from_secs(30))?;
    let out = format!("{stderr}{stdout}");
    let (outcome, rcode) = classify(&out)?;
    Ok(Oracle {
        outcome,
        rcode,
        raw: out,
    })
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn delv_outputs() {
        let c = |s: &str| classify(s).map(|(o, r)| format!("{o} {r}"));
        assert_eq!(
            c("; fully validated\nwww.t. 300 IN A 1.2.3.4\n").unwrap(),
            "secure NOERROR"
        );
        assert_eq!(
            c(";; resolution failed: ncache nxdomain\n; negative response, fully validated\n; nx.t. 300 IN \\-ANY ;-$NXDOMAIN\n").unwrap(),
            "secure NXDOMAIN"
        );
        assert_eq!(
            c(";; resolution failed: ncache nxrrset\n; negative response, unsigned answer\n; a.t. 300 IN \\-AAAA ;-$NXRRSET\n").unwrap(),
            "insecure NOERROR"
        );
        assert_eq!(
            c("; fully validated\na.t. CNAME b.u.\n\n; unsigned answer\nb.u. A 1.2.3.4\n").unwrap(),
            "insecure NOERROR"
        );
        assert_eq!(
            c(";; validating x: no valid signature found\n;; resolution failed: RRSIG failed to verify\n").unwrap(),
            "bogus NOERROR"
        );
        assert!(c("Invalid option: +tries\nUsage: delv").is_err());
    }
}
