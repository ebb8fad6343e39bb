#!/usr/bin/env bash
# Tests of loaders/zprun.
#
#   bash loaders/test_zprun.sh          (from the checkout root, after 'make')
#
# Most tests run zprun inside a throw-away copy of the kit layout
# (<tmp>/loaders/zprun, <tmp>/zpoline/libzpoline.so, <tmp>/hooklib/...) whose
# libzpoline.so is an empty stand-in: they check what zprun itself does (option
# parsing, finding libraries, environment, exit status) independently of the
# state of the real libzpoline.  The last group runs the real kit if it is
# built.  Prints one line per test and a closing 'zprun: N passed, M failed';
# exits non-zero if any test failed.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ZPRUN=$ROOT/loaders/zprun
passed=0
failed=0

ok()   { echo "ok   - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1${2:+: $2}"; failed=$((failed + 1)); }
skip() { echo "skip - $1${2:+: $2}"; }

if [ ! -x "$ZPRUN" ]; then
	echo "test_zprun: $ZPRUN is not built (run 'make loaders/zprun')"
	echo "zprun: 0 passed, 1 failed"
	exit 1
fi

TMP=$(mktemp -d /tmp/test_zprun.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"   # the page-0 test runs zprun as another user

# --- a stand-in kit ---------------------------------------------------------
KIT=$TMP/kit
mkdir -p "$KIT/loaders" "$KIT/zpoline" "$KIT/hooklib" "$TMP/other"
cp "$ZPRUN" "$KIT/loaders/zprun"
echo 'int zprun_test_stand_in;' > "$TMP/stand_in.c"
gcc -shared -fPIC -o "$KIT/zpoline/libzpoline.so" "$TMP/stand_in.c"
gcc -shared -fPIC -o "$TMP/other/libother.so" "$TMP/stand_in.c"
# Hook libraries are only resolved by zprun, never loaded by the stand-in.
cp "$KIT/zpoline/libzpoline.so" "$KIT/hooklib/libzphook_alpha.so"
cp "$KIT/zpoline/libzpoline.so" "$KIT/hooklib/libzp_preload.so"
cp "$KIT/zpoline/libzpoline.so" "$KIT/hooklib/libzphook_beta.so"
cp "$KIT/zpoline/libzpoline.so" "$TMP/other/myhook.so"
chmod -R a+rX "$TMP"
Z=$KIT/loaders/zprun

# run CMD...: sets $rc, $out (stdout) and $err (stderr).
run() {
	"$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	out=$(cat "$TMP/out")
	err=$(cat "$TMP/err")
}
lines() { if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi; }

# expect NAME RC [PATTERN-IN-STDERR]: the last run exited RC with exactly one
# stderr line matching PATTERN (grep -E).  RC 0 expects an empty stderr.
expect_error_line() {
	local name=$1 want_rc=$2 pattern=${3:-}
	if [ "$rc" != "$want_rc" ]; then fail "$name" "exit $rc, want $want_rc; stderr: $err"; return; fi
	if [ "$(lines "$err")" != 1 ]; then fail "$name" "want one stderr line, got: $err"; return; fi
	if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$err"; then
		fail "$name" "stderr does not match /$pattern/: $err"; return
	fi
	ok "$name"
}
expect_output() {
	local name=$1 want_rc=$2 want_out=$3
	if [ "$rc" != "$want_rc" ]; then fail "$name" "exit $rc, want $want_rc; stderr: $err"; return; fi
	if [ "$out" != "$want_out" ]; then fail "$name" "stdout '$out', want '$want_out'"; return; fi
	ok "$name"
}

min_addr=$(cat /proc/sys/vm/mmap_min_addr)
# zprun only execs a program if this user may map page 0.
if [ "$(id -u)" = 0 ] || [ "$min_addr" = 0 ]; then can_exec=1; else can_exec=0; fi

# --- help and usage ---------------------------------------------------------
run "$Z" --help
if [ "$rc" = 0 ] && grep -q '^Usage: zprun' <<<"$out" && grep -q -- '--hook' <<<"$out" && [ -z "$err" ]
then ok "--help: usage on stdout, exit 0"; else fail "--help" "rc=$rc out=$out err=$err"; fi
run "$Z" -h
if [ "$rc" = 0 ] && grep -q '^Usage: zprun' <<<"$out"; then ok "-h"; else fail "-h" "rc=$rc"; fi

run "$Z";                       expect_error_line "no program: one line, exit 2" 2 "no program.*--help"
run "$Z" --hook;                expect_error_line "--hook without argument" 2 "--hook needs an argument.*--help"
run "$Z" --hook= true;          expect_error_line "--hook= empty" 2 "--help"
run "$Z" --bogus true;          expect_error_line "unknown option" 2 "unknown option '--bogus'.*--help"
run "$Z" --verbose=yes true;    expect_error_line "flag given a value" 2 "takes no argument"
run "$Z" --mechanism strace true;  expect_error_line "--mechanism: unknown name lists the available ones" 2 \
	"unknown mechanism 'strace'; available: zpoline preload int3 sud seccomp ptrace"
run "$Z" --mechanism;           expect_error_line "--mechanism without argument" 2 "--mechanism needs an argument"
run "$Z" --loader true;         expect_error_line "--loader: a kit without zpload, one line" 126 "zpload.*make"
run "$Z" --loader --mechanism sud true
expect_error_line "--loader with another mechanism is refused" 2 "zpoline mechanism only"
STATIC_PROG=$ROOT/tests/out/calls_static
if [ -x "$STATIC_PROG" ]; then
	run "$Z" --mechanism sud -- "$STATIC_PROG" run 1 0 /dev/null 0
	expect_error_line "a static program under an LD_PRELOAD mechanism: one line" 126 "statically linked"
else
	fail "a static program under an LD_PRELOAD mechanism" "$STATIC_PROG is not built (make test builds it)"
fi

# --- finding the libraries --------------------------------------------------
run "$Z" --hook gamma -- true
expect_error_line "unknown hook name lists available hooks" 2 "unknown hook 'gamma'.* alpha beta"
run "$Z" --hook /nonexistent/hook.so -- true
expect_error_line "missing hook path" 2 "/nonexistent/hook.so"

mkdir -p "$TMP/nolib/loaders" && cp "$Z" "$TMP/nolib/loaders/zprun"
run "$TMP/nolib/loaders/zprun" -- true
expect_error_line "missing libzpoline.so: one line, exit 126" 126 "libzpoline.so.*make"

if [ "$can_exec" = 1 ]; then
	show_env='printf "%s|%s|%s" "${LD_PRELOAD-unset}" "${LIBZPHOOK-unset}" "${ZP_VERBOSE-unset}"'

	# --- environment ------------------------------------------------------
	run env -u LD_PRELOAD -u LIBZPHOOK -u ZP_VERBOSE "$Z" -- sh -c "$show_env"
	expect_output "default: LD_PRELOAD set, no hook, not verbose" 0 "$KIT/zpoline/libzpoline.so|unset|unset"

	run env LD_PRELOAD="$TMP/other/libother.so" "$Z" -- sh -c 'printf %s "$LD_PRELOAD"'
	expect_output "existing LD_PRELOAD is kept after libzpoline" 0 "$KIT/zpoline/libzpoline.so:$TMP/other/libother.so"

	run env -u LIBZPHOOK "$Z" --hook alpha -- sh -c 'printf %s "$LIBZPHOOK"'
	expect_output "--hook NAME resolves in <kit>/hooklib" 0 "$KIT/hooklib/libzphook_alpha.so"
	run env -u LIBZPHOOK "$Z" --hook=beta sh -c 'printf %s "$LIBZPHOOK"'
	expect_output "--hook=NAME" 0 "$KIT/hooklib/libzphook_beta.so"
	run env -C "$TMP" "$Z" --hook other/myhook.so -- sh -c 'printf %s "$LIBZPHOOK"'
	expect_output "--hook relative path becomes absolute" 0 "$TMP/other/myhook.so"
	run env -C "$TMP/other" "$Z" --hook myhook.so -- sh -c 'printf %s "$LIBZPHOOK"'
	expect_output "--hook NAME.so is a path" 0 "$TMP/other/myhook.so"

	ln -s "$Z" "$TMP/zprun-link"
	run env -u LIBZPHOOK "$TMP/zprun-link" --hook alpha -- sh -c 'printf "%s|%s" "$LD_PRELOAD" "$LIBZPHOOK"'
	expect_output "called through a symlink, still finds the kit" 0 \
		"$KIT/zpoline/libzpoline.so|$KIT/hooklib/libzphook_alpha.so"

	# --- mechanisms -------------------------------------------------------
	run env -u LD_PRELOAD -u LIBZPHOOK "$Z" --mechanism zpoline --hook alpha -- sh -c "$show_env"
	expect_output "--mechanism zpoline is the default" 0 \
		"$KIT/zpoline/libzpoline.so|$KIT/hooklib/libzphook_alpha.so|unset"
	run env -u LD_PRELOAD -u LIBZPHOOK "$Z" --mechanism preload --hook alpha -- sh -c "$show_env"
	expect_output "--mechanism preload: LD_PRELOAD is libzp_preload.so, LIBZPHOOK set" 0 \
		"$KIT/hooklib/libzp_preload.so|$KIT/hooklib/libzphook_alpha.so|unset"
	run env -u LIBZPHOOK LD_PRELOAD="$TMP/other/libother.so" "$Z" --mechanism=preload -- sh -c "$show_env"
	expect_output "--mechanism=preload without a hook keeps an existing LD_PRELOAD after it" 0 \
		"$KIT/hooklib/libzp_preload.so:$TMP/other/libother.so|unset|unset"
	show_mech='printf "%s|%s|%s" "${LD_PRELOAD-unset}" "${ZP_MECHANISM-unset}" "${LIBZPHOOK-unset}"'
	for m in int3 sud seccomp; do
		run env -u LD_PRELOAD -u LIBZPHOOK "$Z" --mechanism $m --hook alpha -- sh -c "$show_mech"
		expect_output "--mechanism $m: libzpoline with ZP_MECHANISM=$m" 0 \
			"$KIT/zpoline/libzpoline.so|$m|$KIT/hooklib/libzphook_alpha.so"
	done
	run env -u LD_PRELOAD ZP_MECHANISM=sud "$Z" --mechanism zpoline -- sh -c "$show_mech"
	expect_output "--mechanism zpoline drops an inherited ZP_MECHANISM" 0 \
		"$KIT/zpoline/libzpoline.so|unset|unset"
	mkdir -p "$TMP/notrace/loaders"
	cp "$Z" "$TMP/notrace/loaders/zprun"
	run "$TMP/notrace/loaders/zprun" --mechanism ptrace -- true
	expect_error_line "--mechanism ptrace, zptrace missing: one line, exit 126" 126 "zptrace.*make"
	mkdir -p "$TMP/nopreload/loaders" "$TMP/nopreload/zpoline" "$TMP/nopreload/hooklib"
	cp "$Z" "$TMP/nopreload/loaders/zprun"
	cp "$KIT/zpoline/libzpoline.so" "$TMP/nopreload/zpoline/"
	run "$TMP/nopreload/loaders/zprun" --mechanism preload -- true
	expect_error_line "--mechanism preload, libzp_preload.so missing: one line, exit 126" 126 \
		"libzp_preload.so.*make"

	run env -u ZP_VERBOSE "$Z" --verbose -- sh -c 'printf %s "$ZP_VERBOSE"'
	if [ "$rc" = 0 ] && [ "$out" = 1 ] && grep -q 'zprun: exec sh' <<<"$err"
	then ok "--verbose sets ZP_VERBOSE=1 and reports"; else fail "--verbose" "rc=$rc out=$out err=$err"; fi

	# --- program, arguments and exit status -------------------------------
	run "$Z" printf '%s|' a 'b c' --hook -l
	expect_output "options stop at the program; arguments passed as they are" 0 "a|b c|--hook|-l|"
	run "$Z" -- sh -c 'exit 7';  expect_output "exit status 7 passed through" 7 ""
	run "$Z" -- sh -c 'exit 0';  expect_output "exit status 0 passed through" 0 ""
	{ run "$Z" -- sh -c 'kill -TERM $$'; } 2>/dev/null  # bash would print "Terminated"
	if [ "$rc" = 143 ]; then ok "death by SIGTERM seen by the caller (143)"; else fail "SIGTERM" "rc=$rc"; fi
	run sh -c 'echo $$ >"$1"; exec "$2" -- sh -c "echo \$\$"' _ "$TMP/pid" "$Z"
	if [ "$out" = "$(cat "$TMP/pid")" ]; then ok "program keeps zprun's PID (exec, no fork)"
	else fail "program keeps zprun's PID" "zprun $(cat "$TMP/pid"), program $out"; fi

	run "$Z" -- no-such-program-zprun-test
	expect_error_line "missing program: one line, exit 127" 127 "no-such-program-zprun-test: command not found"
	run "$Z" -- ./no/such/file
	expect_error_line "missing program by path: exit 127" 127 "No such file"
	printf 'echo hi\n' > "$TMP/not_executable"; chmod 644 "$TMP/not_executable"
	run "$Z" -- "$TMP/not_executable"
	expect_error_line "program not executable: exit 126" 126 "Permission denied"
else
	skip "environment, exit status and program tests" "need root or vm.mmap_min_addr=0"
fi

# --- page 0 refused -------------------------------------------------------
# An ordinary user with vm.mmap_min_addr > 0 cannot map page 0: one line
# naming the cause and the fix, exit 126, and the program never runs.
if [ "$min_addr" = 0 ]; then
	skip "page-0 message" "vm.mmap_min_addr is 0 here"
else
	if [ "$(id -u)" = 0 ]; then
		as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
	else
		as_user=()
	fi
	run "${as_user[@]}" "$Z" -- sh -c 'echo program-ran'
	expect_error_line "page 0 refused for an ordinary user: one line, exit 126" 126 \
		"page 0.*not root, vm.mmap_min_addr=$min_addr.*run as root, or sysctl -w vm.mmap_min_addr=0"
	if [ -z "$out" ]; then ok "page 0 refused: the program did not run"
	else fail "page 0 refused: the program did not run" "stdout: $out"; fi
	# LD_PRELOAD needs no page 0: an ordinary user may use it.
	run "${as_user[@]}" "$Z" --mechanism preload -- sh -c 'echo program-ran'
	expect_output "--mechanism preload needs no page 0 (ordinary user)" 0 "program-ran"
	# Only zpoline's trampoline lives at page 0: the trap-based ones need none.
	for m in int3 sud; do
		run "${as_user[@]}" "$Z" --mechanism $m -- sh -c 'echo program-ran'
		expect_output "--mechanism $m needs no page 0 (ordinary user)" 0 "program-ran"
	done
	if [ "$(id -u)" = 0 ]; then
		run setpriv --bounding-set=-sys_rawio "$Z" -- true
		expect_error_line "page 0 refused for root without CAP_SYS_RAWIO" 126 \
			"root without CAP_SYS_RAWIO, vm.mmap_min_addr=$min_addr.*run as root"
		if unshare -r true 2>/dev/null; then
			run unshare -r "$Z" -- true
			expect_error_line "page 0 refused for root in a user namespace" 126 \
				"root only inside a user namespace.*run as root"
		else
			skip "page 0 in a user namespace" "unshare -r not permitted here"
		fi
	fi
fi

# --- the real kit, when it is built ------------------------------------------
if [ "$can_exec" = 0 ]; then
	skip "real libzpoline tests" "need root or vm.mmap_min_addr=0"
elif [ ! -f "$ROOT/zpoline/libzpoline.so" ]; then
	skip "real libzpoline tests" "zpoline/libzpoline.so not built"
else
	run "$ZPRUN" -- sh -c 'echo hello; exit 7'
	expect_output "real libzpoline: output and exit status 7" 7 "hello"
	run "$ZPRUN" -- "$ZPRUN" -- sh -c 'exit 3'
	expect_output "zprun under zprun (page 0 already taken by the trampoline)" 3 ""
	for hook in passthrough count trace; do
		if [ ! -f "$ROOT/hooklib/libzphook_$hook.so" ]; then
			skip "real hook $hook" "hooklib/libzphook_$hook.so not built"; continue
		fi
		run "$ZPRUN" --hook "$hook" -- sh -c 'echo hello; exit 5'
		expect_output "real hook $hook: output and exit status 5" 5 "hello"
	done
	if [ ! -f "$ROOT/hooklib/libzp_preload.so" ] || [ ! -f "$ROOT/hooklib/libzphook_count.so" ]; then
		skip "real --mechanism preload" "hooklib/libzp_preload.so or libzphook_count.so not built"
	else
		# dash's exit is _exit(), which the preload library sends through the hook.
		run env -u ZP_COUNT_FILE "$ZPRUN" --mechanism preload --hook count -- sh -c 'echo hello; exit 5'
		if [ "$rc" = 5 ] && [ "$out" = hello ] && grep -Eq '^ *[0-9.]+ .* write$' <<<"$err"
		then ok "real --mechanism preload with the count hook: output, status 5, write counted"
		else fail "real --mechanism preload" "rc=$rc out=$out err=$err"; fi
	fi
fi

echo "zprun: $passed passed, $failed failed"
[ "$failed" = 0 ]
