//! A kernel array map mapped into this process (`BPF_F_MMAPABLE`,
//! kernel/bpf/arraymap.c `array_map_mmap`): the fast path's slot arrays
//! (held_slots.rs, validated_table.rs), which both sides change with
//! atomics and plain stores instead of a system call per element.

use std::os::fd::{AsFd, AsRawFd};
use std::ptr::NonNull;

use aya::maps::MapData;

#[derive(Debug, thiserror::Error)]
pub enum SharedArrayError {
    #[error("{name} holds {value_size}-byte values, this build expects {expected}")]
    Layout {
        name: &'static str,
        value_size: u32,
        expected: usize,
    },
    #[error("{name} has {max_entries} entries, this build expects {expected}")]
    Entries {
        name: &'static str,
        max_entries: u32,
        expected: u32,
    },
    #[error("mapping {name} into memory: {source}")]
    Mmap {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not an array map")]
    NotArray(&'static str),
    #[error("reading {name}'s description: {source}")]
    Info {
        name: &'static str,
        #[source]
        source: Box<aya::maps::MapError>,
    },
}

/// Where the elements live.
enum Memory {
    /// The kernel map, mapped shared; unmapped on drop.
    Mapped { len: usize, _map: MapData },
    /// Tests: ordinary memory with the same layout (a `Box<[T]>`).
    #[cfg(test)]
    Owned(#[allow(dead_code, reason = "kept alive for `base`")] Box<dyn std::any::Any>),
}

/// `len` elements of `T` shared with the kernel. `T` is plain data for
/// which all zeroes is a value (a new array map is zeroed).
pub struct SharedArray<T> {
    base: NonNull<T>,
    len: usize,
    memory: Memory,
}

impl<T: Copy + 'static> SharedArray<T> {
    /// Maps the kernel's array map `name`, which must hold `entries`
    /// values of exactly `T`'s size.
    pub fn map(
        map: aya::maps::Map,
        name: &'static str,
        entries: u32,
    ) -> Result<SharedArray<T>, SharedArrayError> {
        let aya::maps::Map::Array(map) = map else {
            return Err(SharedArrayError::NotArray(name));
        };
        let info = map.info().map_err(|e| SharedArrayError::Info {
            name,
            source: Box::new(e),
        })?;
        let size = std::mem::size_of::<T>();
        if info.value_size() as usize != size {
            return Err(SharedArrayError::Layout {
                name,
                value_size: info.value_size(),
                expected: size,
            });
        }
        if info.max_entries() != entries {
            return Err(SharedArrayError::Entries {
                name,
                max_entries: info.max_entries(),
                expected: entries,
            });
        }
        // The array's values start at offset 0 of the mapping, each
        // round_up(value_size, 8) bytes (arraymap.c): `T`'s size is a
        // multiple of 8 (asserted in monitor-common) so they are `[T]`.
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let len = (size * entries as usize).div_ceil(page) * page;
        // SAFETY: a shared mapping of the map's fd, checked for failure;
        // unmapped in Drop, while `map` (the fd) is still held.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                map.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(SharedArrayError::Mmap {
                name,
                source: std::io::Error::last_os_error(),
            });
        }
        let base = NonNull::new(p.cast::<T>()).ok_or_else(|| SharedArrayError::Mmap {
            name,
            source: std::io::Error::other("mmap returned a null address"),
        })?;
        Ok(SharedArray {
            base,
            len: entries as usize,
            memory: Memory::Mapped { len, _map: map },
        })
    }

    /// `len` zeroed elements in ordinary memory (tests of the protocols).
    #[cfg(test)]
    pub fn in_memory(len: usize) -> SharedArray<T> {
        // SAFETY: `T` is plain data for which all zeroes is a value (the
        // type's contract, as for a new kernel array).
        let zero: T = unsafe { std::mem::zeroed() };
        let mut b = vec![zero; len].into_boxed_slice();
        let base = NonNull::new(b.as_mut_ptr()).expect("a boxed slice is never null");
        SharedArray {
            base,
            len,
            memory: Memory::Owned(Box::new(b)),
        }
    }

    pub fn count(&self) -> usize {
        self.len
    }

    /// Element `i` (`i < len`, checked in debug builds). What may be done
    /// through it is the caller's protocol with the kernel.
    pub fn ptr(&self, i: usize) -> *mut T {
        debug_assert!(i < self.len);
        // SAFETY: i < len elements of the mapping.
        unsafe { self.base.as_ptr().add(i) }
    }
}

impl<T> Drop for SharedArray<T> {
    fn drop(&mut self) {
        match &self.memory {
            Memory::Mapped { len, .. } => {
                // SAFETY: the mapping made in `map`, unmapped once.
                unsafe { libc::munmap(self.base.as_ptr().cast(), *len) };
            }
            #[cfg(test)]
            Memory::Owned(_) => {}
        }
    }
}
