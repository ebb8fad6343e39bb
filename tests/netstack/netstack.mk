# tests/netstack/netstack.mk - end-to-end tests of unmodified servers on the
# user-space TCP/IP stack (lwIP over DPDK) through the netstack hook.
#
#   make test-netstack          deps + build + tests/netstack/test_redis.sh:
#                               redis-server over net_tap, net_memif (both ends
#                               in user space), net_af_packet, bad
#                               configurations (root; < 5 min)
#   make test-netstack-kernel   the same script as a dry run against the
#                               kernel (redis-server and clients native): checks
#                               the harness itself, needs no netstack hook
#   make test-netstack-nginx    deps + build + tests/netstack/test_nginx.sh:
#                               nginx over net_memif through zpoline and
#                               through the LD_PRELOAD front end (root; ~20 s)
#   make test-netstack-nginx-kernel   its dry run against the kernel
#
# The suites print `ok - name` / `FAIL - name: why` and close with
# `netstack: N passed, M failed` (test_redis.sh) or `nginx: N passed,
# M failed` (test_nginx.sh); exit status 1 if any failed.
#
# `make test` (tests/tests.mk, included before this file) runs the suites in
# TEST_OTHER_SUITES when its recipe runs, so the nginx suite joins it here.

TEST_OTHER_SUITES += tests/netstack/test_nginx.sh
# The netstack over an ELISA vmnet port (netstack/vmnet.mk): nsecho and Redis, LOCAL mode.
TEST_OTHER_SUITES += $(NETSTACK_VMNET_SUITE)

.PHONY: test-netstack test-netstack-kernel test-netstack-nginx test-netstack-nginx-kernel

test-netstack: deps all
	bash tests/netstack/test_redis.sh

test-netstack-kernel: deps
	bash tests/netstack/test_redis.sh --kernel

test-netstack-nginx: deps all
	bash tests/netstack/test_nginx.sh

test-netstack-nginx-kernel: deps
	bash tests/netstack/test_nginx.sh --kernel
