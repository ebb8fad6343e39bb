#!/bin/bash
# run.sh - the ELF loader (`loaders/zprun --loader`, loaders/zpload) hooks
# programs from their first instruction: statically linked ones (glibc
# -static and -static-pie, Debian's busybox-static, a Go binary) and ld.so
# itself for dynamic ones.
#
#   bash tests/loaders/run.sh [NAME-SUBSTRING]
#   LOADER_OPTS='--mechanism ptrace' bash tests/loaders/run.sh
#         runs every "loaded" half through another front end instead of
#         --loader (ptrace also sees every call from the first instruction:
#         a way to check this script itself; default LOADER_OPTS=--loader)
#
# Ground truth is always a native run: `strace -f -c` of the same program
# with the same arguments, its stdout/stderr/exit status, or a count known by
# construction.
#   a. tests/out/calls_{static,static_pie,dynamic} (tests/loaders/calls.c):
#      the count hook's table equals strace's row by row; for the dynamic one
#      that includes every call ld.so makes, which LD_PRELOAD (plain zprun)
#      cannot see; and on one strace'd run of the loader, strace and the hook
#      agree on getppid (the loader and the hook make none of their own);
#   b. their stdout, stderr and exit status equal native;
#   c. ~30 busybox-static command lines: stdout, stderr and exit status
#      byte-identical natively, under --hook passthrough and --hook count;
#   d. tests/out/goprog (Go's runtime: threads, GC, SIGURG preemption):
#      exit 0, same stdout, no runtime crash, getppid counted exactly; 5 runs;
#   e. zprun picks the loader by itself for a static program;
#   f. programs executed from a loaded one stay hooked (execve counted like
#      strace, the children's getppid counted exactly);
#   g. /proc/self/exe names the program, not the loader.
#
# Every command runs under `timeout`; nothing runs in the background.
# Prints PASS/FAIL per test (failures with observed and expected) and one
# closing line `loaders: N passed, M failed`; exit status 1 if any failed.
# A missing prerequisite (a test program, busybox-static, strace) is one
# FAIL line, and the tests that need it say SKIP with the reason.

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/out
ZPRUN=$ROOT/loaders/zprun
BB=$ROOT/build/busybox-static/bin/busybox
TIMEOUT=${TEST_TIMEOUT:-60}
FILTER=${1:-}   # read by suite_lib.sh's want
read -ra LOADER_ARGS <<<"${LOADER_OPTS:---loader}"

# shellcheck source=tests/suite_lib.sh disable=SC2034
. "$ROOT/tests/suite_lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/exitless-loaders.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- running ---------------------------------------------------------------------

native() { timeout -k 5 "$TIMEOUT" "$@"; }

# loaded HOOK CMD...     CMD through `zprun --loader --hook HOOK`; extra
#                        environment in ZP_ENV="A=1 B=2"
loaded() {
	local hook=$1
	shift
	# shellcheck disable=SC2086
	timeout -k 5 "$TIMEOUT" env ${ZP_ENV:-} "$ZPRUN" "${LOADER_ARGS[@]}" --hook "$hook" -- "$@"
}

# strace_c TABLE CMD...  strace -f -c of CMD, the table into TABLE
strace_c() {
	local table=$1
	shift
	timeout -k 5 "$TIMEOUT" strace -f -c -o "$table" "$@"
}

# total_in TABLE         the `calls` column of the total row
total_in() {
	if [ ! -s "$1" ]; then echo "no-table"; return; fi
	awk '$NF == "total" && $1 ~ /^[0-9.]+$/ { print $4 }' "$1"
}

