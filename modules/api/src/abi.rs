//! The C ABI: the raw structs and functions that cross the library boundary, and the
//! module-side glue the [`export_module!`](crate::export_module) macro expands to.
//!
//! Layout rule: [`ModuleTable::abi_version`] is the first field in every ABI version, so a
//! host can read it from any module before trusting the rest of the table.
//!
//! Ownership rule: a buffer is freed by the side that allocated it. The module frees what
//! it returns through [`ModuleTable::free`]; the host frees its service answers through
//! [`RawHost::free`].

// The one place in a module that touches raw pointers: reading the request, handing back
// a buffer, and calling the host's service function. Module authors never do.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::module::{Context, Module, dispatch};
use crate::{HookCall, HookReply};

/// Bytes handed across the boundary, allocated as a `Vec<u8>` by one side.
#[repr(C)]
#[derive(Debug)]
pub struct RawBuffer {
    /// Start of the bytes (null for an empty buffer).
    pub ptr: *mut u8,
    /// Number of bytes.
    pub len: usize,
    /// Capacity of the allocation.
    pub cap: usize,
}

impl RawBuffer {
    /// Gives up ownership of `bytes` to the other side.
    pub fn from_vec(bytes: Vec<u8>) -> RawBuffer {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        RawBuffer {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        }
    }

    /// Copies the bytes out (the buffer itself must still be freed by its owner).
    ///
    /// # Safety
    /// `self` must come from [`RawBuffer::from_vec`] on either side and not be freed yet.
    pub unsafe fn to_vec(&self) -> Vec<u8> {
        if self.ptr.is_null() || self.len == 0 {
            return Vec::new();
        }
        // SAFETY: ptr/len describe a live allocation of the other side (caller's contract).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
    }
}

/// Frees a buffer made by [`RawBuffer::from_vec`] in this same library.
///
/// # Safety
/// `buffer` must come from `RawBuffer::from_vec` in this library and not be freed yet.
pub unsafe extern "C" fn free_buffer(buffer: RawBuffer) {
    if !buffer.ptr.is_null() {
        // SAFETY: rebuilt from exactly the parts `from_vec` gave away.
        drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
    }
}

/// The host's service function: a [`HostRequest`](crate::HostRequest) as JSON in, a
/// [`HostReply`](crate::HostReply) as JSON out.
pub type HostCallFn =
    unsafe extern "C" fn(context: *const c_void, input: *const u8, len: usize) -> RawBuffer;

/// What the host passes with every call so the module can ask for services.
#[repr(C)]
pub struct RawHost {
    /// Opaque to the module; handed back to `call`.
    pub context: *const c_void,
    /// Asks the host for a service.
    pub call: HostCallFn,
    /// Frees a buffer `call` returned.
    pub free: unsafe extern "C" fn(RawBuffer),
}

/// The module's function table, returned by the entry symbol.
#[repr(C)]
pub struct ModuleTable {
    /// The ABI version the module was built for; always the first field.
    pub abi_version: u32,
    /// A [`HookCall`] as JSON in, a [`HookReply`] as JSON out.
    pub call: unsafe extern "C" fn(host: *const RawHost, input: *const u8, len: usize) -> RawBuffer,
    /// Frees a buffer `call` returned.
    pub free: unsafe extern "C" fn(RawBuffer),
}

/// The type of the entry symbol.
pub type EntryFn = unsafe extern "C" fn() -> *const ModuleTable;

/// A [`RawHost`] seen from inside the module: asks the host for a service.
pub(crate) struct HostHandle {
    raw: *const RawHost,
}

impl HostHandle {
    /// Sends one request as JSON and returns the answer's bytes.
    pub(crate) fn request(&self, input: &[u8]) -> Vec<u8> {
        if self.raw.is_null() {
            return br#"{"result":"error","message":"no host services in this call"}"#.to_vec();
        }
        // SAFETY: the host keeps `raw` and its context alive for the whole call, and the
        // returned buffer is the host's, freed by the host's own function.
        unsafe {
            let host = &*self.raw;
            let out = (host.call)(host.context, input.as_ptr(), input.len());
            let bytes = out.to_vec();
            (host.free)(out);
            bytes
        }
    }
}

/// The body of a module's `call`: decodes the request, runs the module with panics
/// caught, encodes the reply. Used by [`export_module!`](crate::export_module).
///
/// # Safety
/// `input`/`len` must describe readable bytes and `host` must be null or valid for the
/// duration of the call (the host guarantees both).
pub unsafe fn handle_call(
    module: fn() -> &'static dyn Module,
    host: *const RawHost,
    input: *const u8,
    len: usize,
) -> RawBuffer {
    let bytes = if input.is_null() || len == 0 {
        &[][..]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(input, len) }
    };
    let reply = catch_unwind(AssertUnwindSafe(|| {
        match serde_json::from_slice::<HookCall>(bytes) {
            Ok(call) => {
                let ctx = Context::new(HostHandle { raw: host }, &call);
                dispatch(module(), &ctx, &call)
            }
            Err(e) => HookReply::Error {
                message: format!("module could not read the call: {e}"),
            },
        }
    }))
    .unwrap_or_else(|panic| HookReply::Error {
        message: format!("module panicked: {}", panic_message(&*panic)),
    });
    let out = serde_json::to_vec(&reply).unwrap_or_else(|_| {
        br#"{"result":"error","message":"module reply could not be encoded"}"#.to_vec()
    });
    RawBuffer::from_vec(out)
}

/// The text of a panic payload, for messages.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// Exports a [`Module`](crate::Module) implementation as a Postdesk module: defines the
/// entry symbol and its function table. `$make` builds the module once, on first use.
///
/// ```ignore
/// struct Hello;
/// impl postdesk_module_api::Module for Hello {}
/// postdesk_module_api::export_module!(Hello, Hello);
/// ```
#[macro_export]
macro_rules! export_module {
    ($ty:ty, $make:expr) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub extern "C" fn postdesk_module_entry() -> *const $crate::abi::ModuleTable {
            static INSTANCE: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
            unsafe extern "C" fn call(
                host: *const $crate::abi::RawHost,
                input: *const u8,
                len: usize,
            ) -> $crate::abi::RawBuffer {
                fn module() -> &'static dyn $crate::Module {
                    INSTANCE.get_or_init(|| $make)
                }
                // SAFETY: the host passes valid pointers for the duration of the call.
                unsafe { $crate::abi::handle_call(module, host, input, len) }
            }
            static TABLE: $crate::abi::ModuleTable = $crate::abi::ModuleTable {
                abi_version: $crate::ABI_VERSION,
                call,
                free: $crate::abi::free_buffer,
            };
            &TABLE
        }
    };
}
