//! The Win32 calls the help pipe needs that tokio does not wrap: the
//! pipe's security descriptor ([`PipeSecurity`]) and the pipe client's
//! account ([`Sid::of_pipe_client`], [`Sid::account`]). Every `unsafe`
//! block of the help channel is in this file, each with why it is sound.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::windows::io::AsRawHandle;

use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetLengthSid, GetTokenInformation, LookupAccountSidW, PSECURITY_DESCRIPTOR, PSID, RevertToSelf,
    SECURITY_ATTRIBUTES, SID_NAME_USE, TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::System::Pipes::ImpersonateNamedPipeClient;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetCurrentThread, OpenProcessToken, OpenThreadToken,
};

/// Who may do what with the help pipe, in SDDL: SYSTEM and Administrators
/// everything; INTERACTIVE users (console and remote-desktop logons) read,
/// write data and read attributes (`0x12008b` = `FILE_GENERIC_READ |
/// FILE_WRITE_DATA`), and so neither `FILE_CREATE_PIPE_INSTANCE` (the
/// same bit as `FILE_APPEND_DATA`, part of `GENERIC_WRITE`) nor
/// `WRITE_DAC`: a user cannot create an instance of the pipe to answer in
/// the agent's place. `P` keeps inherited entries out.
pub(super) const PIPE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12008b;;;IU)";

/// A security descriptor for the pipe's instances, freed when dropped.
#[derive(Debug)]
pub(super) struct PipeSecurity {
    descriptor: PSECURITY_DESCRIPTOR,
}

// SAFETY: the descriptor is an immutable block of memory this value owns
// alone; Windows only reads it.
unsafe impl Send for PipeSecurity {}
// SAFETY: as above; shared references only ever read it.
unsafe impl Sync for PipeSecurity {}

impl PipeSecurity {
    /// The descriptor of [`PIPE_SDDL`].
    pub(super) fn new() -> io::Result<Self> {
        Self::from_sddl(PIPE_SDDL)
    }

    /// The descriptor an SDDL string describes.
    fn from_sddl(sddl: &str) -> io::Result<Self> {
        let sddl = wide(sddl);
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated and outlives the call;
        // `descriptor` is a valid out pointer; the size out pointer may be
        // null.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 || descriptor.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { descriptor })
    }

    /// Creates an instance of the pipe `name` with `options` and this
    /// descriptor.
    pub(super) fn create(
        &self,
        options: &ServerOptions,
        name: &str,
    ) -> io::Result<NamedPipeServer> {
        let mut attributes = SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.descriptor,
            bInheritHandle: 0,
        };
        // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES whose
        // descriptor `self` keeps alive for the call, which only reads it.
        unsafe {
            options
                .create_with_security_attributes_raw(name, (&raw mut attributes).cast::<c_void>())
        }
    }
}

impl Drop for PipeSecurity {
    fn drop(&mut self) {
        // SAFETY: the descriptor came from
        // ConvertStringSecurityDescriptorToSecurityDescriptorW, which says
        // to free it with LocalFree, and is freed once.
        unsafe { LocalFree(self.descriptor) };
    }
}

/// A security identifier, copied out of a token (`u32`s: a SID is
/// 4-byte aligned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sid {
    words: Vec<u32>,
}

