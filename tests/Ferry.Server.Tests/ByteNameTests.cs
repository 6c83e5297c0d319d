using System.Diagnostics;
using System.Text;
using Ferry.Protocol;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Linux file names are bytes: names that are not UTF-8 (Latin-1 archives) round-trip exactly through
/// every command and listing, and two different byte names are always two files. In the commands
/// below an escape U+DC80-U+DCFF stands for the byte 0x80-0xFF (ControlConnection sends it as that
/// byte); the files on disk are made and read by Python, which sees bytes, not by .NET.
/// </summary>
public sealed class ByteNameTests
{
    private const string E9 = "caf\uDCE9.txt"; // caf\xe9.txt
    private const string E8 = "caf\uDCE8.txt"; // caf\xe8.txt

    [Fact]
    public async Task Latin1_names_are_listed_as_their_bytes_and_retrieved_apart()
    {
        await using var server = await TestServer.StartAsync();
        CreateRaw(server.Root, E9, "e9 content");
        CreateRaw(server.Root, E8, "e8 content");
        await using var control = await server.LoginAsync();

        var (list, done) = await DataClient.PassiveAsync(control, "LIST");
        Assert.Equal(226, done.Code);
        AssertHolds(list, E9);
        AssertHolds(list, E8);
        Assert.True(list.AsSpan().IndexOf("\uFFFD"u8) < 0, "a name went out as U+FFFD");

        var (names, _) = await DataClient.PassiveAsync(control, "NLST");
        var nlst = LosslessUtf8.GetString(names).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(E9, nlst);
        Assert.Contains(E8, nlst);

        var (machine, _) = await DataClient.PassiveAsync(control, "MLSD");
        var lines = LosslessUtf8.GetString(machine).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var e9 = Assert.Single(lines, l => l.EndsWith(" " + E9, StringComparison.Ordinal));
        var e8 = Assert.Single(lines, l => l.EndsWith(" " + E8, StringComparison.Ordinal));
        Assert.NotEqual(Fact(e9, "unique"), Fact(e8, "unique"));

        Assert.Equal("e9 content", Encoding.ASCII.GetString((await DataClient.PassiveAsync(control, "RETR " + E9)).Data));
        Assert.Equal("e8 content", Encoding.ASCII.GetString((await DataClient.PassiveAsync(control, "RETR " + E8)).Data));
        await control.ExpectAsync("TYPE I", 200);
        Assert.Equal("213 10", (await control.ExpectAsync("SIZE " + E9, 213)).ToString());
        var mlst = await control.ExpectAsync("MLST " + E8, 250);
        Assert.EndsWith("/" + E8, mlst.Lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_uploads_with_different_byte_names_make_two_files()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var first = TestServer.RandomBytes(5_000, seed: 1);
        var second = TestServer.RandomBytes(7_000, seed: 2);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR " + E9, first)).Final.Code);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR " + E8, second)).Final.Code);

        var onDisk = ListRaw(server.Root);
        Assert.Contains(Hex(E9), onDisk);
        Assert.Contains(Hex(E8), onDisk);
        Assert.DoesNotContain(onDisk, name => name.Contains("efbfbd", StringComparison.Ordinal)); // no U+FFFD name
        Assert.Equal(TestServer.Sha256(first), TestServer.Sha256(ReadRaw(server.Root, E9)));
        Assert.Equal(TestServer.Sha256(second), TestServer.Sha256(ReadRaw(server.Root, E8)));
    }

    [Fact]
    public async Task Directories_renames_and_deletes_work_on_byte_names()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        const string Dir = "r\uDCE9pertoire"; // r\xe9pertoire
        var made = await control.ExpectAsync("MKD " + Dir, 257);
        Assert.Equal([.. "257 \"/r"u8, 0xE9, .. "pertoire\""u8], made.WireBytes.ToArray()[..17]);
        await control.ExpectAsync("CWD " + Dir, 250);
        var pwd = await control.ExpectAsync("PWD", 257);
        Assert.StartsWith("\"/" + Dir + "\"", pwd.Lines[0], StringComparison.Ordinal);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR " + E9, "x"u8.ToArray())).Final.Code);
        await control.ExpectAsync("RNFR " + E9, 350);
        await control.ExpectAsync("RNTO " + E8, 250);
        Assert.Equal([Hex(E8)], ListRaw(server.Root, Dir));
        await control.ExpectAsync("MDTM " + E8, 213);
        await control.ExpectAsync("SITE CHMOD 600 " + E8, 200);
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("RETR " + E9, 550); // gone; no other name answers for it
        }
        await control.ExpectAsync("DELE " + E8, 250);
        await control.ExpectAsync("CDUP", 250);
        await control.ExpectAsync("RMD " + Dir, 250);
        Assert.DoesNotContain(Hex(Dir), ListRaw(server.Root));
    }

    [Fact]
    public async Task The_utf8_feature_stays_advertised_and_utf8_names_are_unchanged()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        Assert.Contains("UTF8", (await control.ExpectAsync("FEAT", 211)).Lines.Select(l => l.Trim()));
        await control.ExpectAsync("OPTS UTF8 ON", 200);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR caf\u00e9.txt", "u"u8.ToArray())).Final.Code);
        Assert.Contains(Convert.ToHexStringLower("caf\u00e9.txt"u8), ListRaw(server.Root));
    }

    private static void AssertHolds(byte[] data, string name)
    {
        var bytes = LosslessUtf8.GetBytes(name);
        Assert.True(data.AsSpan().IndexOf(bytes) >= 0, $"the listing lacks {Convert.ToHexString(bytes)}");
    }

    private static string Fact(string mlsxLine, string fact) =>
        mlsxLine.Split(';').Single(f => f.StartsWith(fact + "=", StringComparison.Ordinal));

    private static string Hex(string name) => Convert.ToHexStringLower(LosslessUtf8.GetBytes(name));

    private static void CreateRaw(string directory, string name, string content) =>
        Python(directory, "import sys; open(bytes.fromhex(sys.argv[1]), 'wb').write(sys.argv[2].encode())", Hex(name), content);

    private static byte[] ReadRaw(string directory, string name) =>
        Convert.FromHexString(Python(directory, "import sys; print(open(bytes.fromhex(sys.argv[1]), 'rb').read().hex())", Hex(name)).Trim());

    /// <summary>The names in <paramref name="directory"/> (or in its subdirectory <paramref name="below"/>), as hex of their bytes.</summary>
    private static string[] ListRaw(string directory, string? below = null) =>
        Python(directory, "import os, sys; print('\\n'.join(sorted(n.hex() for n in os.listdir(bytes.fromhex(sys.argv[1])))))", Hex(below ?? "."))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Python(string directory, string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("python3") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, error);
        return output;
    }
}
