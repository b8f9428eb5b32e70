/* Check-only stand-in (see TargetConditionals.h). */
#ifndef DESKHAND_ASSERT_SHIM
#define DESKHAND_ASSERT_SHIM
#define assert(x) ((void)0)
#endif
