# work.pl - perl's part of make check-real: a big hash, a storm of forks
# reporting through pipes and exit codes, and signal handlers that
# allocate.  Everything it prints is a function of its input alone.
use strict;
use warnings;
use POSIX ();

$| = 1;

# A big hash, rebuilt and thinned out: many small blocks of every size.
my %h;
for my $i (1 .. 300_000) {
	$h{"key$i"} = ('v' x ($i % 97)) . $i;
}
delete $h{"key$_"} for grep { $_ % 3 == 0 } 1 .. 300_000;
my $sum = 0;
$sum += length($h{$_}) for keys %h;
print "hash: ", scalar(keys %h), " keys, $sum bytes\n";

# Fork storm: each child builds something, sends a line down a pipe and
# exits with a status of its own; the parent collects both in order.
my ($total, $codes) = (0, 0);
for my $round (1 .. 10) {
	my @kids;
	for my $k (1 .. 20) {
		pipe(my $r, my $w) or die "pipe: $!";
		my $pid = fork() // die "fork: $!";
		if ($pid == 0) {
			close $r;
			my @a = map { [$_, "x" x $_] } 1 .. 200 + $k;
			my $n = 0;
			$n += length($_->[1]) for @a;
			print $w "$round.$k $n\n";
			close $w;
			POSIX::_exit(($round * $k) % 7);
		}
		close $w;
		push @kids, [$pid, $r];
	}
	for (@kids) {
		my ($pid, $r) = @$_;
		my $line = <$r>;
		close $r;
		waitpid($pid, 0) == $pid or die "waitpid: $!";
		$codes += $? >> 8;
		$total += (split ' ', $line)[1];
	}
}
print "forks: 200 children, total $total, exit codes $codes\n";

# Signal handlers that allocate: every signal sent to ourselves is
# delivered before kill() returns, so the counts are exact.
my (@got, $usr1, $usr2) = ();
$usr1 = $usr2 = 0;
$SIG{USR1} = sub { $usr1++; push @got, { n => $usr1, s => 'a' x (64 + $usr1 % 500) } };
$SIG{USR2} = sub { $usr2++; my %t = map { $_ => [$_] } 1 .. 50; shift @got if @got > 100 };
for my $i (1 .. 3000) {
	kill($i % 2 ? 'USR1' : 'USR2', $$) or die "kill: $!";
}
print "signals: USR1 $usr1, USR2 $usr2, kept ", scalar(@got), "\n";

# A child that ends from its TERM handler (a process killed outright
# leaves its control socket behind: nothing runs in it to remove it).
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
	$SIG{TERM} = sub { my @a = (1) x 1000; exit 3 };
	kill 'TERM', $$;
	sleep 5;
	exit 0;
}
waitpid($pid, 0);
print "child ended from its TERM handler with ", $? >> 8, "\n";
