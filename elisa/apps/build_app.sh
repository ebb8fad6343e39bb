#!/bin/bash
# elisa/apps/build_app.sh - build one sub-context app (app.h) and prove it
# fits the sub context, or fail without leaving an output behind.
#
#   build_app.sh OUT.so SRC.c...
#
# Environment (apps.mk sets them): APP_CC, APP_CFLAGS, APP_LDFLAGS,
# APP_STACK_MAX (bytes per stack frame).
#
# The sub context maps the app's pages read + execute, a stack of a few KiB
# and the shared region, and nothing else: no dynamic linker, no libc, no
# data pages.  So the image must have, and this script checks each with
# binutils (independently of the loader app_image.c, which checks again):
#   - every stack frame static and at most APP_STACK_MAX bytes (-fstack-usage);
#   - no relocation of any kind (a relocation would need a loader to patch
#     the code pages, which the sub context maps read-only);
#   - no undefined symbol (-Wl,-z,defs already refuses them at link time);
#   - exactly one exported symbol, elisa_app_entry;
#   - no writable PT_LOAD segment, and no .data/.bss/.got/TLS section.
set -u
out=$1
shift
name=$(basename "$out")
fail() { echo "apps: $name: $*" >&2; rm -rf "$tmp"; exit 1; }

tmp=$(mktemp -d)
objs=()
for src in "$@"; do
    obj="$tmp/$(basename "$src" .c).o"
    # shellcheck disable=SC2086 # the flags are word lists
    $APP_CC $APP_CFLAGS -fstack-usage -c -o "$obj" "$src" || fail "compiling $src failed"
    objs+=("$obj")
done

big=$(cat "$tmp"/*.su | awk -F'\t' -v max="$APP_STACK_MAX" '$2 > max || $3 !~ /^static/')
[ -z "$big" ] || fail "stack frames over $APP_STACK_MAX bytes or dynamic (the sub stack is small): $big"

# shellcheck disable=SC2086
$APP_CC $APP_CFLAGS $APP_LDFLAGS -o "$tmp/app.so" "${objs[@]}" || fail "linking failed"

relocs=$(readelf -rW "$tmp/app.so")
echo "$relocs" | grep -q 'There are no relocations in this file' ||
    fail "has relocations (build it -fPIC -fvisibility=hidden with no data pointers): $relocs"
undef=$(nm -D --undefined-only "$tmp/app.so")
[ -z "$undef" ] || fail "imports symbols (the sub context links nothing): $undef"
exports=$(nm -D --defined-only "$tmp/app.so" | awk '{ print $3 }' | tr '\n' ' ')
[ "$exports" = "elisa_app_entry " ] ||
    fail "exports '$exports' instead of only elisa_app_entry (mark only the entry visibility(\"default\"))"
writable=$(readelf -lW "$tmp/app.so" | awk '$1 == "LOAD" && $7 ~ /W/')
[ -z "$writable" ] || fail "has a writable PT_LOAD segment: $writable"
data=$(objdump -h "$tmp/app.so" |
       awk '$2 ~ /^\.(data|bss|got|tdata|tbss)/ && $3 !~ /^0+$/ { print $2 " (" $3 " bytes)" }')
[ -z "$data" ] || fail "has data sections (an app keeps its state in the shared region): $data"

cp "$tmp/app.so" "$out" || fail "cannot write $out"
rm -rf "$tmp"
