#!/bin/sh
# wasm_ctests.sh — build every tests/c/test_*.c with the core sources as a
# standalone WASI .wasm (SIMD128 on, like the product) and run it under Node;
# then test_kernels and test_threads with the relaxed-SIMD kernels (below).
# Usage: tests/wasm_ctests.sh [test_name ...]   (default: all)
# Needs emcc (apt-get install emscripten) and node >= 20.
# tests/wasi_shim.c gives the tests fopen() through WASI path_open (imported
# by hand, hence ERROR_ON_UNDEFINED_SYMBOLS=0; the runner supplies only WASI
# imports, so any other undefined symbol still fails at instantiation).
set -u
cd "$(dirname "$0")/.."
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
OUT=build-wasm-tests
mkdir -p "$OUT"
CORE=$(ls src/*.c src/kernels/*.c src/models/*.c src/tokenizer/*.c src/train/*.c 2>/dev/null)
if [ $# -gt 0 ]; then TESTS=""; for t in "$@"; do TESTS="$TESTS tests/c/$t.c"; done
else TESTS=$(ls tests/c/test_*.c); fi
CFLAGS="-O2 -msimd128 -std=c11 -Isrc -Wno-unused-parameter"
fail=0
# The core and the shim are compiled once per run (two at a time), then each
# test is compiled and linked against those objects.
OBJ="$OUT/obj"
rm -rf "$OBJ"
mkdir -p "$OBJ"
export OBJ CFLAGS
if ! printf '%s\n' $CORE tests/wasi_shim.c | xargs -P 2 -I{} sh -c \
     'o="$OBJ/$(echo "$1" | tr / _).o"; emcc $CFLAGS -c "$1" -o "$o" 2> "$o.log" || { cat "$o.log"; exit 255; }' _ {}; then
  echo "FAIL: the core does not compile to WebAssembly"
  exit 1
fi
OBJS=$(ls "$OBJ"/*.o)
for src in $TESTS; do
  name=$(basename "$src" .c)
  echo "== $name (wasm)"
  # extra linker flags from a "/* link: FLAGS */" line (as CMakeLists.txt)
  link=$(sed -n 's|^/\* link: \(.*\) \*/$|\1|p' "$src")
  if ! emcc $CFLAGS -sSTANDALONE_WASM -sERROR_ON_UNDEFINED_SYMBOLS=0 \
       -sINITIAL_MEMORY=536870912 $link \
       $OBJS "$src" -o "$OUT/$name.wasm" 2> "$OUT/$name.build.log"; then
    grep -v "path_open" "$OUT/$name.build.log"
    echo "FAIL $name: build failed"; fail=1; continue
  fi
  if node --no-warnings tests/run_wasi.mjs "$OUT/$name.wasm" > "$OUT/$name.log" 2>&1; then
    tail -n 1 "$OUT/$name.log"
  else
    cat "$OUT/$name.log" | tail -n 30
    echo "FAIL $name (wasm)"; fail=1
  fi
done

# The relaxed-SIMD kernels (docs/simd.md): simd128.c and dispatch.c compiled
# by clang-16 with -mrelaxed-simd (emscripten's clang 14 lacks the builtins),
# linked with the other objects at -O0 (binaryen's wasm-opt here mis-decodes
# the relaxed opcodes), run with Node's relaxed-SIMD flag where it needs one.
# Only when no tests were named, or the kernel tests were.
RX_CC=${RX_CC:-clang-16}
case " ${*:-test_kernels test_threads} " in
  *" test_kernels "*|*" test_threads "*) rx_wanted=1 ;;
  *) rx_wanted=0 ;;
esac
if [ "$rx_wanted" = 1 ] && ! command -v "$RX_CC" >/dev/null 2>&1; then
  echo "== relaxed SIMD: $RX_CC not found, kernel tests of the relaxed build skipped (apt-get install clang-16)"
elif [ "$rx_wanted" = 1 ]; then
  ver=$(emcc -dumpversion)
  sysroot="$(em-config CACHE)/sysroot"
  RXOBJ="$OUT/obj-rx"
  rm -rf "$RXOBJ"
  mkdir -p "$RXOBJ"
  for k in simd128 dispatch; do
    # shellcheck disable=SC2086
    "$RX_CC" -target wasm32-unknown-emscripten -DEMSCRIPTEN -D__EMSCRIPTEN_major__="${ver%%.*}" \
      --sysroot="$sysroot" -Xclang -iwithsysroot/include/compat $CFLAGS -mrelaxed-simd \
      -c "src/kernels/$k.c" -o "$RXOBJ/$k.o" || { echo "FAIL: src/kernels/$k.c does not compile with $RX_CC -mrelaxed-simd"; exit 1; }
  done
  RXOBJS="$(ls "$OBJ"/*.o | grep -v -e 'src_kernels_simd128\.c\.o$' -e 'src_kernels_dispatch\.c\.o$') $RXOBJ/simd128.o $RXOBJ/dispatch.o"
  node_flags=""
  [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ] && node_flags="--experimental-wasm-relaxed-simd"
  for name in test_kernels test_threads; do
    case " ${*:-test_kernels test_threads} " in *" $name "*) ;; *) continue ;; esac
    echo "== $name (wasm, relaxed SIMD)"
    # shellcheck disable=SC2086
    if ! emcc -O0 $CFLAGS -sSTANDALONE_WASM -sERROR_ON_UNDEFINED_SYMBOLS=0 -sINITIAL_MEMORY=536870912 \
         $RXOBJS "tests/c/$name.c" -o "$OUT/${name}_relaxed.wasm" 2> "$OUT/${name}_relaxed.build.log"; then
      grep -v "path_open" "$OUT/${name}_relaxed.build.log"
      echo "FAIL ${name}_relaxed: build failed"; fail=1; continue
    fi
    # shellcheck disable=SC2086
    if ! node --no-warnings $node_flags tests/run_wasi.mjs "$OUT/${name}_relaxed.wasm" > "$OUT/${name}_relaxed.log" 2>&1; then
      tail -n 30 "$OUT/${name}_relaxed.log"
      echo "FAIL ${name}_relaxed (wasm, relaxed SIMD)"; fail=1
    elif [ "$name" = test_kernels ] && ! grep -q "^kernels: simd128-relaxed" "$OUT/${name}_relaxed.log"; then
      echo "FAIL ${name}_relaxed: the relaxed kernels did not run ($(grep '^kernels:' "$OUT/${name}_relaxed.log"))"; fail=1
    else
      tail -n 1 "$OUT/${name}_relaxed.log"
    fi
  done
fi
exit $fail
