#!/usr/bin/perl
# gen_geo_db.pl -- writes a synthetic GeoIP2-City-layout MaxMind DB of about
# 1,050,000 networks for contrib/bench/geo_bench (never committed: it is
# generated at bench time, ~about 30 seconds).
#
#   perl contrib/bench/gen_geo_db.pl OUT.mmdb [NETWORKS] [SEED]
#
# The data imitates a City database where it matters for gtmd: 80% IPv4
# networks covering 1.0.0.0-223.255.255.255 back to back with a few gaps
# (lengths spread around /22), 20% IPv6 covering 2400::/12 (around /44),
# about 250 countries on 7 continents, up to 40 subdivisions and 600 cities
# per country (so ~65,000 distinct locations), runs of networks in one
# country with a different city almost every time (adjacent networks rarely
# share data, the hard case for merging), city names, postal codes and
# accuracy radii gtmd ignores, and the IPv4 aliases of MaxMind's files.
# The address ranges are arbitrary numbers (reserved ranges are not
# removed); nothing is ever sent to them.
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my ( $out, $total, $seed ) = @ARGV;
die "usage: $0 OUT.mmdb [NETWORKS] [SEED]\n" unless $out;
$total //= 1_050_000;
srand( $seed // 1 );

my @CONTINENTS = qw(AF AN AS EU NA OC SA);
my @ISO = qw(AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ
    BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX
    CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI
    GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
    JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF
    MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU
    NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH
    SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW
    TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW);

# Countries: a continent, a centre, subdivisions and cities around it.
my @countries;
for my $cc (@ISO) {
    my $lat = -60 + rand(130);
    my $lon = -180 + rand(360);
    my $nsub = 1 + int( rand(40) );
    my @cities;
    for my $i ( 1 .. 20 + int( rand(580) ) ) {
        push @cities, {
            sub => sprintf( '%d', int( rand($nsub) ) + 1 ),
            lat => $lat + rand(6) - 3,
            lon => $lon + rand(6) - 3,
            name => "City $cc $i",
        };
    }
    push @countries,
        { cc => $cc, cont => $CONTINENTS[ int( rand(@CONTINENTS) ) ], cities => \@cities };
}

my %cache;
sub record {
    my ( $country, $ci ) = @_;
    my $key = "$country->{cc}/$ci";
    return $cache{$key} //= do {
        my $c = $country->{cities}[$ci];
        {
            continent => { code => $country->{cont}, names => { en => "C $country->{cont}" } },
            country   => { iso_code => $country->{cc}, names => { en => "Country $country->{cc}" } },
            registered_country => { iso_code => $country->{cc} },
            subdivisions => [ { iso_code => $c->{sub}, names => { en => "S $c->{sub}" } } ],
            city     => { names => { en => $c->{name} } },
            postal   => { code => sprintf( '%05d', int( rand(100000) ) ) },
            location => {
                latitude        => 0 + sprintf( '%.4f', $c->{lat} ),
                longitude       => 0 + sprintf( '%.4f', $c->{lon} ),
                accuracy_radius => 10 + int( rand(500) ),
                time_zone       => 'Etc/UTC',
            },
        }
    };
}

my %TYPES = (
    city => 'map', code => 'utf8_string', continent => 'map', country => 'map',
    en => 'utf8_string', iso_code => 'utf8_string', latitude => 'double',
    longitude => 'double', accuracy_radius => 'uint16', time_zone => 'utf8_string',
    location => 'map', names => 'map', postal => 'map', registered_country => 'map',
    subdivisions => [ 'array', 'map' ],
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'GeoIP2-City',
    languages                => ['en'],
    description              => { en => 'gtmd synthetic benchmark data' },
    map_key_type_callback    => sub { $TYPES{ $_[0] } },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
);

# A run of networks in one country, cities drawn at random.
my ( $country, $left ) = ( undef, 0 );
sub next_record {
    if ( $left-- <= 0 ) {
        $country = $countries[ int( rand(@countries) ) ];
        $left    = 1 + int( rand(100) );
    }
    return record( $country, int( rand( @{ $country->{cities} } ) ) );
}

# Prefix lengths: around the length that spreads the networks left over
# the space left (so the whole range is covered, as in a real database),
# from 4 bits shorter to 6 bits longer, then made longer until $cur is
# aligned to it, so networks follow each other without holes except the
# gaps drawn on purpose (2%).
my @SPREAD = ( [ .05, -4 ], [ .10, -2 ], [ .20, -1 ], [ .30, 0 ], [ .20, 1 ], [ .10, 2 ],
    [ .05, 6 ] );

sub next_len {
    my ( $cur, $end, $left, $bits, $min, $max ) = @_;
    my $mean = ( $end - $cur ) / ( $left > 0 ? $left : 1 );
    my $len  = $bits - int( log( $mean > 1 ? $mean : 1 ) / log(2) + 0.5 );
    my $r    = rand();
    for (@SPREAD) { if ( ( $r -= $_->[0] ) < 0 ) { $len += $_->[1]; last } }
    $len = $min if $len < $min;
    $len = $max if $len > $max;
    $len++ while $len < $max && $cur & ( ( 1 << ( $bits - $len ) ) - 1 );
    return $len;
}

# IPv4 from 1.0.0.0 to 224.0.0.0, prefixes /8-/30
my $n4 = int( $total * 0.8 );
my ( $cur, $end, $count ) = ( 1 << 24, 0xE0000000, 0 );
while ( $count < $n4 ) {
    my $len = next_len( $cur, $end, $n4 - $count, 32, 8, 30 );
    if ( rand() < 0.02 ) {    # a gap
        $cur += 1 << ( 32 - $len );
        $len = next_len( $cur, $end, $n4 - $count, 32, 8, 30 );
    }
    my $size = 1 << ( 32 - $len );
    last if $cur + $size > $end;
    my $ip = join '.', map { ( $cur >> $_ ) & 255 } 24, 16, 8, 0;
    $tree->insert_network( "$ip/$len", next_record() );
    $cur += $size;
    $count++;
}
$n4 = $count;
# IPv6: the upper 64 bits from 2400:: to 2410::, prefixes /24-/64
( $cur, $end ) = ( 0x2400 << 48, 0x2410 << 48 );
while ( $count < $total ) {
    my $len = next_len( $cur, $end, $total - $count, 64, 24, 64 );
    if ( rand() < 0.02 ) {
        $cur += 1 << ( 64 - $len );
        $len = next_len( $cur, $end, $total - $count, 64, 24, 64 );
    }
    my $size = 1 << ( 64 - $len );
    last if $cur + $size > $end;
    my $ip = join ':', map { sprintf '%x', ( $cur >> $_ ) & 0xffff } 48, 32, 16, 0;
    $tree->insert_network( "$ip\::/$len", next_record() );
    $cur += $size;
    $count++;
}

open my $fh, '>:raw', $out or die "$out: $!";
$tree->write_tree($fh);
close $fh or die "$out: $!";
printf "wrote %s: %d networks (%d IPv4), %d distinct records\n", $out, $count, $n4,
    scalar keys %cache;