# compare_rows STRACE_TABLE HOOK_TABLE
#   Every syscall row of both tables, by name: prints one "name: hook H,
#   strace S" per difference (nothing if all are equal).  Two differences
#   are by nature, not by mistake, and are the only ones allowed:
#   - strace's execve row counts the execve that started the program; under
#     the loader the program never calls execve for itself (zprun and zpload
#     were executed, the program was mapped), so exactly one is taken off
#     strace's execve count (further execve calls of the program stay);
#   - strace -c counts a call when it returns, so exit and exit_group never
#     appear in its table; the count hook counts them before they happen.
#     They are checked by construction by the caller instead.
compare_rows() {
	awk '
		FNR == 1 { file++ }
		$1 ~ /^[0-9.]+$/ && $NF != "total" { calls[file, $NF] += $4; names[$NF] = 1 }
		END {
			for (n in names) {
				if (n == "exit" || n == "exit_group")
					continue
				s = calls[1, n] + 0
				h = calls[2, n] + 0
				if (n == "execve")
					s -= 1
				if (s != h)
					printf "%s: hook %d, strace %d\n", n, h, s
			}
		}' "$1" "$2" | sort | paste -sd';' -
}

# --- prerequisites ---------------------------------------------------------------

# need NAME FILE...      one FAIL line if a file is missing; status 1 then
declare -A missing_reported=()
need() {
	local name=$1 f
	shift
	for f in "$@"; do
		[ -e "$f" ] && continue
		if [ -z "${missing_reported[$f]:-}" ]; then
			missing_reported[$f]=1
			fail "prerequisite-$name" "missing $f" "built by 'make test' (busybox-static: 'make deps')"
		fi
		return 1
	done
	return 0
}

need kit "$ZPRUN" "$ROOT/hooklib/libzphook_count.so" "$ROOT/hooklib/libzphook_passthrough.so" || {
	summary=$(finish); rc=$?; printf '%s\n' "$summary" | sed '$ s/^tests: /loaders: /'; exit 1
}
HAVE_STRACE=1
if ! command -v strace >/dev/null; then
	HAVE_STRACE=""
	fail prerequisite-strace "no strace" "Debian's strace ('make deps' installs it)"
fi

# Inputs: a file of fixed content the programs read (10000 bytes: three reads
# of 4096 and the one at end of file).
INPUT=$WORK/input.txt
awk 'BEGIN { for (i = 0; i < 1000; i++) printf "line %04d\n", i }' >"$INPUT"

# --- a, b. calls_{static,static_pie,dynamic}: every row against strace ---------------

N=300   # getppid calls of the main thread
M=100   # of the extra thread
STATUS=3
CALLS_ARGS=(run "$N" "$M" "$INPUT" "$STATUS")
CALLS_LINE="calls: getppid=$((N + M)) bytes=10000 child_status=7 ppid_same=1"

