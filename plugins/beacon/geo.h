/*
 * geo — city coordinates for the beacon plugin's nodes, from libgeonames
 * (the cities15000 set).  The tables are built once, at build time:
 * geo-gen (linked with libgeonames) sorts the cities and writes them as
 * constant C arrays (cities.c), so the plugin carries no glib and its tables
 * are read-only pages of the .so — nothing to build, free or leak at run
 * time (libgeonames itself keeps a 2 MB cache it never frees).  Lookups are
 * binary searches.
 *
 * Fallbacks (SPEC §9.3): exact city + country (country as name or ISO code,
 * case-insensitive) → most populous city of that name → most populous city
 * of the country → continent centre → none.
 */
#ifndef BEACON_GEO_H
#define BEACON_GEO_H

#include <stddef.h>
#include <stdio.h>

#include <stdint.h>

/* Offsets, not pointers, so that constant tables need no relocation. */
struct geo_city {
	uint32_t name;       /* lower-cased, offset into the table's string pool */
	char cc[3];          /* ISO 3166-1 alpha-2, upper case */
	uint32_t population;
	double lat, lon;
};

struct geo_country {
	uint32_t name; /* lower-cased, offset into the pool */
	char cc[3];
	int32_t best;  /* index of its most populous city, -1 if none */
};

struct geo_table {
	const struct geo_city *cities; /* sorted by name, then population descending */
	size_t ncities;
	const struct geo_country *countries; /* sorted by cc */
	size_t ncountries;
	const char *pool;
	void *owned; /* allocations of geo_build_from, NULL for the builtin table */
};

/* Fill t from a caller-provided list (used by tests and by geo_build). */
struct geo_src {
	const char *name, *country, *cc;
	unsigned population;
	double lat, lon;
};
int geo_build_from(struct geo_table *t, const struct geo_src *src, size_t n);
void geo_free(struct geo_table *t);
/* The table generated from libgeonames at build time (cities.c). */
void geo_builtin(struct geo_table *t);
/* Write t as C source defining geo_builtin() (used by geo-gen). */
int geo_write_c(const struct geo_table *t, FILE *out);

/* 1 (with lat and lon set) when a coordinate was found, 0 otherwise.  Inputs may be NULL. */
int geo_lookup(const struct geo_table *t, const char *city, size_t city_len, const char *country,
	       size_t country_len, const char *cc, size_t cc_len, const char *continent,
	       size_t continent_len, double *lat, double *lon);

#endif
