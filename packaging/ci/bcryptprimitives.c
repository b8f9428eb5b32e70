/*
 * Test-only stand-in for bcryptprimitives.dll, which Debian's Wine 8.0
 * lacks. Rust's standard library imports ProcessPrng from it on Windows,
 * so without it a Rust exe exits at once (code 53) under that Wine. This
 * forwards to RtlGenRandom (advapi32's SystemFunction036). Real Windows
 * has the DLL; this is never shipped.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
