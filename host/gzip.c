/* gzip of stored bodies: encoding with ISA-L's igzip level 1 for large
 * bodies (a 1.5 MB slot document with relay bids: ~0.85 ms against ~3.3 ms
 * with libdeflate level 1, for 0.6 % more bytes) and libdeflate level 6 for
 * the rest (whole-buffer, several times faster than zlib at the same
 * ratio); decoding with zlib (streaming, bounded, several members).  Both
 * encoders write one ordinary gzip member.  Pure functions apart from
 * struct gzip_enc: safe on worker threads.  Decoding is bounded so a small
 * hostile object cannot make the daemon allocate without limit. */
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lab/plugin.h"
#include "storage.h"

#define GZIP_LEVEL 6
/* Large bodies: igzip level 1.  On three real MEV documents (1.53-1.56 MB)
 * it took 0.80-0.90 ms against 3.0-3.5 ms for libdeflate level 1, output
 * 1.006x libdeflate 1's (182-186 kB; libdeflate 6: 163-166 kB in 8-11 ms).
 * igzip 0 is no faster and 1.5x bigger; 2 is level 1's twin; 3 is ~2.7 ms.
 * Smaller bodies keep libdeflate 6, where the time is small anyway. */
#define GZIP_LARGE ((size_t)512 << 10)
#define ISAL_LEVEL 1
#define ISAL_LVLBUF ISAL_DEF_LVL1_DEFAULT
/* Room for the output: stored blocks cost 5 bytes per 64 KiB, the gzip
 * wrapper 18; should igzip still run out, libdeflate 1 takes over. */
#define ISAL_BOUND(n) ((n) + (n) / 64 + 1024)
#define LIBDEFLATE_FALLBACK 1
#define GZIP_WBITS (15 + 16) /* 32 KiB window, gzip wrapper */
#define CHUNK_MAX ((size_t)UINT_MAX)

static int scratch_reserve(struct gzip_enc *e, size_t cap)
{
	if (cap <= e->cap)
		return 0;
	free(e->scratch);
	e->scratch = malloc(cap);
	e->cap = e->scratch ? cap : 0;
	return e->scratch ? 0 : LAB_ENOMEM;
}

/* One gzip member by igzip into e->scratch; 1 when it did not fit (or the
 * sizes exceed igzip's 32-bit counters), negative on allocation failure. */
static int isal_run(struct gzip_enc *e, const void *in, size_t n, size_t *len)
{
	struct isal_zstream *z;
	size_t cap = ISAL_BOUND(n);

	if (n > UINT32_MAX || cap > UINT32_MAX)
		return 1;
	if (!e->z)
		e->z = malloc(sizeof *e->z);
	if (e->z && !e->lvlbuf)
		e->lvlbuf = malloc(ISAL_LVLBUF);
	if (!e->z || !e->lvlbuf || scratch_reserve(e, cap) < 0)
		return LAB_ENOMEM;
	z = e->z;
	isal_deflate_init(z);
	z->level = ISAL_LEVEL;
	z->level_buf = e->lvlbuf;
	z->level_buf_size = ISAL_LVLBUF;
	z->gzip_flag = IGZIP_GZIP;
	z->end_of_stream = 1;
	z->flush = NO_FLUSH;
	z->next_in = (uint8_t *)(uintptr_t)in; /* igzip only reads it */
	z->avail_in = (uint32_t)n;
	z->next_out = e->scratch;
	z->avail_out = (uint32_t)e->cap;
	if (isal_deflate(z) != COMP_OK || z->internal_state.state != ZSTATE_END)
		return 1;
	*len = z->total_out;
	return 0;
}

static int libdeflate_run(struct gzip_enc *e, int level, const void *in, size_t n, size_t *len)
{
	if (e->c && e->level != level) {
		libdeflate_free_compressor(e->c);
		e->c = NULL;
	}
	if (!e->c) {
		e->c = libdeflate_alloc_compressor(level);
		if (!e->c)
			return LAB_ENOMEM;
		e->level = level;
	}
	if (scratch_reserve(e, libdeflate_gzip_compress_bound(e->c, n)) < 0)
		return LAB_ENOMEM;
	/* With a compress_bound() buffer the output always fits; 0 is failure. */
	*len = libdeflate_gzip_compress(e->c, in, n, e->scratch, e->cap);
	return *len ? 0 : LAB_ENOMEM;
}

