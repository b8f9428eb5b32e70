/* Check-only stand-in (see TargetConditionals.h). */
#ifndef DESKHAND_STRING_SHIM
#define DESKHAND_STRING_SHIM
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
