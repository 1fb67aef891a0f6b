#include "plugin_elf.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/plugin.h"

#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Ehdr elf_ehdr;
typedef Elf64_Phdr elf_phdr;
#define HOST_ELFCLASS ELFCLASS64
#else
typedef Elf32_Ehdr elf_ehdr;
typedef Elf32_Phdr elf_phdr;
#define HOST_ELFCLASS ELFCLASS32
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ELFDATA ELFDATA2LSB
#else
#define HOST_ELFDATA ELFDATA2MSB
#endif

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#elif defined(__riscv)
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE EM_S390
#endif

static int refuse(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "not a loadable shared object: %s", why);
	return LAB_EABI;
}

/* off + len <= limit, without overflow. */
static int inside(uint64_t off, uint64_t len, uint64_t limit)
{
	return off <= limit && len <= limit - off;
}

int plugin_elf_check(const unsigned char *head, size_t head_len, uint64_t file_size, char *err,
		     size_t errlen)
{
	elf_ehdr eh;
	if (head_len > file_size)
		head_len = (size_t)file_size;
	if (head_len < sizeof eh)
		return refuse(err, errlen, "shorter than an ELF header (truncated?)");
	memcpy(&eh, head, sizeof eh); /* head may be unaligned */
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return refuse(err, errlen, "no ELF magic");
	if (eh.e_ident[EI_CLASS] != HOST_ELFCLASS)
		return refuse(err, errlen, "ELF class (32/64-bit) differs from this host's");
	if (eh.e_ident[EI_DATA] != HOST_ELFDATA)
		return refuse(err, errlen, "byte order differs from this host's");
	if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
		return refuse(err, errlen, "unknown ELF version");
	if (eh.e_type != ET_DYN)
		return refuse(err, errlen, "not a shared object (ELF type is not ET_DYN)");
#ifdef HOST_MACHINE
	if (eh.e_machine != HOST_MACHINE)
		return refuse(err, errlen, "built for another machine architecture");
#endif
	if (eh.e_phentsize != sizeof(elf_phdr))
		return refuse(err, errlen, "unexpected program header size");
	/* PN_XNUM (0xffff) would move the count into a section header: no linker
	 * does that for a shared object, and the loader need not follow it. */
	if (eh.e_phnum == 0 || eh.e_phnum >= PN_XNUM)
		return refuse(err, errlen, "bad number of program headers");
	uint64_t ph_bytes = (uint64_t)eh.e_phnum * sizeof(elf_phdr);
	if (!inside(eh.e_phoff, ph_bytes, file_size))
		return refuse(err, errlen, "program headers extend past the end of the file (truncated?)");
	if (!inside(eh.e_phoff, ph_bytes, head_len))
		return refuse(err, errlen, "program headers are not near the start of the file");

	int loads = 0, dynamic = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		elf_phdr ph;
		memcpy(&ph, head + eh.e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_NULL || ph.p_type == PT_GNU_STACK)
			continue;
		/* Every segment the loader maps or reads must be in the file. */
		if (!inside(ph.p_offset, ph.p_filesz, file_size)) {
			snprintf(err, errlen,
				 "not a loadable shared object: segment %u (type 0x%x) needs bytes up to %llu but the file has %llu (truncated?)",
				 i, (unsigned)ph.p_type,
				 (unsigned long long)ph.p_offset + (unsigned long long)ph.p_filesz,
				 (unsigned long long)file_size);
			return LAB_EABI;
		}
		if (ph.p_type == PT_LOAD) {
			if (ph.p_filesz > ph.p_memsz)
				return refuse(err, errlen, "a loadable segment is larger in the file than in memory");
			loads++;
		} else if (ph.p_type == PT_DYNAMIC) {
			dynamic++;
		}
	}
	if (!loads)
		return refuse(err, errlen, "no loadable segment");
	if (dynamic != 1)
		return refuse(err, errlen, "no dynamic section");
	return 0;
}

int plugin_elf_check_fd(int fd, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
		return LAB_EIO;
	}
	size_t want = (uint64_t)st.st_size < PLUGIN_ELF_HEAD ? (size_t)st.st_size : PLUGIN_ELF_HEAD;
	unsigned char *head = malloc(want ? want : 1);
	if (!head)
		return LAB_ENOMEM;
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, head + got, want - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read: %s", strerror(errno));
			free(head);
			return LAB_EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	/* A file that shrank meanwhile is checked against what is there. */
	uint64_t size = got < want ? got : (uint64_t)st.st_size;
	int rc = plugin_elf_check(head, got, size, err, errlen);
	free(head);
	return rc;
}
