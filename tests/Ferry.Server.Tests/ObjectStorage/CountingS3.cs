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

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (int Now, int Most)> _running = new();

    public int Calls(string method) => _calls.TryGetValue(method, out var n) ? n : 0;

    /// <summary>Every call so far, whatever its method: the requests made of the store.</summary>
    public int Total => _calls.Values.Sum();

    /// <summary>The calls so far by method: <see cref="Since"/> tells what was called after it.</summary>
    public Dictionary<string, int> Snapshot() => new(_calls, StringComparer.Ordinal);

    /// <summary>The calls made since <paramref name="snapshot"/>, by method (methods not called left out).</summary>
    public Dictionary<string, int> Since(Dictionary<string, int> snapshot) =>
        _calls.Select(c => (c.Key, Count: c.Value - snapshot.GetValueOrDefault(c.Key))).Where(c => c.Count > 0)
            .ToDictionary(c => c.Key, c => c.Count, StringComparer.Ordinal);

    /// <summary>Calls by method, for a failure message.</summary>
    public static string Format(Dictionary<string, int> calls) =>
        calls.Count == 0 ? "none" : string.Join(", ", calls.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));

    /// <summary>The calls so far by method, for a failure message.</summary>
    public string Summary => string.Join(", ", _calls.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));

    /// <summary>
    /// Awaited before a call reaches the store, with the method name and the call's number (1 for
    /// the first call of that method): a test holds a request back, e.g. a listing's last page.
    /// </summary>
    public Func<string, int, Task>? Gate { get; set; }

    /// <summary>The most calls of <paramref name="method"/> whose tasks were running at the same time.</summary>
    public int MostAtOnce(string method) => _running.TryGetValue(method, out var n) ? n.Most : 0;

    private async Task<T> Track<T>(string name, Task<T> task)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            Done(name);
        }
    }

    private async Task<T> Gated<T>(string name, Task gate, MethodInfo method, object?[]? args)
    {
        try
        {
            await gate.ConfigureAwait(false);
            return await ((Task<T>)method.Invoke(_inner, args)!).ConfigureAwait(false);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        finally
        {
            Done(name);
        }
    }

    private void Done(string name) => _running.AddOrUpdate(name, (0, 0), (_, n) => (n.Now - 1, n.Most));

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var number = _calls.AddOrUpdate(targetMethod.Name, 1, (_, n) => n + 1);
        try
        {
            var name = targetMethod.Name;
            _running.AddOrUpdate(name, (1, 1), (_, n) => (n.Now + 1, Math.Max(n.Most, n.Now + 1)));
            var gate = Gate?.Invoke(name, number);
            if (gate is not null && typeof(Task).IsAssignableFrom(targetMethod.ReturnType) && targetMethod.ReturnType.IsGenericType)
            {
                return typeof(CountingS3).GetMethod(nameof(Gated), BindingFlags.NonPublic | BindingFlags.Instance)!
                    .MakeGenericMethod(targetMethod.ReturnType.GetGenericArguments()[0]).Invoke(this, [name, gate, targetMethod, args]);
            }
            var result = targetMethod.Invoke(_inner, args);
            if (result is Task task && targetMethod.ReturnType.IsGenericType)
            {
                // The caller gets a task that completes only after the count went down, so a call it
                // starts once this one is done is never counted as overlapping it.
                return typeof(CountingS3).GetMethod(nameof(Track), BindingFlags.NonPublic | BindingFlags.Instance)!
                    .MakeGenericMethod(targetMethod.ReturnType.GetGenericArguments()[0]).Invoke(this, [name, task]);
            }
            Done(name);
            return result;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
