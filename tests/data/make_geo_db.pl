#!/usr/bin/perl
# make_geo_db.pl -- writes the small MaxMind DB files the geo tests use.
#
#   perl tests/data/make_geo_db.pl [OUTDIR]     (default: the script's directory)
#
# Needs libmaxmind-db-writer-perl (contrib/deps.sh installs it). Writes:
#   geo-city.mmdb     GeoIP2-City layout, IPv6 tree with the IPv4 aliases
#                     (::ffff:0:0/96, 2001::/32, 2002::/16), as MaxMind ships
#   geo-country.mmdb  GeoIP2-Country layout (no subdivisions, no location),
#                     IPv6 tree without aliases
#   geo-dbip.mmdb     DB-IP City Lite layout (subdivisions carry names only,
#                     no iso_code), IPv4-only tree, record size 24
#   geo-nofields.mmdb an ISP-style database: none of the fields gtmd uses
#                     (an ISP name, no autonomous system number)
#   geo-asn.mmdb      GeoLite2-ASN layout (autonomous_system_number and
#                     _organization), IPv6 tree with the IPv4 aliases, its
#                     networks across and inside those of geo-city.mmdb
#
# Only documentation, loopback, private and ULA prefixes are used, so
# remove_reserved_networks => 0. The generated files are committed next to
# this script; run it again after changing the table below.
#
# The networks nest (later, longer prefixes split earlier ones: the writer's
# merge_strategy 'none' lets the last insert win inside its own range) and
# cover prefix lengths from /8 to /32 (IPv4) and /32 to /128 (IPv6), several
# continents, countries and subdivisions, the ambiguous two-letter codes
# (country AS = American Samoa in continent OC, continent AS = Asia; country
# CA = Canada, subdivision US-CA = California), networks whose data has no
# location, and networks whose data has none of the used fields.
use strict;
use warnings;

use File::Basename qw(dirname);
use MaxMind::DB::Writer::Tree;

my $outdir = $ARGV[0] // dirname(__FILE__);

# continent code => [geoname id, English name]
my %CONTINENT = (
    AF => [6255146, 'Africa'],
    AN => [6255152, 'Antarctica'],
    AS => [6255147, 'Asia'],
    EU => [6255148, 'Europe'],
    NA => [6255149, 'North America'],
    OC => [6255151, 'Oceania'],
    SA => [6255150, 'South America'],
);

# Places: continent, country, subdivision (ISO 3166-2 part after "CC-"),
# latitude, longitude, city. undef = field absent.
my %PLACE = (
    frankfurt => ['EU', 'DE', 'HE',  50.1109,  8.6821,   'Frankfurt'],
    berlin    => ['EU', 'DE', 'BE',  52.5200,  13.4050,  'Berlin'],
    paris     => ['EU', 'FR', 'IDF', 48.8566,  2.3522,   'Paris'],
    london    => ['EU', 'GB', 'ENG', 51.5074,  -0.1278,  'London'],
    dublin    => ['EU', 'IE', 'L',   53.3498,  -6.2603,  'Dublin'],
    amsterdam => ['EU', 'NL', 'NH',  52.3676,  4.9041,   'Amsterdam'],
    sf        => ['NA', 'US', 'CA',  37.7749,  -122.4194, 'San Francisco'],
    newyork   => ['NA', 'US', 'NY',  40.7128,  -74.0060, 'New York'],
    seattle   => ['NA', 'US', 'WA',  47.6062,  -122.3321, 'Seattle'],
    montreal  => ['NA', 'CA', 'QC',  45.5017,  -73.5673, 'Montreal'],
    pagopago  => ['OC', 'AS', undef, -14.2756, -170.7020, 'Pago Pago'],
    sydney    => ['OC', 'AU', 'NSW', -33.8688, 151.2093, 'Sydney'],
    auckland  => ['OC', 'NZ', 'AUK', -36.8485, 174.7633, 'Auckland'],
    tokyo     => ['AS', 'JP', '13',  35.6762,  139.6503, 'Tokyo'],
    mumbai    => ['AS', 'IN', 'MH',  19.0760,  72.8777,  'Mumbai'],
    singapore => ['AS', 'SG', undef, 1.3521,   103.8198, 'Singapore'],
    saopaulo  => ['SA', 'BR', 'SP',  -23.5505, -46.6333, 'Sao Paulo'],
    baires    => ['SA', 'AR', 'C',   -34.6037, -58.3816, 'Buenos Aires'],
    joburg    => ['AF', 'ZA', 'GP',  -26.2041, 28.0473,  'Johannesburg'],
    nairobi   => ['AF', 'KE', '30',  -1.2921,  36.8219,  'Nairobi'],
    mcmurdo   => ['AN', 'AQ', undef, -77.8419, 166.6863, 'McMurdo Station'],
    # A country without location, subdivision or city (country-level data).
    sweden    => ['EU', 'SE', undef, undef,    undef,    undef],
    # A location with coordinates only (e.g. an anycast range placed by hand).
    coordsonly => [undef, undef, undef, 60.1699, 24.9384, undef],
);

