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

/** The cache's monitor opened userfaultfd with UFFD_USER_MODE_ONLY. */
#define SANVERBS_CACHE_F_UFFD_USER_MODE (1u << 0)

/** Counters and state of a context's registration cache. */
struct sanverbs_cache_stats {
	uint64_t hits;          /**< sanverbs_mr_reg() served from the cache */
	uint64_t misses;        /**< sanverbs_mr_reg() that called ibv_reg_mr */
	uint64_t evictions;     /**< entries dropped for limits or ENOMEM */
	uint64_t invalidations; /**< entries dropped because memory changed
				     (monitor or sanverbs_cache_invalidate) */
	uint64_t uncached;      /**< registrations not kept in the cache
				     (unwatchable range, over a limit, remote
				     access, changed while registering) */
	uint64_t entries;       /**< registrations now cached */
	uint64_t bytes_pinned;  /**< bytes those entries pin */
	/** Monitor in use: UFFD, KMOD or NONE (NONE = caching off). */
	enum sanverbs_monitor monitor;
	uint32_t flags;         /**< SANVERBS_CACHE_F_* */
};

/**
 * Read the cache counters of @p ctx.
 *
 * @param ctx   context
 * @param stats receives the counters (a consistent snapshot)
 * @return 0 or -EINVAL
 */
int sanverbs_cache_stats(struct sanverbs_ctx *ctx,
			 struct sanverbs_cache_stats *stats);

/**
 * Called once for each cached registration or secured range whose mapping
 * changed (unmapped, zapped, moved, replaced), with the range that was
 * registered or secured. Runs on a library thread, outside every library
 * lock: it may call free(), munmap() and sanverbs_* functions.
 */
typedef void (*sanverbs_cache_cb)(void *arg, void *addr, size_t len);

/**
 * Install (or with @p cb NULL remove) the mapping-change callback, the
 * analogue of WSPMemoryRegistrationCacheCallback in the other direction.
 *
 * @return 0, or -EINVAL if @p ctx is NULL
 */
int sanverbs_cache_set_callback(struct sanverbs_ctx *ctx, sanverbs_cache_cb cb,
				void *arg);

/**
 * Drop every cached registration overlapping [@p addr, @p addr + @p len)
 * (WSPMemoryRegistrationCacheCallback). Registrations still held stay usable
 * until sanverbs_mr_dereg(); later sanverbs_mr_reg() calls miss. The
 * callback is not called for this explicit request.
 *
 * @return 0; -EINVAL on bad arguments; -ENOENT if nothing was cached there
 */
int sanverbs_cache_invalidate(struct sanverbs_ctx *ctx, void *addr,
			      size_t len);

/**
 * Drop every cached registration of @p ctx (held ones stay usable until
 * sanverbs_mr_dereg()).
 *
 * @return 0 or -EINVAL
 */
int sanverbs_cache_flush(struct sanverbs_ctx *ctx);

/** A range watched by sanverbs_secure_memory(). */
struct sanverbs_secure;

/**
 * Watch [@p addr, @p addr + @p len) for mapping changes without registering
 * it (MmSecureVirtualMemory), for callers that keep their own cache: the
 * callback fires once when the range is unmapped, zapped or moved.
 *
 * @param ctx  context whose monitor watches the range
 * @param addr start of the range
 * @param len  length, > 0, not wrapping
 * @param out  receives the handle for sanverbs_unsecure_memory()
 * @return 0; -EINVAL on bad arguments; -EOPNOTSUPP if the context has no
 *         monitor or the memory cannot be watched (file-backed, SysV shm);
 *         -EFAULT if part of the range is not mapped; -ENOMEM
 */
int sanverbs_secure_memory(struct sanverbs_ctx *ctx, void *addr, size_t len,
			   struct sanverbs_secure **out);

/**
 * Stop watching a range secured by sanverbs_secure_memory()
 * (MmUnsecureVirtualMemory) and free the handle.
 *
 * @return 0 or -EINVAL if @p handle is NULL
 */
int sanverbs_unsecure_memory(struct sanverbs_secure *handle);

/* ------------------------------------------------------------------------ */
/* MDLs: probe and lock, system address, fault-safe access (mdl.c & co)      */
/* ------------------------------------------------------------------------ */

/**
 * A memory descriptor list: [va, va + byte_count) of the calling process,
 * its page count and, once locked, its page-frame array (MmProbeAndLockPages
 * and friends). An MDL is owned by one thread at a time, as on Windows.
 */
struct sanverbs_mdl;
/** A memfd-backed, pinned buffer pool (the library's own buffers). */
struct sanverbs_pool;

/** Access to probe for; same values as Windows LOCK_OPERATION. */
enum sanverbs_lock_op {
	SANVERBS_IO_READ_ACCESS = 0,   /**< IoReadAccess: pages readable */
	SANVERBS_IO_WRITE_ACCESS = 1,  /**< IoWriteAccess: readable+writable */
	SANVERBS_IO_MODIFY_ACCESS = 2, /**< IoModifyAccess: same as write */
};

