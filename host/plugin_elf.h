/* Checks a plugin file's ELF header and program headers against the file's
 * size before dlopen.  The dynamic loader maps each segment with mmap; a
 * segment that claims bytes past the end of the file maps pages that fault
 * (SIGBUS) on the first touch, killing the daemon: a truncated or
 * half-copied .so must be refused here instead. */
#ifndef LAB_HOST_PLUGIN_ELF_H
#define LAB_HOST_PLUGIN_ELF_H

#include <stddef.h>
#include <stdint.h>

/* Program headers must lie in the first PLUGIN_ELF_HEAD bytes (they follow
 * the ELF header in every file a linker writes). */
#define PLUGIN_ELF_HEAD 65536

/*
 * `head` holds the first `head_len` bytes of a file of `file_size` bytes
 * (head_len = min(file_size, PLUGIN_ELF_HEAD)).  Returns 0 when the file is
 * a shared object of this host's class, byte order and machine whose
 * program headers and segments all lie inside the file; else LAB_EABI with
 * the reason in err.  Pure: no I/O.
 */
int plugin_elf_check(const unsigned char *head, size_t head_len, uint64_t file_size, char *err,
		     size_t errlen);

/* Reads the head of the open file `fd` and runs plugin_elf_check on it. */
int plugin_elf_check_fd(int fd, char *err, size_t errlen);

#endif