# network => place; a place of '' means data with none of the used fields
# (only registered_country), which gtmd treats as an unknown location.
# Order matters: inside a network, the later (longer) insert wins.
my @NETWORKS = (
    # IPv4: private 10/8 nested down to /30 and /32
    ['10.0.0.0/8',         'frankfurt'],
    ['10.1.0.0/16',        'berlin'],
    ['10.1.2.0/24',        'paris'],
    ['10.1.2.128/25',      'sweden'],
    ['10.1.2.4/30',        'pagopago'],
    ['10.1.2.9/32',        'tokyo'],
    ['10.128.0.0/9',       'tokyo'],
    ['10.200.0.0/14',      ''],
    # loopback: one /24 per continent for the integration tests (stage 2)
    ['127.0.0.0/24',       'sf'],
    ['127.0.1.0/24',       'berlin'],
    ['127.0.2.0/24',       'tokyo'],
    ['127.0.3.0/24',       'pagopago'],
    ['127.0.4.0/24',       'saopaulo'],
    ['127.0.5.0/24',       'joburg'],
    ['127.0.6.0/24',       'sweden'],
    ['127.0.7.0/24',       ''],
    ['127.0.8.0/23',       'montreal'],
    ['127.0.10.0/24',      'sydney'],
    ['127.0.11.0/24',      'mcmurdo'],
    ['127.0.12.0/24',      'coordsonly'],
    # (127.0.13.0 - 127.255.255.255: not in the database)
    # documentation prefixes
    ['192.0.2.0/24',       'newyork'],
    ['192.0.2.0/26',       'montreal'],
    ['192.0.2.64/27',      'sf'],
    ['192.0.2.96/29',      'seattle'],
    ['198.51.100.0/24',    'mumbai'],
    ['198.51.100.64/27',   'singapore'],
    ['198.51.100.128/28',  'mumbai'],
    ['203.0.113.0/24',     'sydney'],
    ['203.0.113.128/26',   'auckland'],
    ['203.0.113.200/29',   'mcmurdo'],
    ['203.0.113.252/30',   'pagopago'],
    # shared address space, private 172.16/12 and 192.168/16
    ['100.64.0.0/10',      'saopaulo'],
    ['100.96.0.0/11',      'baires'],
    ['172.16.0.0/12',      'joburg'],
    ['172.20.0.0/14',      'nairobi'],
    ['192.168.0.0/16',     'london'],
    ['192.168.1.0/24',     'dublin'],
    ['192.168.255.252/30', 'amsterdam'],
    # IPv6: documentation 2001:db8::/32 nested down to /64 and /128
    ['2001:db8::/32',          'frankfurt'],
    ['2001:db8:1::/48',        'sf'],
    ['2001:db8:1:2::/64',      'pagopago'],
    ['2001:db8:1:3::/64',      'newyork'],
    ['2001:db8:2::/48',        'tokyo'],
    ['2001:db8:3::/48',        'sweden'],
    ['2001:db8:4::/47',        'saopaulo'],
    ['2001:db8:6::/48',        ''],
    ['2001:db8:8000::/33',     'sydney'],
    ['2001:db8:8000:1::1/128', 'mcmurdo'],
    # ULA fc00::/7
    ['fc00::/8',               'mcmurdo'],
    ['fd00::/8',               'amsterdam'],
    ['fd12:3456::/32',         'baires'],
    ['fd12:3456:789a::/48',    'nairobi'],
    ['fd12:3456:789a:1::/64',  'auckland'],
    # loopback
    ['::1/128',                'seattle'],
);

