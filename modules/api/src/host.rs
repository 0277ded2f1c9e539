//! The host side of the C ABI (feature `host`, used by Postdesk's `src/hooks/`): opening a
//! module library, checking its ABI version, and calling it with a service callback.
//! Everything unsafe about loading modules is here, behind a safe API.

// Loading a foreign library and calling through its function pointers is unsafe by
// nature; this file keeps it in one place so the host crate itself forbids unsafe code.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::abi::{EntryFn, ModuleTable, RawBuffer, RawHost, free_buffer};

/// Answers a module's [`HostRequest`](crate::HostRequest)s during one call.
pub trait HostServices {
    /// A `HostRequest` as JSON in, a `HostReply` as JSON out.
    fn handle(&self, request: &[u8]) -> Vec<u8>;
}

/// Why a library could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibraryError {
    /// The file could not be loaded (missing, wrong architecture, missing symbols …).
    Open(String),
    /// It does not export the entry symbol: not a Postdesk module.
    NoEntry(String),
    /// The library was built for another ABI version.
    Abi {
        /// What the library says.
        found: u32,
        /// What this host speaks.
        expected: u32,
    },
}

impl std::fmt::Display for LibraryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LibraryError::Open(e) => write!(f, "cannot load the library: {e}"),
            LibraryError::NoEntry(e) => write!(
                f,
                "not a Postdesk module (no {} symbol): {e}",
                crate::ENTRY_SYMBOL
            ),
            LibraryError::Abi { found, expected } => write!(
                f,
                "the library was built for module ABI {found}, but this Postdesk speaks ABI {expected}"
            ),
        }
    }
}

impl std::error::Error for LibraryError {}

/// A loaded module library. It is never unloaded (unloading Rust libraries with live
/// thread-locals is unsound); deactivating a module only stops calling it.
pub struct Library {
    // Kept so the code behind `table` stays mapped.
    _lib: libloading::Library,
    table: &'static ModuleTable,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("abi_version", &self.table.abi_version)
            .finish()
    }
}

impl Library {
    /// Loads `path`, finds the entry symbol and checks the ABI version.
    pub fn open(path: &Path) -> Result<Library, LibraryError> {
        // SAFETY: loading runs the library's initialisers; a module library is code the
        // admin chose to install, which is the trust model of modules.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| LibraryError::Open(e.to_string()))?;
        // SAFETY: the symbol's type is fixed by the ABI (see `abi::EntryFn`).
        let entry: EntryFn = unsafe {
            *lib.get::<EntryFn>(crate::ENTRY_SYMBOL.as_bytes())
                .map_err(|e| LibraryError::NoEntry(e.to_string()))?
        };
        // SAFETY: the entry function takes nothing and returns a pointer to a static table.
        let table = unsafe { entry() };
        if table.is_null() {
            return Err(LibraryError::NoEntry("the entry returned null".into()));
        }
        // SAFETY: `abi_version` is the first field in every ABI version, so reading it is
        // valid whatever version the module was built for; the rest only after the check.
        let found = unsafe { std::ptr::read(table.cast::<u32>()) };
        if found != crate::ABI_VERSION {
            return Err(LibraryError::Abi {
                found,
                expected: crate::ABI_VERSION,
            });
        }
        // SAFETY: same ABI version, so the table has this layout; it is a static of the
        // library, which stays loaded as long as `self` (and never moves).
        let table: &'static ModuleTable = unsafe { &*table };
        Ok(Library { _lib: lib, table })
    }

    /// The ABI version the library reported.
    pub fn abi_version(&self) -> u32 {
        self.table.abi_version
    }

    /// Calls the module with a `HookCall` as JSON and returns its `HookReply` bytes.
    /// `services` answers the module's requests during the call.
    pub fn call(&self, input: &[u8], services: &dyn HostServices) -> Vec<u8> {
        let context: *const &dyn HostServices = &services;
        let host = RawHost {
            context: context.cast::<c_void>(),
            call: host_call,
            free: free_buffer,
        };
        // SAFETY: `host`, `services` and `input` outlive the call; the returned buffer is
        // the module's and goes back to the module's own free function.
        unsafe {
            let out = (self.table.call)(&host, input.as_ptr(), input.len());
            let bytes = out.to_vec();
            (self.table.free)(out);
            bytes
        }
    }
}

/// The service callback a module calls; `context` is the `&dyn HostServices` of the
/// running [`Library::call`].
unsafe extern "C" fn host_call(context: *const c_void, input: *const u8, len: usize) -> RawBuffer {
    let reply = catch_unwind(AssertUnwindSafe(|| {
        if context.is_null() {
            return br#"{"result":"error","message":"no host context"}"#.to_vec();
        }
        // SAFETY: set by `Library::call`, alive for its duration; `input`/`len` come from
        // the module's live buffer.
        let services: &dyn HostServices = unsafe { *context.cast::<&dyn HostServices>() };
        let bytes = if input.is_null() || len == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(input, len) }
        };
        services.handle(bytes)
    }))
    .unwrap_or_else(|_| br#"{"result":"error","message":"the host failed this request"}"#.to_vec());
    RawBuffer::from_vec(reply)
}
