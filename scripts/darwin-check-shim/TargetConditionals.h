/* Minimal stand-in for the macOS SDK header, so that ring's C code compiles
 * during `cargo check --target aarch64-apple-darwin` on Linux. Objects built
 * with it are never linked; real macOS builds use the SDK's header. */
#ifndef DESKHAND_TARGET_CONDITIONALS_SHIM
#define DESKHAND_TARGET_CONDITIONALS_SHIM
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_TV 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 0
#endif
