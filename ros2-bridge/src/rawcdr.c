/* rawcdr.c — the opaque CDR sertype (see rawcdr.h). Keyless: every sample is the same instance, as ROS 2's
 * topics are. */
#include "rawcdr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dds/ddsi/ddsi_serdata.h"
#include "dds/ddsi/ddsi_sertype.h"
#include "dds/ddsi/q_radmin.h"

typedef struct {
  struct ddsi_serdata c;
  uint32_t size;
  uint8_t *payload;
} rawcdr_serdata_t;

typedef struct {
  uint8_t *payload;
  uint32_t size;
} rawcdr_sample_t;

static const struct ddsi_serdata_ops rawcdr_serdata_ops;
static const struct ddsi_sertype_ops rawcdr_sertype_ops;

/* ---- serdata ----------------------------------------------------------------------------------------------- */

static rawcdr_serdata_t *serdata_alloc(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind, size_t size) {
  if (size > RAWCDR_MAX_BYTES) return NULL;
  rawcdr_serdata_t *d = calloc(1, sizeof(*d));
  if (d == NULL) return NULL;
  ddsi_serdata_init(&d->c, type, kind);
  d->c.hash = type->serdata_basehash; /* keyless: one instance */
  d->size = (uint32_t)size;
  if (size > 0) {
    d->payload = malloc(size);
    if (d->payload == NULL) {
      free(d);
      return NULL;
    }
  }
  return d;
}

static bool sd_eqkey(const struct ddsi_serdata *a, const struct ddsi_serdata *b) {
  (void)a;
  (void)b;
  return true;
}

static uint32_t sd_get_size(const struct ddsi_serdata *d) { return ((const rawcdr_serdata_t *)d)->size; }

static struct ddsi_serdata *sd_from_ser(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind,
                                        const struct nn_rdata *fragchain, size_t size) {
  rawcdr_serdata_t *d = serdata_alloc(type, kind, size);
  if (d == NULL) return NULL;
  uint32_t off = 0;
  for (; fragchain != NULL; fragchain = fragchain->nextfrag) {
    if (fragchain->maxp1 <= off) continue; /* fully overlapped by what we have */
    const unsigned char *payload = NN_RMSG_PAYLOADOFF(fragchain->rmsg, NN_RDATA_PAYLOAD_OFF(fragchain));
    uint32_t end = fragchain->maxp1 < size ? fragchain->maxp1 : (uint32_t)size;
    if (end > off) memcpy(d->payload + off, payload + (off - fragchain->min), end - off);
    off = end;
  }
  return &d->c;
}

static struct ddsi_serdata *sd_from_ser_iov(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind,
                                            ddsrt_msg_iovlen_t niov, const ddsrt_iovec_t *iov, size_t size) {
  rawcdr_serdata_t *d = serdata_alloc(type, kind, size);
  if (d == NULL) return NULL;
  size_t off = 0;
  for (ddsrt_msg_iovlen_t i = 0; i < niov && off < size; i++) {
    size_t n = iov[i].iov_len < size - off ? iov[i].iov_len : size - off;
    memcpy(d->payload + off, iov[i].iov_base, n);
    off += n;
  }
  return &d->c;
}

static struct ddsi_serdata *sd_from_keyhash(const struct ddsi_sertype *type, const struct ddsi_keyhash *keyhash) {
  (void)keyhash;
  rawcdr_serdata_t *d = serdata_alloc(type, SDK_KEY, 0);
  return d == NULL ? NULL : &d->c;
}

static struct ddsi_serdata *sd_from_sample(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind, const void *sample) {
  const rawcdr_sample_t *s = sample;
  if (kind != SDK_DATA) {
    rawcdr_serdata_t *d = serdata_alloc(type, kind, 0);
    return d == NULL ? NULL : &d->c;
  }
  return rawcdr_serdata_new(type, s->payload, s->size);
}

static void sd_to_ser(const struct ddsi_serdata *dcmn, size_t off, size_t sz, void *buf) {
  const rawcdr_serdata_t *d = (const rawcdr_serdata_t *)dcmn;
  if (off >= d->size) return;
  size_t n = off + sz <= d->size ? sz : d->size - off;
  memcpy(buf, d->payload + off, n);
  if (n < sz) memset((char *)buf + n, 0, sz - n); /* padding up to a multiple of 4 */
}

static struct ddsi_serdata *sd_to_ser_ref(const struct ddsi_serdata *dcmn, size_t off, size_t sz, ddsrt_iovec_t *ref) {
  const rawcdr_serdata_t *d = (const rawcdr_serdata_t *)dcmn;
  ref->iov_base = d->payload + off;
  ref->iov_len = (ddsrt_iov_len_t)sz;
  return ddsi_serdata_ref(dcmn);
}

static void sd_to_ser_unref(struct ddsi_serdata *d, const ddsrt_iovec_t *ref) {
  (void)ref;
  ddsi_serdata_unref(d);
}

static bool sd_to_sample(const struct ddsi_serdata *dcmn, void *sample, void **bufptr, void *buflim) {
  (void)bufptr;
  (void)buflim;
  const rawcdr_serdata_t *d = (const rawcdr_serdata_t *)dcmn;
  rawcdr_sample_t *s = sample;
  uint8_t *copy = d->size > 0 ? malloc(d->size) : NULL;
  if (d->size > 0 && copy == NULL) return false;
  if (d->size > 0) memcpy(copy, d->payload, d->size);
  free(s->payload);
  s->payload = copy;
  s->size = d->size;
  return true;
}

static struct ddsi_serdata *sd_to_untyped(const struct ddsi_serdata *dcmn) {
  rawcdr_serdata_t *d = serdata_alloc(dcmn->type, SDK_KEY, 0);
  if (d == NULL) return NULL;
  d->c.type = NULL;
  return &d->c;
}

