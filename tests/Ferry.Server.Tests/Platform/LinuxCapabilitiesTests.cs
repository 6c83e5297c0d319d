using System.Runtime.InteropServices;
using Ferry.Server.DataChannels;
using Ferry.Server.FileSystem;
using Ferry.Server.Platform;

namespace Ferry.Server.Tests.Platform;

/// <summary>The capability probe against the machine the tests run on.</summary>
public sealed class LinuxCapabilitiesTests
{
    [Fact]
    public void On_linux_x64_every_native_path_is_available()
    {
        var linuxX64 = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

        // The test machines (and CI) are Linux x86-64 with glibc 2.28+ and a 5.6+ kernel: all true.
        // Elsewhere the probe must say no to the x86-64 layout at least.
        Assert.Equal(OperatingSystem.IsLinux(), LinuxCapabilities.IsLinux);
        Assert.Equal(linuxX64, LinuxCapabilities.IsLinuxX64);
        if (linuxX64)
        {
            Assert.True(LinuxCapabilities.IsLinux64);
            Assert.True(LinuxCapabilities.HasStatx);
            Assert.True(LinuxCapabilities.HasOpenat2);
            Assert.False(LinuxCapabilities.IsBsd);
        }
    }

    [Fact]
    public void The_native_paths_ask_the_probe()
    {
        Assert.Equal(LinuxCapabilities.HasStatx, LinuxDirectory.IsAvailable);
        Assert.Equal(LinuxCapabilities.HasStatx, LinuxFiles.IsAvailable);
        Assert.Equal(LinuxCapabilities.IsLinux64, BlockingSocket.IsSupported);
        Assert.False(ActiveConnector.IsSupported && !LinuxCapabilities.IsLinuxX64);
        var root = Directory.CreateTempSubdirectory("ferry-probe-").FullName;
        try
        {
            using var jail = LinuxJail.TryOpen(LocalFileSystem.RealPath(root, followFinal: true));
            Assert.Equal(LinuxCapabilities.HasOpenat2, jail is not null);
        }
        finally
        {
            Directory.Delete(root);
        }
    }

    [Fact]
    public void Each_capability_implies_the_one_it_rests_on()
    {
        Assert.True(!LinuxCapabilities.HasOpenat2 || LinuxCapabilities.HasStatx);
        Assert.True(!LinuxCapabilities.HasStatx || LinuxCapabilities.IsLinux64);
        Assert.True(!LinuxCapabilities.IsLinux64 || LinuxCapabilities.IsLinux);
        Assert.True(!LinuxCapabilities.IsLinuxX64 || LinuxCapabilities.IsLinux64);
        Assert.False(LinuxCapabilities.IsLinux && LinuxCapabilities.IsBsd);
    }
}
