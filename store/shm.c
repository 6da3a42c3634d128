/* Anonymous shared mapping made before fork(): children inherit it at the same
 * address, so plain struct offsets work in every process. */
#include "store/shm.h"

#include <errno.h>
#include <sys/mman.h>

static size_t shm_size(size_t n) {
  return sizeof(struct sl_shm) + n * sizeof(struct sl_shm_deployment);
}

int sl_shm_create(size_t ndeployments, struct sl_shm **out) {
  void *p = mmap(NULL, shm_size(ndeployments), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) return -errno;
  struct sl_shm *s = p; /* zero-filled by the kernel */
  s->magic = 0x736c6963; /* "slic" */
  s->ndeployments = (uint32_t)ndeployments;
  *out = s;
  return 0;
}

void sl_shm_destroy(struct sl_shm *s) {
  if (s) munmap(s, shm_size(s->ndeployments));
}