static bool sd_untyped_to_sample(const struct ddsi_sertype *type, const struct ddsi_serdata *d, void *sample,
                                 void **bufptr, void *buflim) {
  (void)type;
  (void)d;
  (void)sample;
  (void)bufptr;
  (void)buflim;
  return true; /* no key fields */
}

static void sd_free(struct ddsi_serdata *dcmn) {
  rawcdr_serdata_t *d = (rawcdr_serdata_t *)dcmn;
  free(d->payload);
  free(d);
}

static size_t sd_print(const struct ddsi_sertype *type, const struct ddsi_serdata *dcmn, char *buf, size_t size) {
  (void)type;
  return (size_t)snprintf(buf, size, "rawcdr(%u bytes)", ((const rawcdr_serdata_t *)dcmn)->size);
}

static void sd_get_keyhash(const struct ddsi_serdata *d, struct ddsi_keyhash *buf, bool force_md5) {
  (void)d;
  (void)force_md5;
  memset(buf, 0, sizeof(*buf));
}

#ifdef DDS_HAS_SHM
static uint32_t sd_get_sample_size(const struct ddsi_serdata *d) { return ((const rawcdr_serdata_t *)d)->size; }
static struct ddsi_serdata *sd_from_iox(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind, void *sub, void *buffer) {
  (void)type;
  (void)kind;
  (void)sub;
  (void)buffer;
  return NULL; /* shared memory is not used */
}
#endif

static const struct ddsi_serdata_ops rawcdr_serdata_ops = {
  .eqkey = sd_eqkey,
  .get_size = sd_get_size,
  .from_ser = sd_from_ser,
  .from_ser_iov = sd_from_ser_iov,
  .from_keyhash = sd_from_keyhash,
  .from_sample = sd_from_sample,
  .to_ser = sd_to_ser,
  .to_ser_ref = sd_to_ser_ref,
  .to_ser_unref = sd_to_ser_unref,
  .to_sample = sd_to_sample,
  .to_untyped = sd_to_untyped,
  .untyped_to_sample = sd_untyped_to_sample,
  .free = sd_free,
  .print = sd_print,
  .get_keyhash = sd_get_keyhash,
#ifdef DDS_HAS_SHM
  .get_sample_size = sd_get_sample_size,
  .from_iox_buffer = sd_from_iox,
#endif
};

/* ---- sertype ----------------------------------------------------------------------------------------------- */

static void st_free(struct ddsi_sertype *tp) {
  ddsi_sertype_fini(tp);
  free(tp);
}

static void st_zero_samples(const struct ddsi_sertype *d, void *samples, size_t count) {
  (void)d;
  memset(samples, 0, count * sizeof(rawcdr_sample_t));
}

static void st_realloc_samples(void **ptrs, const struct ddsi_sertype *d, void *old, size_t oldcount, size_t count) {
  (void)d;
  rawcdr_sample_t *s = realloc(old, count * sizeof(rawcdr_sample_t));
  if (s != NULL && count > oldcount) memset(s + oldcount, 0, (count - oldcount) * sizeof(rawcdr_sample_t));
  for (size_t i = 0; i < count; i++) ptrs[i] = s == NULL ? NULL : &s[i];
}

static void st_free_samples(const struct ddsi_sertype *d, void **ptrs, size_t count, dds_free_op_t op) {
  (void)d;
  if (count == 0 || ptrs[0] == NULL) return;
  if (op & DDS_FREE_CONTENTS_BIT) {
    for (size_t i = 0; i < count; i++) {
      rawcdr_sample_t *s = ptrs[i];
      free(s->payload);
      s->payload = NULL;
      s->size = 0;
    }
  }
  if (op & DDS_FREE_ALL_BIT) free(ptrs[0]);
}

static bool st_equal(const struct ddsi_sertype *a, const struct ddsi_sertype *b) {
  (void)a;
  (void)b;
  return true; /* same ops and type name: nothing else distinguishes two of them */
}

static uint32_t st_hash(const struct ddsi_sertype *tp) {
  (void)tp;
  return 0;
}

static const struct ddsi_sertype_ops rawcdr_sertype_ops = {
  .version = ddsi_sertype_v0,
  .arg = NULL,
  .free = st_free,
  .zero_samples = st_zero_samples,
  .realloc_samples = st_realloc_samples,
  .free_samples = st_free_samples,
  .equal = st_equal,
  .hash = st_hash,
};

struct ddsi_sertype *rawcdr_sertype_new(const char *type_name) {
  struct ddsi_sertype *st = calloc(1, sizeof(*st));
  if (st == NULL) return NULL;
  ddsi_sertype_init_flags(st, type_name, &rawcdr_sertype_ops, &rawcdr_serdata_ops, DDSI_SERTYPE_FLAG_TOPICKIND_NO_KEY);
  st->allowed_data_representation = DDS_DATA_REPRESENTATION_FLAG_XCDR1;
  return st;
}

struct ddsi_serdata *rawcdr_serdata_new(const struct ddsi_sertype *type, const uint8_t *payload, uint32_t size) {
  if (size < 4 || size > RAWCDR_MAX_BYTES) return NULL;
  rawcdr_serdata_t *d = serdata_alloc(type, SDK_DATA, size);
  if (d == NULL) return NULL;
  memcpy(d->payload, payload, size);
  return &d->c;
}

const uint8_t *rawcdr_serdata_payload(const struct ddsi_serdata *d, uint32_t *size) {
  const rawcdr_serdata_t *r = (const rawcdr_serdata_t *)d;
  *size = r->size;
  return r->payload;
}
