using System.Globalization;
using System.Runtime.InteropServices;
using Ferry.Server.Platform;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.Security;

/// <summary>
/// Gives up root after the privileged port is bound: supplementary groups, then group, then user
/// (in that order: after setuid the others are no longer allowed). Linux only. The user is looked
/// up in /etc/passwd, so no NSS module is loaded into the server.
/// </summary>
public static class PrivilegeDrop
{
    /// <summary>True when the process runs as root (uid 0).</summary>
    public static bool IsRoot => LinuxCapabilities.IsLinux && getuid() == 0;

    /// <summary>Switches the process to <paramref name="userName"/>; throws if any step fails.</summary>
    public static (uint Uid, uint Gid) DropTo(string userName, string passwdFile = "/etc/passwd")
    {
        if (!LinuxCapabilities.IsLinux)
        {
            throw new PlatformNotSupportedException("run-as: dropping privileges is supported on Linux only.");
        }
        var (uid, gid) = LookUp(userName, passwdFile);
        if (uid == 0)
        {
            throw new InvalidOperationException($"run-as: '{userName}' is root; name an unprivileged user.");
        }
        if (setgroups(1, [gid]) != 0)
        {
            throw Failure("setgroups");
        }
        if (setgid(gid) != 0)
        {
            throw Failure("setgid");
        }
        if (setuid(uid) != 0)
        {
            throw Failure("setuid");
        }
        // Proof that it cannot be undone (a saved set-user-ID of 0 would allow it).
        if (getuid() != uid || geteuid() != uid || setuid(0) == 0)
        {
            throw new InvalidOperationException("run-as: privileges were not dropped for good.");
        }
        return (uid, gid);
    }

    internal static (uint Uid, uint Gid) LookUp(string userName, string passwdFile)
    {
        foreach (var line in File.ReadLines(passwdFile))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == userName
                && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                && uint.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
            {
                return (uid, gid);
            }
        }
        throw new ArgumentException($"run-as: no user '{userName}' in {passwdFile}.");
    }

    private static InvalidOperationException Failure(string call) =>
        new($"run-as: {call} failed (errno {Marshal.GetLastPInvokeError()}).");
}
