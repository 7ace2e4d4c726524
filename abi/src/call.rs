//! The columnar call frame.
//!
//! One call of `xyz_eval` evaluates a chunk of `n` cases. The host lays out, in the guest's
//! memory:
//!
//! ```text
//!  xyz_call                         xyz_column (one per argument, then one per output)
//! +---------+                      +--------+-------+----------+
//! | n       |  cases in the chunk  | data   | len   | offsets  |
//! | args    | ---> [xyz_column; A] +--------+-------+----------+
//! | outputs | ---> [xyz_column; O]   data:    i64/f64: n values (8 bytes each, little endian)
//! |         |                                 c128:    n values (16 bytes: re, then im)
//! | status  | ---> [u8; n]                    bool:    n bytes, 0 or 1
//! | errors  |  xyz_column (guest)             str:     UTF-8 bytes of all n strings
//! +---------+                        len:     bytes in data
//!                                    offsets: str only: n + 1 u32 byte offsets into data
//! ```
//!
//! Argument columns, the call frame, the status bytes and the data of numeric and bool output
//! columns are allocated by the host (with `xyz_alloc`) and stay the host's: the guest reads
//! arguments and writes outputs in place. An array output of `k` elements per case has
//! `n * k` values, case-major. String output columns and the error column are filled by the
//! guest with memory it owns, valid until its next `xyz_eval` call on the same thread; the
//! host copies them out and never frees them. The error column holds one string per case
//! (empty where the case succeeded).

/// One typed column of values for a chunk of cases. See the [module docs](crate::call) for the layout.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The values: `n` (times elements per case) fixed-size values, or the bytes of `n` strings.
    pub data: *mut u8,
    /// The number of bytes at `data`.
    pub len: usize,
    /// For string columns, `n + 1` byte offsets into `data` (the first 0, the last `len`);
    /// null for every other type.
    pub offsets: *mut u32,
}

impl Column {
    /// A column with no data, as the guest finds string outputs before it fills them.
    pub const EMPTY: Column = Column {
        data: core::ptr::null_mut(),
        len: 0,
        offsets: core::ptr::null_mut(),
    };
}

/// The frame of one `xyz_eval` call. See the [module docs](crate::call) for the layout.
#[repr(C)]
#[derive(Debug)]
pub struct Call {
    /// Number of cases in the chunk.
    pub n: usize,
    /// One column per argument of the signature, in its order.
    pub args: *const Column,
    /// One column per output of the signature, in its order.
    pub outputs: *mut Column,
    /// One status byte per case, written by the guest: [`STATUS_OK`](crate::STATUS_OK) or
    /// [`STATUS_ERROR`](crate::STATUS_ERROR).
    pub status: *mut u8,
    /// A string column written by the guest: the error message of each case (empty if none).
    pub errors: Column,
}

/// Byte offsets and sizes of [`Call`] and [`Column`] in a 32-bit guest (wasm32), where
/// pointers and `size_t` are 4 bytes, all fields little endian.
pub mod layout32 {
    /// Size of a column.
    pub const COLUMN_SIZE: usize = 12;
    /// Offset of `data` in a column.
    pub const COLUMN_DATA: usize = 0;
    /// Offset of `len` in a column.
    pub const COLUMN_LEN: usize = 4;
    /// Offset of `offsets` in a column.
    pub const COLUMN_OFFSETS: usize = 8;
    /// Size of a call frame.
    pub const CALL_SIZE: usize = 28;
    /// Offset of `n`.
    pub const CALL_N: usize = 0;
    /// Offset of `args`.
    pub const CALL_ARGS: usize = 4;
    /// Offset of `outputs`.
    pub const CALL_OUTPUTS: usize = 8;
    /// Offset of `status`.
    pub const CALL_STATUS: usize = 12;
    /// Offset of the `errors` column.
    pub const CALL_ERRORS: usize = 16;
}

#[cfg(all(test, target_pointer_width = "32"))]
mod tests {
    use super::*;

    #[test]
    fn layout32_matches_repr_c() {
        assert_eq!(core::mem::size_of::<Column>(), layout32::COLUMN_SIZE);
        assert_eq!(core::mem::size_of::<Call>(), layout32::CALL_SIZE);
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;

    #[test]
    fn layout64_is_pointer_sized_fields() {
        assert_eq!(core::mem::size_of::<Column>(), 24);
        assert_eq!(core::mem::size_of::<Call>(), 56);
        assert_eq!(core::mem::offset_of!(Call, errors), 32);
    }
}