for kind in static static_pie dynamic; do
	prog=$OUT/calls_$kind
	pfx=calls-$kind
	if ! need "calls_$kind" "$prog"; then
		echo "SKIP $pfx-* (no $prog, counted as a failure above)"
		continue
	fi

	# Native: the program's own output and status, then strace's table.
	native "$prog" "${CALLS_ARGS[@]}" >"$WORK/$kind.n.out" 2>"$WORK/$kind.n.err"
	nrc=$?
	[ -n "$HAVE_STRACE" ] && strace_c "$WORK/$kind.strace" "$prog" "${CALLS_ARGS[@]}" >/dev/null 2>&1
	if want "$pfx-native"; then
		s_getppid=$(calls_in "$WORK/$kind.strace" getppid)
		if [ "$nrc" != "$STATUS" ] || [ "$(cat "$WORK/$kind.n.out")" != "$CALLS_LINE" ]; then
			fail "$pfx-native" "$(describe_rc $nrc), '$(head -c 200 "$WORK/$kind.n.out")'" \
				"exit status $STATUS, '$CALLS_LINE'" "$WORK/$kind.n.err"
		elif [ -n "$HAVE_STRACE" ] && [ "$s_getppid" != $((N + M)) ]; then
			fail "$pfx-native" "strace -f -c counts getppid = $s_getppid" "$((N + M))" "$WORK/$kind.strace"
		else
			pass "$pfx-native (ground truth: $(total_in "$WORK/$kind.strace") calls, $s_getppid getppid)"
		fi
	fi

	# Loaded, count hook.
	rm -f "$WORK/$kind.count"
	ZP_ENV="ZP_COUNT_FILE=$WORK/$kind.count" loaded count "$prog" "${CALLS_ARGS[@]}" \
		>"$WORK/$kind.c.out" 2>"$WORK/$kind.c.err"
	crc=$?
	name=$pfx-count-vs-strace
	if want "$name" && [ -n "$HAVE_STRACE" ]; then
		if [ ! -s "$WORK/$kind.count" ]; then
			fail "$name" "no count table ($(describe_rc $crc))" "a table in ZP_COUNT_FILE" "$WORK/$kind.c.err"
		else
			diffs=$(compare_rows "$WORK/$kind.strace" "$WORK/$kind.count")
			# strace cannot see these: 2 processes (the program, its fork
			# child) end with exit_group, 1 thread with exit.
			eg=$(calls_in "$WORK/$kind.count" exit_group)
			ex=$(calls_in "$WORK/$kind.count" exit)
			[ "$eg" = 2 ] || diffs="${diffs:+$diffs;}exit_group: hook $eg, expected 2"
			[ "$ex" = 1 ] || diffs="${diffs:+$diffs;}exit: hook $ex, expected 1"
			if [ -z "$diffs" ]; then
				pass "$name (every row equal: $(total_in "$WORK/$kind.count") calls counted)"
			else
				fail "$name" "$diffs" "every row as strace -f -c of a native run" "$WORK/$kind.c.err"
			fi
		fi
	fi

	# b. what the program prints and returns, under the count hook and under
	# the pass-through hook.
	loaded passthrough "$prog" "${CALLS_ARGS[@]}" >"$WORK/$kind.p.out" 2>"$WORK/$kind.p.err"
	prc=$?
	for hook in count passthrough; do
		name=$pfx-output-$hook
		want "$name" || continue
		h=${hook:0:1}
		hrc=$crc
		[ "$hook" = passthrough ] && hrc=$prc
		if [ "$hrc" != "$nrc" ]; then
			fail "$name" "$(describe_rc $hrc)" "$(describe_rc $nrc) as natively" "$WORK/$kind.$h.err"
		elif ! cmp -s "$WORK/$kind.n.out" "$WORK/$kind.$h.out"; then
			fail "$name" "stdout '$(head -c 200 "$WORK/$kind.$h.out")'" "'$(cat "$WORK/$kind.n.out")'" \
				"$WORK/$kind.$h.err"
		elif ! cmp -s "$WORK/$kind.n.err" "$WORK/$kind.$h.err"; then
			fail "$name" "stderr differs" "the native stderr ($(wc -c <"$WORK/$kind.n.err") bytes)" \
				"$WORK/$kind.$h.err"
		else
			pass "$name"
		fi
	done
done

