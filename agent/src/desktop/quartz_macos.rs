//! The Mac's main display as a capture source and input sink for
//! [`super::Server`]: [`QuartzScreen::capture`] copies the display
//! through CoreGraphics, [`QuartzScreen::inject`] posts the viewer's keys
//! and pointer as Quartz events at the HID level, as a keyboard and mouse
//! would.
//!
//! Direct `extern "C"` declarations of the CoreGraphics and
//! CoreFoundation C API, no binding crate: the handful of calls is all
//! the agent needs. Every object a Create or Copy call returns is held by
//! a `Cf` guard that releases it. The rules (pixel layouts, the keysym
//! table, clicks and drags) are pure and tested on every platform in
//! [`super::quartz_pixels`] and [`super::quartz_input`].
//!
//! macOS asks the user first: capture needs the Screen Recording
//! permission (checked when the screen is opened, see
//! [`permission_text`]), input the Accessibility one (without it macOS
//! drops posted events silently, so [`QuartzScreen::inject`] says so).
//! `CGDisplayCreateImage` is marked obsoleted in the macOS 15 SDK in
//! favour of ScreenCaptureKit, but macOS 15 still exports and runs it;
//! declared here directly, it is not subject to the SDK's header check.
//! Only the main display is shared, without the pointer (the viewer draws
//! its own).
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::time::Instant;

use tracing::debug;

use super::quartz_input::{Bounds, KeyPlan, KeyStroke, Keyboard, MouseStep, Pointer, to_point};
use super::quartz_pixels::ImageLayout;
use super::session::Screen;
use super::{Event, Frame};

/// A point in the global display space (`CGPoint`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct CGPoint {
    x: f64,
    y: f64,
}

/// `CGSize`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct CGSize {
    width: f64,
    height: f64,
}

/// `CGRect`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct CGRect {
    origin: CGPoint,
    size: CGSize,
}

/// `kCGHIDEventTap`: where a keyboard's and a mouse's events enter.
const HID_EVENT_TAP: u32 = 0;
/// `kCGScrollEventUnitLine`.
const SCROLL_UNIT_LINE: u32 = 1;
/// `kCGMouseEventClickState`: the click count of a button event.
const MOUSE_EVENT_CLICK_STATE: u32 = 1;

#[link(name = "CoreGraphics", kind = "framework")]
unsafe extern "C" {
    safe fn CGMainDisplayID() -> u32;
    safe fn CGDisplayBounds(display: u32) -> CGRect;
    safe fn CGPreflightScreenCaptureAccess() -> bool;
    safe fn CGRequestScreenCaptureAccess() -> bool;
    /// An owned CGImage, or null.
    safe fn CGDisplayCreateImage(display: u32) -> *const c_void;
    fn CGImageGetWidth(image: *const c_void) -> usize;
    fn CGImageGetHeight(image: *const c_void) -> usize;
    fn CGImageGetBytesPerRow(image: *const c_void) -> usize;
    fn CGImageGetBitsPerPixel(image: *const c_void) -> usize;
    fn CGImageGetBitsPerComponent(image: *const c_void) -> usize;
    fn CGImageGetBitmapInfo(image: *const c_void) -> u32;
    /// Owned by the image (Get rule).
    fn CGImageGetDataProvider(image: *const c_void) -> *const c_void;
    /// An owned CFData, or null.
    fn CGDataProviderCopyData(provider: *const c_void) -> *const c_void;
    fn CGEventCreateKeyboardEvent(source: *const c_void, key: u16, down: bool) -> *const c_void;
    fn CGEventKeyboardSetUnicodeString(event: *const c_void, length: usize, text: *const u16);
    fn CGEventCreateMouseEvent(
        source: *const c_void,
        kind: u32,
        at: CGPoint,
        button: u32,
    ) -> *const c_void;
    fn CGEventCreateScrollWheelEvent2(
        source: *const c_void,
        units: u32,
        wheels: u32,
        wheel1: i32,
        wheel2: i32,
        wheel3: i32,
    ) -> *const c_void;
    fn CGEventSetFlags(event: *const c_void, flags: u64);
    fn CGEventSetIntegerValueField(event: *const c_void, field: u32, value: i64);
    fn CGEventPost(tap: u32, event: *const c_void);
}

#[link(name = "CoreFoundation", kind = "framework")]
unsafe extern "C" {
    fn CFDataGetBytePtr(data: *const c_void) -> *const u8;
    fn CFDataGetLength(data: *const c_void) -> isize;
    fn CFRelease(object: *const c_void);
}

#[link(name = "ApplicationServices", kind = "framework")]
unsafe extern "C" {
    /// `Boolean`: nonzero when the Accessibility permission is granted.
    safe fn AXIsProcessTrusted() -> u8;
}

/// A Core Foundation object this code owns (from a Create or Copy
/// call), released once when dropped.
struct Cf(NonNull<c_void>);

