/* vm_fqdn — FQDN sets (fqdn.h) in a ruleset dumped from a live filterd.
 *
 * Their elements carry timeouts: filterd learned them from DNS answers at run
 * time, and which of them are present depends on when the dump was taken.
 * The evaluator ignores these dumped elements (vm_set.c); offline the sets are
 * filled from the DNS answers of the capture (vm_set_add_elem, vm_dyn.c).
 * Timed elements of any other set still fail the load. */
#include "vm_int.h"

#include "fqdn.h"

bool vm_set_is_fqdn(const struct nftnl_set *s, uint32_t flags)
{
	char name[512];

	return (flags & NFT_SET_TIMEOUT) &&
	       fqdn_of_set(s, name, sizeof(name)) != NULL;
}

size_t vm_set_ignored(const struct vm *vm, size_t i)
{
	return vm && i < vm->nsets ? vm->sets[i].nignored : 0;
}

bool vm_set_elem_ignored(const struct vm *vm, size_t i, size_t j)
{
	return vm && i < vm->nsets && j < vm->sets[i].nelems && vm->sets[i].elems[j].ignored;
}
