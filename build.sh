#!/usr/bin/env bash
# build.sh — builds atento.
#
#   ./build.sh            the WebAssembly modules (dist/*.wasm) and the native build (build/)
#   ./build.sh wasm       only the WebAssembly modules: dist/atento.wasm, dist/atento-mt.wasm
#                         (threads) and their relaxed-SIMD twins dist/atento-relaxed.wasm,
#                         dist/atento-mt-relaxed.wasm (docs/simd.md)
#   ./build.sh native     only the native CLI + C tests (cmake, build/)
#   ./build.sh clean      remove build-wasm/, build/ and the modules
#   FORCE=1 ./build.sh    rebuild everything
#
# The WASM build compiles every core source (src/*.c src/kernels/*.c
# src/models/*.c src/tokenizer/*.c — not src/cli) with Debian's emscripten as
# a standalone module: no emscripten JS glue, js/core.js instantiates it. The
# exports are every ATN_API function declared in src/atento.h, read from the
# header so new API functions are picked up without editing this file.
# Only stale objects are recompiled (source or any header it includes newer
# than the object), and the module is relinked only when an object or the
# header changed.
set -euo pipefail
cd "$(dirname "$0")"

what="${1:-all}"
case "$what" in
  all|wasm|native|clean) ;;
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "build.sh: unknown target '$what' (all, wasm, native, clean)" >&2; exit 2 ;;
esac

JOBS="${JOBS:-2}"   # the build machine is shared: -j2 at most by default
OBJ=build-wasm/obj
OUT=dist/atento.wasm

if [ "$what" = clean ]; then
  rm -rf build-wasm build "$OUT" dist/atento-mt.wasm dist/atento-relaxed.wasm dist/atento-mt-relaxed.wasm
  exit 0
fi

# Debian's emcc runs part of itself under node and needs its modules.
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"

need_emcc() {
  command -v emcc >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build.sh: emcc not found; installing Debian's emscripten" >&2
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y emscripten
    command -v emcc >/dev/null 2>&1 && return 0
  fi
  echo "build.sh: emcc (emscripten) not found; install it with: sudo apt-get install -y emscripten" >&2
  exit 1
}

# ---- WebAssembly ------------------------------------------------------------

CFLAGS=(-O3 -flto -msimd128 -mbulk-memory -mnontrapping-fptoint -std=c11 -DNDEBUG
        -Wall -Wextra -Wno-unused-parameter -Isrc)
LDFLAGS=(-O3 -flto -msimd128 -mbulk-memory -mnontrapping-fptoint --no-entry -sSTANDALONE_WASM
         -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=16MB -sMAXIMUM_MEMORY=4GB
         -sTOTAL_STACK=5MB -Wl,--stack-first)
# --stack-first puts the 5 MB C stack at the bottom of memory: a stack
# overflow (deep recursion on a hostile input) then leaves memory and traps,
# which js/core.js reports as E_ABORT and recovers from, instead of silently
# overwriting the data and heap above it.

# Exported beside the API for the JS tests, not declared in atento.h:
# atn_selftest_trap (src/selftest.c) traps on purpose (unreachable, stack
# overflow) so that the recovery from a trap is tested on the real modules.
TEST_EXPORTS=(atn_selftest_trap)

