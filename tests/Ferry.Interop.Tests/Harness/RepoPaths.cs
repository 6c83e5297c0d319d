namespace Ferry.Interop.Tests.Harness;

/// <summary>Where things are in the repository checkout the tests were built from.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string InteropProject => Path.Combine(Root, "tests", "Ferry.Interop.Tests");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ferry.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"Ferry.sln not found above {AppContext.BaseDirectory}");
    }
}
