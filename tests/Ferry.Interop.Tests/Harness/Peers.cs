namespace Ferry.Interop.Tests.Harness;

/// <summary>
/// Locates the peer programs. A missing peer FAILS the test and names the package to install:
/// interop is only proven when the peer really ran (test.sh installs them all).
/// </summary>
public static class Peers
{
    /// <summary>Debian's interpreter, which has python3-pyftpdlib; `python3` on PATH may be a pyenv one.</summary>
    public const string DebianPython = "/usr/bin/python3";

    public static string Require(string program, string debianPackage)
    {
        var path = Find(program);
        if (path is null)
        {
            Assert.Fail($"interop peer '{program}' is not installed: install the Debian package '{debianPackage}' " +
                "(./test.sh installs every peer).");
        }
        return path!;
    }

    public static string RequireDebianPython()
    {
        if (!File.Exists(DebianPython))
        {
            Assert.Fail($"{DebianPython} is missing: install the Debian packages 'python3' and 'python3-pyftpdlib'.");
        }
        return DebianPython;
    }

    /// <summary>The folder holding node_modules/basic-ftp, for NODE_PATH.</summary>
    public static string RequireBasicFtp()
    {
        Require("node", "nodejs");
        var modules = Path.Combine(RepoPaths.InteropProject, "node", "node_modules");
        if (!File.Exists(Path.Combine(modules, "basic-ftp", "package.json")))
        {
            Assert.Fail($"npm package 'basic-ftp' is not installed in {modules}: run " +
                "'npm ci' in tests/Ferry.Interop.Tests/node (./test.sh does this).");
        }
        return modules;
    }

    public static string? Find(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
