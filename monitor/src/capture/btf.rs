//! Just enough of the kernel's BTF (`/sys/kernel/btf/vmlinux`) to find
//! where `task_struct.group_leader` and `task_struct.comm` live on this
//! kernel. The sock_addr programs use them to record the *process* name
//! (the thread-group leader's `comm`, e.g. `dig`) rather than the name of
//! the thread that happened to call connect (`isc-net-0000`).
//!
//! Format: Documentation/bpf/btf.rst — a header, then `struct btf_type`
//! records, each followed by kind-specific data, then a string section.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfError {
    #[error("reading BTF: {0}")]
    Read(String),
    #[error("BTF is malformed: {0}")]
    Malformed(&'static str),
    #[error("BTF has no struct {0}")]
    NoStruct(String),
    #[error("BTF struct {0} has no member {1}")]
    NoMember(String, String),
}

/// Byte offsets of the members the kernel programs read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskOffsets {
    pub group_leader: u32,
    pub comm: u32,
}

/// Offsets on the running kernel.
pub fn task_offsets() -> Result<TaskOffsets, BtfError> {
    let data =
        std::fs::read("/sys/kernel/btf/vmlinux").map_err(|e| BtfError::Read(e.to_string()))?;
    task_offsets_in(&data)
}

pub fn task_offsets_in(btf: &[u8]) -> Result<TaskOffsets, BtfError> {
    let members = struct_members(btf, "task_struct")?;
    let find = |name: &str| {
        members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, bits)| bits / 8)
            .ok_or_else(|| BtfError::NoMember("task_struct".into(), name.into()))
    };
    Ok(TaskOffsets {
        group_leader: find("group_leader")?,
        comm: find("comm")?,
    })
}

const MAGIC: u16 = 0xeb9f;

fn u32_at(b: &[u8], off: usize) -> Result<u32, BtfError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(BtfError::Malformed("truncated"))
}

fn str_at(strings: &[u8], off: u32) -> &[u8] {
    let s = strings.get(off as usize..).unwrap_or(&[]);
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    &s[..end]
}

/// `(member name, bit offset)` of the first struct named `name`.
/// (Little-endian BTF only: the kernels we attach to.)
fn struct_members(btf: &[u8], name: &str) -> Result<Vec<(String, u32)>, BtfError> {
    if btf.len() < 24 || u16::from_le_bytes([btf[0], btf[1]]) != MAGIC {
        return Err(BtfError::Malformed("bad magic (or big-endian BTF)"));
    }
    let hdr_len = u32_at(btf, 4)? as usize;
    let type_off = u32_at(btf, 8)? as usize;
    let type_len = u32_at(btf, 12)? as usize;
    let str_off = u32_at(btf, 16)? as usize;
    let str_len = u32_at(btf, 20)? as usize;
    let types = btf
        .get(hdr_len + type_off..hdr_len + type_off + type_len)
        .ok_or(BtfError::Malformed("type section out of bounds"))?;
    let strings = btf
        .get(hdr_len + str_off..hdr_len + str_off + str_len)
        .ok_or(BtfError::Malformed("string section out of bounds"))?;
    let mut off = 0;
    while off + 12 <= types.len() {
        let name_off = u32_at(types, off)?;
        let info = u32_at(types, off + 4)?;
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        let kind_flag = info >> 31 == 1;
        let extra = match kind {
            // INT, VAR, DECL_TAG: one u32.
            1 | 14 | 17 => 4,
            // ARRAY: struct btf_array.
            3 => 12,
            // STRUCT, UNION, DATASEC, ENUM64: 12-byte entries.
            4 | 5 | 15 | 19 => 12 * vlen,
            // ENUM, FUNC_PROTO: 8-byte entries.
            6 | 13 => 8 * vlen,
            // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG.
            2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
            _ => return Err(BtfError::Malformed("unknown type kind")),
        };
        if kind == 4 && str_at(strings, name_off) == name.as_bytes() {
            let mut out = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = off + 12 + 12 * i;
                let mname = str_at(strings, u32_at(types, m)?);
                let moff = u32_at(types, m + 8)?;
                // With kind_flag the low 24 bits are the bit offset.
                let bits = if kind_flag { moff & 0x00ff_ffff } else { moff };
                out.push((String::from_utf8_lossy(mname).into_owned(), bits));
            }
            return Ok(out);
        }
        off += 12 + extra;
    }
    Err(BtfError::NoStruct(name.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob with `struct task_struct { int pid@0; ptr group_leader@64*8; char comm@100*8 }`.
    fn blob(with_comm: bool) -> Vec<u8> {
        let strings = b"\0task_struct\0pid\0group_leader\0comm\0int\0".to_vec();
        let s = |n: &str| {
            let pat = format!("\0{n}\0");
            strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap() as u32
                + 1
        };
        let mut types = Vec::new();
        // [1] INT "int": name, info(kind 1), size, then the int encoding.
        for v in [s("int"), 1 << 24, 4, 32] {
            types.extend(v.to_le_bytes());
        }
        let members: Vec<(&str, u32)> = if with_comm {
            vec![("pid", 0), ("group_leader", 64 * 8), ("comm", 100 * 8)]
        } else {
            vec![("pid", 0), ("group_leader", 64 * 8)]
        };
        for v in [s("task_struct"), (4 << 24) | members.len() as u32, 200] {
            types.extend(v.to_le_bytes());
        }
        for (n, bits) in members {
            for v in [s(n), 1, bits] {
                types.extend(v.to_le_bytes());
            }
        }
        let mut b = Vec::new();
        b.extend(MAGIC.to_le_bytes());
        b.extend([1, 0]);
        for v in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            b.extend(v.to_le_bytes());
        }
        b.extend(types);
        b.extend(strings);
        b
    }

    #[test]
    fn offsets_found() {
        assert_eq!(
            task_offsets_in(&blob(true)),
            Ok(TaskOffsets {
                group_leader: 64,
                comm: 100
            })
        );
    }

    #[test]
    fn missing_member_and_garbage_rejected() {
        assert!(matches!(
            task_offsets_in(&blob(false)),
            Err(BtfError::NoMember(_, m)) if m == "comm"
        ));
        assert!(task_offsets_in(b"not btf at all, not at all").is_err());
        let b = blob(true);
        for cut in [0, 10, 30, b.len() - 5] {
            assert!(task_offsets_in(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn running_kernel_has_them() {
        match task_offsets() {
            Ok(o) => assert!(o.comm > 0 && o.group_leader > 0 && o.comm != o.group_leader),
            Err(BtfError::Read(e)) => eprintln!("skipped: no kernel BTF ({e})"),
            Err(e) => panic!("{e}"),
        }
    }
}
