/*
 * hexdig.h — the value of one hexadecimal digit.  Header-only; pure C, no
 * host or SDK header: see common/README.md.
 */
#ifndef LAB_COMMON_HEXDIG_H
#define LAB_COMMON_HEXDIG_H

/* 0..15 for [0-9a-fA-F], -1 for any other byte. */
static inline int hexdig(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
