/* tests/mapi/win32/abi_mingw.c — layouts per mingw-w64's MAPI headers. */
#include <stddef.h>
#include <windows.h>
#include <mapidefs.h>
#include <mapispi.h>
#include <mapix.h>

#include "abi_layout.h"

#define V(x) (size_t)(x),
const size_t abi_mingw[] = { ABI_LAYOUT(V) };
const size_t abi_mingw_count = sizeof abi_mingw / sizeof abi_mingw[0];
