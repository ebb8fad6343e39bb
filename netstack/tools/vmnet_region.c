/*
 * vmnet-region - make and inspect a vmnet region file (elisa/vmnet): the
 * shared memory of an ELISA virtual switch, for processes that use it in
 * local mode (netstack ZP_NET_DEVICE=vmnet, ZP_VMNET_REGION=FILE).
 *
 *   vmnet-region create FILE --ports N [--slots S] [--slot-size B]
 *                            [--mac-sets M] [--age FRAMES] [--force]
 *       lay out a region of N ports (S slots per ring, default 1024; B bytes
 *       per slot, default 2048; M MAC-table sets, default 64; entries
 *       expire after FRAMES switched frames, default 0 = never) in FILE,
 *       which must not exist unless --force (processes may be using it).
 *       Put it on tmpfs (/dev/shm) so its pages are plain memory.
 *   vmnet-region info FILE
 *       the geometry and, per port, the area's offset and size (what a
 *       manager maps into a guest: ZP_VMNET_AREA_OFFSET).
 *   vmnet-region stats FILE [PORT]
 *       the switch's counters, one line per port:
 *       "port P: tx_frames=.. tx_bytes=.. rx_frames=.. ... unicast=..".
 *
 * Exit status 0, 1 on an error (one line on stderr), 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmnet.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vmnet-region create FILE --ports N [--slots S] [--slot-size B] [--mac-sets M] [--age FRAMES] [--force]\n"
	           "       vmnet-region info FILE\n"
	           "       vmnet-region stats FILE [PORT]\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || !*s || s[0] == '-' || v > max) {
		fprintf(stderr, "vmnet-region: %s '%s' is not a number from 0 to %llu\n", opt, s,
		        (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	struct vmnet_config cfg = {
		.nports = 0, .ring_slots = 1024, .slot_size = VMNET_SLOT_DEFAULT, .mac_sets = 64,
		.age_limit = 0, .hash_seed = 0,
	};
	const char *path = NULL;
	int force = 0;

	for (int i = 0; i < argc; i++) {
		uint64_t v;
		const char *a = argv[i];
		if (!strcmp(a, "--force")) {
			force = 1;
			continue;
		}
		if (a[0] != '-') {
			if (path) {
				usage(stderr);
				return 2;
			}
			path = a;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "vmnet-region: %s needs a value\n", a);
			return 2;
		}
		const char *val = argv[++i];
		if (!strcmp(a, "--ports")) {
			if (parse_u64(a, val, VMNET_MAX_PORTS, &v) < 0)
				return 2;
			cfg.nports = (uint32_t)v;
		} else if (!strcmp(a, "--slots")) {
			if (parse_u64(a, val, VMNET_RING_MAX, &v) < 0)
				return 2;
			cfg.ring_slots = (uint32_t)v;
		} else if (!strcmp(a, "--slot-size")) {
			if (parse_u64(a, val, VMNET_SLOT_MAX, &v) < 0)
				return 2;
			cfg.slot_size = (uint32_t)v;
		} else if (!strcmp(a, "--mac-sets")) {
			if (parse_u64(a, val, VMNET_MAC_SETS_MAX, &v) < 0)
				return 2;
			cfg.mac_sets = (uint32_t)v;
		} else if (!strcmp(a, "--age")) {
			if (parse_u64(a, val, UINT64_MAX, &v) < 0)
				return 2;
			cfg.age_limit = v;
		} else {
			fprintf(stderr, "vmnet-region: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!path || cfg.nports == 0) {
		fprintf(stderr, "vmnet-region: create needs a FILE and --ports N (1..%u)\n", VMNET_MAX_PORTS);
		return 2;
	}
	/* The MAC table's hash key (vmnet README: makes collisions hard to aim). */
	if (getrandom(&cfg.hash_seed, sizeof(cfg.hash_seed), 0) != (ssize_t)sizeof(cfg.hash_seed)) {
		fprintf(stderr, "vmnet-region: getrandom failed: %s\n", strerror(errno));
		return 1;
	}
	uint64_t size = vmnet_region_size(&cfg);
	if (size == 0) {
		fprintf(stderr, "vmnet-region: impossible geometry: --slots and --slot-size and --mac-sets must be powers of two "
		        "(slots %u..%u, slot size %u..%u, sets 1..%u)\n",
		        VMNET_RING_MIN, VMNET_RING_MAX, VMNET_SLOT_MIN, VMNET_SLOT_MAX, VMNET_MAC_SETS_MAX);
		return 2;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0600);
	if (fd < 0) {
		fprintf(stderr, "vmnet-region: %s: %s%s\n", path, strerror(errno),
		        errno == EEXIST ? " (processes may be using it: remove it or pass --force)" : "");
		return 1;
	}
	if (ftruncate(fd, (off_t)size) != 0) {
		fprintf(stderr, "vmnet-region: %s: cannot make it %llu bytes: %s\n", path,
		        (unsigned long long)size, strerror(errno));
		close(fd);
		unlink(path);
		return 1;
	}
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "vmnet-region: %s: cannot map it: %s\n", path, strerror(errno));
		unlink(path);
		return 1;
	}
	int rc = vmnet_init(mem, size, &cfg);
	munmap(mem, size);
	if (rc < 0) {
		fprintf(stderr, "vmnet-region: vmnet_init refused the geometry: %s\n", vmnet_strerror(rc));
		unlink(path);
		return 1;
	}
	printf("vmnet-region: %s: %u ports, %u slots of %u bytes per ring, %llu bytes\n", path,
	       cfg.nports, cfg.ring_slots, cfg.slot_size, (unsigned long long)size);
	return 0;
}

