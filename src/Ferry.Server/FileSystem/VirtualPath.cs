using System.Diagnostics.CodeAnalysis;

namespace Ferry.Server.FileSystem;

/// <summary>
/// A path as the FTP client sees it: '/'-rooted, normalized (no '.', '..', empty segments), never a
/// host path. Only <see cref="LocalFileSystem"/> turns it into a host path. ".." at the root stays
/// at the root, as in a chroot. Names with NUL or backslash are refused (they cannot be jailed
/// reliably and no sane client needs them).
/// </summary>
public readonly struct VirtualPath : IEquatable<VirtualPath>
{
    public static readonly VirtualPath Root = new("/");

    private readonly string? _value;

    private VirtualPath(string value) => _value = value;

    /// <summary>The normalized text, always starting with '/'.</summary>
    public string Value => _value ?? "/";

    public bool IsRoot => Value.Length == 1;

    /// <summary>The last segment ("" for the root).</summary>
    public string Name => IsRoot ? string.Empty : Value[(Value.LastIndexOf('/') + 1)..];

    public VirtualPath Parent => IsRoot ? this : new VirtualPath(Value.LastIndexOf('/') is var i && i == 0 ? "/" : Value[..i]);

    /// <summary>The segments below the root, in order.</summary>
    public string[] Segments => IsRoot ? [] : Value[1..].Split('/');

    /// <summary>
    /// Resolves what a client typed against its working directory: absolute when it starts with '/',
    /// relative otherwise. Fails (false) for NUL, backslash, or an empty argument.
    /// </summary>
    public static bool TryResolve(VirtualPath current, string? clientPath, [NotNullWhen(true)] out VirtualPath? result)
    {
        result = null;
        if (string.IsNullOrEmpty(clientPath) || clientPath.AsSpan().IndexOfAny('\0', '\\') >= 0)
        {
            return false;
        }
        if (IsNormalSegments(clientPath.AsSpan(clientPath.StartsWith('/') ? 1 : 0)))
        {
            // Already normal ("/a/b", or "b" below the working directory): the client's text is the
            // result, or one concatenation away; what the general case below would build, without its list.
            result = clientPath.StartsWith('/') ? (clientPath.Length == 1 ? Root : new VirtualPath(clientPath))
                : new VirtualPath(current.IsRoot ? "/" + clientPath : current.Value + "/" + clientPath);
            return true;
        }
        var stack = new List<string>();
        if (!clientPath.StartsWith('/'))
        {
            stack.AddRange(current.Segments);
        }
        foreach (var segment in clientPath.Split('/'))
        {
            switch (segment)
            {
                case "" or ".":
                    continue;
                case "..":
                    if (stack.Count > 0)
                    {
                        stack.RemoveAt(stack.Count - 1);
                    }
                    continue;
                default:
                    stack.Add(segment);
                    break;
            }
        }
        result = stack.Count == 0 ? Root : new VirtualPath("/" + string.Join('/', stack));
        return true;
    }

    /// <summary>
    /// True when <paramref name="segments"/> ('/'-separated) has no empty, "." or ".." segment: an
    /// empty text (the root's, after its '/') qualifies, a trailing '/' or "//" does not.
    /// </summary>
    private static bool IsNormalSegments(ReadOnlySpan<char> segments)
    {
        if (segments.IsEmpty)
        {
            return true;
        }
        while (true)
        {
            var slash = segments.IndexOf('/');
            var segment = slash < 0 ? segments : segments[..slash];
            if (segment is "" or "." or "..")
            {
                return false;
            }
            if (slash < 0)
            {
                return true;
            }
            segments = segments[(slash + 1)..];
        }
    }

    /// <summary>Parses an absolute path (configuration, tests).</summary>
    public static VirtualPath Parse(string absolute)
    {
        if (!absolute.StartsWith('/') || !TryResolve(Root, absolute, out var path))
        {
            throw new FormatException($"Not an absolute virtual path: \"{absolute}\".");
        }
        return path.Value;
    }

    /// <summary>A child of this directory; <paramref name="name"/> must be a single valid segment.</summary>
    public VirtualPath Combine(string name)
    {
        if (name.Length == 0 || name is "." or ".." || name.AsSpan().IndexOfAny("/\\\0") >= 0)
        {
            throw new ArgumentException($"Not a single path segment: \"{name}\".", nameof(name));
        }
        return new VirtualPath(IsRoot ? "/" + name : Value + "/" + name);
    }

    /// <summary>True when this path is <paramref name="ancestor"/> or lies below it.</summary>
    public bool IsWithin(VirtualPath ancestor) =>
        ancestor.IsRoot || Value == ancestor.Value || Value.StartsWith(ancestor.Value + "/", StringComparison.Ordinal);

    public bool Equals(VirtualPath other) => string.Equals(Value, other.Value, StringComparison.Ordinal);
    public override bool Equals(object? obj) => obj is VirtualPath other && Equals(other);
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);
    public static bool operator ==(VirtualPath left, VirtualPath right) => left.Equals(right);
    public static bool operator !=(VirtualPath left, VirtualPath right) => !left.Equals(right);
    public override string ToString() => Value;
}