int gzip_enc_run(struct gzip_enc *e, const void *in, size_t n, void **out, size_t *outlen)
{
	size_t len = 0;
	void *dst;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (n >= GZIP_LARGE) {
		rc = isal_run(e, in, n, &len);
		if (rc > 0)
			rc = libdeflate_run(e, LIBDEFLATE_FALLBACK, in, n, &len);
	} else {
		rc = libdeflate_run(e, GZIP_LEVEL, in, n, &len);
	}
	if (rc < 0)
		return rc;
	/* The result is a fraction of the bound: a block of its own size, which
	 * malloc serves from the heap when it is below the mmap threshold. */
	dst = malloc(len ? len : 1);
	if (!dst)
		return LAB_ENOMEM;
	memcpy(dst, e->scratch, len);
	*out = dst;
	*outlen = len;
	return 0;
}

int gzip_encode(const void *in, size_t n, void **out, size_t *outlen)
{
	struct gzip_enc e;
	int rc;

	memset(&e, 0, sizeof e);
	rc = gzip_enc_run(&e, in, n, out, outlen);
	gzip_enc_release(&e);
	return rc;
}

void gzip_enc_release(struct gzip_enc *e)
{
	if (e->c)
		libdeflate_free_compressor(e->c);
	free(e->z);
	free(e->lvlbuf);
	free(e->scratch);
	memset(e, 0, sizeof *e);
}

int gzip_is_gzip(const void *data, size_t n)
{
	const unsigned char *p = data;
	return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

static int grow(unsigned char **buf, size_t *cap, size_t max)
{
	size_t ncap;
	unsigned char *nb;

	if (*cap > max)
		return LAB_ERANGE;
	ncap = *cap > max / 2 ? max + 1 : *cap * 2;
	nb = realloc(*buf, ncap);
	if (!nb)
		return LAB_ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

int gzip_decode_max(const void *in, size_t n, size_t max, void **out, size_t *outlen)
{
	z_stream zs;
	unsigned char *dst;
	size_t cap, len = 0;
	const unsigned char *src = in;
	size_t used = 0;
	int rc = 0, zrc;

	*out = NULL;
	*outlen = 0;
	if (!gzip_is_gzip(in, n))
		return LAB_EPARSE;
	/* The trailer's ISIZE is attacker-controlled: start small and grow. */
	cap = n < 4096 ? 16384 : n * 4;
	if (cap > max + 1)
		cap = max + 1;
	dst = malloc(cap);
	if (!dst)
		return LAB_ENOMEM;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, GZIP_WBITS) != Z_OK) {
		free(dst);
		return LAB_ENOMEM;
	}
	for (;;) {
		if (len == cap && (rc = grow(&dst, &cap, max)) < 0)
			break;
		size_t in_left = n - used, out_left = cap - len;
		zs.next_in = (Bytef *)(uintptr_t)(src + used);
		zs.avail_in = (uInt)(in_left > CHUNK_MAX ? CHUNK_MAX : in_left);
		zs.next_out = dst + len;
		zs.avail_out = (uInt)(out_left > CHUNK_MAX ? CHUNK_MAX : out_left);
		zrc = inflate(&zs, Z_NO_FLUSH);
		used += (size_t)(zs.next_in - (src + used));
		len = (size_t)(zs.next_out - dst);
		if (len > max) {
			rc = LAB_ERANGE;
			break;
		}
		if (zrc == Z_STREAM_END) {
			if (used == n)
				break;
			/* RFC 1952 allows several members; anything else after one is corrupt. */
			if (!gzip_is_gzip(src + used, n - used) || inflateReset(&zs) != Z_OK) {
				rc = LAB_EPARSE;
				break;
			}
			continue;
		}
		if (zrc == Z_MEM_ERROR) {
			rc = LAB_ENOMEM;
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = LAB_EPARSE; /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
			break;
		}
		if (used == n && zs.avail_out != 0) {
			rc = LAB_EPARSE; /* truncated: input gone before the trailer */
			break;
		}
	}
	inflateEnd(&zs);
	if (rc < 0) {
		free(dst);
		return rc;
	}
	*out = dst;
	*outlen = len;
	return 0;
}

int gzip_decode(const void *in, size_t n, void **out, size_t *outlen)
{
	return gzip_decode_max(in, n, GZIP_DECODE_MAX, out, outlen);
}
