# lib.bash — the run/expect harness shared by the command tests that run
# kervan once per check and count failures (mrn.sh, ref.sh, validate.sh,
# ncts.sh). Sourced, not run: its name does not end in .sh, so CMake does
# not register it as a test.
#
# The test sets KV (the binary), TMP (a scratch folder) and failures=0, then
# sources this file; at the end it exits 1 when failures > 0.

# fail MESSAGE... — counts a failed check and says why on stderr.
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run EXPECTED_RC ARGS... — runs kervan, keeps stdout/stderr in $TMP/out, $TMP/err.
# A different exit status is a failure (and run returns 1).
run() {
    local want=$1
    shift
    local rc=0
    "$KV" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [[ $rc != "$want" ]]; then
        fail "kervan $* exited $rc, expected $want; stdout: $(head -c 500 "$TMP/out"); stderr: $(head -c 500 "$TMP/err")"
        return 1
    fi
}

# expect_out TEXT — the last run's stdout is exactly TEXT.
expect_out() {
    local got
    got=$(cat "$TMP/out")
    [[ $got == "$1" ]] || fail "expected stdout '$1', got '$got'"
}

# expect_out_has TEXT — the last run's stdout contains TEXT.
expect_out_has() {
    grep -qF -- "$1" "$TMP/out" || fail "stdout lacks '$1': $(head -c 300 "$TMP/out")"
}

# expect_err_has TEXT — the last run's stderr contains TEXT.
expect_err_has() {
    grep -qF -- "$1" "$TMP/err" || fail "stderr lacks '$1': $(cat "$TMP/err")"
}

# expect_lines N — the last run's stdout has N lines.
expect_lines() {
    local n
    n=$(wc -l <"$TMP/out")
    [[ $n == "$1" ]] || fail "expected $1 lines of output, got $n"
}
