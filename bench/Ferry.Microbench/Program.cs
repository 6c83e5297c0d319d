using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Ferry.Microbench -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Ferry.Microbench.CommandDispatchBenchmarks).Assembly).Run(args);