impl Cf {
    /// Takes ownership of `object`; None for null (the call failed).
    fn new(object: *const c_void) -> Option<Cf> {
        NonNull::new(object.cast_mut()).map(Cf)
    }

    fn ptr(&self) -> *const c_void {
        self.0.as_ptr()
    }
}

impl Drop for Cf {
    fn drop(&mut self) {
        // SAFETY: the pointer is a live CF object this guard owns one
        // reference to (it came from a Create or Copy call), released
        // exactly once, here.
        unsafe { CFRelease(self.ptr()) }
    }
}

/// What to show the user when macOS has not allowed screen sharing.
pub fn permission_text() -> &'static str {
    "To share this Mac's screen, allow \"deskhand-agent\" in System Settings > \
     Privacy & Security > Screen Recording; to let the operator control it, allow it \
     in Accessibility too. Then start the session again."
}

/// Asks macOS for the Screen Recording permission: the first time, the
/// system shows its own prompt and lists deskhand-agent in System
/// Settings (off); later calls only return whether it is allowed.
pub fn ask_permission() -> bool {
    CGRequestScreenCaptureAccess()
}

/// The main display, captured and driven through Quartz.
pub struct QuartzScreen {
    /// The display the last capture came from.
    display: u32,
    /// The last capture's size in pixels, to map the viewer's
    /// positions to points.
    size: (u16, u16),
    /// The global position the pointer was last posted at.
    at: (f64, f64),
    /// The Accessibility permission was seen granted.
    trusted: bool,
    keyboard: Keyboard,
    pointer: Pointer,
}

impl QuartzScreen {
    /// The main display, once macOS allows this process to record it.
    pub fn open() -> Result<QuartzScreen, String> {
        if !CGPreflightScreenCaptureAccess() {
            return Err(format!(
                "macOS does not allow deskhand-agent to record the screen. {}",
                permission_text()
            ));
        }
        Ok(QuartzScreen {
            display: CGMainDisplayID(),
            size: (0, 0),
            at: (0.0, 0.0),
            trusted: AXIsProcessTrusted() != 0,
            keyboard: Keyboard::default(),
            pointer: Pointer::default(),
        })
    }

    /// macOS lets this process post input (the Accessibility
    /// permission); asked again while it is not, so a grant made during
    /// the session takes effect.
    pub fn can_inject(&mut self) -> bool {
        if !self.trusted {
            self.trusted = AXIsProcessTrusted() != 0;
        }
        self.trusted
    }

    /// The main display as it is now.
    pub fn capture(&mut self) -> Result<Frame, String> {
        self.display = CGMainDisplayID();
        let image = Cf::new(CGDisplayCreateImage(self.display)).ok_or_else(|| {
            format!(
                "macOS returned no image of the display; the screen may be locked or \
                 asleep, or recording not allowed. {}",
                permission_text()
            )
        })?;
        let image_ptr = image.ptr();
        // SAFETY: `image` is a live CGImage for these calls, which only
        // read its properties.
        let layout = unsafe {
            ImageLayout {
                width: CGImageGetWidth(image_ptr),
                height: CGImageGetHeight(image_ptr),
                bytes_per_row: CGImageGetBytesPerRow(image_ptr),
                bits_per_pixel: CGImageGetBitsPerPixel(image_ptr),
                bits_per_component: CGImageGetBitsPerComponent(image_ptr),
                bitmap_info: CGImageGetBitmapInfo(image_ptr),
            }
        };
        // SAFETY: `image` is live; the provider it returns belongs to the
        // image (not released here) and the image outlives its use below.
        let provider = unsafe { CGImageGetDataProvider(image_ptr) };
        if provider.is_null() {
            return Err("macOS returned a display image without pixels".to_owned());
        }
        // SAFETY: `provider` is live (the image holds it); the copy is a
        // new CFData this code owns, or null.
        let data = Cf::new(unsafe { CGDataProviderCopyData(provider) })
            .ok_or("macOS could not copy the display image's pixels")?;
        let frame = layout.to_frame(bytes(&data))?;
        self.size = (frame.width, frame.height);
        Ok(frame)
    }

    /// Replays a viewer's key or pointer event; other events are not
    /// input and are ignored.
    pub fn inject(&mut self, event: &Event) -> Result<(), String> {
        match *event {
            Event::Key { down, keysym } => {
                self.need_access()?;
                match self.keyboard.key(down, keysym) {
                    Some(stroke) => post_key(stroke),
                    None => {
                        debug!(
                            keysym,
                            down,
                            "key event with nothing to post (no key or character, a lock key, or a release of a key not held)"
                        );
                        Ok(())
                    }
                }
            }
            Event::Pointer { x, y, buttons } => {
                self.need_access()?;
                let bounds = self.bounds();
                self.at = to_point(x, y, self.size, bounds);
                let flags = self.keyboard.flags();
                for step in self.pointer.event(x, y, buttons, Instant::now()) {
                    post_mouse(step, self.at, flags)?;
                }
                Ok(())
            }
            Event::Send(_) | Event::Clipboard(_) => Ok(()),
        }
    }

