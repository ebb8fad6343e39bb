# tests/netstack/netstack.mk - end-to-end tests of unmodified redis-server on
# the user-space TCP/IP stack (lwIP over DPDK) through the zpoline hook.
#
#   make test-netstack          deps + build + tests/netstack/test_redis.sh:
#                               net_tap, net_memif (both ends in user space),
#                               net_af_packet, bad configurations (root; < 5 min)
#   make test-netstack-kernel   the same script as a dry run against the
#                               kernel (redis-server and clients native): checks
#                               the harness itself, needs no netstack hook
#
# The suite prints `ok - name` / `FAIL - name: why` and closes with
# `netstack: N passed, M failed`; exit status 1 if any failed.

.PHONY: test-netstack test-netstack-kernel

test-netstack: deps all
	bash tests/netstack/test_redis.sh

test-netstack-kernel: deps
	bash tests/netstack/test_redis.sh --kernel
