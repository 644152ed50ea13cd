/* SPDX-License-Identifier: MIT */
/**
 * @file sanverbs.h
 * @brief sanverbs: the Windows SAN service provider memory contract on Linux
 * RDMA verbs.
 *
 * Conventions that hold for every function in this header:
 *  - every symbol starts with `sanverbs_` (types) or `SANVERBS_` (macros);
 *  - handles are opaque and come in create/destroy (or open/close) pairs;
 *  - functions returning `int` return 0 on success or a negative errno value
 *    (-EINVAL for bad arguments, -ENOMEM for resource exhaustion, ...), and
 *    never crash on NULL, zero-length or wrapping address ranges;
 *  - the header is self-contained and compiles as ISO C11 with -pedantic and
 *    as C++.
 */
#ifndef SANVERBS_H
#define SANVERBS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Major version of the library API. */
#define SANVERBS_VERSION_MAJOR 0
/** Minor version of the library API. */
#define SANVERBS_VERSION_MINOR 1

/* Forward declarations: callers that want raw verbs include
 * <infiniband/verbs.h> themselves; this header must not drag it in. */
struct ibv_context;
struct ibv_pd;

/* ------------------------------------------------------------------------ */
/* Core: device context and memory registration                              */
/* ------------------------------------------------------------------------ */

/** An open RDMA device with its protection domain and registration cache. */
struct sanverbs_ctx;
/** One registration of a buffer (a reference on a cached entry). */
struct sanverbs_mr;

/**
 * Access rights of a registration. REMOTE_WRITE implies LOCAL_WRITE (verbs
 * requires it), so the library adds LOCAL_WRITE when REMOTE_WRITE is asked.
 */
enum sanverbs_access {
	SANVERBS_ACCESS_LOCAL_WRITE = 1u << 0,  /**< the local HCA may write */
	SANVERBS_ACCESS_REMOTE_WRITE = 1u << 1, /**< the peer may RDMA-write */
	SANVERBS_ACCESS_REMOTE_READ = 1u << 2,  /**< the peer may RDMA-read */
};

/** Every access bit the library knows; any other bit is -EINVAL. */
#define SANVERBS_ACCESS_ALL                                                  \
	(SANVERBS_ACCESS_LOCAL_WRITE | SANVERBS_ACCESS_REMOTE_WRITE |        \
	 SANVERBS_ACCESS_REMOTE_READ)

/** Which invalidation monitor a context uses for its registration cache. */
enum sanverbs_monitor {
	SANVERBS_MONITOR_AUTO = 0, /**< kmod if loaded, else userfaultfd, else none */
	SANVERBS_MONITOR_UFFD = 1, /**< userfaultfd only (fail if unavailable) */
	SANVERBS_MONITOR_KMOD = 2, /**< /dev/sanverbs notifier only */
	SANVERBS_MONITOR_NONE = 3, /**< no monitor: caching is switched off */
};

/**
 * Options for sanverbs_ctx_open(). Fill with sanverbs_ctx_attr_init(), which
 * applies the documented defaults and the `SANVERBS_*` environment variables,
 * then override fields as needed.
 */
struct sanverbs_ctx_attr {
	/** Device name (e.g. "rxe0"); NULL picks the first device with an
	 *  active port. Default: `$SANVERBS_DEVICE` or NULL. */
	const char *device;
	/** Port number; 0 picks the first active port. */
	uint8_t port;
	/** Invalidation monitor. Default: `$SANVERBS_MONITOR` or AUTO. */
	enum sanverbs_monitor monitor;
	/** Most cached registrations kept (0 = caching off).
	 *  Default: `$SANVERBS_CACHE_MAX_ENTRIES` or 16384. */
	size_t cache_max_entries;
	/** Most bytes kept pinned by the cache (0 = no byte limit).
	 *  Default: `$SANVERBS_CACHE_MAX_BYTES` or 1 GiB. */
	size_t cache_max_bytes;
	/** Reserved, must be 0. */
	uint64_t flags;
};

/**
 * Fill @p attr with defaults and the `SANVERBS_*` environment overrides.
 *
 * @param attr attributes to initialise
 * @return 0, or -EINVAL if @p attr is NULL or an environment variable does
 *         not parse (the variable is named on stderr)
 */
