namespace Ferry.Interop.Tests.Harness;

/// <summary>Base for a peer's tests: a scratch folder per test and the shared assertions.</summary>
public abstract class PeerTest : IDisposable
{
    protected PeerTest(InteropServerFixture fixture)
    {
        Server = fixture.Server;
        Work = InteropServerFixture.NewWorkDirectory();
    }

    protected ITestFtpServer Server { get; }

    protected string Work { get; }

    protected string Url(string path = "") => $"ftp://{Server.Host}:{Server.Port}/{path}";

    protected void AssertSucceeded(PeerResult result) =>
        Assert.True(result.ExitCode == 0, $"peer failed against {Server.Name}:\n{result}\n--- server log ---\n{Server.Log}");

    /// <summary>Every transfer compares SHA-256 of both ends.</summary>
    protected void AssertSameFile(string localPath, string remotePath, PeerResult result)
    {
        AssertSucceeded(result);
        Assert.True(File.Exists(localPath), $"{localPath} was not downloaded:\n{result}");
        var expected = ScenarioTree.Sha256(Path.Combine(Server.Root, remotePath));
        var actual = ScenarioTree.Sha256(localPath);
        Assert.True(expected == actual,
            $"SHA-256 of {remotePath} differs: expected {expected}, got {actual} ({new FileInfo(localPath).Length} bytes):\n{result}");
    }

    public void Dispose()
    {
        Directory.Delete(Work, recursive: true);
        GC.SuppressFinalize(this);
    }
}