/** MM_PAGE_PRIORITY LowPagePriority: may fail when memory is low. */
#define SANVERBS_PAGE_PRIORITY_LOW 0u
/** MM_PAGE_PRIORITY NormalPagePriority: fails only when memory is very low. */
#define SANVERBS_PAGE_PRIORITY_NORMAL 16u
/** MM_PAGE_PRIORITY HighPagePriority: no pressure check at all. */
#define SANVERBS_PAGE_PRIORITY_HIGH 32u
/** MdlMappingNoWrite: the system address is read-only. */
#define SANVERBS_MAPPING_NO_WRITE 0x80000000u
/** MdlMappingNoExecute: accepted; a system address is never executable. */
#define SANVERBS_MAPPING_NO_EXECUTE 0x40000000u

/** Page-frame array entry when frames may not be shown (not root). */
#define SANVERBS_PFN_UNAVAILABLE UINT64_MAX

/** State bits returned by sanverbs_mdl_flags(). */
enum sanverbs_mdl_flag {
	SANVERBS_MDL_LOCKED = 1u << 0,     /**< pages locked (or partial of a locked MDL) */
	SANVERBS_MDL_PARTIAL = 1u << 1,    /**< built by sanverbs_mdl_build_partial() */
	SANVERBS_MDL_SYSTEM_VA = 1u << 2,  /**< a system address is mapped */
	SANVERBS_MDL_PFN_VALID = 1u << 3,  /**< page frames are real, not UNAVAILABLE */
	SANVERBS_MDL_PINNED = 1u << 4,     /**< pages long-term pinned by the ctx's HCA */
	SANVERBS_MDL_POOL = 1u << 5,       /**< range lies in a sanverbs pool */
	SANVERBS_MDL_WRITE = 1u << 6,      /**< locked for write/modify access */
};

/**
 * Describe [@p addr, @p addr + @p len) (IoAllocateMdl). Nothing is probed
 * or locked yet.
 *
 * @param ctx  NULL, or a context whose PD also pins the pages at lock time
 *             (a FOLL_LONGTERM pin that keeps the physical pages even if the
 *             application unmaps its range; gives sanverbs_mdl_lkey())
 * @param addr start of the buffer, any alignment
 * @param len  length in bytes, > 0, no wrap-around
 * @param out  receives the MDL
 * @return 0, -EINVAL, -ENOMEM
 */
int sanverbs_mdl_create(struct sanverbs_ctx *ctx, void *addr, size_t len,
			struct sanverbs_mdl **out);

/**
 * Describe part of a locked MDL (IoBuildPartialMdl). The partial MDL shares
 * the source's locked pages and page frames; it cannot be locked or
 * unlocked itself, and its system address is released by
 * sanverbs_mdl_free(). The source cannot be unlocked or freed while
 * partials exist (-EBUSY).
 *
 * @param src  a locked, non-partial MDL
 * @param addr start inside the source range
 * @param len  > 0; [addr, addr + len) must lie inside the source
 * @param out  receives the partial MDL
 * @return 0, -EINVAL (bad range, @p src not locked or itself partial), -ENOMEM
 */
int sanverbs_mdl_build_partial(struct sanverbs_mdl *src, void *addr,
			       size_t len, struct sanverbs_mdl **out);

/**
 * Free an MDL (IoFreeMdl). A partial MDL's system address is unmapped here.
 *
 * @return 0; -EINVAL for NULL; -EBUSY if the MDL is still locked or partial
 *         MDLs built over it still exist
 */
int sanverbs_mdl_free(struct sanverbs_mdl *mdl);

/**
 * Probe the range for @p op, make it resident and lock it (MmProbeAndLockPages).
 * Locks are counted per page: a page covered by several locked MDLs stays
 * locked until the last of them is unlocked. Fills the page-frame array.
 *
 * @param mdl an unlocked, non-partial MDL
 * @param op  SANVERBS_IO_READ/WRITE/MODIFY_ACCESS
 * @return 0; -EINVAL (bad arguments, partial MDL); -EBUSY (already locked);
 *         -EFAULT (part of the range is not mapped, or the fault failed);
 *         -EACCES (mapped without the permission @p op needs, e.g. PROT_NONE
 *         or read-only probed for write); -ENOMEM (RLIMIT_MEMLOCK or no
 *         memory); -EOPNOTSUPP (kernel older than 5.14: no MADV_POPULATE_*)
 */
int sanverbs_mdl_probe_and_lock(struct sanverbs_mdl *mdl,
				enum sanverbs_lock_op op);

/**
 * Unlock the pages (MmUnlockPages): drops this MDL's count on every page,
 * its pin and its system address.
 *
 * @return 0; -EINVAL if @p mdl is NULL, partial, or not locked (never locked
 *         or unlocked twice); -EBUSY while partial MDLs over it exist
 */
