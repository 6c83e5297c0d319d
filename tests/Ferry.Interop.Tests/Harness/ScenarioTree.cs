using System.Security.Cryptography;
using System.Text;

namespace Ferry.Interop.Tests.Harness;

/// <summary>
/// The classic session's files: readme.txt (LF text, a few KB), pub/readme.txt and pub/data.bin
/// (1 MiB holding every byte value, with CR, LF, CRLF and LFCR runs, so a text-mode slip shows).
/// </summary>
public static class ScenarioTree
{
    public const string ReadmePath = "readme.txt";
    public const string PubReadmePath = "pub/readme.txt";
    public const string DataPath = "pub/data.bin";

    public static readonly string[] AllFiles = [ReadmePath, PubReadmePath, DataPath];

    public static void Create(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "pub"));
        File.WriteAllText(Path.Combine(root, ReadmePath), Text(seed: 1, lines: 80), Encoding.ASCII);
        File.WriteAllText(Path.Combine(root, PubReadmePath), Text(seed: 2, lines: 40), Encoding.ASCII);
        File.WriteAllBytes(Path.Combine(root, DataPath), Binary());
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    private static string Text(int seed, int lines)
    {
        string[] words = ["ferry", "passive", "active", "port", "reply", "anonymous", "binary", "ascii", "listing", "mirror"];
        var random = new Random(seed);
        var sb = new StringBuilder();
        for (var i = 0; i < lines; i++)
        {
            sb.Append(i).Append(':');
            for (var w = random.Next(3, 12); w > 0; w--)
            {
                sb.Append(' ').Append(words[random.Next(words.Length)]);
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static byte[] Binary()
    {
        var data = new byte[1024 * 1024];
        new Random(3).NextBytes(data);
        for (var i = 0; i < 256; i++)
        {
            data[i] = (byte)i;
        }
        ReadOnlySpan<byte> lineEnds = "\r\n\n\r\r\r\n\n"u8;
        lineEnds.CopyTo(data.AsSpan(256));
        lineEnds.CopyTo(data.AsSpan(data.Length - lineEnds.Length));
        return data;
    }
}