sub city_record {
    my ($name) = @_;
    return { registered_country => { iso_code => 'ZZ' } } if $name eq '';
    my ($cont, $cc, $sub, $lat, $lon, $city) = @{ $PLACE{$name} };
    my %r;
    if (defined $cont) {
        $r{continent} = {
            code       => $cont,
            geoname_id => $CONTINENT{$cont}[0],
            names      => { en => $CONTINENT{$cont}[1] },
        };
    }
    if (defined $cc) {
        $r{country}            = { iso_code => $cc, names => { en => "Country $cc" } };
        $r{registered_country} = { iso_code => $cc, names => { en => "Country $cc" } };
    }
    $r{subdivisions} = [ { iso_code => $sub, names => { en => "Subdivision $cc-$sub" } } ]
        if defined $sub;
    $r{location} = {
        latitude        => $lat,
        longitude       => $lon,
        accuracy_radius => 20,
        time_zone       => 'Etc/UTC',
    } if defined $lat;
    $r{city} = { names => { en => $city } } if defined $city;
    return \%r;
}

# Country layout: continent and country only.
sub country_record {
    my ($name) = @_;
    my $r = city_record($name);
    delete @{$r}{qw(subdivisions location city)};
    return $r;
}

# DB-IP City Lite layout: subdivisions have names but no iso_code.
sub dbip_record {
    my ($name) = @_;
    my $r = city_record($name);
    $_ = { names => $_->{names} } for @{ $r->{subdivisions} // [] };
    return $r;
}

my %TYPES = (
    city                => 'map',
    code                => 'utf8_string',
    continent           => 'map',
    country             => 'map',
    en                  => 'utf8_string',
    geoname_id          => 'uint32',
    iso_code            => 'utf8_string',
    latitude            => 'double',
    longitude           => 'double',
    accuracy_radius     => 'uint16',
    time_zone           => 'utf8_string',
    location            => 'map',
    names               => 'map',
    registered_country  => 'map',
    subdivisions        => [ 'array', 'map' ],
    isp                 => 'utf8_string',
    autonomous_system_number => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

# network => autonomous system number (geo-asn.mmdb). They cut across the
# City networks on purpose: 127.0.0.0/23 spans the sf and berlin /24s,
# 127.0.2.128/25 is half of tokyo's /24, 127.0.20.0/24 has no location at
# all, 127.0.21.0/24 is AS64503 which no test config names.
my @ASN_NETWORKS = (
    ['127.0.0.0/23',     64500],
    ['127.0.2.128/25',   64501],
    ['127.0.20.0/24',    64502],
    ['127.0.21.0/24',    64503],
    ['192.0.2.0/25',     64502],
    ['10.1.0.0/16',      64500],
    ['2001:db8:1::/48',  64501],
    ['2001:db8:2::/47',  4200000000],
);

sub asn_record {
    my ($asn) = @_;
    return { autonomous_system_number => $asn,
             autonomous_system_organization => "Example AS$asn" };
}

sub write_db {
    my ($file, $type, $ip_version, $record_size, $alias, $make, $filter, $networks) = @_;
    $networks //= \@NETWORKS;
    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version               => $ip_version,
        record_size              => $record_size,
        database_type            => $type,
        languages                => ['en'],
        description              => { en => "gtmd test data ($type)" },
        map_key_type_callback    => sub { $TYPES{ $_[0] } },
        remove_reserved_networks => 0,
        alias_ipv6_to_ipv4       => $alias,
        merge_strategy           => 'none',
    );
    # A fixed build time keeps the output byte-identical between runs (the
    # writer's own tests set it the same way).
    $tree->_set_build_epoch( $ENV{SOURCE_DATE_EPOCH} // 1700000000 )
        if $tree->can('_set_build_epoch');
    for my $n (@$networks) {
        next if $filter && !$filter->( $n->[0] );
        $tree->insert_network( $n->[0], $make->( $n->[1] ) );
    }
    open my $fh, '>:raw', "$outdir/$file" or die "$outdir/$file: $!";
    $tree->write_tree($fh);
    close $fh or die "$outdir/$file: $!";
    print "wrote $outdir/$file\n";
}

write_db( 'geo-city.mmdb',    'GeoIP2-City',    6, 28, 1, \&city_record );
write_db( 'geo-country.mmdb', 'GeoIP2-Country', 6, 28, 0, \&country_record );
write_db( 'geo-dbip.mmdb', 'DBIP-City-Lite', 4, 24, 0, \&dbip_record,
    sub { $_[0] !~ /:/ } );
write_db( 'geo-nofields.mmdb', 'GeoIP2-ISP', 6, 28, 0,
    sub { { isp => 'Example ISP' } } );
write_db( 'geo-asn.mmdb', 'GeoLite2-ASN', 6, 24, 1, \&asn_record, undef, \@ASN_NETWORKS );
