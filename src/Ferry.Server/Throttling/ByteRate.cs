using System.Globalization;

namespace Ferry.Server.Throttling;

/// <summary>
/// The spelling of a bandwidth limit in options and the users file: bytes per second as a whole
/// number, or with a K, M or G suffix in powers of 1024 ("512K", "4M", "1.5G"); 0 means no limit.
/// </summary>
public static class ByteRate
{
    /// <summary>What a bad value is told: the accepted spelling.</summary>
    public const string Syntax = "bytes per second, a number ≥ 0 with an optional K, M or G suffix (powers of 1024), e.g. 512K or 4M; 0 for no limit";

    /// <summary>Parses "4M", "512k", "1.5G" or "1048576"; false for anything else, negative values included.</summary>
    public static bool TryParse(string? text, out long bytesPerSecond)
    {
        bytesPerSecond = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var value = text.Trim();
        var multiplier = char.ToUpperInvariant(value[^1]) switch
        {
            'K' => 1024L,
            'M' => 1024L * 1024,
            'G' => 1024L * 1024 * 1024,
            _ => 1L,
        };
        if (multiplier != 1)
        {
            value = value[..^1];
        }
        if (value.Length == 0 || !value.All(c => char.IsAsciiDigit(c) || c == '.')
            || !decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }
        var bytes = number * multiplier;
        if (bytes > long.MaxValue / 2)
        {
            return false;
        }
        bytesPerSecond = (long)Math.Round(bytes, MidpointRounding.AwayFromZero);
        return true;
    }

    /// <summary>The shortest exact spelling: "4M", "1536K", "1000".</summary>
    public static string Format(long bytesPerSecond)
    {
        foreach (var (suffix, size) in new[] { ("G", 1024L * 1024 * 1024), ("M", 1024L * 1024), ("K", 1024L) })
        {
            if (bytesPerSecond >= size && bytesPerSecond % size == 0)
            {
                return (bytesPerSecond / size).ToString(CultureInfo.InvariantCulture) + suffix;
            }
        }
        return bytesPerSecond.ToString(CultureInfo.InvariantCulture);
    }
}