/* Map FILE read-only and check it; NULL (one line said) if it is no region. */
static void *map_region(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "vmnet-region: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(struct vmnet_hdr)) {
		fprintf(stderr, "vmnet-region: %s is not a region file (make one with vmnet-region create)\n", path);
		close(fd);
		return NULL;
	}
	*size = (uint64_t)st.st_size;
	void *mem = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "vmnet-region: %s: cannot map it: %s\n", path, strerror(errno));
		return NULL;
	}
	int rc = vmnet_check(mem, *size);
	if (rc < 0) {
		fprintf(stderr, "vmnet-region: %s is not a valid vmnet region: %s\n", path, vmnet_strerror(rc));
		munmap(mem, *size);
		return NULL;
	}
	return mem;
}

static int cmd_info(const char *path)
{
	uint64_t size;
	const struct vmnet_hdr *h = map_region(path, &size);

	if (!h)
		return 1;
	printf("region %s: version %u, %u ports, %u slots x %u bytes per ring, %u MAC sets x %u ways, "
	       "age limit %llu, %llu bytes, busy %llu\n", path, h->version, h->nports, h->ring_slots,
	       h->slot_size, h->mac_sets, h->mac_ways, (unsigned long long)h->age_limit,
	       (unsigned long long)h->region_size, (unsigned long long)h->busy);
	for (uint32_t p = 0; p < h->nports; p++)
		printf("port %u: offset 0x%llx size 0x%llx\n", p,
		       (unsigned long long)vmnet_port_offset(h, size, p),
		       (unsigned long long)vmnet_port_area_size(h, size));
	munmap((void *)h, size);
	return 0;
}

static int cmd_stats(const char *path, const char *port_s)
{
	uint64_t size, want = UINT64_MAX;
	const struct vmnet_hdr *h = map_region(path, &size);

	if (!h)
		return 1;
	if (port_s && parse_u64("PORT", port_s, h->nports - 1, &want) < 0) {
		munmap((void *)h, size);
		return 2;
	}
	for (uint32_t p = 0; p < h->nports; p++) {
		struct vmnet_port_stats s;
		if (want != UINT64_MAX && p != want)
			continue;
		if (vmnet_port_stats(h, size, p, &s) < 0)
			continue;
		printf("port %u: tx_frames=%llu tx_bytes=%llu rx_frames=%llu rx_bytes=%llu drop_tx_len=%llu "
		       "drop_tx_src=%llu drop_filtered=%llu drop_rx_full=%llu drop_rx_index=%llu "
		       "err_tx_index=%llu flooded=%llu unicast=%llu\n", p,
		       (unsigned long long)s.tx_frames, (unsigned long long)s.tx_bytes,
		       (unsigned long long)s.rx_frames, (unsigned long long)s.rx_bytes,
		       (unsigned long long)s.drop_tx_len, (unsigned long long)s.drop_tx_src,
		       (unsigned long long)s.drop_filtered, (unsigned long long)s.drop_rx_full,
		       (unsigned long long)s.drop_rx_index, (unsigned long long)s.err_tx_index,
		       (unsigned long long)s.flooded, (unsigned long long)s.unicast);
	}
	munmap((void *)h, size);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "create"))
		return cmd_create(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "info"))
		return cmd_info(argv[2]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "stats"))
		return cmd_stats(argv[2], argc == 4 ? argv[3] : NULL);
	usage(stderr);
	return 2;
}
