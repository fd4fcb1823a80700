/* vm_dyn — run-time elements of timeout sets (see vm.h, vm_set_add_elem).
 *
 * A short list per set, searched linearly after the loaded elements: FQDN sets
 * hold a few addresses per name (filterd caps them, fqdn_max_addresses). */
#include "vm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct vm_dyn_elem {
	uint8_t key[16];
	int64_t expires;
};

struct vm_dyn {
	struct vm_dyn_elem *v;
	size_t n, cap;
	const int64_t *now;	/* the vm's clock */
};

long vm_dyn_find(const struct vm_dyn *d, const uint8_t *key, uint32_t klen)
{
	for (size_t i = 0; i < d->n; i++)
		if (*d->now < d->v[i].expires && memcmp(d->v[i].key, key, klen) == 0)
			return (long)i;
	return -1;
}

void vm_dyn_free(struct vm_dyn *d)
{
	if (!d)
		return;
	free(d->v);
	free(d);
}

int vm_set_add_elem(struct vm *vm, const char *set, const void *key, size_t len,
		    int64_t expires_at)
{
	struct vm_set *vs = vm ? vm_set_by_name(vm, set) : NULL;
	struct vm_dyn *d;

	if (!vs) {
		errno = ENOENT;
		return -1;
	}
	if (!(vs->flags & NFT_SET_TIMEOUT) || vs->map || vs->kind != VM_SET_EXACT ||
	    len != vs->klen || len > 16) {
		errno = EINVAL;
		return -1;
	}
	if (!vs->dyn) {
		vs->dyn = calloc(1, sizeof(*vs->dyn));
		if (!vs->dyn) {
			errno = ENOMEM;
			return -1;
		}
		vs->dyn->now = &vm->dyn_now;
	}
	d = vs->dyn;
	for (size_t i = 0; i < d->n; i++)
		if (memcmp(d->v[i].key, key, len) == 0) {
			d->v[i].expires = expires_at;
			return 0;
		}
	/* reuse an expired slot before growing */
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].expires <= vm->dyn_now) {
			memset(d->v[i].key, 0, sizeof(d->v[i].key));
			memcpy(d->v[i].key, key, len);
			d->v[i].expires = expires_at;
			return 0;
		}
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 8;
		struct vm_dyn_elem *nv = realloc(d->v, nc * sizeof(*nv));
		if (!nv) {
			errno = ENOMEM;
			return -1;
		}
		d->v = nv;
		d->cap = nc;
	}
	memset(d->v[d->n].key, 0, sizeof(d->v[d->n].key));
	memcpy(d->v[d->n].key, key, len);
	d->v[d->n].expires = expires_at;
	d->n++;
	return 0;
}

void vm_set_clock(struct vm *vm, int64_t now)
{
	if (vm)
		vm->dyn_now = now;
}

size_t vm_set_dyn_live(const struct vm *vm, const char *set)
{
	struct vm_set *vs = vm ? vm_set_by_name((struct vm *)vm, set) : NULL;
	size_t n = 0;

	if (!vs || !vs->dyn)
		return 0;
	for (size_t i = 0; i < vs->dyn->n; i++)
		n += vm->dyn_now < vs->dyn->v[i].expires;
	return n;
}
