/* SPDX-License-Identifier: MIT */
/* sanverbs info: what a process on this machine would get from sanverbs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "cli.h"
#include "kmod/sanverbs_ioctl.h"
#include "sanverbs.h"

struct uffd_probe {
	const char *mode;  /* best way a process here gets a userfaultfd */
	int dev_err;       /* 0 or errno of /dev/userfaultfd */
	int sys_err;       /* 0 or errno of the plain syscall */
	int umo_err;       /* 0 or errno with UFFD_USER_MODE_ONLY */
	int unpriv;        /* vm.unprivileged_userfaultfd, -1 unknown */
	unsigned long long features;
};

static unsigned long long uffd_features(int fd)
{
	struct uffdio_api api = { .api = UFFD_API };
	unsigned long long f = 0;

	if (!ioctl(fd, UFFDIO_API, &api))
		f = api.features;
	close(fd);
	return f;
}

/* The order is the library's preference (design.md §2): a full fd from
 * /dev/userfaultfd, then the privileged syscall, then user-mode-only,
 * whose faults raised inside the kernel are not delivered. */
static void probe_uffd(struct uffd_probe *p)
{
	int dev, fd;
	FILE *f;

	memset(p, 0, sizeof(*p));
	p->mode = "none";
	p->unpriv = -1;
	f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	if (f) {
		if (fscanf(f, "%d", &p->unpriv) != 1)
			p->unpriv = -1;
		fclose(f);
	}

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		p->dev_err = errno;
	} else {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		p->dev_err = fd < 0 ? errno : 0;
		close(dev);
		if (fd >= 0) {
			p->mode = "dev";
			p->features = uffd_features(fd);
		}
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	p->sys_err = fd < 0 ? errno : 0;
	if (fd >= 0) {
		if (!strcmp(p->mode, "none")) {
			p->mode = "syscall";
			p->features = uffd_features(fd);
		} else {
			close(fd);
		}
	}
	fd = (int)syscall(SYS_userfaultfd,
			  O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	p->umo_err = fd < 0 ? errno : 0;
	if (fd >= 0) {
		if (!strcmp(p->mode, "none")) {
			p->mode = "user-mode-only";
			p->features = uffd_features(fd);
		} else {
			close(fd);
		}
	}
}

struct kmod_probe {
	int loaded;    /* /sys/module/sanverbs exists */
	int dev_err;   /* 0 or errno opening /dev/sanverbs */
	int have_ver;
	struct sanverbs_version ver;
};

static void probe_kmod(struct kmod_probe *k)
{
	const char *path = getenv("SANVERBS_KMOD_DEV");
	int fd;

	memset(k, 0, sizeof(*k));
	k->loaded = !access("/sys/module/sanverbs", F_OK);
	fd = open(path && *path ? path : "/dev/" SANVERBS_DEVICE_NAME,
		  O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		k->dev_err = errno;
		return;
	}
	k->have_ver = !ioctl(fd, SANVERBS_IOC_VERSION, &k->ver);
	close(fd);
}

static const char *monitor_name(enum sanverbs_monitor m)
{
	switch (m) {
	case SANVERBS_MONITOR_AUTO: return "auto";
	case SANVERBS_MONITOR_UFFD: return "uffd";
	case SANVERBS_MONITOR_KMOD: return "kmod";
	case SANVERBS_MONITOR_NONE: return "none";
	}
	return "?";
}

static const char *port_state(enum ibv_port_state s)
{
	return ibv_port_state_str(s);
}

static const char *link_layer(uint8_t l)
{
	switch (l) {
	case IBV_LINK_LAYER_INFINIBAND: return "InfiniBand";
	case IBV_LINK_LAYER_ETHERNET: return "Ethernet";
	default: return "unspecified";
	}
}

static const char *gid_type(enum ibv_gid_type t)
{
	switch (t) {
	case IBV_GID_TYPE_IB: return "IB";
	case IBV_GID_TYPE_ROCE_V1: return "RoCEv1";
	case IBV_GID_TYPE_ROCE_V2: return "RoCEv2";
	}
	return "?";
}

static int mtu_bytes(enum ibv_mtu m)
{
	return m >= IBV_MTU_256 && m <= IBV_MTU_4096 ? 128 << m : 0;
}

static void emit_port(struct jw *w, int json, struct ibv_context *v,
		      uint8_t port)
{
	struct ibv_port_attr pa;
	int i;

	if (ibv_query_port(v, port, &pa))
		return;
	if (json) {
		jw_obj_begin(w, NULL);
		jw_int(w, "port", port);
		jw_str(w, "state", port_state(pa.state));
		jw_str(w, "link_layer", link_layer(pa.link_layer));
		jw_int(w, "active_mtu", mtu_bytes(pa.active_mtu));
		jw_arr_begin(w, "gids");
	} else {
		printf("  port %u: %s, %s, active MTU %d\n", port,
		       port_state(pa.state), link_layer(pa.link_layer),
		       mtu_bytes(pa.active_mtu));
	}
	for (i = 0; i < pa.gid_tbl_len; i++) {
		struct ibv_gid_entry e;
		char buf[INET6_ADDRSTRLEN];

		/* Empty slots answer ENODATA: not an error, just unused. */
		if (ibv_query_gid_ex(v, port, i, &e, 0))
			continue;
		inet_ntop(AF_INET6, e.gid.raw, buf, sizeof(buf));
		if (json) {
			jw_obj_begin(w, NULL);
			jw_int(w, "index", i);
			jw_str(w, "gid", buf);
			jw_str(w, "type", gid_type(e.gid_type));
			jw_obj_end(w);
		} else {
			printf("    gid[%d] %-40s %s\n", i, buf,
			       gid_type(e.gid_type));
		}
	}
	if (json) {
		jw_arr_end(w);
		jw_obj_end(w);
	}
}

/* Returns the number of devices, or -errno when the RDMA stack is absent. */
static int emit_devices(struct jw *w, int json)
{
	struct ibv_device **list;
	int n = 0, i;

	list = ibv_get_device_list(&n);
	if (json)
		jw_arr_begin(w, "devices");
	else
		printf("RDMA devices:\n");
	if (!list) {
		int err = errno;

		if (json) {
			jw_arr_end(w);
			jw_str(w, "devices_error", err == ENOSYS ?
			       "this kernel has no RDMA stack" :
			       strerror(err));
		} else {
			printf("  none (%s)\n", err == ENOSYS ?
			       "this kernel has no RDMA stack" : strerror(err));
		}
		return -err;
	}
	if (!n && !json)
		printf("  none\n");
	for (i = 0; i < n; i++) {
		struct ibv_context *v = ibv_open_device(list[i]);
		struct ibv_device_attr da;
		uint8_t p;

		if (!v || ibv_query_device(v, &da)) {
			if (v)
				ibv_close_device(v);
			continue;
		}
		if (json) {
			jw_obj_begin(w, NULL);
			jw_str(w, "name", ibv_get_device_name(list[i]));
			jw_str(w, "transport",
			       ibv_node_type_str(list[i]->node_type));
			jw_str(w, "fw_ver", da.fw_ver);
			jw_int(w, "max_mr", da.max_mr);
			jw_uint(w, "max_mr_size", da.max_mr_size);
			jw_arr_begin(w, "ports");
		} else {
			printf("%s: %s, max_mr %d, %u port(s)\n",
			       ibv_get_device_name(list[i]),
			       ibv_node_type_str(list[i]->node_type),
			       da.max_mr, da.phys_port_cnt);
		}
		for (p = 1; p <= da.phys_port_cnt; p++)
			emit_port(w, json, v, p);
		if (json) {
			jw_arr_end(w);
			jw_obj_end(w);
		}
		ibv_close_device(v);
	}
	ibv_free_device_list(list);
	if (json)
		jw_arr_end(w);
	return n;
}

static const char info_usage[] =
	"usage: sanverbs info [--json]\n"
	"\n"
	"What a process on this machine gets from sanverbs: RDMA devices,\n"
	"ports and GIDs, the kernel module (/dev/sanverbs) and its ABI, the\n"
	"userfaultfd mode, RLIMIT_MEMLOCK, and every SANVERBS_* setting the\n"
	"libraries read with its value, default, source and meaning.\n"
	"\n"
	"  -j, --json   one JSON document instead of the tables\n"
	"  -h, --help   this text\n";

static void emit_settings(struct jw *w, int json)
{
	const struct cli_setting *st;
	size_t n, i;

	st = cli_settings(&n);
	if (json)
		jw_arr_begin(w, "settings");
	else
		printf("\nSettings (environment variables read by the "
		       "libraries):\n");
	for (i = 0; i < n; i++) {
		const char *v = getenv(st[i].name);

		if (json) {
			jw_obj_begin(w, NULL);
			jw_str(w, "name", st[i].name);
			jw_str(w, "value", v ? v : st[i].def);
			jw_str(w, "default", st[i].def);
			jw_str(w, "source", v ? "environment" : "default");
			jw_str(w, "read_by", st[i].component);
			jw_str(w, "meaning", st[i].meaning);
			jw_obj_end(w);
		} else {
			printf("  %-28s %s (%s)\n      %s; default %s; read by "
			       "%s\n", st[i].name, v ? v : st[i].def,
			       v ? "environment" : "default", st[i].meaning,
			       st[i].def, st[i].component);
		}
	}
	if (json)
		jw_arr_end(w);
}

static void print_limit(const char *what, rlim_t v)
{
	if (v == RLIM_INFINITY)
		printf("  %-26s unlimited\n", what);
	else
		printf("  %-26s %llu KiB\n", what,
		       (unsigned long long)v / 1024);
}

int cli_info(int argc, char **argv)
{
	struct sanverbs_ctx_attr attr;
	struct uffd_probe u;
	struct kmod_probe k;
	struct rlimit rl;
	int json = 0, i, env_ok;
	struct jw w;

	i = cli_std_opts(argc, argv, info_usage, &json);
	if (i >= 0)
		return i;
	if (optind < argc) {
		fprintf(stderr, "sanverbs info: unexpected argument '%s'\n"
			"Try 'sanverbs info --help'.\n", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	probe_uffd(&u);
	probe_kmod(&k);
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		rl.rlim_cur = rl.rlim_max = 0;
	env_ok = !sanverbs_ctx_attr_init(&attr);

	if (json) {
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "version", SV_VERSION);
	}
	emit_devices(&w, json);
	if (json) {
		jw_obj_begin(&w, "kmod");
		jw_bool(&w, "loaded", k.loaded);
		jw_bool(&w, "device_open", !k.dev_err);
		if (k.dev_err)
			jw_str(&w, "device_error", strerror(k.dev_err));
		if (k.have_ver) {
			jw_uint(&w, "abi", k.ver.abi);
			jw_uint(&w, "max_contig", k.ver.max_contig);
		} else {
			jw_null(&w, "abi");
		}
		jw_uint(&w, "abi_expected", SANVERBS_ABI_VERSION);
		jw_obj_end(&w);
		jw_obj_begin(&w, "userfaultfd");
		jw_str(&w, "mode", u.mode);
		jw_str(&w, "dev_userfaultfd", u.dev_err ? strerror(u.dev_err) :
			   "ok");
		jw_str(&w, "syscall", u.sys_err ? strerror(u.sys_err) : "ok");
		jw_str(&w, "user_mode_only", u.umo_err ? strerror(u.umo_err) :
			   "ok");
		jw_int(&w, "unprivileged_userfaultfd", u.unpriv);
		jw_uint(&w, "features", u.features);
		jw_obj_end(&w);
		jw_obj_begin(&w, "memlock");
		if (rl.rlim_cur == RLIM_INFINITY)
			jw_null(&w, "soft");
		else
			jw_uint(&w, "soft", rl.rlim_cur);
		if (rl.rlim_max == RLIM_INFINITY)
			jw_null(&w, "hard");
		else
			jw_uint(&w, "hard", rl.rlim_max);
		jw_obj_end(&w);
		jw_obj_begin(&w, "cache_defaults");
		jw_bool(&w, "environment_ok", env_ok);
		if (env_ok) {
			jw_str(&w, "monitor", monitor_name(attr.monitor));
			jw_uint(&w, "max_entries", attr.cache_max_entries);
			jw_uint(&w, "max_bytes", attr.cache_max_bytes);
		}
		jw_obj_end(&w);
		emit_settings(&w, 1);
		jw_obj_end(&w);
		jw_finish(&w);
		return CLI_EXIT_OK;
	}

	printf("\nKernel module (/dev/%s):\n", SANVERBS_DEVICE_NAME);
	if (k.have_ver)
		printf("  loaded, ABI %u (library expects %u)%s, largest "
		       "contiguous block %llu KiB\n", k.ver.abi,
		       SANVERBS_ABI_VERSION,
		       k.ver.abi == SANVERBS_ABI_VERSION ? "" : " MISMATCH",
		       (unsigned long long)k.ver.max_contig / 1024);
	else
		printf("  %s (%s)\n", k.loaded ? "loaded but not usable" :
		       "not loaded", k.dev_err ? strerror(k.dev_err) :
		       "version ioctl failed");
	printf("\nuserfaultfd:\n  mode                       %s\n", u.mode);
	printf("  /dev/userfaultfd           %s\n",
	       u.dev_err ? strerror(u.dev_err) : "ok");
	printf("  userfaultfd(2)             %s\n",
	       u.sys_err ? strerror(u.sys_err) : "ok");
	printf("  UFFD_USER_MODE_ONLY        %s\n",
	       u.umo_err ? strerror(u.umo_err) : "ok");
	if (u.unpriv >= 0)
		printf("  vm.unprivileged_userfaultfd %d\n", u.unpriv);
	if (u.features)
		printf("  features                   0x%llx\n", u.features);
	printf("\nLimits:\n");
	print_limit("RLIMIT_MEMLOCK soft", rl.rlim_cur);
	print_limit("RLIMIT_MEMLOCK hard", rl.rlim_max);
	printf("\nCache defaults (with SANVERBS_* environment):\n");
	if (env_ok) {
		printf("  monitor                    %s\n",
		       monitor_name(attr.monitor));
		printf("  max entries                %zu\n",
		       attr.cache_max_entries);
		printf("  max bytes                  %zu\n",
		       attr.cache_max_bytes);
	} else {
		printf("  the SANVERBS_* environment does not parse\n");
	}
	emit_settings(NULL, 0);
	return CLI_EXIT_OK;
}
