/* libFuzzer target: the ELF check made before dlopen (host/plugin_elf.c,
 * issue 15 finding 1).  Input: byte 0 sets how much larger the file is
 * than the bytes given (0 = exactly them); the rest is the head of the file.
 * Oracle beyond "no crash": an accepted file has its program headers inside
 * the head and every segment the loader maps or reads inside the file,
 * checked here by an independent reading of the Elf64 fields. */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_elf.h"

static uint64_t rd(const uint8_t *p, size_t n) /* little endian, unaligned */
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint64_t extra = (uint64_t)(data[0] & 0x7f) * 4093u;
	const uint8_t *head = data + 1;
	size_t head_len = size - 1;
	uint64_t file_size = head_len + extra;
	if (head_len > PLUGIN_ELF_HEAD)
		head_len = PLUGIN_ELF_HEAD;
	char err[256] = "";
	int rc = plugin_elf_check(head, head_len, file_size, err, sizeof err);
	if (rc != 0) {
		if (!err[0] || !memchr(err, '\0', sizeof err))
			abort(); /* a refusal always says why */
		return 0;
	}
#if UINTPTR_MAX > 0xffffffffu && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (head_len < 64)
		abort();
	uint64_t phoff = rd(head + 32, 8);
	uint64_t phnum = rd(head + 56, 2), phentsize = rd(head + 54, 2);
	if (phentsize != 56 || phnum == 0 || phoff > head_len || phnum * 56 > head_len - phoff)
		abort();
	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = head + phoff + i * 56;
		uint32_t type = (uint32_t)rd(ph, 4);
		uint64_t off = rd(ph + 8, 8), filesz = rd(ph + 32, 8);
		if (type == PT_NULL || type == PT_GNU_STACK)
			continue;
		if (off > file_size || filesz > file_size - off) {
			fprintf(stderr, "accepted segment %llu beyond the file\n",
				(unsigned long long)i);
			abort();
		}
	}
#endif
	return 0;
}