/// Closes a handle when dropped.
struct Handle(HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by this module and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// Ends the thread's impersonation when dropped, however the caller left.
struct Impersonation;

impl Drop for Impersonation {
    fn drop(&mut self) {
        // SAFETY: no arguments; ends this thread's impersonation.
        if unsafe { RevertToSelf() } == 0 {
            // Running on as the client would give later work on this
            // thread the client's rights: stop instead (the service
            // manager restarts the agent).
            tracing::error!(
                error = %io::Error::last_os_error(),
                "could not stop impersonating a help client; the agent stops"
            );
            std::process::abort();
        }
    }
}

impl Sid {
    /// The account of the client connected to `pipe`, from its token:
    /// impersonate it (at the identification level the client allows),
    /// read the token's user, revert. Nothing the client sent is used.
    pub(super) fn of_pipe_client(pipe: &impl AsRawHandle) -> io::Result<Self> {
        let raw = pipe.as_raw_handle() as HANDLE;
        // SAFETY: `raw` is the server end of a connected pipe, alive for
        // the borrow of `pipe`.
        if unsafe { ImpersonateNamedPipeClient(raw) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let _revert = Impersonation;
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the current thread's pseudo-handle; `OpenAsSelf` (1)
        // checks access as the agent, not as the client, so an
        // identification-level token can be opened; `token` is a valid
        // out pointer.
        if unsafe { OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, 1, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let token = Handle(token);
        // The user is read and copied before `_revert` drops: the token
        // handle stays valid after reverting, but nothing else is needed
        // as the client.
        Self::user_of(&token)
    }

    /// The agent's own account (LocalSystem for the service).
    pub(super) fn of_this_process() -> io::Result<Self> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the current process's pseudo-handle; `token` is a valid
        // out pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Self::user_of(&Handle(token))
    }

    /// The `TokenUser` of an open token, copied.
    fn user_of(token: &Handle) -> io::Result<Self> {
        let mut needed = 0u32;
        // SAFETY: a size query: null buffer of length 0, `needed` is a
        // valid out pointer. It fails with ERROR_INSUFFICIENT_BUFFER.
        unsafe { GetTokenInformation(token.0, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
        if needed == 0 || needed > 64 * 1024 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u64; (needed as usize).div_ceil(8)];
        // SAFETY: `buf` holds at least `needed` bytes, 8-byte aligned as
        // TOKEN_USER requires; `needed` is a valid out pointer.
        let ok = unsafe {
            GetTokenInformation(
                token.0,
                TokenUser,
                buf.as_mut_ptr().cast::<c_void>(),
                needed,
                &mut needed,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: on success the buffer starts with a TOKEN_USER whose SID
        // points into the same buffer.
        let sid: PSID = unsafe { (*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid };
        Self::copy(sid)
    }

    /// Copies the SID at `sid`, which must be valid for the call.
    fn copy(sid: PSID) -> io::Result<Self> {
        // SAFETY: `sid` points at a valid SID (checked by the caller's
        // source: a token's user).
        let len = unsafe { GetLengthSid(sid) } as usize;
        if len == 0 || len > 68 {
            return Err(io::Error::other("the token's user is not a valid SID"));
        }
        let mut words = vec![0u32; len.div_ceil(4)];
        // SAFETY: `len` bytes are readable at `sid`; `words` holds at
        // least `len` bytes; the regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(sid.cast::<u8>(), words.as_mut_ptr().cast::<u8>(), len)
        };
        Ok(Self { words })
    }

    fn as_psid(&self) -> PSID {
        self.words.as_ptr().cast_mut().cast::<c_void>()
    }

    /// The SID as text, `S-1-5-21-...`.
    pub(super) fn text(&self) -> io::Result<String> {
        let mut out: *mut u16 = std::ptr::null_mut();
        // SAFETY: `self` holds a valid SID; `out` is a valid out pointer.
        if unsafe { ConvertSidToStringSidW(self.as_psid(), &mut out) } == 0 || out.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: on success `out` is a NUL-terminated string that
        // LocalFree releases; it is read before being freed once.
        let text = unsafe {
            let len = (0..).take_while(|&i| *out.add(i) != 0).count();
            let text = String::from_utf16_lossy(std::slice::from_raw_parts(out, len));
            LocalFree(out.cast::<c_void>());
            text
        };
        Ok(text)
    }

    /// The account's domain (the machine's name for a local account) and
    /// name. May ask a domain controller, so it can take a while.
    pub(super) fn account(&self) -> io::Result<(String, String)> {
        let mut name = vec![0u16; 257];
        let mut domain = vec![0u16; 257];
        for _ in 0..2 {
            let (mut name_len, mut domain_len) = (name.len() as u32, domain.len() as u32);
            let mut kind: SID_NAME_USE = 0;
            // SAFETY: `self` holds a valid SID; the buffers hold the
            // lengths passed; all out pointers are valid.
            let ok = unsafe {
                LookupAccountSidW(
                    std::ptr::null(),
                    self.as_psid(),
                    name.as_mut_ptr(),
                    &mut name_len,
                    domain.as_mut_ptr(),
                    &mut domain_len,
                    &mut kind,
                )
            };
            if ok != 0 {
                let text =
                    |b: &[u16], n: u32| String::from_utf16_lossy(&b[..(n as usize).min(b.len())]);
                return Ok((text(&domain, domain_len), text(&name, name_len)));
            }
            let err = io::Error::last_os_error();
            // Too small: the lengths now say what is needed (with the NUL).
            if err.raw_os_error()
                != Some(windows_sys::Win32::Foundation::ERROR_INSUFFICIENT_BUFFER as i32)
                || name_len > 32 * 1024
                || domain_len > 32 * 1024
            {
                return Err(err);
            }
            name.resize(name_len as usize + 1, 0);
            domain.resize(domain_len as usize + 1, 0);
        }
        Err(io::Error::other("the account's name kept growing"))
    }
}

/// `text` as a NUL-terminated UTF-16 string.
fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

#[cfg(test)]
mod tests {
    //! Run on Windows, or under Wine (`packaging/ci/wine-unit.sh`).

    use super::*;

    #[test]
    fn the_pipes_access_list_parses_and_bad_ones_are_errors() {
        assert!(PipeSecurity::new().is_ok());
        assert!(PipeSecurity::from_sddl("D:P(A;;GA;;;NOT-A-SID)").is_err());
    }

    #[test]
    fn this_process_has_a_named_account() {
        let sid = Sid::of_this_process().expect("own token");
        let text = sid.text().expect("text");
        assert!(text.starts_with("S-1-"), "{text}");
        let (_domain, name) = sid.account().expect("named");
        assert!(!name.is_empty());
    }

    /// A pipe whose access list leaves this account out can be neither
    /// opened nor given another instance by it; Wine 8 enforces neither
    /// (it runs every program as one user and checks no pipe's list), so
    /// there the test holds that, and notices if Wine starts checking.
    #[tokio::test]
    async fn a_pipe_closed_to_this_account_is_closed_except_under_wine() {
        let me = Sid::of_this_process()
            .and_then(|s| s.text())
            .expect("own SID");
        if me == "S-1-5-18" {
            return; // LocalSystem is the one account the list lets in.
        }
        let wine = winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE)
            .open_subkey(r"Software\Wine")
            .is_ok();
        let name = format!(r"\\.\pipe\deskhand-test-{}-closed", std::process::id());
        let security = PipeSecurity::from_sddl("D:P(A;;GA;;;SY)").expect("sddl");
        let mut first = ServerOptions::new();
        first.first_pipe_instance(true);
        let _server = security.create(&first, &name).expect("create");
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&name)
            .map(|_| ());
        let another = security.create(&ServerOptions::new(), &name).map(|_| ());
        if wine {
            assert!(opened.is_ok() && another.is_ok(), "{opened:?} {another:?}");
        } else {
            let denied = Some(windows_sys::Win32::Foundation::ERROR_ACCESS_DENIED as i32);
            assert_eq!(opened.map_err(|e| e.raw_os_error()), Err(denied));
            assert_eq!(another.map_err(|e| e.raw_os_error()), Err(denied));
        }
    }
}
