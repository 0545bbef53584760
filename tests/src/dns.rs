//! DNS messages for the tests' own small responders.

/// The answer to query `q` (RFC 1035 §4.1): its id and question, QR+RD+RA,
/// one A record `addr` with TTL 60 by compression pointer to the question
/// (§4.1.4). `None` when `q` has no whole question.
pub fn answer_a(q: &[u8], addr: [u8; 4]) -> Option<Vec<u8>> {
    let mut end = 12;
    loop {
        let len = usize::from(*q.get(end)?);
        end += 1 + len;
        if len == 0 {
            break;
        }
    }
    let question = q.get(12..end + 4)?;
    let mut a = vec![q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    a.extend_from_slice(question);
    a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    a.extend_from_slice(&addr);
    Some(a)
}

/// A query (RFC 1035 §4.1) for `name` (dotted, no trailing dot) and
/// `qtype`, RD set, with id `id`.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_echo_id_and_question() {
        let mut q = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
        let a = answer_a(&q, [192, 0, 2, 1]).unwrap();
        assert_eq!(&a[..2], &[0xab, 0xcd]);
        assert_eq!(&a[12..19], &q[12..19]);
        assert_eq!(&a[a.len() - 4..], &[192, 0, 2, 1]);
        assert!(answer_a(&q[..14], [0; 4]).is_none());
    }

    #[test]
    fn queries_carry_id_name_and_type() {
        let q = query(0xabcd, "a.example", 28);
        assert_eq!(&q[..4], &[0xab, 0xcd, 1, 0]);
        assert_eq!(&q[12..], b"\x01a\x07example\x00\x00\x1c\x00\x01");
        let a = answer_a(&q, [192, 0, 2, 1]).unwrap();
        assert_eq!(&a[12..12 + q.len() - 12], &q[12..]);
    }
}
