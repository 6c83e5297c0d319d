using Ferry.Server.Diagnostics;

namespace Ferry.Server.Tests.Operations;

/// <summary>--metrics-user-label top:N: the busiest N accounts by name, everyone else "other", at most N + 2 values.</summary>
public sealed class UserLabelsTests
{
    [Fact]
    public void The_first_accounts_fill_the_top_and_later_ones_are_other()
    {
        var labels = new UserLabels(2);
        Assert.Equal("alice", labels.Login("alice", anonymous: false));
        Assert.Equal("bob", labels.Login("bob", anonymous: false));
        Assert.Equal(UserLabels.Other, labels.Login("carol", anonymous: false));
        Assert.Equal(UserLabels.Anonymous, labels.Login("ftp", anonymous: true));
        Assert.Equal(["alice", "bob"], labels.Named.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_account_with_more_bytes_than_the_last_of_the_top_takes_its_place_and_the_evicted_one_is_announced()
    {
        var labels = new UserLabels(2);
        var evicted = new List<string>();
        labels.Evicted += evicted.Add;
        labels.Transfer("alice", anonymous: false, 1_000);
        labels.Transfer("bob", anonymous: false, 500);
        Assert.Equal(UserLabels.Other, labels.Transfer("carol", anonymous: false, 400));
        Assert.Empty(evicted);
        // carol now has 800 bytes, more than bob's 500.
        Assert.Equal("carol", labels.Transfer("carol", anonymous: false, 400));
        Assert.Equal(["bob"], evicted);
        Assert.False(labels.IsCurrent("bob"));
        Assert.Equal(UserLabels.Other, labels.Transfer("bob", anonymous: false, 100));
        Assert.Equal(["alice", "carol"], labels.Named.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void However_many_accounts_are_active_at_most_n_names_are_in_use()
    {
        var labels = new UserLabels(5);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 1_000; i++)
        {
            var name = $"user{i % 200}";
            seen.Add(labels.Transfer(name, anonymous: false, 1 + (i % 3)));
            Assert.True(labels.Named.Count <= 5);
        }
        Assert.Contains(UserLabels.Other, seen);
        Assert.Equal(5, labels.Named.Count);
        // Anonymous never takes a place among the N, however much it transfers.
        Assert.Equal(UserLabels.Anonymous, labels.Transfer("anonymous", anonymous: true, long.MaxValue / 2));
        Assert.Equal(5, labels.Named.Count);
    }
}