# a. LD_PRELOAD misses what ld.so does before libzpoline's constructor runs.
name=calls-dynamic-preload-sees-fewer
if want "$name" && [ -x "$OUT/calls_dynamic" ]; then
	rm -f "$WORK/preload.count"
	timeout -k 5 "$TIMEOUT" env ZP_COUNT_FILE="$WORK/preload.count" "$ZPRUN" --hook count -- \
		"$OUT/calls_dynamic" "${CALLS_ARGS[@]}" >/dev/null 2>"$WORK/preload.err"
	pre=$(total_in "$WORK/preload.count")
	ldr=$(total_in "$WORK/dynamic.count")
	if [ "$pre" = no-table ]; then
		fail "$name" "no table from zprun --hook count (LD_PRELOAD)" "a table" "$WORK/preload.err"
	elif [ "$ldr" = no-table ]; then
		fail "$name" "no table from the loader run (see calls-dynamic-count-vs-strace)" \
			"a total above LD_PRELOAD's $pre"
	elif [ "$pre" -lt "$ldr" ]; then
		# the rows the loader counts more of, e.g. " openat +4, mmap +8"
		missed=$(awk '
			FNR == 1 { file++ }
			$1 ~ /^[0-9.]+$/ && $NF != "total" { calls[file, $NF] += $4; names[$NF] = 1 }
			END { for (n in names) if (calls[2, n] > calls[1, n]) print n, calls[2, n] - calls[1, n] }' \
			"$WORK/preload.count" "$WORK/dynamic.count" | sort | awk '{ printf "%s %s +%d", sep, $1, $2; sep = "," }')
		pass "$name (the loader counts $ldr calls, LD_PRELOAD $pre: $((ldr - pre)) made before libzpoline's constructor:$missed)"
	else
		fail "$name" "LD_PRELOAD counts $pre calls, the loader $ldr" "fewer under LD_PRELOAD (it misses ld.so's calls)"
	fi
fi

# a. one run, two counters: strace outside, the count hook inside.
name=calls-dynamic-same-run-getppid
if want "$name" && [ -n "$HAVE_STRACE" ] && [ -x "$OUT/calls_dynamic" ]; then
	rm -f "$WORK/same.count"
	strace_c "$WORK/same.strace" env ZP_COUNT_FILE="$WORK/same.count" "$ZPRUN" "${LOADER_ARGS[@]}" --hook count -- \
		"$OUT/calls_dynamic" "${CALLS_ARGS[@]}" >/dev/null 2>"$WORK/same.err"
	rc=$?
	s=$(calls_in "$WORK/same.strace" getppid)
	h=$(calls_in "$WORK/same.count" getppid)
	if [ "$rc" != "$STATUS" ]; then
		fail "$name" "$(describe_rc $rc) under strace" "exit status $STATUS" "$WORK/same.err"
	elif [ "$s" = "$h" ] && [ "$h" = $((N + M)) ]; then
		pass "$name (strace and the hook: $h getppid on the same run)"
	else
		fail "$name" "hook $h, strace $s on the same run" "both $((N + M))" "$WORK/same.err"
	fi
fi

# --- c. busybox-static: byte-identical output -------------------------------------

# The same environment for the native and the loaded runs; zprun adds the
# kit's own variables (LIBZPHOOK, ZP_*, and whatever the loader sets), which
# the env case filters out.
BB_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C TZ=UTC TERM=dumb
	EXITLESS_TEST_A=1 EXITLESS_TEST_B='two words')
FIX=$WORK/fixture

make_fixture() {
	mkdir -p "$FIX/sub/deeper"
	printf 'alpha\nbeta\ngamma\n' >"$FIX/a.txt"
	printf 'one two three\nfour five\n' >"$FIX/b.txt"
	printf '%s\n' banana apple cherry apple banana date apple elderberry fig banana >"$FIX/words.txt"
	printf 'root:x:0:0:root:/root:/bin/sh\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\nnobody:x:65534:65534::/:/bin/false\n' \
		>"$FIX/passwd"
	awk 'BEGIN { for (i = 0; i < 777; i++) printf "%c", (i * 37) % 256 }' >"$FIX/bin.dat"
	printf 'deep\n' >"$FIX/sub/deeper/c.txt"
	printf 'sub file\n' >"$FIX/sub/s.txt"
	chmod 640 "$FIX/passwd"
	find "$FIX" -exec touch -h -d '2020-02-29 12:34:56 UTC' {} +
}