    fn bounds(&self) -> Bounds {
        let r = CGDisplayBounds(self.display);
        Bounds {
            x: r.origin.x,
            y: r.origin.y,
            width: r.size.width,
            height: r.size.height,
        }
    }

    fn need_access(&mut self) -> Result<(), String> {
        if self.can_inject() {
            Ok(())
        } else {
            Err(format!(
                "macOS does not allow deskhand-agent to control this Mac, so input \
                 cannot be replayed; viewing still works. {}",
                permission_text()
            ))
        }
    }
}

impl Screen for QuartzScreen {
    fn capture(&mut self) -> Result<Frame, String> {
        QuartzScreen::capture(self)
    }

    fn inject(&mut self, event: &Event) -> Result<(), String> {
        QuartzScreen::inject(self, event)
    }
}

impl Drop for QuartzScreen {
    /// Lets go of what the viewer still holds, since a session cut
    /// mid-drag must not leave the user's mouse button or a key pressed.
    fn drop(&mut self) {
        for stroke in self.keyboard.release_all() {
            let _ = post_key(stroke);
        }
        for step in self.pointer.release_all() {
            let _ = post_mouse(step, self.at, 0);
        }
    }
}

/// The bytes of a CFData, borrowed from its guard.
fn bytes(data: &Cf) -> &[u8] {
    // SAFETY: `data` is a live CFData; these only read its pointer and
    // length.
    let (ptr, len) = unsafe { (CFDataGetBytePtr(data.ptr()), CFDataGetLength(data.ptr())) };
    match usize::try_from(len) {
        Ok(len) if len > 0 && !ptr.is_null() => {
            // SAFETY: a CFData's bytes are `len` initialised bytes at
            // `ptr`, immutable and alive until it is released; the slice
            // borrows the guard, so it cannot outlive that.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        }
        _ => &[],
    }
}

/// Posts one key event.
fn post_key(stroke: KeyStroke) -> Result<(), String> {
    let (code, text) = match stroke.plan {
        KeyPlan::Code(code) => (code, None),
        // The key is a placeholder: the text replaces what it types.
        KeyPlan::Text(ch) => (0, Some(ch)),
    };
    // SAFETY: a null source is allowed (the default); the result is a
    // new event this code owns, or null.
    let event = Cf::new(unsafe { CGEventCreateKeyboardEvent(ptr::null(), code, stroke.down) })
        .ok_or("macOS could not create a keyboard event")?;
    if let Some(ch) = text {
        let mut units = [0u16; 2];
        let units = ch.encode_utf16(&mut units);
        // SAFETY: `event` is live; the text is `units.len()` UTF-16 units
        // alive for the call, which copies them.
        unsafe { CGEventKeyboardSetUnicodeString(event.ptr(), units.len(), units.as_ptr()) };
    }
    post(&event, stroke.flags);
    Ok(())
}

/// Posts one mouse event at `at` (global points) with `flags` held.
fn post_mouse(step: MouseStep, (x, y): (f64, f64), flags: u64) -> Result<(), String> {
    let at = CGPoint { x, y };
    let event = match step {
        // SAFETY (all three): a null source is allowed; the result is a
        // new event this code owns, or null.
        MouseStep::Move { kind, button } => {
            Cf::new(unsafe { CGEventCreateMouseEvent(ptr::null(), kind, at, button) })
        }
        MouseStep::Button {
            kind,
            button,
            clicks,
        } => Cf::new(unsafe { CGEventCreateMouseEvent(ptr::null(), kind, at, button) }).inspect(
            |event| {
                // SAFETY: `event` is live; the field is a mouse event's.
                unsafe { CGEventSetIntegerValueField(event.ptr(), MOUSE_EVENT_CLICK_STATE, clicks) }
            },
        ),
        MouseStep::Scroll {
            vertical,
            horizontal,
        } => Cf::new(unsafe {
            CGEventCreateScrollWheelEvent2(
                ptr::null(),
                SCROLL_UNIT_LINE,
                2,
                vertical,
                horizontal,
                0,
            )
        }),
    }
    .ok_or("macOS could not create a mouse event")?;
    post(&event, flags);
    Ok(())
}

/// Sets an event's modifier flags and posts it where a keyboard's and a
/// mouse's events enter.
fn post(event: &Cf, flags: u64) {
    // SAFETY: `event` is a live CGEvent; posting does not take our
    // reference (the guard still releases it).
    unsafe {
        CGEventSetFlags(event.ptr(), flags);
        CGEventPost(HID_EVENT_TAP, event.ptr());
    }
}
