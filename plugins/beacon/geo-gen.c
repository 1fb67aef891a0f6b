/*
 * geo-gen — build-time tool: reads every city of libgeonames (cities15000)
 * and writes the beacon plugin's sorted constant tables as C (cities.c) to
 * stdout.  See geo.h for why the tables are made at build time.
 */
#include <stdio.h>
#include <stdlib.h>

#include <geonames.h>

#include "geo.h"

int main(void)
{
	int n = geonames_get_n_cities();
	if (n <= 0) {
		fprintf(stderr, "geo-gen: libgeonames has no cities\n");
		return 1;
	}
	struct geo_src *src = calloc((size_t)n, sizeof *src);
	GeonamesCity **keep = calloc((size_t)n, sizeof *keep);
	struct geo_table t;
	if (!src || !keep)
		return 1;
	for (int i = 0; i < n; i++) {
		GeonamesCity *c = geonames_get_city(i);
		if (!(keep[i] = c))
			continue;
		src[i].name = geonames_city_get_name(c);
		src[i].country = geonames_city_get_country(c);
		src[i].cc = geonames_city_get_country_code(c);
		src[i].population = geonames_city_get_population(c);
		src[i].lat = geonames_city_get_latitude(c);
		src[i].lon = geonames_city_get_longitude(c);
	}
	if (geo_build_from(&t, src, (size_t)n) < 0 || geo_write_c(&t, stdout) < 0 ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "geo-gen: cannot write the tables\n");
		return 1;
	}
	geo_free(&t);
	for (int i = 0; i < n; i++)
		if (keep[i])
			geonames_city_free(keep[i]);
	free(keep);
	free(src);
	return 0;
}