int sanverbs_ctx_attr_init(struct sanverbs_ctx_attr *attr);

/**
 * Open an RDMA device, allocate a protection domain and set up the
 * registration cache and its invalidation monitor.
 *
 * @param attr options, or NULL for sanverbs_ctx_attr_init() defaults
 * @param out  receives the new context
 * @return 0; -EINVAL on bad arguments; -ENODEV if no (matching) device or no
 *         active port exists; other negative errno from the verbs library
 */
int sanverbs_ctx_open(const struct sanverbs_ctx_attr *attr,
		      struct sanverbs_ctx **out);

/**
 * Close a context: release every registration still cached or held, stop the
 * monitor, free the protection domain and close the device. Registrations
 * still held by the caller become invalid.
 *
 * @param ctx the context (NULL is a no-op returning -EINVAL)
 * @return 0 or -EINVAL
 */
int sanverbs_ctx_close(struct sanverbs_ctx *ctx);

/** The verbs device context (owned by @p ctx), or NULL if @p ctx is NULL. */
struct ibv_context *sanverbs_ctx_verbs(const struct sanverbs_ctx *ctx);
/** The protection domain (owned by @p ctx), or NULL if @p ctx is NULL. */
struct ibv_pd *sanverbs_ctx_pd(const struct sanverbs_ctx *ctx);
/** The device name, e.g. "rxe0", or NULL if @p ctx is NULL. */
const char *sanverbs_ctx_device_name(const struct sanverbs_ctx *ctx);
/** The port the context uses, or 0 if @p ctx is NULL. */
uint8_t sanverbs_ctx_port(const struct sanverbs_ctx *ctx);

/**
 * Register [@p addr, @p addr + @p len) with at least @p access rights.
 *
 * The mapping of the memory must stay valid while the registration is used;
 * the cache notices when it changes (see the cache section).
 *
 * @param ctx    context
 * @param addr   start of the buffer
 * @param len    length in bytes, > 0, and @p addr + @p len must not wrap
 * @param access OR of enum sanverbs_access bits
 * @param out    receives the registration handle
 * @return 0; -EINVAL on bad arguments; -EFAULT if the range is not mapped
 *         with the needed permissions; -ENOMEM when pinning fails even after
 *         the cache evicted what it could
 */
int sanverbs_mr_reg(struct sanverbs_ctx *ctx, void *addr, size_t len,
		    unsigned int access, struct sanverbs_mr **out);

/**
 * Drop a registration. Remote access through its rkey ends here; the pages
 * may stay pinned in the cache for a later sanverbs_mr_reg() of the same
 * range.
 *
 * @param mr the registration (NULL gives -EINVAL)
 * @return 0 or -EINVAL
 */
int sanverbs_mr_dereg(struct sanverbs_mr *mr);

/** Local key for work requests, or 0 if @p mr is NULL. */
uint32_t sanverbs_mr_lkey(const struct sanverbs_mr *mr);
/** Remote key to give a peer (valid only with a REMOTE_* access), or 0. */
uint32_t sanverbs_mr_rkey(const struct sanverbs_mr *mr);
/** Start address the caller registered, or NULL if @p mr is NULL. */
void *sanverbs_mr_addr(const struct sanverbs_mr *mr);
/** Length the caller registered, or 0 if @p mr is NULL. */
size_t sanverbs_mr_length(const struct sanverbs_mr *mr);
/** Access the registration grants (may exceed what was asked), or 0. */
unsigned int sanverbs_mr_access(const struct sanverbs_mr *mr);

/**
 * Return a static English description of a sanverbs error code (a negative
 * errno); never NULL.
 */
const char *sanverbs_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Registration cache, invalidation and secure/unsecure (cache.c & co)       */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* MDLs: probe and lock, system address, fault-safe access (mdl.c & co)      */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Low-memory buffers and the kernel module (lowmem.c, kmod_client.c)        */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Endpoints: RC connections over librdmacm (ep.c & co)                      */
/* ------------------------------------------------------------------------ */

#ifdef __cplusplus
}
#endif

#endif /* SANVERBS_H */
