//! Trust anchor parsing: the IANA root, zone-file syntax, line errors.

use super::*;
use crate::dnssec::ds::ds_digest;
use crate::dnssec::keytag::key_tag;
use crate::dnssec::test_support::name;

#[test]
fn iana_root_anchors() {
    let ta = TrustAnchors::iana_root();
    let (owner, set) = ta.closest(&name("www.example.com.")).unwrap();
    assert!(owner.is_root());
    let mut tags: Vec<u16> = set.ds.iter().map(|d| d.key_tag()).collect();
    tags.sort();
    assert_eq!(tags, vec![20326, 38696]);
    assert!(
        set.ds
            .iter()
            .all(|d| u8::from(d.algorithm()) == 8 && u8::from(d.digest_type()) == 2)
    );
    assert_eq!(
        set.ds
            .iter()
            .find(|d| d.key_tag() == 20326)
            .unwrap()
            .digest()[..4],
        [0xE0, 0x6D, 0x44, 0xB8]
    );
}

#[test]
fn zone_text_ds_and_dnskey() {
    let text = "\
; comment line
$TTL 3600
$ORIGIN example.
@   IN DS 60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118 ; split digest
dskey 86400 IN DNSKEY 256 3 5 ( AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/
        2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLU
        Uh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw== )
sub.example. DNSKEY 257 3 ECDSAP256SHA256 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==
";
    let ta = TrustAnchors::from_zone_text(text).unwrap();
    let (o, s) = ta.closest(&name("www.example.")).unwrap();
    assert_eq!(o, &name("example."));
    assert_eq!(s.ds.len(), 1);
    let (o, s) = ta.closest(&name("a.dskey.example.")).unwrap();
    assert_eq!(o, &name("dskey.example."));
    assert_eq!(key_tag(&s.dnskeys[0]), 60485);
    // The parsed key digests like RFC 4034 §5.4 under its RFC owner.
    assert_eq!(
        ds_digest(&name("dskey.example.com."), &s.dnskeys[0], 1).unwrap()[..2],
        [0x2B, 0xB1]
    );
    let (_, s) = ta.closest(&name("x.sub.example.")).unwrap();
    assert_eq!(key_tag(&s.dnskeys[0]), 55648);
    assert!(ta.closest(&name("other.")).is_none());
}

#[test]
fn errors_name_the_line() {
    let bad = "example. IN DS 1 8 2 00\nexample. IN A 192.0.2.1\n";
    match TrustAnchors::from_zone_text(bad) {
        Err(AnchorError::Parse { line, why, .. }) => {
            assert_eq!(line, 2);
            assert!(why.contains("not DS or DNSKEY"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let err = TrustAnchors::from_zone_text("x. IN DS 1 8 2 zz\n").unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = TrustAnchors::from_zone_text("x. IN DNSKEY 257 4 8 AAAA\n").unwrap_err();
    assert!(err.to_string().contains("protocol"), "{err}");
    let err = TrustAnchors::from_zone_text("\n\nx. IN DNSKEY ( 257 3 8 AAAA\n").unwrap_err();
    assert!(matches!(err, AnchorError::Parse { line: 3, .. }), "{err}");
    assert!(matches!(
        TrustAnchors::from_zone_text("; nothing\n"),
        Err(AnchorError::Empty)
    ));
    assert!(matches!(
        TrustAnchors::from_file("/nonexistent/anchors"),
        Err(AnchorError::Io { .. })
    ));
}

#[test]
fn deckard_style_line() {
    let ta = TrustAnchors::from_zone_text(
        ". 3600 IN DS 19036 8 2 49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5",
    )
    .unwrap();
    assert_eq!(ta.closest(&name("com.")).unwrap().1.ds[0].key_tag(), 19036);
}

#[test]
fn per_zone_anchor_is_added_and_closest_wins() {
    let mut ta = TrustAnchors::iana_root();
    let zone = TrustAnchors::from_zone_text(
        "corp.internal. IN DS 12345 13 2 0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20\n",
    )
    .unwrap();
    ta.add_zone(&name("Corp.Internal"), zone).unwrap();
    let (owner, set) = ta.closest(&name("www.corp.internal.")).unwrap();
    assert_eq!(*owner, name("corp.internal."));
    assert_eq!(set.ds[0].key_tag(), 12345);
    // Outside the zone: still the root.
    assert!(ta.closest(&name("www.example.com.")).unwrap().0.is_root());
}

#[test]
fn per_zone_anchor_outside_its_zone_is_an_error() {
    let mut ta = TrustAnchors::iana_root();
    let other = TrustAnchors::from_zone_text(
        "example.com. IN DS 12345 13 2 0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20\n",
    )
    .unwrap();
    let e = ta.add_zone(&name("corp.internal."), other).unwrap_err();
    assert!(e.to_string().contains("outside zone corp.internal."), "{e}");
    assert!(
        ta.closest(&name("www.example.com.")).unwrap().0.is_root(),
        "unchanged"
    );
}
