using System.CommandLine;
using System.CommandLine.Parsing;

namespace Ferry.Cli.CommandLine;

/// <summary>The first thing wrong with a command line, in the terms Ferry's messages use.</summary>
internal abstract record CommandLineProblem
{
    /// <summary>A token no option or argument takes (an unknown option, or one positional too many).</summary>
    public sealed record Unknown(string Token) : CommandLineProblem
    {
        /// <summary>The option's name without an inline value: --bogus for --bogus=1.</summary>
        public string Name => Token.IndexOf('=', StringComparison.Ordinal) is var eq and > 0 ? Token[..eq] : Token;

        public bool IsOption => Token.StartsWith('-') && Token != "-";
    }

    /// <summary>An option given without the value it needs.</summary>
    public sealed record MissingValue(Option Option, string Alias) : CommandLineProblem;

    /// <summary>Anything else System.CommandLine refused (an unreadable response file, ...): its own message.</summary>
    public sealed record Other(string Message) : CommandLineProblem;

    public static CommandLineProblem? Of(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.UnmatchedTokens.Count > 0)
        {
            return new Unknown(result.UnmatchedTokens[0]);
        }
        foreach (var error in result.Errors)
        {
            var option = error.SymbolResult switch
            {
                OptionResult o => o,
                ArgumentResult { Parent: OptionResult o } => o,
                _ => null,
            };
            if (option is not null && option.Tokens.Count == 0)
            {
                return new MissingValue(option.Option, option.IdentifierToken?.Value ?? option.Option.Name);
            }
        }
        return result.Errors.Count > 0 ? new Other(result.Errors[0].Message) : null;
    }
}
