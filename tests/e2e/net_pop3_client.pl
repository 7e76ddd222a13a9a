# Drives a POP3 server with Perl's Net::POP3 (libnet) and prints JSON.
# usage: perl net_pop3_client.pl PORT USER PASSWORD [DELETE...]
use strict;
use warnings;
use Net::POP3;
use JSON::PP;

my ($port, $user, $password, @delete) = @ARGV;
my $pop = Net::POP3->new("127.0.0.1", Port => $port, Timeout => 20)
  or die "connect failed: $@";
my %out;
$out{banner} = $pop->banner;
my $count = $pop->login($user, $password);
die "login failed: " . $pop->message unless defined $count;
$out{count} = $count + 0;
my ($n, $size) = $pop->popstat;
$out{stat} = [$n + 0, $size + 0];
my $list = $pop->list;
$out{list} = { map { $_ => $list->{$_} + 0 } keys %$list };
$out{uidl} = $pop->uidl;
$out{capa} = [sort keys %{ $pop->capabilities || {} }];
$out{messages} = [];
for my $i (1 .. $n) {
  my $lines = $pop->get($i) or die "RETR $i failed";
  push @{ $out{messages} }, unpack("H*", join("", @$lines));
}
if ($n > 0) {
  my $top = $pop->top(1, 1) or die "TOP failed";
  $out{top} = join("", @$top);
}
for my $d (@delete) {
  $pop->delete($d) or die "DELE $d failed";
}
$out{quit} = $pop->quit ? 1 : 0;
print encode_json(\%out), "\n";