# bb_same NAME [<INPUT] CMD...   CMD natively, under --hook passthrough and
#                                --hook count, in $FIX: stdout, stderr and exit
#                                status byte-identical (cmp)
bb_same() {
	local name=bb-$1 input=/dev/null
	shift
	if [[ "$1" == "<"* ]]; then input=${1#<}; shift; fi
	want "$name" || return 0
	# (the subshells' own stderr, e.g. bash's "Terminated", is not the program's)
	(cd "$FIX" && timeout -k 5 "$TIMEOUT" "${BB_ENV[@]}" "$@" <"$input" >"$WORK/bb.n.out" 2>"$WORK/bb.n.err") 2>/dev/null
	local nrc=$? hook hrc bad=""
	for hook in passthrough count; do
		rm -f "$WORK/bb.count"
		(cd "$FIX" && timeout -k 5 "$TIMEOUT" "${BB_ENV[@]}" ZP_COUNT_FILE="$WORK/bb.count" \
			"$ZPRUN" "${LOADER_ARGS[@]}" --hook "$hook" -- "$@" <"$input" >"$WORK/bb.h.out" 2>"$WORK/bb.h.err") 2>/dev/null
		hrc=$?
		if [ "$hrc" != "$nrc" ]; then
			bad="$hook: $(describe_rc $hrc), natively $(describe_rc $nrc)"
		elif ! cmp -s "$WORK/bb.n.out" "$WORK/bb.h.out"; then
			bad="$hook: stdout differs ($(wc -c <"$WORK/bb.h.out") bytes, natively $(wc -c <"$WORK/bb.n.out"))"
		elif ! cmp -s "$WORK/bb.n.err" "$WORK/bb.h.err"; then
			bad="$hook: stderr differs ($(wc -c <"$WORK/bb.h.err") bytes, natively $(wc -c <"$WORK/bb.n.err"))"
		elif [ "$hook" = count ] && [ "$nrc" -lt 128 ] && [ ! -s "$WORK/bb.count" ]; then
			# (killed by a signal, the program never calls exit_group, where
			# the count hook writes its table)
			bad="count: no count table written"
		fi
		[ -n "$bad" ] && break
	done
	if [ -z "$bad" ]; then
		pass "$name ($(describe_rc $nrc), $(wc -c <"$WORK/bb.n.out") bytes out, $(wc -c <"$WORK/bb.n.err") err)"
	else
		fail "$name" "$bad" "byte-identical to the native run" "$WORK/bb.h.err"
	fi
}

if need busybox-static "$BB"; then
	make_fixture
	bb_same echo "$BB" echo hello '  spaced  ' world
	bb_same printf "$BB" printf '%s-%05d-%x|%-6s|\n' abc 42 255 xy
	bb_same seq "$BB" seq 1 3 100
	bb_same ls-l "$BB" ls -l . sub
	bb_same ls-lR "$BB" ls -lRn --full-time
	bb_same cat "$BB" cat a.txt b.txt sub/deeper/c.txt
	bb_same cat-missing "$BB" cat a.txt /nonexistent/file
	bb_same wc "$BB" wc -l -w -c words.txt b.txt
	bb_same sort "$BB" sort -r words.txt
	bb_same uniq "<$FIX/words.txt" "$BB" sh -c "$BB sort | $BB uniq -c"
	bb_same cut "$BB" cut -d: -f1,3,7 passwd
	bb_same tr "<$FIX/b.txt" "$BB" tr a-z A-Z
	bb_same sed "$BB" sed -n 's/an/AN/gp; $=' words.txt
	# shellcheck disable=SC2016
	bb_same awk "$BB" awk -F: '{ s += $3; printf "%-8s %s\n", $1, $NF } END { print s, NR }' passwd
	bb_same grep "$BB" grep -n -e an -e fig words.txt
	bb_same grep-no-match "$BB" grep zzz words.txt
	bb_same find "$BB" find . -name '*.txt' -type f
	bb_same find-exec "$BB" find . -type f -name '*.txt' -exec "$BB" md5sum {} +
	bb_same sha256sum "$BB" sha256sum a.txt b.txt bin.dat
	bb_same md5sum "$BB" md5sum words.txt passwd
	bb_same base64 "$BB" base64 bin.dat
	bb_same gzip-gunzip "$BB" sh -c "$BB gzip -c <words.txt | $BB gunzip -c | $BB md5sum; $BB gzip -c <bin.dat | $BB wc -c"
	bb_same tar "$BB" sh -c "$BB tar cf - a.txt sub | $BB tar tvf -"
	bb_same expr "$BB" expr 6 '*' 7 + 1
	bb_same expr-zero "$BB" expr 3 - 3
	bb_same date "$BB" date -u -d @0
	bb_same stat "$BB" stat -c '%n %s %a %Y' a.txt passwd sub
	# shellcheck disable=SC2016
	bb_same sh-pipes-subshells "$BB" sh -c \
		'x=$(echo abc | tr a-c x-z); (echo "$x"; echo sub; cd sub && pwd | wc -c) | sort; { echo a; echo b; } | wc -l; echo err >&2; exit 3'
	bb_same sh-applets-exec "$BB" sh -c "$BB seq 5 | $BB xargs $BB echo | busybox tr ' ' + ; busybox printf '%s\n' x y | cat -n"
	bb_same env "$BB" sh -c "$BB env | $BB grep -v -e '^LIBZPHOOK=' -e '^ZP_' -e '^LD_PRELOAD=' | $BB sort"
	bb_same false "$BB" false
	bb_same sh-exit-status "$BB" sh -c 'busybox true && busybox false || exit 42'
	bb_same killed-by-signal "$BB" sh -c 'kill -TERM $$'
	bb_same sh-background-wait "$BB" sh -c "$BB sleep 0.05 & busybox sleep 0.01 & wait; echo waited \$?"
else
	echo "SKIP bb-* (no busybox-static, counted as a failure above)"
fi

# --- d. Go ---------------------------------------------------------------------------

GO_N=5000
GO_LINE_PREFIX="goprog: getppid=$GO_N same=true gc=ok "
GO_CRASH='unexpected return pc|fatal error|panic|SIGSEGV|signal arrived during'

if need goprog "$OUT/goprog"; then
	native "$OUT/goprog" "$GO_N" >"$WORK/go.n.out" 2>"$WORK/go.n.err"
	nrc=$?
	name=go-native
	if want "$name"; then
		s=""
		[ -n "$HAVE_STRACE" ] && {
			strace_c "$WORK/go.strace" "$OUT/goprog" "$GO_N" >/dev/null 2>&1
			s=$(calls_in "$WORK/go.strace" getppid)
		}
		if [ "$nrc" != 0 ] || [[ "$(cat "$WORK/go.n.out")" != "$GO_LINE_PREFIX"* ]]; then
			fail "$name" "$(describe_rc $nrc), '$(head -c 200 "$WORK/go.n.out")'" "exit 0, '$GO_LINE_PREFIX...'" \
				"$WORK/go.n.err"
		elif [ -n "$HAVE_STRACE" ] && [ "$s" != "$GO_N" ]; then
			# Go's runtime must make no getppid of its own, or the count is no ground truth.
			fail "$name" "strace -f -c counts getppid = $s" "$GO_N" "$WORK/go.strace"
		else
			pass "$name (strace: $s getppid, $(calls_in "$WORK/go.strace" clone) clone, $(calls_in "$WORK/go.strace" tgkill) tgkill for preemption)"
		fi
	fi
	# Negative control: without async preemption the program cannot finish
	# (its spinners hold every P), so a loaded run that ends proves SIGURG
	# reached the runtime's handler and the preempted goroutines resumed.
	name=go-native-needs-async-preemption
	if want "$name"; then
		timeout -k 2 5 env GODEBUG=asyncpreemptoff=1 "$OUT/goprog" 100 >/dev/null 2>&1
		rc=$?
		if [ "$rc" = 124 ]; then pass "$name (with GODEBUG=asyncpreemptoff=1 it does not finish in 5 s)"
		else fail "$name" "$(describe_rc $rc) with asyncpreemptoff=1" "a time-out: the spinners need async preemption"; fi
	fi
	for i in 1 2 3 4 5; do
		name=go-count-run-$i
		want "$name" || continue
		rm -f "$WORK/go.count"
		ZP_ENV="ZP_COUNT_FILE=$WORK/go.count" loaded count "$OUT/goprog" "$GO_N" \
			>"$WORK/go.h.out" 2>"$WORK/go.h.err"
		rc=$?
		got=$(calls_in "$WORK/go.count" getppid)
		if [ "$rc" != 0 ]; then fail "$name" "$(describe_rc $rc)" "exit 0" "$WORK/go.h.err"
		elif grep -Eq "$GO_CRASH" "$WORK/go.h.err"; then
			fail "$name" "the runtime complained: $(grep -Em1 "$GO_CRASH" "$WORK/go.h.err")" "a clean stderr" "$WORK/go.h.err"
		elif ! cmp -s "$WORK/go.n.out" "$WORK/go.h.out"; then
			fail "$name" "stdout '$(head -c 200 "$WORK/go.h.out")'" "'$(cat "$WORK/go.n.out")'" "$WORK/go.h.err"
		elif [ "$got" != "$GO_N" ]; then
			fail "$name" "getppid calls = $got" "$GO_N" "$WORK/go.count"
		else
			pass "$name ($got getppid, $(calls_in "$WORK/go.count" tgkill) tgkill, $(calls_in "$WORK/go.count" clone) clone)"
		fi
	done
else
	echo "SKIP go-* (no goprog, counted as a failure above)"
fi

# --- e. zprun picks the loader by itself for a static program --------------------------

name=auto-loader-static
if want "$name" && need calls_static "$OUT/calls_static"; then
	rm -f "$WORK/auto.count"
	timeout -k 5 "$TIMEOUT" env ZP_COUNT_FILE="$WORK/auto.count" "$ZPRUN" --hook count -- \
		"$OUT/calls_static" "${CALLS_ARGS[@]}" >"$WORK/auto.out" 2>"$WORK/auto.err"
	rc=$?
	got=$(calls_in "$WORK/auto.count" getppid)
	if [ "$rc" != "$STATUS" ]; then fail "$name" "$(describe_rc $rc)" "exit status $STATUS" "$WORK/auto.err"
	elif [ "$(cat "$WORK/auto.out")" != "$CALLS_LINE" ]; then
		fail "$name" "stdout '$(head -c 200 "$WORK/auto.out")'" "'$CALLS_LINE'" "$WORK/auto.err"
	elif [ "$got" != $((N + M)) ]; then fail "$name" "getppid calls = $got" "$((N + M))" "$WORK/auto.err"
	else pass "$name (zprun --hook count without --loader: $got getppid)"; fi
fi

# --- f. execve from a loaded program stays hooked ------------------------------------------

# busybox sh runs `busybox echo` and `busybox tr` by executing /proc/self/exe
# (Debian's busybox-static prefers its applets), /bin/true is dynamic, and
# two calls programs (static and dynamic) make 70 + 40 getppid; ash itself
# makes one (for $PPID): 111 in all.
name=exec-stays-hooked
if want "$name" && [ -n "$HAVE_STRACE" ] && need busybox-static "$BB" &&
	need calls_static "$OUT/calls_static" && need calls_dynamic "$OUT/calls_dynamic"; then
	script="busybox echo x; /bin/true; $OUT/calls_static run 50 20 $INPUT 0; $OUT/calls_dynamic run 30 10 $INPUT 0; echo y | busybox tr y z"
	EXEC_GETPPID=111
	(cd "$WORK" && strace_c "$WORK/exec.strace" "${BB_ENV[@]}" "$BB" sh -c "$script" >"$WORK/exec.n.out" 2>&1)
	rm -f "$WORK/exec.count"
	(cd "$WORK" && timeout -k 5 "$TIMEOUT" "${BB_ENV[@]}" ZP_COUNT_FILE="$WORK/exec.count" \
		"$ZPRUN" "${LOADER_ARGS[@]}" --hook count -- "$BB" sh -c "$script" >"$WORK/exec.h.out" 2>"$WORK/exec.h.err")
	rc=$?
	# strace also counts the execve that started busybox (and env's, above
	# it: `env` is strace'd too), the loaded busybox makes neither.
	s_exec=$(( $(calls_in "$WORK/exec.strace" execve) - 2 ))
	h_exec=$(calls_in "$WORK/exec.count" execve)
	s_ppid=$(calls_in "$WORK/exec.strace" getppid)
	h_ppid=$(calls_in "$WORK/exec.count" getppid)
	if [ "$s_ppid" != "$EXEC_GETPPID" ]; then
		fail "$name" "native strace: getppid $s_ppid" "$EXEC_GETPPID (the test is wrong)" "$WORK/exec.n.out"
	elif [ "$rc" != 0 ]; then fail "$name" "$(describe_rc $rc)" "exit 0" "$WORK/exec.h.err"
	elif ! cmp -s "$WORK/exec.n.out" "$WORK/exec.h.out"; then
		fail "$name" "stdout '$(head -c 300 "$WORK/exec.h.out" | tr '\n' '|')'" \
			"'$(head -c 300 "$WORK/exec.n.out" | tr '\n' '|')'" "$WORK/exec.h.err"
	elif [ "$h_exec" != "$s_exec" ] || [ "$h_ppid" != "$EXEC_GETPPID" ]; then
		fail "$name" "execve $h_exec, getppid $h_ppid" "execve $s_exec (strace), getppid $EXEC_GETPPID" "$WORK/exec.h.err"
	else
		pass "$name ($h_exec execve as strace, $h_ppid getppid in the executed programs)"
	fi
fi

# --- g. /proc/self/exe is the program ---------------------------------------------------------

for kind in static static_pie dynamic; do
	name=proc-self-exe-calls-$kind
	want "$name" || continue
	[ -x "$OUT/calls_$kind" ] || continue   # reported above
	native "$OUT/calls_$kind" exe >"$WORK/exe.n.out" 2>&1
	nrc=$?
	loaded passthrough "$OUT/calls_$kind" exe >"$WORK/exe.h.out" 2>&1
	rc=$?
	if [ "$nrc" != 0 ]; then fail "$name" "natively: $(cat "$WORK/exe.n.out")" "exe: ok (the test is wrong)"
	elif [ "$rc" != 0 ] || ! cmp -s "$WORK/exe.n.out" "$WORK/exe.h.out"; then
		fail "$name" "$(describe_rc $rc): $(head -c 300 "$WORK/exe.h.out")" "$(cat "$WORK/exe.n.out")"
	else pass "$name"; fi
done

if [ -x "$BB" ]; then
	# the applet in the loaded process, and in one busybox executes through
	# /proc/self/exe (ash runs applets that way)
	bb_same readlink-proc-self-exe "$BB" readlink /proc/self/exe
	bb_same readlink-proc-self-exe-exec "$BB" sh -c 'readlink /proc/self/exe; busybox readlink -f /proc/self/exe; busybox sh -c "readlink /proc/self/exe"'
fi

# --- summary ---------------------------------------------------------------------------------

# --- h. signals that interrupt the hook find the program's thread pointer ------------------

# A thread blocked in read() is inside the hook, with the hook world's %fs;
# SIGUSR1's handler must still see its own __thread variables and errno
# (zpoline/loader_sig.S).  Without that the handler reads another TLS block
# and the program fails or crashes (checked by hand when it was written).
name=signal-in-hook-sees-program-tls
if want "$name" && need tls_signal "$OUT/tls_signal"; then
	rm -f "$WORK/tls.count"
	timeout -k 5 "$TIMEOUT" env ZP_COUNT_FILE="$WORK/tls.count" "$ZPRUN" --loader --hook count -- \
		"$OUT/tls_signal" 50 >"$WORK/tls.out" 2>"$WORK/tls.err"
	rc=$?
	got=$(calls_in "$WORK/tls.count" getppid)
	if [ "$rc" != 0 ]; then fail "$name" "$(describe_rc $rc)" "exit 0" "$WORK/tls.err"
	elif [ "$(cat "$WORK/tls.out")" != "tls_signal: 50 rounds ok" ]; then
		fail "$name" "stdout '$(head -c 200 "$WORK/tls.out")'" "'tls_signal: 50 rounds ok'" "$WORK/tls.err"
	elif [ "$got" != 50 ]; then fail "$name" "getppid calls = $got" "50 (one per handler)" "$WORK/tls.err"
	else pass "$name (50 handlers interrupted a hooked read; each saw its thread's TLS)"; fi
fi

summary=$(finish)
rc=$?
printf '%s\n' "$summary" | sed '$ s/^tests: /loaders: /'
exit $rc
