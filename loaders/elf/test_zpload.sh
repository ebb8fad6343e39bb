#!/usr/bin/env bash
# test_zpload.sh - the raw ELF loader (loaders/zpload --no-hook) against
# execve.
#
#   bash loaders/elf/test_zpload.sh [NAME-SUBSTRING]     (after make loaders/zpload)
#
# 1. Programs run natively and under `zpload --no-hook` must print the same
#    stdout and exit the same way: /bin/true, echo, ls, python3, ld.so and
#    libc.so.6 run as programs, "#!" scripts (with an argument, through env),
#    a signal death, zpload loading zpload, and loaders/elf/test_prog.c built
#    dynamic, -static, -static-pie, -no-pie and with an executable stack
#    (into tests/out/): its argv and
#    environment, its initial stack and auxv (AT_PHDR is its program
#    headers, AT_ENTRY its _start, AT_BASE ld.so's base or 0, AT_EXECFN the
#    path, AT_RANDOM/AT_PLATFORM placed as the kernel places them, the same
#    AT_ types in the same order, /proc/self/auxv, cmdline, comm, [stack]
#    and its permissions),
#    its file descriptors, its program break, its rseq registration.
# 2. Files that cannot run give exactly one stderr line `zpload: ...` and
#    exit status 126 or 127 (2 for usage), never a signal: a text file,
#    random bytes, truncated ELF files, an AArch64 one, absurd program
#    headers, a missing interpreter, a directory, a file without execute
#    permission, a missing file, broken scripts.
#
# Every command runs under `timeout`.  PASS/FAIL per test, then one closing
# line `tests: N passed, M failed`; exit status 1 if any failed.

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ZPLOAD=$ROOT/loaders/zpload
OUT=$ROOT/tests/out
TIMEOUT=${TEST_TIMEOUT:-30}
FILTER=${1:-}
# shellcheck source=../../tests/suite_lib.sh
source "$ROOT/tests/suite_lib.sh"

if [ ! -x "$ZPLOAD" ]; then
	fail "zpload built" "$ZPLOAD missing" "run 'make loaders/zpload'"
	finish
	exit 1
fi

TMP=$(mktemp -d /tmp/test_zpload.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# --- the test program, three ways --------------------------------------------
PROGS=()
for kind in dynamic static static-pie no-pie execstack; do
	case $kind in
	dynamic)    flags="" ;;
	static)     flags="-static" ;;
	static-pie) flags="-static-pie" ;;
	no-pie)     flags="-no-pie" ;;                        # ET_EXEC at fixed addresses
	execstack)  flags="-z execstack -Wl,--no-warn-execstack" ;;  # PT_GNU_STACK with PF_X
	esac
	bin=$OUT/zpl_prog_$kind
	if gcc -O1 -g -Wall -Wextra $flags -o "$bin" "$ROOT/loaders/elf/test_prog.c" 2>"$TMP/cc.err"; then
		PROGS+=("$bin")
	else
		fail "build test_prog ($kind)" "gcc failed" "a $kind program" "$TMP/cc.err"
	fi
done

# --- helpers --------------------------------------------------------------------

# same NAME CMD...: CMD natively and under zpload --no-hook: the same stdout
# and exit status (stdin /dev/null).
same() {
	local name=$1
	shift
	want "$name" || return 0
	# (the braces keep bash's "Terminated" notice for a signal death quiet)
	{ timeout "$TIMEOUT" "$@" >"$TMP/n.out" 2>"$TMP/n.err" </dev/null; } 2>/dev/null
	local nrc=$?
	{ timeout "$TIMEOUT" "$ZPLOAD" --no-hook "$@" >"$TMP/z.out" 2>"$TMP/z.err" </dev/null; } 2>/dev/null
	local zrc=$?
	if [ "$nrc" != "$zrc" ]; then
		fail "$name" "$(describe_rc "$zrc")" "$(describe_rc "$nrc") (as natively)" "$TMP/z.err"
	elif ! cmp -s "$TMP/n.out" "$TMP/z.out"; then
		fail "$name" "stdout differs: $(diff "$TMP/n.out" "$TMP/z.out" | grep '^[<>]' | head -4 | tr '\n' ' ')" \
		     "the native stdout"
	elif grep -q ' BAD ' "$TMP/z.out"; then
		fail "$name" "$(grep ' BAD ' "$TMP/z.out" | head -2 | tr '\n' ' ')" "every check ok"
	else
		pass "$name"
	fi
}