# Is $1 older than any file listed in the make-style dependency file $2?
stale() {
  local obj="$1" dep="$2" f
  [ -n "${FORCE:-}" ] && return 0
  [ -f "$obj" ] && [ -f "$dep" ] || return 0
  # "obj: a.c b.h \" -> one path per line
  while read -r f; do
    [ -z "$f" ] && continue
    [ -e "$f" ] || return 0           # a header went away
    [ "$f" -nt "$obj" ] && return 0
  done < <(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep" | tr ' ' '\n')
  return 1
}

# Compile the core sources into objects under $1 with the flags that
# follow, only those that are stale; sets OBJS to every object to link.
# Different flags than last time (kept in the file $2; this script changed
# them) rebuild all. The compiler is emcc, or the command in WASM_CC (words
# split on spaces: the relaxed-SIMD build's clang-16 and emscripten's flags).
compile_core() {
  local objdir="$1" stamp="$2"; shift 2
  local cflags=("$@") srcs s o cc=(emcc)
  if [ -n "${WASM_CC:-}" ]; then read -ra cc <<<"$WASM_CC"; cflags=("${cc[@]}" "${cflags[@]}"); fi
  shopt -s nullglob
  srcs=(src/*.c src/kernels/*.c src/models/*.c src/tokenizer/*.c src/train/*.c)
  shopt -u nullglob
  if [ ${#srcs[@]} -eq 0 ]; then echo "build.sh: no core sources under src/" >&2; exit 1; fi
  mkdir -p "$objdir" dist
  if [ "$(cat "$stamp" 2>/dev/null)" != "${cflags[*]}" ]; then
    rm -f "$objdir"/*.o "$objdir"/*.d
    printf '%s' "${cflags[*]}" > "$stamp"
  fi
  local todo=()
  OBJS=()
  for s in "${srcs[@]}"; do
    o="$objdir/${s//\//__}"; o="${o%.c}.o"
    OBJS+=("$o")
    stale "$o" "${o%.o}.d" && todo+=("$s")
  done
  # Objects of sources that were deleted are not linked (only OBJS is), but
  # are removed so the directory stays honest.
  for o in "$objdir"/*.o; do
    [ -e "$o" ] || continue
    case " ${OBJS[*]} " in *" $o "*) ;; *) rm -f "$o" "${o%.o}.d" ;; esac
  done
  if [ ${#todo[@]} -gt 0 ]; then
    echo "build.sh: ${cc[0]}: compiling ${#todo[@]} of ${#srcs[@]} sources into $objdir" >&2
    [ -n "${WASM_CC:-}" ] || cflags=(emcc "${cflags[@]}")
    printf '%s\n' "${todo[@]}" | OBJDIR="$objdir" xargs -P "$JOBS" -I{} bash -c '
      s="$1"; shift
      o="$OBJDIR/${s//\//__}"; o="${o%.c}.o"
      "$@" -MMD -MF "${o%.o}.d" -c "$s" -o "$o" || { rm -f "$o"; exit 255; }
    ' _ {} "${cflags[@]}"
  fi
}

# Is the module $1 older than an object of OBJS, the API header or this script?
needs_link() {
  [ -n "${FORCE:-}" ] || [ ! -f "$1" ] && return 0
  local o
  for o in "${OBJS[@]}" src/atento.h build.sh; do
    [ "$o" -nt "$1" ] && return 0
  done
  echo "build.sh: $1 is up to date" >&2
  return 1
}

# The exports: every ATN_API function of atento.h that OBJS define, one per
# line, then TEST_EXPORTS. A declared but undefined function is reported (the
# module still links, so the team can work while parts of the API are being
# written; the JS glue throws a clear error if such a function is called, and
# tests/js checks the export list is complete).
api_exports() {
  local declared defined f missing=()
  declared=$(grep -oE 'ATN_API[^(;]*[^A-Za-z0-9_](atn_[A-Za-z0-9_]+)[[:space:]]*\(' src/atento.h \
             | sed -E 's/.*[^A-Za-z0-9_](atn_[A-Za-z0-9_]+)[[:space:]]*\($/\1/' | sort -u)
  defined=$("${WASM_NM:-llvm-nm}" --defined-only "${OBJS[@]}" 2>/dev/null | awk '$2 ~ /^[TtW]$/ {print $3}' | sort -u)
  for f in $declared; do
    if grep -qx "$f" <<<"$defined"; then echo "$f"; else missing+=("$f"); fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "build.sh: warning: declared in atento.h but not defined yet: ${missing[*]}" >&2
  fi
  printf '%s\n' "${TEST_EXPORTS[@]}"
}

build_wasm() {
  need_emcc
  compile_core "$OBJ" build-wasm/cflags "${CFLAGS[@]}"
  needs_link "$OUT" || return 0
  local exports
  exports=$(api_exports | sed 's/^/_/' | paste -sd, -)
  if [ -z "$exports" ]; then echo "build.sh: no ATN_API function is defined yet" >&2; exit 1; fi
  echo "build.sh: emcc: linking $OUT" >&2
  emcc "${LDFLAGS[@]}" -sEXPORTED_FUNCTIONS="$exports" "${OBJS[@]}" -o "$OUT.tmp.wasm"
  mv "$OUT.tmp.wasm" "$OUT"
  echo "build.sh: wrote $OUT ($(wc -c <"$OUT") bytes)" >&2
}

# ---- WebAssembly with threads ----------------------------------------------
# dist/atento-mt.wasm: the same sources compiled with -pthread (atomics, bulk
# memory) and linked by wasm-ld directly against emscripten's threaded libc,
# importing a shared memory. emcc itself refuses STANDALONE_WASM with pthreads
# and would add its JS glue; js/core.js instead instantiates this module once
# per thread over the same memory (docs/threads.md). Extra exports for that
# loader: stackRestore (each worker's own stack) and _emscripten_thread_init
# (the libc's main-thread setup calls back into it through an import).

OBJ_MT=build-wasm/obj-mt
OUT_MT=dist/atento-mt.wasm

build_wasm_mt() {
  need_emcc
  compile_core "$OBJ_MT" build-wasm/cflags-mt "${CFLAGS[@]}" -pthread
  needs_link "$OUT_MT" || return 0
  local f exports=()
  for f in $(api_exports); do exports+=("--export=$f"); done
  local llvm sysroot lib
  llvm=$(em-config LLVM_ROOT)
  sysroot=$(em-config CACHE)/sysroot
  lib="$sysroot/lib/wasm32-emscripten"
  local wasm_ld="$llvm/wasm-ld"
  [ -x "$wasm_ld" ] || wasm_ld=$(ls "$llvm"/wasm-ld* 2>/dev/null | head -n 1)
  echo "build.sh: wasm-ld: linking $OUT_MT" >&2
  "$wasm_ld" -o "$OUT_MT.tmp.wasm" "${OBJS[@]}" -L"$lib" "$lib/crt1_reactor.o" \
    -lstandalonewasm-memgrow -lstubs -lnoexit -lc-mt -ldlmalloc-mt -lcompiler_rt-mt \
    -mllvm -combiner-global-alias-analysis=false -mllvm -disable-lsr \
    --lto-O3 --import-undefined --import-memory --shared-memory --strip-debug \
    "${exports[@]}" --export=stackRestore --export=_emscripten_thread_init --export=_initialize \
    -z stack-size=5242880 --stack-first --initial-memory=16777216 --max-memory=4294967296 --global-base=1024 \
    --entry=_initialize
  wasm-opt -O3 --strip-debug --strip-producers --enable-threads --enable-simd --enable-bulk-memory \
    --enable-nontrapping-float-to-int --enable-mutable-globals --enable-sign-ext \
    "$OUT_MT.tmp.wasm" -o "$OUT_MT.tmp.wasm"
  mv "$OUT_MT.tmp.wasm" "$OUT_MT"
  echo "build.sh: wrote $OUT_MT ($(wc -c <"$OUT_MT") bytes)" >&2
}

# ---- WebAssembly with relaxed SIMD -------------------------------------------
# dist/atento-relaxed.wasm and dist/atento-mt-relaxed.wasm: the two modules
# above compiled with -mrelaxed-simd (the kernels' __wasm_relaxed_simd__
# paths), which js/core.js loads where the engine computes the relaxed dot
# exactly (docs/simd.md). Debian's emscripten uses clang 14, which lacks the
# relaxed dot builtins: the sources are compiled by clang-16 with the flags
# emcc gives clang, and linked by wasm-ld-16 against emscripten's (non-LTO)
# libraries, as the threaded module is (wasm-ld 14 cannot read clang 16's
# LTO bitcode). No wasm-opt: binaryen 108 misreads the final relaxed opcodes
# and writes an invalid module; wasm-ld strips the debug sections itself.
# wasm-ld 16 puts the data after a first stack by itself (and refuses a
# --global-base below the stack's size). The imports and exports are those
# of the SIMD128 twin (tests/js/simd.test.mjs), and a custom section
# "atento.simd" holding "relaxed" names the build. Without clang-16,
# wasm-ld-16 and llvm-nm-16 (and no root to install them) these two are
# skipped with a warning: the loader then uses the SIMD128 modules.

OBJ_RX=build-wasm/obj-rx
OBJ_MT_RX=build-wasm/obj-mt-rx
OUT_RX=dist/atento-relaxed.wasm
OUT_MT_RX=dist/atento-mt-relaxed.wasm
RX_CC=${RX_CC:-clang-16}   # each overridable, e.g. for another LLVM of 16 or later
RX_LD=${RX_LD:-wasm-ld-16}
RX_NM=${RX_NM:-llvm-nm-16}   # llvm-nm 14 cannot read clang 16's bitcode either
RX_TOOLS=   # yes / no once looked for

have_relaxed_tools() {
  command -v "$RX_CC" >/dev/null 2>&1 && command -v "$RX_LD" >/dev/null 2>&1 && command -v "$RX_NM" >/dev/null 2>&1
}

need_relaxed_tools() {
  if [ -z "$RX_TOOLS" ]; then
    RX_TOOLS=no
    if have_relaxed_tools; then
      RX_TOOLS=yes
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "build.sh: clang-16 / wasm-ld-16 / llvm-nm-16 not found; installing Debian's clang-16, lld-16 and llvm-16" >&2
      { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y clang-16 lld-16 llvm-16; } >&2 || true
      have_relaxed_tools && RX_TOOLS=yes
    fi
    if [ "$RX_TOOLS" != yes ]; then
      # Older relaxed modules would be loaded in place of the new SIMD128 ones.
      rm -f "$OUT_RX" "$OUT_MT_RX"
      echo "build.sh: warning: no clang-16 / wasm-ld-16 / llvm-nm-16 (apt-get install clang-16 lld-16 llvm-16): $OUT_RX and $OUT_MT_RX not built; the loader uses the SIMD128 modules" >&2
    fi
  fi
  [ "$RX_TOOLS" = yes ]
}

# clang-16 with what emcc adds to a compile (emcc -v), for emscripten's sysroot.
relaxed_cc() {
  local maj min tiny
  IFS=. read -r maj min tiny <<<"$(emcc -dumpversion)"
  echo "$RX_CC -target wasm32-unknown-emscripten -DEMSCRIPTEN -D__EMSCRIPTEN_major__=$maj" \
       "-D__EMSCRIPTEN_minor__=$min -D__EMSCRIPTEN_tiny__=$tiny -fignore-exceptions -fvisibility=default" \
       "-Dunix -D__unix -D__unix__ -Werror=implicit-function-declaration" \
       "-Xclang -iwithsysroot/include/SDL --sysroot=$(em-config CACHE)/sysroot -Xclang -iwithsysroot/include/compat"
}

# build_relaxed OBJDIR STAMP OUT st|mt
build_relaxed() {
  local objdir="$1" stamp="$2" out="$3" kind="$4"
  need_emcc
  need_relaxed_tools || return 0
  local extra=()
  [ "$kind" = mt ] && extra=(-pthread)
  WASM_CC="$(relaxed_cc)" compile_core "$objdir" "$stamp" "${CFLAGS[@]}" -mrelaxed-simd "${extra[@]}"
  needs_link "$out" || return 0
  local f exports=()
  for f in $(WASM_NM="$RX_NM" api_exports); do exports+=("--export=$f"); done
  local lib link=()
  lib="$(em-config CACHE)/sysroot/lib/wasm32-emscripten"
  if [ "$kind" = mt ]; then
    # as build_wasm_mt
    link=(-lc-mt -ldlmalloc-mt -lcompiler_rt-mt --import-memory --shared-memory
          --export=stackRestore --export=_emscripten_thread_init)
  else
    # as emcc links dist/atento.wasm: its own memory and table exported
    link=(-lc -ldlmalloc -lcompiler_rt --export=stackSave --export=stackRestore --export=stackAlloc
          --export=__errno_location --export-table)
  fi
  echo "build.sh: $RX_LD: linking $out" >&2
  "$RX_LD" -o "$out.tmp.wasm" "${OBJS[@]}" -L"$lib" "$lib/crt1_reactor.o" \
    -lstandalonewasm-memgrow -lstubs -lnoexit "${link[@]}" \
    -mllvm -combiner-global-alias-analysis=false -mllvm -disable-lsr \
    --lto-O3 --import-undefined --strip-debug "${exports[@]}" --export=_initialize \
    -z stack-size=5242880 --stack-first --initial-memory=16777216 --max-memory=4294967296 \
    --entry=_initialize
  # custom section: id 0, 19 bytes: the name "atento.simd" (11), then "relaxed"
  printf '\000\023\013atento.simdrelaxed' >>"$out.tmp.wasm"
  mv "$out.tmp.wasm" "$out"
  echo "build.sh: wrote $out ($(wc -c <"$out") bytes)" >&2
}

build_wasm_relaxed() {
  build_relaxed "$OBJ_RX" build-wasm/cflags-rx "$OUT_RX" st
  build_relaxed "$OBJ_MT_RX" build-wasm/cflags-mt-rx "$OUT_MT_RX" mt
}

# ---- native (cmake) ---------------------------------------------------------

build_native() {
  if ! command -v cmake >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y cmake build-essential
    else
      echo "build.sh: cmake not found; install it with: sudo apt-get install -y cmake build-essential" >&2
      exit 1
    fi
  fi
  [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$JOBS"
}

case "$what" in
  all) build_wasm; build_wasm_mt; build_wasm_relaxed; build_native ;;
  wasm) build_wasm; build_wasm_mt; build_wasm_relaxed ;;
  native) build_native ;;
esac
