#!/usr/bin/env bash
# Runs every test of the release and ASan+UBSan builds and prints one
# summary line, "N passed, N failed", as its last line.
#   format               clang-format --dry-run over src/  (one)
#   cmocka unit tests    build/{rel,asan}/tests/test_*   (each test case counts)
#   fuzz corpus replays  build/{rel,asan}/fuzz/fuzz_*    (one per target and build)
#   interop              tests/interop/run.sh <build>     (each scenario counts)
#   gateway interop      tests/interop/run-gateway.sh <build> (Go threshold emulator)
#   end to end           tests/e2e (pytest-3)             (each test counts)
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0; failures=()
logdir=build/test-logs; mkdir -p "$logdir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

record() { # name, passed-count, failed-count
  passed=$((passed + $2)); failed=$((failed + $3))
  if [ "$3" -gt 0 ]; then failures+=("$1"); echo "FAIL $1 ($2 passed, $3 failed)";
  else echo "ok   $1 ($2 passed)"; fi
}

run_cmocka() { # build, binary
  local name="$1/$(basename "$2")" log="$logdir/$1-$(basename "$2").log" p f rc
  timeout 300 "$2" >"$log" 2>&1; rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$f" -gt 0 ] && tail -n 40 "$log"
  record "$name" "$p" "$f"
}

run_replay() { # build, binary
  local t; t=$(basename "$2"); local log="$logdir/$1-$t.log"
  if timeout 600 "$2" "fuzz/corpus/$t" >"$log" 2>&1; then record "$1/replay/$t" 1 0
  else tail -n 40 "$log"; record "$1/replay/$t" 0 1; fi
}

# Formatting: src/ as .clang-format says (Debian's clang-format 14).
if command -v clang-format >/dev/null 2>&1; then
  if out=$(clang-format --dry-run -Werror src/*/*.[ch] src/main.c 2>&1); then record format 1 0
  else echo "$out" | head -40; echo "fix with: clang-format -i src/*/*.[ch] src/main.c"; record format 0 1; fi
fi

for b in rel asan; do
  for t in build/$b/tests/test_*; do [ -x "$t" ] && run_cmocka "$b" "$t"; done
  for t in build/$b/fuzz/fuzz_*; do [ -x "$t" ] && run_replay "$b" "$t"; done
done

# Interop and end-to-end suites report "RESULT <name> pass|fail" lines.
run_suite() { # name, command...
  local name="$1"; shift; local log="$logdir/$name.log" p f
  timeout 900 "$@" >"$log" 2>&1; local rc=$?
  p=$(grep -c '^RESULT .* pass$' "$log"); f=$(grep -c '^RESULT .* fail$' "$log")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$f" -gt 0 ] && tail -n 60 "$log"
  record "$name" "$p" "$f"
}
if [ -x tests/interop/run.sh ]; then
  for b in rel asan; do run_suite "interop-$b" tests/interop/run.sh "$b"; done
fi
if [ -x tests/interop/run-gateway.sh ]; then
  for b in rel asan; do run_suite "gateway-interop-$b" tests/interop/run-gateway.sh "$b"; done
fi

if ls tests/e2e/test_*.py >/dev/null 2>&1; then
  for b in rel asan; do
    log="$logdir/e2e-$b.log"
    THRESHOLD_BIN="$PWD/build/$b/threshold" timeout 900 pytest-3 -q -p no:cacheprovider tests/e2e >"$log" 2>&1; rc=$?
    last=$(tail -n 1 "$log")
    p=$(echo "$last" | grep -o '[0-9]* passed' | grep -o '[0-9]*' || echo 0)
    f=$(echo "$last" | grep -oE '[0-9]+ (failed|error)' | awk '{s+=$1} END {print s+0}')
    p=${p:-0}; [ $rc -ne 0 ] && [ "$rc" -ne 5 ] && [ "$f" -eq 0 ] && f=1
    [ "$f" -gt 0 ] && tail -n 80 "$log"
    record "e2e-$b" "$p" "$f"
  done
fi

if [ ${#failures[@]} -gt 0 ]; then echo "failed: ${failures[*]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
