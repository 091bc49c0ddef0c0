/*
 * geo_codes.h -- the location codes a "geo" map may use as keys.
 *
 * Continents: the seven codes MaxMind and DB-IP use (AF AN AS EU NA OC SA).
 * Countries: ISO 3166-1 alpha-2 as assigned in 2024 (249 codes), plus XK
 * (Kosovo, user-assigned, which MaxMind and DB-IP both emit). MaxMind's
 * legacy pseudo-countries (EU, AP, A1, A2, O1) are not accepted: GeoIP2
 * data does not use them. Subdivisions: "CC-XXX", an assigned country code
 * and 1 to 3 capital letters or digits, as ISO 3166-2 writes them (the
 * part after the dash is not checked against the ISO 3166-2 list).
 *
 * Pure functions on constant tables.
 */
#ifndef GTM_GEO_GEO_CODES_H
#define GTM_GEO_GEO_CODES_H

#include <stdbool.h>

bool geo_continent_valid(const char *code);
bool geo_country_valid(const char *code);
/* "US-CA": a valid country, '-', 1-3 of [A-Z0-9]. */
bool geo_subdivision_valid(const char *code);

#endif
