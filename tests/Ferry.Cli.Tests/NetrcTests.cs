using Ferry.Cli.Remote;

namespace Ferry.Cli.Tests;

public sealed class NetrcTests
{
    [Fact]
    public void Machine_entries_give_login_and_password_and_default_covers_other_hosts()
    {
        var netrc = Netrc.Parse("""
            machine ftp.example.org login alice password s3cret
            machine other.example.org
              login bob
              password "two words"
              account acct
            default login anonymous password me@example.org
            """);
        Assert.Equal(new NetrcEntry("alice", "s3cret", null), netrc.Find("FTP.example.org"));
        Assert.Equal(new NetrcEntry("bob", "two words", "acct"), netrc.Find("other.example.org"));
        Assert.Equal(new NetrcEntry("anonymous", "me@example.org", null), netrc.Find("elsewhere"));
    }

    [Fact]
    public void Without_default_an_unknown_host_has_no_entry_and_the_first_entry_for_a_host_wins()
    {
        var netrc = Netrc.Parse("machine h login a password 1\nmachine h login b password 2\n");
        Assert.Equal("a", netrc.Find("h")!.Login);
        Assert.Null(netrc.Find("x"));
    }

    [Fact]
    public void Macdef_bodies_and_comment_lines_are_skipped()
    {
        var netrc = Netrc.Parse("""
            # my logins
            machine h login a
            macdef init
            machine evil login mallory password x

            machine k login c password 3
            """);
        Assert.Null(netrc.Find("evil"));
        Assert.Equal(new NetrcEntry("a", null, null), netrc.Find("h"));
        Assert.Equal(new NetrcEntry("c", "3", null), netrc.Find("k"));
    }

    [Fact]
    public void NETRC_names_the_file_else_HOME_dot_netrc()
    {
        Assert.Equal("/x/n", Netrc.DefaultPath(name => name == "NETRC" ? "/x/n" : "/home/u"));
        Assert.Equal(Path.Combine("/home/u", ".netrc"), Netrc.DefaultPath(name => name == "HOME" ? "/home/u" : null));
    }
}
