/*
 * geo_codes.c -- continent, country and subdivision code tables.
 */
#include "geo/geo_codes.h"

#include <string.h>

/* ISO 3166-1 alpha-2 (checked against Debian's iso-codes 3166-1 list), then
 * XK. Two letters per entry, sorted. */
static const char GEO_COUNTRIES[] = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZ"
                                    "BABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ"
                                    "CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZ"
                                    "DEDJDKDMDODZ"
                                    "ECEEEGEHERESET"
                                    "FIFJFKFMFOFR"
                                    "GAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGY"
                                    "HKHMHNHRHTHU"
                                    "IDIEILIMINIOIQIRISIT"
                                    "JEJMJOJP"
                                    "KEKGKHKIKMKNKPKRKWKYKZ"
                                    "LALBLCLILKLRLSLTLULVLY"
                                    "MAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZ"
                                    "NANCNENFNGNINLNONPNRNUNZ"
                                    "OM"
                                    "PAPEPFPGPHPKPLPMPNPRPSPTPWPY"
                                    "QA"
                                    "RERORSRURW"
                                    "SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZ"
                                    "TCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZ"
                                    "UAUGUMUSUYUZ"
                                    "VAVCVEVGVIVNVU"
                                    "WFWS"
                                    "XK"
                                    "YEYT"
                                    "ZAZMZW";

static bool geo_two_capitals(const char *code)
{
    return code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
}

bool geo_continent_valid(const char *code)
{
    static const char *const all[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(code, all[i]) == 0)
            return true;
    return false;
}

bool geo_country_valid(const char *code)
{
    if (strlen(code) != 2 || !geo_two_capitals(code))
        return false;
    for (size_t i = 0; i + 1 < sizeof(GEO_COUNTRIES); i += 2)
        if (GEO_COUNTRIES[i] == code[0] && GEO_COUNTRIES[i + 1] == code[1])
            return true;
    return false;
}

bool geo_subdivision_valid(const char *code)
{
    size_t n = strlen(code);
    if (n < 4 || n > 6 || code[2] != '-')
        return false;
    char cc[3] = {code[0], code[1], 0};
    if (!geo_country_valid(cc))
        return false;
    for (size_t i = 3; i < n; i++)
        if (!((code[i] >= 'A' && code[i] <= 'Z') || (code[i] >= '0' && code[i] <= '9')))
            return false;
    return true;
}