int sanverbs_mdl_unlock(struct sanverbs_mdl *mdl);

/**
 * Map the locked pages at a second, library-owned address
 * (MmGetSystemAddressForMdlSafe). The mapping shows the same physical pages,
 * is never executable, is read-only with SANVERBS_MAPPING_NO_WRITE, stays
 * valid after the application unmaps @p mdl's range, and is released by
 * sanverbs_mdl_unlock() (or sanverbs_mdl_free() for a partial MDL). Repeated
 * calls return the first mapping whatever their flags, as on Windows.
 * Pool memory is mapped again from its memfd; other memory needs the
 * sanverbs kernel module.
 *
 * @param mdl      a locked (or partial) MDL
 * @param priority SANVERBS_PAGE_PRIORITY_* OR'ed with SANVERBS_MAPPING_*
 * @param out      receives the address of the MDL's first byte, NULL on error
 * @return 0; -EINVAL (bad arguments, unknown bits, not locked); -ENOMEM
 *         (LOW: MemAvailable under 1/8 of MemTotal; NORMAL: under 1/32; or
 *         mapping failed); -EOPNOTSUPP (not pool memory and no kernel module)
 */
int sanverbs_mdl_system_address(struct sanverbs_mdl *mdl,
				unsigned int priority, void **out);

/** First byte described (MmGetMdlVirtualAddress), NULL if @p mdl is NULL. */
void *sanverbs_mdl_va(const struct sanverbs_mdl *mdl);
/** Offset of the first byte into its page (MmGetMdlByteOffset), or 0. */
size_t sanverbs_mdl_byte_offset(const struct sanverbs_mdl *mdl);
/** Bytes described (MmGetMdlByteCount), or 0. */
size_t sanverbs_mdl_byte_count(const struct sanverbs_mdl *mdl);
/** Pages spanned (ADDRESS_AND_SIZE_TO_SPAN_PAGES), or 0. */
size_t sanverbs_mdl_page_count(const struct sanverbs_mdl *mdl);
/**
 * Page-frame array (MmGetMdlPfnArray): page_count entries, valid while the
 * MDL is locked; every entry is SANVERBS_PFN_UNAVAILABLE unless the caller
 * may read frames (CAP_SYS_ADMIN). NULL if @p mdl is NULL or not locked.
 */
const uint64_t *sanverbs_mdl_pfns(const struct sanverbs_mdl *mdl);
/** OR of enum sanverbs_mdl_flag bits, or 0. */
unsigned int sanverbs_mdl_flags(const struct sanverbs_mdl *mdl);
/** Local key of the pin (SANVERBS_MDL_PINNED only), else 0. */
uint32_t sanverbs_mdl_lkey(const struct sanverbs_mdl *mdl);

/**
 * Copy from application memory that may be invalid, without a signal.
 * @return 0; -EINVAL (NULL, zero length, wrap-around); -EFAULT if some byte
 *         of @p src is unreadable (@p dst may hold a prefix)
 */
int sanverbs_safe_read(void *dst, const void *src, size_t len);
/**
 * Copy into application memory that may be invalid or read-only, without a
 * signal.
 * @return 0; -EINVAL; -EFAULT if some byte of @p dst is not writable (a
 *         prefix may have been written)
 */
int sanverbs_safe_write(void *dst, const void *src, size_t len);

/**
 * Create a pool of @p size bytes (rounded up to pages) backed by a memfd,
 * populated and pinned: registered with @p ctx's PD when @p ctx is given,
 * mlocked otherwise. MDLs over pool memory get a system address without the
 * kernel module.
 *
 * @param ctx    NULL (no registration, @p access must be 0) or a context
 * @param size   > 0
 * @param access enum sanverbs_access bits for the registration
 * @param out    receives the pool
 * @return 0, -EINVAL, -ENOMEM (no memory or RLIMIT_MEMLOCK), other -errno
 */
int sanverbs_pool_create(struct sanverbs_ctx *ctx, size_t size,
			 unsigned int access, struct sanverbs_pool **out);
/** Destroy a pool: 0, -EINVAL, or -EBUSY while buffers or system addresses
 *  taken from it remain. */
int sanverbs_pool_destroy(struct sanverbs_pool *pool);
/** Take a page-aligned buffer of at least @p len bytes: 0, -EINVAL, or
 *  -ENOMEM when no run of free pages is long enough. */
int sanverbs_pool_alloc(struct sanverbs_pool *pool, size_t len, void **out);
/** Return a buffer: 0, or -EINVAL if @p buf is not a live buffer of @p pool. */
int sanverbs_pool_free(struct sanverbs_pool *pool, void *buf);
/** Local key of the pool's registration, 0 without a ctx. */
uint32_t sanverbs_pool_lkey(const struct sanverbs_pool *pool);
/** Remote key of the pool's registration, 0 without a ctx. */
uint32_t sanverbs_pool_rkey(const struct sanverbs_pool *pool);


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