# refuse NAME RC PATTERN ARGS...: zpload ARGS exits RC with exactly one
# stderr line, `zpload: ...` matching PATTERN (grep -E), and no stdout.
refuse() {
	local name=$1 want_rc=$2 pattern=$3
	shift 3
	want "$name" || return 0
	{ timeout "$TIMEOUT" "$ZPLOAD" "$@" >"$TMP/r.out" 2>"$TMP/r.err" </dev/null; } 2>/dev/null
	local rc=$?
	local lines
	lines=$(wc -l <"$TMP/r.err")
	local line
	line=$(head -n 1 "$TMP/r.err")
	if [ "$rc" != "$want_rc" ]; then
		fail "$name" "$(describe_rc "$rc"): $line" "exit status $want_rc" "$TMP/r.err"
	elif [ "$lines" != 1 ] || [ -s "$TMP/r.out" ]; then
		fail "$name" "$lines stderr lines, $(wc -c <"$TMP/r.out") bytes of stdout" \
		     "one stderr line, no stdout" "$TMP/r.err"
	elif [[ "$line" != "zpload: "* ]] || ! grep -Eq -- "$pattern" <<<"$line"; then
		fail "$name" "$line" "zpload: ... /$pattern/"
	else
		pass "$name"
	fi
}

# patch FILE OFFSET FORMAT VALUE: overwrite bytes of FILE (python struct format).
patch() {
	python3 -c 'import struct,sys
f, off, fmt, val = sys.argv[1], int(sys.argv[2], 0), sys.argv[3], int(sys.argv[4], 0)
with open(f, "r+b") as h:
    h.seek(off); h.write(struct.pack(fmt, val))' "$@"
}

# --- 1. the same as execve ----------------------------------------------------------
export ZPL_VAR="a value with  spaces"

same "true" /bin/true
same "false" /bin/false
same "echo" /bin/echo hello world
same "ls" /bin/ls -la /
same "many arguments" /bin/echo $(seq 1 5000)
same "python3" /usr/bin/python3 -c 'import sys, json, hashlib
print(sys.argv, json.dumps({"a": [1, 2]}), hashlib.sha256(b"x").hexdigest())
sys.exit(7)' arg1 "arg 2"
same "signal death" /bin/sh -c 'kill -TERM $$'
same "ld.so as the program" /lib64/ld-linux-x86-64.so.2 /bin/echo via ld.so
if [ -x /lib/x86_64-linux-gnu/libc.so.6 ]; then
	same "libc.so.6 as the program" /lib/x86_64-linux-gnu/libc.so.6
fi
same "zpload loading zpload" "$ZPLOAD" --no-hook /bin/echo nested

