using System.Reflection;
using Amazon.S3;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// Passes every call through to a real client and counts the calls by method name, so a test can see
/// when a request was made (e.g. which listing page was fetched before the first entry came out).
/// </summary>
public class CountingS3 : DispatchProxy
{
    private IAmazonS3 _inner = null!;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _calls = new();

    public static (IAmazonS3 Client, CountingS3 Counter) Wrap(IAmazonS3 inner)
    {
        var proxy = Create<IAmazonS3, CountingS3>();
        var counter = (CountingS3)(object)proxy;
        counter._inner = inner;
        return (proxy, counter);
    }

    public int Calls(string method) => _calls.TryGetValue(method, out var n) ? n : 0;

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        _calls.AddOrUpdate(targetMethod.Name, 1, (_, n) => n + 1);
        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
