//! The Win32 calls jobs need that std and tokio do not wrap: the job
//! object a command's process tree runs in ([`Job`]) and the OEM code
//! page its output may be in ([`oem_text`]). Every `unsafe` block of the
//! jobs is in this file, each with why it is sound.

#![allow(unsafe_code)]

use std::os::windows::io::RawHandle;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::Globalization::{CP_OEMCP, MultiByteToWideChar};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject,
};

pub(crate) use windows_sys::Win32::System::Threading::CREATE_SUSPENDED;

#[link(name = "ntdll")]
unsafe extern "system" {
    /// Resumes every thread of a process: how a process created with
    /// [`CREATE_SUSPENDED`] starts when its main thread's handle is not
    /// at hand (std keeps it). Documented by its absence only, but stable
    /// since Windows XP and implemented by Wine.
    fn NtResumeProcess(process: HANDLE) -> i32;
}

/// Starts a process created suspended.
pub(crate) fn resume(process: RawHandle) -> Result<(), String> {
    // SAFETY: the handle is the live process the caller's child owns.
    let status = unsafe { NtResumeProcess(process as HANDLE) };
    if status < 0 {
        return Err(format!("NtResumeProcess: NTSTATUS {status:#x}"));
    }
    Ok(())
}

/// A job object holding a command's process tree. While the command runs
/// the job kills its processes when its last handle closes: the agent's,
/// when the agent dies, so a killed agent leaves nothing behind. Once the
/// command has ended, [`Job::release`] lets what it left outlive it.
pub(crate) struct Job(HANDLE);

// SAFETY: a job handle may be used and closed from any thread.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    /// A new job object holding `process`, which should be suspended
    /// still ([`resume`] it after): every process it starts joins the job.
    pub(crate) fn holding(process: RawHandle) -> Result<Self, String> {
        // SAFETY: null attributes and name make an anonymous job with
        // default security; the handle is checked before use.
        let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if job.is_null() {
            return Err(format!(
                "CreateJobObjectW: {}",
                std::io::Error::last_os_error()
            ));
        }
        let job = Job(job);
        job.limit(JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)?;
        // SAFETY: both handles are live: the job just made, the
        // process the caller's child still owns.
        if unsafe { AssignProcessToJobObject(job.0, process as HANDLE) } == 0 {
            return Err(format!(
                "AssignProcessToJobObject: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(job)
    }

    /// Lets the job's processes outlive the agent.
    pub(crate) fn release(&self) {
        let _ = self.limit(0);
    }

    fn limit(&self, flags: u32) -> Result<(), String> {
        // SAFETY: all-zero is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION
        // (plain integers), and Windows reads exactly its size.
        let ok = unsafe {
            let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
            info.BasicLimitInformation.LimitFlags = flags;
            SetInformationJobObject(
                self.0,
                JobObjectExtendedLimitInformation,
                (&raw const info).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(format!(
                "SetInformationJobObject: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// Ends every process in the job; false if Windows refused.
    pub(crate) fn terminate(&self) -> bool {
        // SAFETY: the handle is live until drop.
        unsafe { TerminateJobObject(self.0, 1) != 0 }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// Decodes `bytes` in the OEM code page (what cmd.exe and console
/// programs write to a pipe when they do not write Unicode).
pub(crate) fn oem_text(bytes: &[u8]) -> String {
    let Ok(len) = i32::try_from(bytes.len()) else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    if len == 0 {
        return String::new();
    }
    // SAFETY: the input pointer and length describe `bytes`; the first
    // call only measures, the second writes at most `wide.len()` units.
    unsafe {
        let n = MultiByteToWideChar(CP_OEMCP, 0, bytes.as_ptr(), len, std::ptr::null_mut(), 0);
        if n <= 0 {
            return String::from_utf8_lossy(bytes).into_owned();
        }
        let mut wide = vec![0u16; n as usize];
        let n = MultiByteToWideChar(CP_OEMCP, 0, bytes.as_ptr(), len, wide.as_mut_ptr(), n);
        wide.truncate(n.max(0) as usize);
        String::from_utf16_lossy(&wide)
    }
}
