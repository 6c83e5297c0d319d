using System.Diagnostics;

namespace Ferry.Interop.Tests.Harness;

/// <summary>
/// Children start with every signal at its default disposition: a test run under nohup, or as a
/// background job of a script, would hand them SIGHUP/SIGINT ignored, and a server that never sees
/// SIGINT or SIGHUP fails the tests that send them. env(1) (coreutils ≥ 8.31) resets them and execs
/// the program, which keeps the process id the tests signal.
/// </summary>
internal static class DefaultSignals
{
    public static ProcessStartInfo Apply(ProcessStartInfo psi)
    {
        var program = psi.FileName;
        psi.FileName = "env";
        psi.ArgumentList.Insert(0, "--default-signal");
        psi.ArgumentList.Insert(1, program);
        return psi;
    }
}
