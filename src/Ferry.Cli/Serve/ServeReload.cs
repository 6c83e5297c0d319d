namespace Ferry.Cli.Serve;

/// <summary>
/// What SIGHUP reloads: each part registers a step (users file, transfer log, certificates…) that
/// returns a line to log, or throws to keep what it had. A failing step never stops the others.
/// </summary>
internal sealed class ServeReload
{
    private readonly List<(string What, Func<string> Reload)> _steps = [];

    public void Add(string what, Func<string> reload) => _steps.Add((what, reload));

    public int Count => _steps.Count;

    /// <summary>Runs every step; returns one report line per step.</summary>
    public IReadOnlyList<string> Run()
    {
        var report = new List<string>(_steps.Count);
        foreach (var (what, reload) in _steps)
        {
            try
            {
                report.Add(reload());
            }
            catch (Exception e)
            {
                report.Add($"{what} not reloaded, keeping the old: {e.Message}");
            }
        }
        return report;
    }
}
