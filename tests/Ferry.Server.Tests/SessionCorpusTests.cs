using Ferry.Fuzz;

namespace Ferry.Server.Tests;

/// <summary>
/// The afl session target's corpus (fuzz/corpus/session: hand-written seeds and what nightly runs
/// kept) replayed once through the same harness and invariant checks, without afl: a change to the
/// server that breaks one of them fails here, not only in the next fuzzing run.
/// </summary>
public sealed class SessionCorpusTests
{
    [Fact]
    public async Task Every_session_in_the_fuzz_corpus_keeps_the_harness_invariants()
    {
        var corpus = Path.Combine(AppContext.BaseDirectory, "FuzzCorpus", "session");
        var files = Directory.GetFiles(corpus).Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var failures = new List<string>();
        await using var harness = await SessionHarness.StartAsync();
        foreach (var file in files)
        {
            try
            {
                await harness.RunAsync(await File.ReadAllBytesAsync(file));
            }
            catch (SessionInvariantException e)
            {
                failures.Add($"{Path.GetFileName(file)}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }
}
