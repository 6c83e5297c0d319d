namespace Ferry.Interop.Tests.Harness;

/// <summary>A running FTP server on loopback that serves <see cref="Root"/> anonymously, read-only.</summary>
public interface ITestFtpServer : IAsyncDisposable
{
    string Host { get; }

    int Port { get; }

    string Root { get; }

    /// <summary>Name shown in failure messages ("ferry", "pyftpdlib").</summary>
    string Name { get; }

    /// <summary>Preliminary reply to RETR: 150 for Ferry; pyftpdlib answers 125 (RFC 959 allows both).</summary>
    int TransferStartCode { get; }

    /// <summary>What the server printed so far, for failure messages.</summary>
    string Log { get; }
}