for bin in "${PROGS[@]}"; do
	kind=${bin##*zpl_prog_}
	same "argv and env ($kind)" "$bin" hello one "two words" ""
	same "stack and auxv ($kind)" "$bin" aux extra args
	same "file descriptors ($kind)" "$bin" fds
	same "program break ($kind)" "$bin" brk
done
if [ ${#PROGS[@]} -gt 0 ]; then
	(cd "$OUT" && same "relative path" ./zpl_prog_dynamic aux)
fi

if want "--argv0"; then
	if [ ${#PROGS[@]} -gt 0 ]; then
		bin=${PROGS[0]}
		n=$(timeout "$TIMEOUT" bash -c 'exec -a other-name "$0" hello x' "$bin" 2>&1)
		z=$(timeout "$TIMEOUT" "$ZPLOAD" --no-hook --argv0 other-name "$bin" hello x 2>&1)
		if [ "$n" = "$z" ]; then pass "--argv0"
		else fail "--argv0" "$(tr '\n' ' ' <<<"$z")" "$(tr '\n' ' ' <<<"$n")"; fi
	fi
fi

if want "stdin"; then
	z=$(printf 'through stdin' | timeout "$TIMEOUT" "$ZPLOAD" --no-hook /bin/cat)
	if [ "$z" = "through stdin" ]; then pass "stdin"; else fail "stdin" "'$z'" "'through stdin'"; fi
fi

# Scripts: binfmt_script's argv ([interp, optarg, script, args...]) and
# AT_EXECFN (the script); the kernel drops the script's own argv[0].
printf '#!/bin/sh\necho "script: $0 [$*]"; exit 5\n' >"$TMP/plain.sh"
printf '#! /bin/sh  -eu \necho "with arg: $0 [$*] $-"\n' >"$TMP/arg.sh"
printf '#!/usr/bin/env python3\nimport sys\nprint("env python3", sys.argv[1:])\n' >"$TMP/env.py"
chmod +x "$TMP"/*.sh "$TMP/env.py"
same "script" "$TMP/plain.sh" a "b c"
same "script with an argument" "$TMP/arg.sh" x
same "script through env" "$TMP/env.py" 1 2
if [ ${#PROGS[@]} -gt 0 ]; then
	printf '#!%s aux\n' "${PROGS[0]}" >"$TMP/aux.sh"
	chmod +x "$TMP/aux.sh"
	same "script: stack and auxv" "$TMP/aux.sh"
fi

# --- 2. what cannot run ---------------------------------------------------------------
printf 'just text\n' >"$TMP/text"
{ printf 'R'; head -c 4096 /dev/urandom; } >"$TMP/random"
: >"$TMP/empty"
head -c 40 /bin/true >"$TMP/trunc40"
head -c 200 /bin/true >"$TMP/trunc200"
cp /bin/true "$TMP/aarch64" && patch "$TMP/aarch64" 18 '<H' 183
cp /bin/true "$TMP/phnum" && patch "$TMP/phnum" 56 '<H' 0xffff
cp /bin/true "$TMP/phoff" && patch "$TMP/phoff" 32 '<Q' $(( $(stat -c %s /bin/true) + 4096 ))
cp /bin/true "$TMP/i386" && patch "$TMP/i386" 4 '<B' 1 && patch "$TMP/i386" 18 '<H' 3
cp /bin/true "$TMP/nointerp"
python3 - "$TMP/nointerp" <<'EOF'
import sys
p = sys.argv[1]
b = open(p, "rb").read()
old = b"/lib64/ld-linux-x86-64.so.2\0"
assert b.count(old) == 1
open(p, "wb").write(b.replace(old, b"/lib64/ld-nolnx-x86-64.so.2\0"))
EOF
cp /bin/true "$TMP/noexec"
printf '#!/nonexistent/sh\necho hi\n' >"$TMP/badinterp.sh"
printf '#!%s\necho hi\n' "$TMP/plain.sh" >"$TMP/nested.sh"
printf '#!\necho hi\n' >"$TMP/noname.sh"
{ printf '#!/'; head -c 300 /dev/zero | tr '\0' a; } >"$TMP/longline.sh"
chmod +x "$TMP"/*
chmod 644 "$TMP/noexec"

refuse "text file" 126 "text: not an ELF executable or #! script" --no-hook "$TMP/text"
refuse "random bytes" 126 "not an ELF executable or #! script" --no-hook "$TMP/random"
refuse "empty file" 126 "not an ELF executable or #! script" --no-hook "$TMP/empty"
refuse "truncated to 40 bytes" 126 "truncated ELF header" --no-hook "$TMP/trunc40"
refuse "truncated to 200 bytes" 126 "program header table lies outside the file" --no-hook "$TMP/trunc200"
refuse "AArch64" 126 "built for AArch64, not x86-64" --no-hook "$TMP/aarch64"
refuse "32-bit i386" 126 "built for i386 \(32-bit\), not x86-64" --no-hook "$TMP/i386"
refuse "phnum 65535" 126 "program header table too large" --no-hook "$TMP/phnum"
refuse "phoff beyond the end" 126 "program header table lies outside the file" --no-hook "$TMP/phoff"
refuse "missing interpreter" 127 "interpreter /lib64/ld-nolnx-x86-64.so.2 is missing" --no-hook "$TMP/nointerp"
refuse "directory" 126 "is a directory" --no-hook "$TMP"
refuse "not executable" 126 "permission denied" --no-hook "$TMP/noexec"
refuse "missing file" 127 "nonexistent: no such file" --no-hook "$TMP/nonexistent"
refuse "script: missing interpreter" 127 "interpreter /nonexistent/sh is missing" --no-hook "$TMP/badinterp.sh"
refuse "script: interpreter is a script" 126 "is itself a script" --no-hook "$TMP/nested.sh"
refuse "script: no interpreter named" 126 "names no interpreter" --no-hook "$TMP/noname.sh"
refuse "script: line too long" 126 "longer than 255 bytes" --no-hook "$TMP/longline.sh"
refuse "usage: no program" 2 "usage" --no-hook
refuse "usage: unknown option" 2 "unknown option --bogus" --bogus /bin/true
refuse "usage: --argv0 without a name" 2 "--argv0 needs a NAME" --argv0

finish
