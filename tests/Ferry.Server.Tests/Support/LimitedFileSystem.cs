using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// A real store that declares fewer <see cref="StoreCapabilities"/> than it has, as an object store
/// would (no append, no offset write, no times, no modes): the session must refuse what is not
/// declared before it touches the store. Everything else goes to <paramref name="inner"/>.
/// </summary>
public sealed class LimitedFileSystem(IFileSystem inner, StoreCapabilities capabilities) : DelegatingFileSystem(inner)
{
    public override StoreCapabilities Capabilities => capabilities;

    // What the session asks per path (APPE, REST + STOR): the same fewer capabilities everywhere.
    public override StoreCapabilities CapabilitiesAt(VirtualPath path) => capabilities;
}
