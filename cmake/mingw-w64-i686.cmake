# Cross-compiling for 32-bit Windows (the provider DLL for 32-bit Outlook) with Debian's mingw-w64 (gcc-mingw-w64-i686):
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-i686.cmake -DOUTPOST_SDK_ONLY=ON
# Only the SDK-only build works this way: Debian has no Windows builds of the
# core's libraries (docs/windows.md).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR i686)

set(OUTPOST_MINGW_TRIPLET i686-w64-mingw32 CACHE STRING "mingw-w64 target triplet")
set(CMAKE_C_COMPILER ${OUTPOST_MINGW_TRIPLET}-gcc)
set(CMAKE_RC_COMPILER ${OUTPOST_MINGW_TRIPLET}-windres)

# Headers and libraries come from the mingw sysroot only; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${OUTPOST_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
