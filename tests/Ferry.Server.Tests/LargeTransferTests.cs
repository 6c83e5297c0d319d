using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>0, 1, 4095, 4096, 4097 bytes and 64 MiB both ways, TYPE I and TYPE A, passive and active; SHA-256 of both ends every time.</summary>
public sealed class LargeTransferTests
{
    private const int Size = 64 * 1024 * 1024;

    /// <summary>Text-like content: random printable bytes with LF line ends (what TYPE A is for).</summary>
    private static byte[] TextLf(int size)
    {
        var bytes = TestServer.RandomBytes(size, seed: 64);
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = i % 61 == 60 ? (byte)'\n' : (byte)(' ' + (bytes[i] % 94));
        }
        return bytes;
    }

    private static byte[] ToCrLf(byte[] lf)
    {
        using var output = new MemoryStream(lf.Length + (lf.Length / 60) + 1);
        foreach (var b in lf)
        {
            if (b == (byte)'\n')
            {
                output.WriteByte((byte)'\r');
            }
            output.WriteByte(b);
        }
        return output.ToArray();
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public async Task Sixty_four_MiB_goes_up_and_comes_back_intact(bool passive, bool ascii)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync(ascii ? "TYPE A" : "TYPE I", 200);
        var onDisk = ascii ? TextLf(Size) : TestServer.RandomBytes(Size, seed: 65);
        var onWire = ascii ? ToCrLf(onDisk) : onDisk;

        var (_, stored) = passive
            ? await DataClient.UploadPassiveAsync(control, "STOR big.bin", onWire)
            : await DataClient.UploadActiveAsync(control, "STOR big.bin", onWire);
        Assert.Equal(226, stored.Code);
        Assert.Equal(TestServer.Sha256(onDisk), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("big.bin"))));

        var (received, retrieved) = passive
            ? await DataClient.PassiveAsync(control, "RETR big.bin")
            : await DataClient.ActiveAsync(control, "RETR big.bin");
        Assert.Equal(226, retrieved.Code);
        Assert.Equal(TestServer.Sha256(onWire), TestServer.Sha256(received));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_boundary_size_round_trips_in_type_a_and_type_i(bool passive)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        foreach (var ascii in new[] { true, false })
        {
            await control.ExpectAsync(ascii ? "TYPE A" : "TYPE I", 200);
            foreach (var size in new[] { 0, 1, 4095, 4096, 4097 })
            {
                var onDisk = ascii ? TextLf(size) : TestServer.RandomBytes(size, seed: size);
                var onWire = ascii ? ToCrLf(onDisk) : onDisk;
                var name = $"s{size}{(ascii ? "a" : "i")}.bin";
                var (_, stored) = passive
                    ? await DataClient.UploadPassiveAsync(control, $"STOR {name}", onWire)
                    : await DataClient.UploadActiveAsync(control, $"STOR {name}", onWire);
                Assert.Equal(226, stored.Code);
                Assert.Equal(TestServer.Sha256(onDisk), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf(name))));
                var (received, retrieved) = passive
                    ? await DataClient.PassiveAsync(control, $"RETR {name}")
                    : await DataClient.ActiveAsync(control, $"RETR {name}");
                Assert.Equal(226, retrieved.Code);
                Assert.Equal(TestServer.Sha256(onWire), TestServer.Sha256(received));
            }
        }
    }

    [Theory]
    [InlineData(true, 4096)]
    [InlineData(false, 4096)]
    [InlineData(false, 1024 * 1024)]
    public async Task Downloads_by_sendfile_and_by_the_double_buffered_copy_send_the_same_bytes_from_any_offset(bool zeroCopy, int buffer)
    {
        // 17 MiB + 7: above BlockingSendFile.MinimumLength, so zero-copy goes through the blocking
        // sendfile thread; a 4 KiB buffer makes the copy path switch buffers ~4,400 times.
        await using var server = await TestServer.StartAsync(o => o with { ZeroCopySend = zeroCopy, TransferBufferSize = buffer });
        var content = TestServer.RandomBytes((17 * 1024 * 1024) + 7, seed: 66);
        await server.WriteFileAsync("pub/ten.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        foreach (var offset in new[] { 0, 1, 4095, 4096 * 3, content.Length - 1, content.Length })
        {
            await control.ExpectAsync($"REST {offset}", 350);
            var (received, final) = await DataClient.PassiveAsync(control, "RETR pub/ten.bin");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(content.AsSpan(offset).ToArray()), TestServer.Sha256(received));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Files_around_the_small_file_limit_download_intact_from_any_offset(bool zeroCopy)
    {
        // Up to 64 KiB a download is one read and one send (SendSmallAsync); one byte more goes by sendfile.
        await using var server = await TestServer.StartAsync(o => o with { ZeroCopySend = zeroCopy });
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        foreach (var size in new[] { 65535, 65536, 65537, 200_000 })
        {
            var content = TestServer.RandomBytes(size, seed: size);
            await server.WriteFileAsync($"pub/s{size}.bin", content);
            foreach (var offset in new[] { 0, 1, Math.Max(0, size - 65536), size - 1 })
            {
                await control.ExpectAsync($"REST {offset}", 350);
                var (received, final) = await DataClient.PassiveAsync(control, $"RETR pub/s{size}.bin");
                Assert.Equal(226, final.Code);
                Assert.Equal(TestServer.Sha256(content.AsSpan(offset).ToArray()), TestServer.Sha256(received));
            }
        }
    }
}
