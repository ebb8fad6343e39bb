# elisa/proto - the negotiation protocol between the ELISA manager and its
# peers (guest library, elisactl) over TCP: framing, encoders, streaming
# decoder (elisa/proto/README.md).
#
#   elisa/proto/proto.o                 the library (manager and guest link it)
#   tests/unit/test_elisa_proto         cmocka unit tests (ELISA_PROTO_TEST_UNITS)
#   elisa/proto/proto_fuzz              deterministic fuzz driver, gcc ASan+UBSan
#                                       (ELISA_PROTO_FUZZ, run with
#                                       ELISA_PROTO_FUZZ_ARGS): `make elisa-proto-fuzz-run`
#   elisa/proto/proto_fuzz_libfuzzer    the same harness for libFuzzer (clang;
#                                       not built by default): `make elisa-proto-libfuzzer`
#
# The lead hooks the unit test and the fuzz driver into `make test`
# through the variables below.
ELISA_PROTO_SRC := elisa/proto/proto.c
ELISA_PROTO_H   := elisa/proto/proto.h vmfunc/elisa_ids.h
ELISA_PROTO_OBJ := elisa/proto/proto.o

$(ELISA_PROTO_OBJ): $(ELISA_PROTO_SRC) $(ELISA_PROTO_H)
	$(CC) $(CFLAGS) -c -o $@ $(ELISA_PROTO_SRC)

ALL_TARGETS += $(ELISA_PROTO_OBJ)

# --- tests ----------------------------------------------------------------------
tests/unit/test_elisa_proto: tests/unit/test_elisa_proto.c $(ELISA_PROTO_SRC) $(ELISA_PROTO_H)
	$(CC) $(CFLAGS) -Ielisa/proto -Ivmfunc -o $@ tests/unit/test_elisa_proto.c $(ELISA_PROTO_SRC) -lcmocka

ELISA_PROTO_TEST_UNITS := tests/unit/test_elisa_proto

# The decoder under the sanitizers.  Seeds are valid encodings made at
# start (proto_fuzz_main.c); ARGS: mutations, seed, time limit in seconds
# (1,000,000 take about 8 s here; the limit bounds a slow machine).
ELISA_PROTO_FUZZ       := elisa/proto/proto_fuzz
ELISA_PROTO_LIBFUZZER  := elisa/proto/proto_fuzz_libfuzzer
ELISA_PROTO_FUZZ_SRC   := elisa/proto/proto_fuzz.c $(ELISA_PROTO_SRC)
ELISA_PROTO_FUZZ_H     := elisa/proto/proto_fuzz.h $(ELISA_PROTO_H) tests/fuzz_driver.h
ELISA_PROTO_FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ELISA_PROTO_FUZZ_ARGS  ?= 1000000 1 25

$(ELISA_PROTO_FUZZ): elisa/proto/proto_fuzz_main.c $(ELISA_PROTO_FUZZ_SRC) $(ELISA_PROTO_FUZZ_H)
	$(CC) $(CFLAGS) -O1 $(ELISA_PROTO_FUZZ_SAN) -Ielisa/proto -o $@ \
	      elisa/proto/proto_fuzz_main.c $(ELISA_PROTO_FUZZ_SRC)

$(ELISA_PROTO_LIBFUZZER): elisa/proto/proto_fuzz_libfuzzer.c $(ELISA_PROTO_FUZZ_SRC) $(ELISA_PROTO_FUZZ_H)
	clang $(CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -Ielisa/proto -o $@ \
	      elisa/proto/proto_fuzz_libfuzzer.c $(ELISA_PROTO_FUZZ_SRC)

.PHONY: elisa-proto-fuzz-run elisa-proto-libfuzzer
elisa-proto-fuzz-run: $(ELISA_PROTO_FUZZ)
	$(ELISA_PROTO_FUZZ) $(ELISA_PROTO_FUZZ_ARGS)

elisa-proto-libfuzzer: $(ELISA_PROTO_LIBFUZZER)

CLEAN_FILES += $(ELISA_PROTO_OBJ) tests/unit/test_elisa_proto $(ELISA_PROTO_FUZZ) $(ELISA_PROTO_LIBFUZZER)
