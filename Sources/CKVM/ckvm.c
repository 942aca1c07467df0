/* CKVM is header-only (static inline); this file gives SwiftPM a translation unit to build. */
#include "ckvm.h"
